#!/usr/bin/env bash
# Debian packages the test suite needs beyond PostgreSQL (which postgres.sh installs):
# Chromium for browser tests (driven by Python Playwright with executable_path — we never run
# `playwright install`, which would download a browser) and CJK/Arabic fonts so pages render.
set -euo pipefail
SERVICE=system-packages
. "$(dirname "$0")/_common.sh"

packages=(chromium fonts-noto-core fonts-noto-cjk)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
log "installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
as_root apt-get update -qq
as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
log "installed in $(elapsed)"
