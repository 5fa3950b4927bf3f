#!/usr/bin/env bash
# The headless browser the report tests open every report in: Debian's chromium, installed if it is missing.
set -euo pipefail
for b in chromium chromium-browser; do
  if command -v "$b" >/dev/null 2>&1; then exit 0; fi
done
if ! command -v apt-get >/dev/null 2>&1; then
  echo "the report tests need chromium; install it (or set WATTSCALE_CHROMIUM to a Chromium binary)" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
echo "installing chromium (Debian package) for the report tests"
$sudo apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
