#!/bin/sh
# Configures and builds a tree: scripts/build.sh [plain|asan] (default plain).
# plain -> build/, asan -> build-asan/ (ASan+UBSan). Warnings are errors.
set -eu
cd "$(dirname "$0")/.."
kind=${1:-plain}
case "$kind" in
  plain) dir=build; opts="" ;;
  asan) dir=build-asan; opts="-Db_sanitize=address,undefined -Db_lundef=false" ;;
  *) echo "usage: scripts/build.sh [plain|asan]" >&2; exit 2 ;;
esac
# The token-estimate tables come from an npm package (scripts/fetch-bpe.sh);
# without it the shim builds and runs, and streams without usage stay unknown.
./scripts/fetch-bpe.sh || echo "build: js-tiktoken unavailable: no token-estimate tables" >&2
if [ -f "$dir/build.ninja" ]; then
  # shellcheck disable=SC2086
  meson setup --reconfigure "$dir" --werror $opts >/dev/null
else
  # shellcheck disable=SC2086
  meson setup "$dir" --werror $opts >/dev/null
fi
ninja -C "$dir" >/dev/null
echo "built $dir"
