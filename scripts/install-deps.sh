#!/bin/sh
# Installs every build and test dependency of spaturzu from Debian's archive.
# Idempotent: a second run installs nothing new. Needs root (or sudo) and apt.
set -eu

PACKAGES="
  build-essential pkg-config meson ninja-build clang
  libssl-dev openssl libcurl4-openssl-dev curl
  check libsqlite3-dev sqlite3 libjansson-dev
  zlib1g-dev libbrotli-dev libzstd-dev libnghttp2-dev
  python3 python3-requests python3-httpx python3-h2 python3-aiohttp
  php-cli php-curl ruby
  python3-brotli python3-zstandard
  node-cjs-module-lexer node-undici node-acorn
  valgrind
  chromium fonts-dejavu-core
"

missing=""
for p in $PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing="$missing $p"
  fi
done

if [ -z "$missing" ]; then
  echo "install-deps: all packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

echo "install-deps: installing:$missing"
$SUDO apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
