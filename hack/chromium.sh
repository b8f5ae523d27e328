#!/usr/bin/env bash
# Installs Chromium from Debian's packages when it is missing: the HTML
# report is tested in headless Chromium (internal/report). CI runs as root on
# a fresh machine; elsewhere, without root, it says what is missing and the
# browser test fails with the same hint (set IMDSGUARD_CHROMIUM to use
# another binary).
set -euo pipefail
for c in chromium chromium-browser google-chrome; do
  command -v "$c" >/dev/null 2>&1 && exit 0
done
[ -n "${IMDSGUARD_CHROMIUM:-}" ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "chromium: missing; install Debian's chromium package (the HTML report test needs it)" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends chromium >/dev/null
echo "chromium: installed $(chromium --version 2>/dev/null || echo chromium)" >&2
