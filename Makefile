# lagscaler's build, test and release gate. Most targets need only Go. The
# integration tests also need Java 17+ and Maven, `proto` needs protoc 3.21
# and `image` needs Docker.

GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
PKG       := github.com/lagscaler/lagscaler
LDFLAGS   := -s -w -X $(PKG)/internal/buildinfo.Version=$(VERSION) -X $(PKG)/internal/buildinfo.Commit=$(COMMIT)
IMAGE     ?= lagscaler:$(VERSION)
BIN       := bin/lagscaler
# staticcheck is pinned so that lint results do not change under us.
STATICCHECK_VERSION := v0.8.2

.PHONY: all build test unit integration kafka-jars check demo lint fmt vet bench proto proto-check tidy image clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/lagscaler

# check is the README's test command and what CI runs: unit tests with the
# race detector, then the integration tests against a real Apache Kafka
# broker that the tests start from jars fetched into the cache.
check: unit integration

test: unit

unit:
	$(GO) test -race -count=1 ./...

# The integration tests fetch the Kafka jars and start the broker
# themselves; the script also prints which tests were skipped and why.
integration:
	./scripts/integration.sh

kafka-jars:
	./scripts/kafka.sh fetch

demo:
	$(GO) run ./cmd/lagscaler demo

fmt:
	gofmt -l -w .

vet:
	$(GO) vet ./...
	cd integration && $(GO) vet ./...

lint: vet
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...
	cd integration && $(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...
	@test -z "$$(gofmt -l . | tee /dev/stderr)" || { echo "gofmt: files above need formatting"; exit 1; }

# bench prints the speed and memory figures: KEDA's call pair for 100
# ScaledObjects on the shared lag cache, the metrics exporter, the CLI over
# 1,000 partitions and 200-group refreshes.
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

proto:
	./scripts/genproto.sh

proto-check: proto
	git diff --exit-code -- proto/

tidy:
	$(GO) mod tidy
	cd integration && $(GO) mod tidy
	git diff --exit-code -- go.mod go.sum integration/go.mod integration/go.sum

image:
	docker build --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) -t $(IMAGE) .

clean:
	rm -rf bin
