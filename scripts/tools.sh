#!/usr/bin/env bash
# Installs the pinned tools the tests and benchmarks need into .tools/bin (ignored by git),
# built from the Go module proxy with `go install`. Reuses what is already there, and what an
# earlier clone on this machine built: each build is kept in a cache outside the clone
# (FILEMESH_TOOLS_CACHE, default ~/.cache/filemesh/tools), keyed by its exact pin and the Go
# version, so a fresh clone copies the binaries instead of compiling them again (minio alone
# takes minutes). FILEMESH_TOOLS_CACHE=off builds every time.
# Usage: scripts/tools.sh [ghz] [minio] [helm] [grpcurl] [protoc-gen-go] [protoc-gen-go-grpc]
#        [toxiproxy-server] [toxiproxy-cli]
#        (no argument: all of them)
set -euo pipefail
cd "$(dirname "$0")/.."
export GOBIN="$PWD/.tools/bin"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
mkdir -p "$GOBIN"
# keep <tool> <cache path>: copies a built tool into the machine's cache (best effort).
keep() { mkdir -p "$CACHE" && cp -f "$GOBIN/$1" "$2.tmp.$$" && mv -f "$2.tmp.$$" "$2" || true; }
CACHE="${FILEMESH_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/filemesh/tools}"
GOVERSION="$(go env GOVERSION)"

declare -A PINS=(
  [ghz]="github.com/bojand/ghz/cmd/ghz@v0.93.0"
  [minio]="github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c"
  [helm]="helm.sh/helm/v3/cmd/helm@v3.22.0"
  [grpcurl]="github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4"
  # The Go client's code generators (clients/go/buf.gen.yaml); keep protoc-gen-go at the
  # google.golang.org/protobuf version that clients/go/go.mod requires.
  [protoc-gen-go]="google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12"
  [protoc-gen-go-grpc]="google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2"
  # test/faults puts toxiproxy between the mesh and its stores (driven through its HTTP API;
  # the CLI is for poking at a running suite by hand).
  [toxiproxy-server]="github.com/Shopify/toxiproxy/v2/cmd/server@v2.12.0"
  [toxiproxy-cli]="github.com/Shopify/toxiproxy/v2/cmd/cli@v2.12.0"
)

wanted=("$@")
[ ${#wanted[@]} -eq 0 ] && wanted=(ghz minio helm grpcurl protoc-gen-go protoc-gen-go-grpc toxiproxy-server toxiproxy-cli)

for tool in "${wanted[@]}"; do
  pin="${PINS[$tool]:-}"
  if [ -z "$pin" ]; then echo "tools: unknown tool '$tool'" >&2; exit 2; fi
  stamp="$GOBIN/.$tool.version"
  cached=""
  if [ "$CACHE" != "off" ]; then
    key="$(printf '%s %s %s' "$pin" "$GOVERSION" "$(go env GOOS)/$(go env GOARCH)" | sha256sum | cut -c1-16)"
    cached="$CACHE/$tool-$key"
  fi
  if [ -x "$GOBIN/$tool" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$pin" ]; then
    echo "tools: $tool already at $pin"
    if [ -n "$cached" ] && [ ! -x "$cached" ]; then keep "$tool" "$cached"; fi
    continue
  fi
  if [ -n "$cached" ]; then
    if [ -x "$cached" ]; then
      echo "tools: $tool from the cache ($cached)"
      cp -f "$cached" "$GOBIN/$tool.tmp" && mv -f "$GOBIN/$tool.tmp" "$GOBIN/$tool"
      echo "$pin" > "$stamp"
      continue
    fi
  fi
  echo "tools: go install $pin"
  go install "$pin"
  # go install names the binary after the package directory (toxiproxy's cmd/server → server).
  built="$(basename "${pin%@*}")"
  [ "$built" != "$tool" ] && mv -f "$GOBIN/$built" "$GOBIN/$tool"
  echo "$pin" > "$stamp"
  if [ -n "$cached" ]; then keep "$tool" "$cached"; fi
done
