"""A Python client making calls with the standard library, as an unmodified
program would: http.client on one keep-alive connection, or urllib.
Usage: py_calls.py MODE PORT CA PLAN_JSON
  MODE  http.client | urllib
  PLAN  [{"path": ..., "body": ..., "framing": ..., "read": N}, ...]
Prints one line per call: status and the SHA-256 of the exact body bytes."""
import hashlib
import http.client
import json
import ssl
import sys
import urllib.request


def read_all(resp, size):
    chunks = []
    while True:
        b = resp.read(size) if size else resp.read()
        if not b:
            break
        chunks.append(b)
        if not size:
            break
    return b"".join(chunks)


def main():
    mode, port, ca, plan = sys.argv[1], int(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4])
    ctx = ssl.create_default_context(cafile=ca)
    if mode == "http.client":
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
        for call in plan:
            headers = {"Host": "api.openai.com", "Content-Type": "application/json",
                       "Authorization": "Bearer sk-test-not-a-key", "x-test-framing": call.get("framing", "length")}
            conn.request("POST", call["path"], body=call["body"].encode(), headers=headers)
            resp = conn.getresponse()
            data = read_all(resp, call.get("read", 0))
            print(resp.status, hashlib.sha256(data).hexdigest(), flush=True)
        conn.close()
    else:
        for call in plan:
            req = urllib.request.Request(
                "https://127.0.0.1:%d%s" % (port, call["path"]), data=call["body"].encode(),
                headers={"Host": "api.openai.com", "Content-Type": "application/json",
                         "x-test-framing": call.get("framing", "length")})
            with urllib.request.urlopen(req, context=ctx) as resp:
                data = read_all(resp, call.get("read", 0))
                print(resp.status, hashlib.sha256(data).hexdigest(), flush=True)


if __name__ == "__main__":
    main()
