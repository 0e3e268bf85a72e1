#!/bin/sh
# The main job on the built-in defaults, on a fresh Debian 12 machine: sets
# up, builds, starts a collector and the local test provider, makes LLM calls
# from unmodified programs (curl and Python) with the shim preloaded, and
# shows the records they produced. Everything runs on this machine; the
# provider replays recorded OpenAI responses over real TLS.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
./scripts/install-deps.sh
./scripts/build.sh plain

work=$(mktemp -d /tmp/spaturzu-demo.XXXXXX)
export SPATURZU_SOCKET="$work/collector.sock"
export SPATURZU_DB="$work/spaturzu.db"
export SPATURZU_SPOOL="$work/spool"
shim="$root/build/shim/libspaturzu_shim.so"
spaturzu="$root/build/collector/spaturzu"

cleanup() {
  [ -n "${collector_pid:-}" ] && kill "$collector_pid" 2>/dev/null && wait "$collector_pid" 2>/dev/null
  [ -n "${provider_pid:-}" ] && kill "$provider_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

sh tests/provider/gen-certs.sh "$work/certs"
/usr/bin/python3 tests/provider/provider.py --corpus "${SPZ_CORPUS_DIR:-$root/../shared/corpus}" \
  --cert "$work/certs/server.pem" --key "$work/certs/server.key" --port-file "$work/port" \
  --framing chunked >/dev/null 2>&1 &
provider_pid=$!
"$spaturzu" collector --foreground 2>"$work/collector.log" &
collector_pid=$!
i=0
while [ ! -s "$work/port" ] || [ ! -S "$SPATURZU_SOCKET" ]; do
  i=$((i + 1)); [ $i -gt 200 ] && { echo "demo: provider or collector did not start"; exit 1; }
  sleep 0.05
done
port=$(cat "$work/port")
echo "== test provider on 127.0.0.1:$port, collector on $SPATURZU_SOCKET"

echo "== curl, agent support-triage: a chat completion and a streamed one"
for body in \
  '{"messages":[{"content":"Hello! How are you doing?","role":"user"}],"model":"gpt-4o","stream":false}' \
  '{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"What is the capital of the UK?"}]}'
do
  LD_PRELOAD="$shim" SPATURZU_AGENT=support-triage SPATURZU_TAGS=team=support \
    curl -sS --http1.1 --cacert "$work/certs/ca.pem" --resolve "api.openai.com:$port:127.0.0.1" \
    -H 'content-type: application/json' --data-binary "$body" -o /dev/null \
    "https://api.openai.com:$port/v1/chat/completions"
done

echo "== python urllib, agent nightly-report: an embedding and a Responses call"
LD_PRELOAD="$shim" SPATURZU_AGENT=nightly-report /usr/bin/python3 - "$port" "$work/certs/ca.pem" <<'PY'
import json, ssl, sys, urllib.request
port, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
for path, body in [
    ("/v1/embeddings", {"encoding_format": "base64", "input": ["Hello, world!"], "model": "text-embedding-3-small"}),
    ("/v1/responses", {"input": [{"content": "What is the capital of France?", "role": "user"}], "instructions": "", "model": "gpt-4o"}),
]:
    req = urllib.request.Request("https://127.0.0.1:%d%s" % (port, path), data=json.dumps(body).encode(),
                                 headers={"Host": "api.openai.com", "Content-Type": "application/json"})
    urllib.request.urlopen(req, context=ctx).read()
PY

# Records travel by datagram; give the collector a moment to commit them.
n=0
while [ "$("$spaturzu" calls --json | wc -l)" -lt 4 ] && [ $n -lt 100 ]; do n=$((n + 1)); sleep 0.05; done
echo
echo "== spaturzu calls"
"$spaturzu" calls
echo
echo "== spaturzu calls --json (last record)"
"$spaturzu" calls --json | tail -n 1

echo
echo "== spaturzu run: a pipeline whose researcher and writer are child processes"
cat > "$work/pipeline.sh" <<SH
set -e
call() {
  curl -sS --http1.1 --cacert "$work/certs/ca.pem" --resolve "api.openai.com:$port:127.0.0.1" \\
    -H 'content-type: application/json' -o /dev/null --data-binary "\$1" \\
    "https://api.openai.com:$port/v1/chat/completions"
}
SPATURZU_AGENT=researcher call '{"messages":[{"content":"Hello! How are you doing?","role":"user"}],"model":"gpt-4o","stream":false}'
SPATURZU_AGENT=researcher call '{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"What is the capital of the UK?"}]}'
SPATURZU_AGENT=writer call '{"messages":[{"content":"Hello! How are you doing?","role":"user"}],"model":"gpt-4o","stream":false}'
SH
"$spaturzu" run --agent pipeline --tags team=research -- sh "$work/pipeline.sh"
run_id=$("$spaturzu" calls --json --agent writer | tail -n 1 | sed 's/.*"runId":"\([^"]*\)".*/\1/')
echo
echo "== spaturzu trace $run_id"
"$spaturzu" trace "$run_id"
echo
echo "== spaturzu report (per agent, last 7 and 30 days)"
"$spaturzu" report
"$spaturzu" report --html "$root/build/spaturzu-report.html" 2>/dev/null
echo
echo "== spaturzu status"
"$spaturzu" status --spool "$SPATURZU_SPOOL" || true
echo
echo "The HTML report is in build/spaturzu-report.html."
