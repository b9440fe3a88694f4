#!/usr/bin/env bash
# Builds the local gateway into dist/filemesh-gateway at the repo root.
# Idempotent: does nothing when the binary is newer than every Go source, go.mod and go.sum.
# Usage: gateway/build.sh [--force]   (from any directory)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
out="$root/dist/filemesh-gateway"

go_bin="$(command -v go || true)"
if [[ -z "$go_bin" && -x /usr/local/go/bin/go ]]; then go_bin=/usr/local/go/bin/go; fi
if [[ -z "$go_bin" ]]; then
  echo "gateway/build.sh: no Go toolchain found (need go >= 1.26 on PATH or in /usr/local/go)" >&2
  exit 1
fi

if [[ "${1:-}" != "--force" && -x "$out" ]] &&
  [[ -z "$(find "$here" \( -name '*.go' -o -name go.mod -o -name go.sum \) -newer "$out" -print -quit)" ]]; then
  exit 0 # up to date
fi

mkdir -p "$root/dist"
cd "$here"
tmp="$out.$$.tmp" # per process: concurrent builds must not trip over each other
trap 'rm -f "$tmp"' EXIT
CGO_ENABLED=0 "$go_bin" build -trimpath -buildvcs=false -o "$tmp" ./cmd/gateway
mv -f "$tmp" "$out"
echo "gateway: built ${out#"$root"/}"
