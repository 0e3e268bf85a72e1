#!/bin/sh
# Debian's Node.js 18, which links the system OpenSSL (the Node.js on the
# machine links its own, invisible to any LD_PRELOAD shim), unpacked beside
# it in DIR (default build/node18), and the npm packages the Node tests use
# (tests/node, pinned by its lockfile). Run it as DIR/usr/bin/nodejs with
# LD_LIBRARY_PATH=DIR/usr/lib/x86_64-linux-gnu. Idempotent.
set -eu
cd "$(dirname "$0")/.."
dest=${1:-build/node18}
if [ ! -x "$dest/usr/bin/nodejs" ]; then
  version=$(apt-cache policy libnode108 | sed -n 's/ *Candidate: *//p')
  if [ -z "$version" ] || [ "$version" = "(none)" ]; then
    echo "install-node18: libnode108 is not in the apt lists (run apt-get update)" >&2
    exit 1
  fi
  mkdir -p "$dest/debs"
  (cd "$dest/debs" && apt-get download -q "nodejs=$version" "libnode108=$version")
  for deb in "$dest"/debs/*.deb; do dpkg -x "$deb" "$dest"; done
fi
"$dest/usr/bin/nodejs" --version >/dev/null 2>&1 || \
  LD_LIBRARY_PATH="$dest/usr/lib/x86_64-linux-gnu" "$dest/usr/bin/nodejs" --version >/dev/null
if ! command -v npm >/dev/null 2>&1; then
  # No Node.js of the machine's own: Debian's npm (it brings Debian's nodejs).
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm
fi
if [ ! -d tests/node/node_modules/openai ] || [ ! -d tests/node/node_modules/@anthropic-ai/sdk ]; then
  (cd tests/node && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "install-node18: $dest/usr/bin/nodejs ready"
