#!/usr/bin/env bash
# Regenerates the committed Go stubs (clients/go/pb) from proto/ with the pinned generators;
# run it after changing a contract and commit the result (test/clients/go-generated.test.ts
# fails while they differ). With a directory argument, writes <dir>/clients/go/pb instead.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/tools.sh protoc-gen-go protoc-gen-go-grpc >/dev/null
out=()
[ $# -gt 0 ] && out=(--output "$1")
node_modules/.bin/buf generate --template clients/go/buf.gen.yaml --path proto/filemesh "${out[@]}"
