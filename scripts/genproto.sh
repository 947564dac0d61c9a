#!/usr/bin/env bash
# Regenerates the Go code of every .proto file under proto/ with pinned
# plugin versions, so that `make proto && git diff --exit-code` shows whether
# the committed code is fresh.
#
# Needs Debian's protoc 3.21 (apt-get install -y protobuf-compiler) and Go.
# The plugins are installed into TOOLS_DIR (default: bin/ in the repository).
set -euo pipefail

PROTOC_GEN_GO_VERSION=v1.36.12
PROTOC_GEN_GO_GRPC_VERSION=v1.6.2
PROTOC_SERIES=3.21.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools_dir=${TOOLS_DIR:-$root/bin}

if ! command -v protoc >/dev/null; then
	echo "genproto: protoc not found; install it with: apt-get install -y protobuf-compiler" >&2
	exit 1
fi
# The protoc version is written into every generated file, so another release
# would show up as a diff.
protoc_version=$(protoc --version | awk '{print $2}')
if [[ $protoc_version != "$PROTOC_SERIES"* ]]; then
	echo "genproto: protoc $protoc_version found, expected ${PROTOC_SERIES}x (Debian's protobuf-compiler)" >&2
	exit 1
fi

# install_plugin BINARY PACKAGE VERSION installs PACKAGE@VERSION into
# tools_dir unless BINARY there already reports VERSION.
install_plugin() {
	local binary=$1 package=$2 version=$3
	if [[ -x $tools_dir/$binary ]] && "$tools_dir/$binary" --version 2>/dev/null | grep -qF "${version#v}"; then
		return
	fi
	echo "genproto: installing $package@$version into $tools_dir" >&2
	GOBIN=$tools_dir go install "$package@$version"
}

mkdir -p "$tools_dir"
install_plugin protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go "$PROTOC_GEN_GO_VERSION"
install_plugin protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc "$PROTOC_GEN_GO_GRPC_VERSION"

cd "$root"
mapfile -t protos < <(find proto -name '*.proto' | LC_ALL=C sort)
if ((${#protos[@]} == 0)); then
	echo "genproto: no .proto files under proto/" >&2
	exit 1
fi

# Files from a removed .proto would otherwise linger.
find proto \( -name '*.pb.go' \) -delete

PATH=$tools_dir:$PATH protoc \
	--proto_path=proto \
	--go_out=proto --go_opt=paths=source_relative \
	--go-grpc_out=proto --go-grpc_opt=paths=source_relative \
	"${protos[@]}"
echo "genproto: generated code for ${#protos[@]} file(s)" >&2
