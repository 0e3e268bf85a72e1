#!/bin/sh
# Builds the libFuzzer targets (clang, ASan+UBSan), seeds each from
# ../shared/corpus, and runs each for SECONDS (default 60). A crash, leak or
# sanitizer report fails the run and leaves its input in build-fuzz/crashes/;
# add it to a unit test. Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
set -eu
cd "$(dirname "$0")/.."
seconds=${1:-60}
[ $# -gt 0 ] && shift
corpus=${SPZ_CORPUS_DIR:-$(pwd)/../shared/corpus}
if [ ! -f build-fuzz/build.ninja ]; then
  CC=clang meson setup build-fuzz -Dfuzz=true -Dtests=false -Db_sanitize=address,undefined \
    -Db_lundef=false >/dev/null
fi
ninja -C build-fuzz >/dev/null
rm -rf build-fuzz/seeds
# Debian's python3 has hpack (python3-h2) for the HTTP/2 seeds.
py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3
"$py" tests/fuzz/make-seeds.py "$corpus" build-fuzz/seeds
targets=${*:-"json jsontop sse http1 eventstream decode conn h2gate attr record pricing budgets tokenizer"}
mkdir -p build-fuzz/crashes
status=0
for t in $targets; do
  mkdir -p "build-fuzz/work/$t" "build-fuzz/seeds/$t"
  if ASAN_OPTIONS=detect_leaks=1 ./build-fuzz/tests/fuzz/fuzz-$t -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=0 -artifact_prefix="build-fuzz/crashes/$t-" \
      "build-fuzz/work/$t" "build-fuzz/seeds/$t" > "build-fuzz/$t.log" 2>&1; then
    echo "fuzz $t: $(grep -c . "build-fuzz/$t.log" >/dev/null; grep -oE 'cov: [0-9]+' "build-fuzz/$t.log" | tail -n1), no crash in ${seconds}s"
  else
    echo "fuzz $t: FAILED (see build-fuzz/$t.log)"
    tail -n 30 "build-fuzz/$t.log"
    status=1
  fi
done
exit $status
