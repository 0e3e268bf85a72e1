#!/usr/bin/env python3
"""End to end: a Python client (http.client, one keep-alive connection)
makes N chat calls to the local TLS test provider, without and with the
shim; prints the client's CPU seconds and wall seconds for each, best of
ROUNDS, and the ratios. Usage: e2e.py SHIM SPATURZU CERTS CORPUS WORK N ROUNDS"""
import os
import subprocess
import sys
import time

shim, spaturzu, certs, corpus, work, n, rounds = sys.argv[1:8]
n, rounds = int(n), int(rounds)
here = os.path.dirname(os.path.abspath(__file__))
port_file = os.path.join(work, "port")
provider = subprocess.Popen(["/usr/bin/python3", os.path.join(here, "..", "tests", "provider", "provider.py"),
                             "--corpus", corpus, "--cert", os.path.join(certs, "server.pem"),
                             "--key", os.path.join(certs, "server.key"), "--port-file", port_file,
                             "--pace-ms", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
sock = os.path.join(work, "e2e.sock")
collector = subprocess.Popen([spaturzu, "collector", "--foreground", "--socket", sock, "--db",
                              os.path.join(work, "e2e.db"), "--spool", os.path.join(work, "spool")],
                             stderr=subprocess.DEVNULL)
while not (os.path.exists(port_file) and os.path.exists(sock)):
    time.sleep(0.05)
port = open(port_file).read()
CLIENT = r'''
import http.client, json, resource, ssl, sys, time
port, ca, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
body = json.dumps({"messages": [{"content": "Hello! How are you doing?", "role": "user"}], "model": "gpt-4o", "stream": False})
conn = http.client.HTTPSConnection("127.0.0.1", port, context=ssl.create_default_context(cafile=ca))
t0, c0 = time.monotonic(), resource.getrusage(resource.RUSAGE_SELF)
for _ in range(n):
    conn.request("POST", "/v1/chat/completions", body=body, headers={"Host": "api.openai.com", "Content-Type": "application/json"})
    r = conn.getresponse(); r.read(); assert r.status == 200
c1 = resource.getrusage(resource.RUSAGE_SELF)
print(c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime, time.monotonic() - t0)
'''
results = {}
try:
    for label, extra in (("without", {}), ("with", {"LD_PRELOAD": shim, "SPATURZU_SOCKET": sock})):
        best = None
        for _ in range(rounds):
            env = dict(os.environ, **extra)
            out = subprocess.run(["/usr/bin/python3", "-c", CLIENT, port, os.path.join(certs, "ca.pem"), str(n)],
                                 env=env, capture_output=True, text=True, check=True).stdout.split()
            cpu, wall = float(out[0]), float(out[1])
            best = (cpu, wall) if best is None or cpu < best[0] else best
        results[label] = best
finally:
    provider.terminate()
    collector.terminate()
a, b = results["without"], results["with"]
print("%.3f %.3f %.3f %.3f %.3f %.3f" % (a[0], b[0], b[0] / a[0], a[1], b[1], b[1] / a[1]))
