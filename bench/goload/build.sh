#!/usr/bin/env bash
# Builds bench/goload (the Go load of the file scenarios' go-* ops) into dist/bench-goload and
# prints that path. Generates the Go client's stubs first (clients/go/generate.sh) if
# clients/go/pb is missing. Idempotent: nothing is built while the content of the sources
# (bench/goload, clients/go with pb/, their go.mod and go.sum) and the Go version hash as at
# the last build (dist/bench-goload.sum) — `npm run build` rewrites pb/ every time, so file
# dates would rebuild after every build.
# Usage: bench/goload/build.sh [--force]   (from any directory)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$root/dist/bench-goload"

go_bin="$(command -v go || true)"
if [[ -z "$go_bin" && -x /usr/local/go/bin/go ]]; then go_bin=/usr/local/go/bin/go; fi
if [[ -z "$go_bin" ]]; then
  echo "bench/goload/build.sh: no Go toolchain found (need go >= 1.26 on PATH or in /usr/local/go)" >&2
  exit 1
fi

cd "$root"
if [[ ! -d clients/go/pb/filemesh/file/v1 ]]; then clients/go/generate.sh >&2; fi

sum="$(
  {
    "$go_bin" version
    find bench/goload clients/go -path clients/go/examples -prune -o -type f \
      \( -name '*.go' -o -name go.mod -o -name go.sum \) ! -name '*_test.go' -print0 |
      sort -z | xargs -0 sha256sum
  } | sha256sum | cut -d' ' -f1
)"
if [[ "${1:-}" != "--force" && -x "$out" && "$(cat "$out.sum" 2>/dev/null)" == "$sum" ]]; then
  echo "$out" # up to date
  exit 0
fi

mkdir -p dist
tmp="$out.$$.tmp" # per process: concurrent builds must not trip over each other
trap 'rm -f "$tmp"' EXIT
(cd "$here" && CGO_ENABLED=0 "$go_bin" build -trimpath -buildvcs=false -o "$tmp" .) >&2
mv -f "$tmp" "$out"
echo "$sum" >"$out.sum"
echo "bench/goload: built ${out#"$root"/}" >&2
echo "$out"
