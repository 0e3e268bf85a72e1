#!/usr/bin/env python3
"""Collector ingest rate: N records sent as datagrams as fast as the socket
takes them (with --ring: packed into the collector's record ring, as the
shim sends them while a collector runs), timed until all are stored durably
(committed to SQLite). Usage: ingest.py SPATURZU N WORKDIR [--cpu] [--ring].
Prints records/s (and with --cpu the collector's CPU microseconds per
record)."""
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import uuid

spaturzu, n, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]
flags = sys.argv[4:]
sock_path, db = os.path.join(work, "c.sock"), os.path.join(work, "bench.db")
col = subprocess.Popen([spaturzu, "collector", "--foreground", "--socket", sock_path, "--db", db,
                        "--spool", os.path.join(work, "spool")], stderr=subprocess.DEVNULL)
while not os.path.exists(sock_path):
    time.sleep(0.01)
records = []
for i in range(n):
    records.append(json.dumps({
        "id": str(uuid.UUID(int=(0x01a2 << 112) | (7 << 76) | (0x8 << 60) | i)), "provider": "openai",
        "model": "gpt-4o", "responseModel": "gpt-4o-2024-08-06", "runId": "4a0b8c0e-6c55-4b5e-9a3e-2b1d1c0f9e11",
        "agentName": "bench", "agentPath": ["bench"], "promptTokens": 1400, "completionTokens": 300,
        "cachedInputTokens": 0, "usageSource": "provider", "status": 200, "latencyMs": 812, "stream": True,
        "startedAt": "2026-11-23T09:00:00.000Z", "host": "api.openai.com", "endpoint": "/v1/chat/completions",
        "pid": 4242, "exe": "/usr/bin/python3", "tags": {"team": "core"}}).encode())
sender = os.path.join(os.path.dirname(os.path.abspath(spaturzu)), "..", "bench", "bench-ingest-send")
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
t0 = time.monotonic()
if os.path.exists(sender):
    # The C sender, as the shim sends: Python's own cost would take most of
    # the second core.
    subprocess.run([sender, sock_path, str(n)] + (["ring"] if "--ring" in flags else []), check=True)
    records = []
elif "--ring" in flags:
    sys.exit("ingest.py: --ring needs the C sender (bench-ingest-send)")
for r in records:
    while True:
        try:
            s.sendto(r, sock_path)
            break
        except BlockingIOError:
            time.sleep(0.0005)
        except OSError as e:
            if e.errno != 11:
                raise
            time.sleep(0.0005)
con = sqlite3.connect(db)
while con.execute("SELECT count(*) FROM calls").fetchone()[0] < n:
    time.sleep(0.01)
t = time.monotonic() - t0
# The collector's own CPU per record: steadier than the rate on a shared
# 2-core machine, where the sender competes for the same cores.
with open("/proc/%d/stat" % col.pid) as f:
    fields = f.read().rsplit(")", 1)[1].split()
cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
col.terminate()
col.wait()
if "--cpu" in flags:
    print("%.0f %.1f" % (n / t, cpu * 1e6 / n))
else:
    print("%.0f" % (n / t))
