#!/usr/bin/env bash
# Generates the Go stubs (clients/go/pb, git-ignored) from proto/ with the generators pinned in
# scripts/tools.sh. Run by `npm run build` (scripts/build.mjs, like the gateway's build) and
# before the Go client's tests; by hand after changing a contract. Takes about a second once
# the generators are installed.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/tools.sh protoc-gen-go protoc-gen-go-grpc >/dev/null
node_modules/.bin/buf generate --template clients/go/buf.gen.yaml --path proto/filemesh
