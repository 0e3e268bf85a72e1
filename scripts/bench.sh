#!/bin/sh
# Overhead of the shim, measured side by side in one run: each workload runs
# without and with the shim on this machine, and the ratio is printed.
#   opaque  SSL_write/SSL_read of non-LLM data (memory BIOs)   target <= 1.02
#           and its instructions (callgrind), which no neighbour moves
#   llm     a long SSE stream parsed through the shim: MB/s
#   calls   CPU added per typical streamed call                 target < 50 us
#   json    the same for a call answered by a whole JSON body
#   e2e     Python's http.client, 1,000 calls to the test provider: client
#           CPU and wall time                                   target <= 1.03
#           (best of each series, and the median of the rounds' own
#           ratios with its interquartile range)
#           and instructions a call (callgrind: deterministic, unlike
#           times on a machine with noisy neighbours), and those inside
#           the shim's connection handlers alone (the difference of whole
#           runs moves with the interpreter's own count)
#           and, for comparison, the same calls through nginx as a
#           TLS-terminating reverse proxy (a proxy gateway's architecture)
#           and the same 1,000 calls from the curl command (one process,
#           one connection): CPU and wall time of the whole command, and
#           instructions a call
#   ingest  the collector's durable ingest rate                 records/s
#           by the socket (JSON datagrams) and through the record ring
#           (packed records, as shims send while the collector runs)
#   forward delivery to a gateway: the faithful stub (Python-bound) and
#           nginx answering 201 (the collector's own capacity)  records/s
# Usage: scripts/bench.sh [ROUNDS] (default 5; the best round of each counts)
set -eu
cd "$(dirname "$0")/.."
rounds=${1:-5}
./scripts/build.sh plain >/dev/null
# nginx for the proxy comparisons; RUNLEVEL=1 keeps its package from
# starting a server on port 80. Without it those two lines print "-".
if ! command -v nginx >/dev/null; then
  { [ "$(id -u)" -eq 0 ] && apt-get update -qq && RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends nginx-light; } >/dev/null 2>&1 || true
fi
sh tests/provider/gen-certs.sh build/test-certs
work=$(mktemp -d)
shim=$(pwd)/build/shim/libspaturzu_shim.so
certs="build/test-certs/server.pem build/test-certs/server.key"
# The lowest CPU seconds of a workload without and with the shim over the
# rounds, printed as "WITHOUT WITH". The two alternate, so that a noisy
# neighbour (this machine has them) slows both alike rather than one series.
best_pair() {
  for i in $(seq "$rounds"); do
    echo "0 $("$@" | awk '{print $2}')"
    echo "1 $(with_shim "$@" | awk '{print $2}')"
  done | awk '{ if (!($1 in m) || $2 < m[$1]) m[$1] = $2 } END { print m[0], m[1] }'
}
# Records go to a running collector, as in production.
build/collector/spaturzu collector --foreground --socket "$work/bench.sock" --db "$work/shim.db" \
  --spool "$work/spool" 2>/dev/null &
collector=$!
trap 'kill $collector 2>/dev/null; wait $collector 2>/dev/null; rm -rf "$work"' EXIT
while [ ! -S "$work/bench.sock" ]; do sleep 0.05; done
with_shim() { env LD_PRELOAD="$shim" SPATURZU_SOCKET="$work/bench.sock" SPATURZU_SPOOL="$work/spool" "$@"; }
# shellcheck disable=SC2086,SC2046
set -- $(best_pair build/bench/bench-ssl opaque $certs 400); op0=$1 op1=$2
# shellcheck disable=SC2086,SC2046
set -- $(best_pair build/bench/bench-ssl llm $certs 200); llm0=$1 llm1=$2
# 3,000 calls a run: a burst the record ring holds (4,096 records). A
# longer one at this rate (80,000 calls a second) outruns the collector's
# durable ingest, and the rest goes by the socket and the spool.
# shellcheck disable=SC2086,SC2046
set -- $(best_pair build/bench/bench-ssl calls $certs 3000); c0=$1 c1=$2
# shellcheck disable=SC2086,SC2046
set -- $(best_pair build/bench/bench-ssl json $certs 3000); j0=$1 j1=$2
# The opaque path's instructions (valgrind's callgrind, 20 MB): a figure
# the neighbours cannot move, where the CPU ratio's noise is of the size
# of the target.
op_ins=-
if command -v valgrind >/dev/null; then
  op_ins=$(for s in 0 1; do
    if [ "$s" = 1 ]; then pre=$shim; else pre=; fi
    # shellcheck disable=SC2086
    env LD_PRELOAD="$pre" SPATURZU_SOCKET="$work/bench.sock" valgrind --tool=callgrind \
      --callgrind-out-file="$work/opaque.$s.cg" build/bench/bench-ssl opaque $certs 20 >/dev/null 2>&1
    sed -n 's/^summary: //p' "$work/opaque.$s.cg"
  done | tr '\n' ' ')
fi
mkdir -p "$work/e2e"
# End to end, each round runs every client with and without the shim back
# to back; the rounds' own ratios are summed up by their median, which
# wants more of them than a best-of does: four times ROUNDS, at least 15
# (a round is about a second).
e2e_rounds=$((rounds * 4)); [ "$e2e_rounds" -lt 15 ] && e2e_rounds=15
e2e=$(python3 bench/e2e.py "$shim" build/collector/spaturzu build/test-certs "${SPZ_CORPUS_DIR:-$(pwd)/../shared/corpus}" \
  "$work/e2e" 1000 "$e2e_rounds")
mkdir -p "$work/ingest"
# Durable ingest varies with the disk's fsync latency: every round is
# printed as best and median, never one lucky run alone.
ingest_runs=$(for i in $(seq "$rounds"); do
  rm -rf "$work/ingest"; mkdir -p "$work/ingest"
  python3 bench/ingest.py build/collector/spaturzu 100000 "$work/ingest" --cpu
done | sort -n)
rate=$(echo "$ingest_runs" | tail -n 1 | cut -d' ' -f1)
median=$(echo "$ingest_runs" | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
ingest_cpu=$(echo "$ingest_runs" | awk '{ s += $2 } END { printf "%.1f", s / NR }')
# The same through the record ring, packed, as shims send while a collector
# runs: the collector renders each record's JSON before it checks it.
ring_runs=$(for i in $(seq "$rounds"); do
  rm -rf "$work/ingest"; mkdir -p "$work/ingest"
  python3 bench/ingest.py build/collector/spaturzu 100000 "$work/ingest" --cpu --ring
done | sort -n)
ring_rate=$(echo "$ring_runs" | tail -n 1 | cut -d' ' -f1)
ring_median=$(echo "$ring_runs" | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
ring_cpu=$(echo "$ring_runs" | awk '{ s += $2 } END { printf "%.1f", s / NR }')
mkdir -p "$work/forward-stub" "$work/forward-nginx"
fwd_stub=$(python3 bench/forward.py build/collector/spaturzu 3000 "$work/forward-stub" stub)
fwd_nginx=-
if command -v nginx >/dev/null; then
  fwd_nginx=$(python3 bench/forward.py build/collector/spaturzu 20000 "$work/forward-nginx" nginx)
fi
echo "workload                                  without    with shim   ratio / figure"
awk -v a="$op0" -v b="$op1" 'BEGIN { printf "opaque SSL_write/SSL_read, 400 MB       %7.3f s  %7.3f s   %.3f\n", a, b, b / a }'
echo "$op_ins" | awk 'NF == 2 { printf "the same, 20 MB: instructions (callgrind) %11d %11d   %.4f\n", $1, $2, $2 / $1 }'
awk -v a="$llm0" -v b="$llm1" 'BEGIN { printf "streamed LLM response parsed, 200 MB    %7.3f s  %7.3f s   %.3f (%.0f MB/s through the shim)\n", a, b, b / a, 200 * 1.048576 / (b - a) }'
awk -v a="$c0" -v b="$c1" 'BEGIN { printf "3,000 streamed calls of ~4 KB           %7.3f s  %7.3f s   %.1f us CPU added per call\n", a, b, (b - a) * 1e6 / 3000 }'
awk -v a="$j0" -v b="$j1" 'BEGIN { printf "3,000 whole JSON calls (http.client-like)%7.3f s  %7.3f s   %.1f us CPU added per call\n", a, b, (b - a) * 1e6 / 3000 }'
echo "$e2e" | awk -v r="$e2e_rounds" '{
  printf "1,000 calls, Python http.client: CPU    %7.3f s  %7.3f s   %.3f best of each; median of %d rounds %s (IQR %s-%s)\n", $1, $2, $3, r, $21, $22, $23;
  printf "1,000 calls, Python http.client: wall   %7.3f s  %7.3f s   %.3f best of each; median %s (IQR %s-%s)\n", $4, $5, $6, $24, $25, $26;
  printf "the same through nginx as a TLS proxy   %7.3f s  %7s s   %s best of each; median %s (IQR %s-%s) (wall, proxy instead of shim)\n", $4, $7, $8, $27, $28, $29;
  printf "a Python call, instructions (callgrind) %9s  %9s   %s (%s inside the shim handlers)\n", $9, $10, $11, $36;
  printf "1,000 calls, the curl command: CPU      %7.3f s  %7.3f s   %.3f best of each; median %s (IQR %s-%s) (start-up included)\n", $12, $13, $14, $30, $31, $32;
  printf "1,000 calls, the curl command: wall     %7.3f s  %7.3f s   %.3f best of each; median %s (IQR %s-%s)\n", $15, $16, $17, $33, $34, $35;
  printf "a curl call, instructions (callgrind)   %9s  %9s   %s\n", $18, $19, $20 }'
echo "collector durable ingest, 100,000 records from a C sender       best $rate, median $median records/s ($ingest_cpu us of collector CPU a record)"
echo "the same through the record ring, packed                        best $ring_rate, median $ring_median records/s ($ring_cpu us of collector CPU a record)"
echo "forwarding to the gateway stub (Python, validating)              $fwd_stub records/s"
echo "forwarding to nginx answering 201 (collector's capacity)         $fwd_nginx records/s"
