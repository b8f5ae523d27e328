#!/usr/bin/env bash
# Installs what the network-namespace tests of the proxy need, ip (iproute2)
# and nft (nftables), from Debian's packages when they are missing. CI runs
# as root on a fresh machine; elsewhere, without root, it only says what is
# missing (those tests need root anyway).
set -euo pipefail
missing=()
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v nft >/dev/null 2>&1 || missing+=(nftables)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "netns-tools: missing ${missing[*]}; the network-namespace tests need root and these packages" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "netns-tools: installed ${missing[*]}" >&2
