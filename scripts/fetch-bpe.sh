#!/bin/sh
# Installs js-tiktoken (data/tokenizer, pinned by its lockfile), whose copies
# of OpenAI's o200k_base and cl100k_base rank files the build converts into
# the shim's token-estimate tables. Idempotent; needs npm.
set -eu
cd "$(dirname "$0")/../data/tokenizer"
[ -f node_modules/js-tiktoken/dist/ranks/o200k_base.cjs ] && exit 0
if ! command -v npm >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm
fi
npm ci --no-audit --no-fund --loglevel=error
