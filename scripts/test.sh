#!/bin/sh
# Runs every test on a fresh Debian 12 machine: installs what is needed,
# builds plain and with ASan+UBSan (warnings are errors), runs the unit and
# integration suites in both, the unit suites again under valgrind memcheck
# (it sees what ASan cannot: uninstrumented libraries such as jansson
# reading memory already freed), runs every fuzz target briefly
# (SPZ_FUZZ_SECONDS, default 15; scripts/fuzz.sh runs them longer), and ends
# with one line "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
./scripts/install-deps.sh || exit 1

passed=0
failed=0
status=0

# Adds what meson ran, from its machine-readable log, to the counts.
count_log() {
  counts=$(python3 - "$1" <<'PY'
import json, sys
ok = bad = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("result") in ("OK", "EXPECTEDFAIL"):
        ok += 1
    elif r.get("result") != "SKIP":
        bad += 1
print(ok, bad)
PY
)
  passed=$((passed + ${counts% *}))
  failed=$((failed + ${counts#* }))
}

for kind in plain asan; do
  ./scripts/build.sh "$kind" || { echo "build ($kind) failed"; exit 1; }
  dir=build; [ "$kind" = asan ] && dir=build-asan
  echo "== tests ($kind)"
  meson test -C "$dir" --print-errorlogs --num-processes 2 --suite unit --suite integration || status=1
  count_log "$dir/meson-logs/testlog.json"
  if [ "$kind" = plain ]; then
    echo "== unit tests under valgrind memcheck"
    meson test -C "$dir" --no-rebuild --print-errorlogs --num-processes 2 --suite unit \
      --timeout-multiplier 10 --logbase memcheck \
      --wrapper "valgrind --error-exitcode=99 --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite --quiet" \
      || status=1
    count_log "$dir/meson-logs/memcheck-valgrind.json"  # meson adds the wrapper's name
  fi
done

echo "== fuzz (${SPZ_FUZZ_SECONDS:-15}s per target)"
fuzz_log=$(mktemp)
./scripts/fuzz.sh "${SPZ_FUZZ_SECONDS:-15}" | tee "$fuzz_log" || status=1
passed=$((passed + $(grep -c 'no crash' "$fuzz_log")))
failed=$((failed + $(grep -c 'FAILED' "$fuzz_log")))
rm -f "$fuzz_log"

echo
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$status" -eq 0 ]
