"""httpx over HTTP/2, one connection, calls of a refused agent among calls
under budget. Usage: py_h2_budget.py PORT CA CASE BODY_FILE PAD
Each line printed: agent, HTTP version, status, error code or
prompt_tokens. PAD spaces are added to the bodies of the large calls, so
that a refused body spends the client's connection send window: the next
large call stalls (and times out) unless the window came back."""
import json
import socket
import sys

import httpx

port, ca, case, body_file, pad = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
with open(body_file) as f:
    body = f.read()
_getaddrinfo = socket.getaddrinfo
socket.getaddrinfo = lambda host, *a, **k: _getaddrinfo("127.0.0.1" if host == "api.openai.com" else host, *a, **k)
url = "https://api.openai.com:%d/v1/chat/completions" % port
plan = [("blocked", 0), ("free", 0), ("blocked", pad), ("free", pad), ("blocked", 0), ("watched", pad)]
with httpx.Client(http2=True, verify=ca, timeout=20) as client:
    for agent, extra in plan:
        r = client.post(url, content=(body + " " * extra).encode(),
                        headers={"content-type": "application/json", "x-spaturzu-agent": agent,
                                 "x-test-case": case, "authorization": "Bearer sk-test-not-a-key"})
        doc = r.json()
        what = doc["error"]["code"] if r.status_code != 200 else doc["usage"]["prompt_tokens"]
        print(agent, r.http_version, r.status_code, what, r.headers.get("x-should-retry"), flush=True)
    print("connections", len(client._transport._pool.connections))
