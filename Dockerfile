# Image for lagscaler: a static Go binary on distroless, running as a numeric
# non-root user, with no shell and no package manager at run time.
#
#   docker build --build-arg VERSION=v0.1.0 --build-arg COMMIT=$(git rev-parse HEAD) \
#     -t lagscaler:v0.1.0 .
#
# NOTE: both base images are pinned by tag only, because the digests could not
# be read where this file was written. Append the digest that
# `docker buildx imagetools inspect IMAGE:TAG` prints (IMAGE:TAG@sha256:...)
# to make the build reproducible.

# The build stage runs on the builder's platform and cross-compiles for the
# target platform, so multi-platform builds need no emulation.
FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm AS build

ARG TARGETOS
ARG TARGETARCH
ARG VERSION=devel
ARG COMMIT=unknown

WORKDIR /src

# Modules are downloaded in their own layer so that a source change does not
# download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download

COPY . .

# -buildvcs=false because .dockerignore leaves .git out of the context: the
# version and commit come from the build arguments instead.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -buildvcs=false \
      -ldflags "-s -w \
        -X github.com/lagscaler/lagscaler/internal/buildinfo.Version=${VERSION} \
        -X github.com/lagscaler/lagscaler/internal/buildinfo.Commit=${COMMIT}" \
      -o /out/lagscaler ./cmd/lagscaler

# distroless/static contains CA certificates, /etc/passwd with the nonroot
# user (65532) and tzdata, and nothing else.
FROM gcr.io/distroless/static-debian12:nonroot

COPY --from=build /out/lagscaler /lagscaler

# Numeric so that the kubelet can verify runAsNonRoot without reading
# /etc/passwd from the image.
USER 65532:65532

# 6000: KEDA external scaler gRPC. 8080: /healthz, /readyz and /metrics.
EXPOSE 6000 8080

ENTRYPOINT ["/lagscaler"]
CMD ["serve"]
