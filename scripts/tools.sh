#!/usr/bin/env bash
# Installs the pinned tools the tests and benchmarks need into .tools/bin (ignored by git),
# built from the Go module proxy with `go install`. Reuses what is already there.
# Usage: scripts/tools.sh [ghz] [minio] [helm] [grpcurl] [protoc-gen-go] [protoc-gen-go-grpc]
#        [toxiproxy-server] [toxiproxy-cli]
#        (no argument: all of them)
set -euo pipefail
cd "$(dirname "$0")/.."
export GOBIN="$PWD/.tools/bin"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
mkdir -p "$GOBIN"

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
  if [ -x "$GOBIN/$tool" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$pin" ]; then
    echo "tools: $tool already at $pin"
    continue
  fi
  echo "tools: go install $pin"
  go install "$pin"
  # go install names the binary after the package directory (toxiproxy's cmd/server → server).
  built="$(basename "${pin%@*}")"
  [ "$built" != "$tool" ] && mv -f "$GOBIN/$built" "$GOBIN/$tool"
  echo "$pin" > "$stamp"
done
