"""Threads making LLM calls while the process forks; parent and child both go
on making calls. Usage: py_fork_threads.py PORT CA THREADS CALLS
Prints the pids that made calls and how many each made."""
import http.client
import json
import os
import ssl
import sys
import threading

port, ca, threads, calls = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ctx = ssl.create_default_context(cafile=ca)
BODY = json.dumps({"messages": [{"content": "Hello! How are you doing?", "role": "user"}], "model": "gpt-4o",
                   "stream": False})


def call(conn):
    conn.request("POST", "/v1/chat/completions", body=BODY,
                 headers={"Host": "api.openai.com", "Content-Type": "application/json"})
    r = conn.getresponse()
    r.read()
    assert r.status == 200


def worker(n):
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
    for _ in range(n):
        call(conn)
    conn.close()


ts = [threading.Thread(target=worker, args=(calls,)) for _ in range(threads)]
for t in ts:
    t.start()
# Fork while the threads are mid-traffic: the child starts with one thread
# and its own calls; the parent's connections are not the child's.
pid = os.fork()
if pid == 0:
    worker(2)
    os._exit(0)
for t in ts:
    t.join()
_, status = os.waitpid(pid, 0)
print(json.dumps({"parent": os.getpid(), "child": pid, "child_status": status}))
