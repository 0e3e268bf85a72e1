#!/usr/bin/env python3
"""Forwarding rate: N stored records delivered with the SDKs' 50 POSTs in
flight, timed until every row is acknowledged. Against the faithful
gateway stub (tests/gateway/gateway.py, a threaded Python server that
validates each entry: it is the bottleneck), and, when Debian's nginx is
installed, against nginx answering 201 (the collector's own capacity).
Usage: forward.py SPATURZU N WORKDIR [stub|nginx]. Prints records/s."""
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import uuid

spaturzu, n, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]
kind = sys.argv[4] if len(sys.argv) > 4 else "stub"
here = os.path.dirname(os.path.abspath(__file__))
if kind == "nginx":
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    ngx = os.path.join(work, "nginx")  # nginx gives its temp directory to its worker user
    os.makedirs(ngx, exist_ok=True)
    conf = os.path.join(ngx, "nginx.conf")
    with open(conf, "w") as f:
        f.write("daemon off; worker_processes 1; pid %s/nginx.pid; error_log %s/nginx.err;\n"
                "events { worker_connections 1024; }\n"
                "http { access_log off; client_body_temp_path %s; keepalive_requests 100000;\n"
                "  server { listen 127.0.0.1:%d; location = /v1/logs {\n"
                "    default_type application/json; return 201 '{\"requestId\":\"bench\"}'; } } }\n"
                % (ngx, ngx, ngx, port))
    gw = subprocess.Popen(["nginx", "-c", conf, "-p", ngx], stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.02)
else:
    port_file = os.path.join(work, "gw.port")
    gw = subprocess.Popen([sys.executable, os.path.join(here, "..", "tests", "gateway", "gateway.py"),
                           "--port-file", port_file, "--key", "spa_bench"], stderr=subprocess.DEVNULL)
    while not os.path.exists(port_file):
        time.sleep(0.01)
    port = int(open(port_file).read())
sock_path, db = os.path.join(work, "c.sock"), os.path.join(work, "fwd.db")
env = dict(os.environ, SPATURZU_API_KEY="spa_bench", XDG_CONFIG_HOME=work)
# Records first, forwarding off: then the timed part is delivery alone.
col = subprocess.Popen([spaturzu, "collector", "--foreground", "--socket", sock_path, "--db", db, "--spool",
                        os.path.join(work, "spool"), "--no-forward"], stderr=subprocess.DEVNULL, env=env)
while not os.path.exists(sock_path):
    if col.poll() is not None:
        sys.exit("forward.py: the collector did not start")
    time.sleep(0.01)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
for i in range(n):
    r = {"id": str(uuid.UUID(int=(0x01a3 << 112) | (7 << 76) | (0x8 << 60) | i)), "provider": "openai",
         "model": "gpt-4o", "status": 200, "promptTokens": 1400, "completionTokens": 300, "agentName": "bench",
         "agentPath": ["bench"], "runId": "4a0b8c0e-6c55-4b5e-9a3e-2b1d1c0f9e11", "tags": {"team": "core"}}
    while True:
        try:
            s.sendto(json.dumps(r).encode(), sock_path)
            break
        except BlockingIOError:
            time.sleep(0.001)
def wait_rows(sql):
    while True:
        if col.poll() is not None:
            sys.exit("forward.py: the collector exited (%d)" % col.returncode)
        try:
            if con.execute(sql).fetchone()[0] >= n:
                return
        except sqlite3.OperationalError:
            pass
        time.sleep(0.05)


con = sqlite3.connect(db)
wait_rows("SELECT count(*) FROM calls")
col.terminate()
col.wait()
t0 = time.monotonic()
col = subprocess.Popen([spaturzu, "collector", "--foreground", "--socket", sock_path, "--db", db, "--spool",
                        os.path.join(work, "spool"), "--gateway", "http://127.0.0.1:%d" % port],
                       stderr=subprocess.DEVNULL, env=env)
wait_rows("SELECT count(*) FROM calls WHERE delivery = 1")
t = time.monotonic() - t0
col.terminate()
col.wait()
gw.terminate()
gw.wait()
print("%.0f" % (n / t))
