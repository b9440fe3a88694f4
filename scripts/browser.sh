#!/usr/bin/env bash
# Installs Debian's Chromium for the console's browser tests (test/console), driven there by
# playwright-core with executablePath /usr/bin/chromium (Playwright's own browser download
# cannot work here). Idempotent: does nothing when /usr/bin/chromium exists.
# Usage: scripts/browser.sh   (needs root or sudo for apt-get)
set -euo pipefail

if [[ -x /usr/bin/chromium ]]; then exit 0; fi

sudo=""
if [[ "$(id -u)" != 0 ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
echo "browser: installing chromium (apt-get)"
# A fresh machine may have no package lists yet; update once, and again if the install fails.
if ! $sudo apt-get install -y --no-install-recommends chromium >/dev/null 2>&1; then
  $sudo apt-get update -qq
  $sudo apt-get install -y --no-install-recommends chromium >/dev/null
fi
/usr/bin/chromium --version
