#!/usr/bin/env python3
"""End to end: a Python client (http.client, one keep-alive connection)
makes N chat calls to the local TLS test provider, without and with the
shim, and, for comparison, through nginx as a TLS-terminating reverse proxy
in front of the provider (the architecture of a proxy gateway; when Debian's
nginx is installed). Prints the client's CPU seconds and wall seconds for
each, best of ROUNDS, and the ratios:
  cpu0 cpu1 cpu1/cpu0 wall0 wall1 wall1/wall0 proxy_wall proxy_wall/wall0 ins0 ins1 ins1/ins0
The last three are instructions a call (valgrind's callgrind, the
difference between 200 and 600 calls, so start-up cancels out): a figure
this machine's noisy neighbours cannot move; "-" without valgrind.
Then the same calls from the curl command (one process, one keep-alive
connection, N URLs in a config file): its whole run's CPU and wall seconds
(start-up included, as a user times the command) and instructions a call:
  curl_cpu0 curl_cpu1 ratio curl_wall0 curl_wall1 ratio curl_ins0 curl_ins1 ratio
Then the median over the rounds of each round's own ratio (with and without
the shim run back to back in one round, so a noisy spell slows both), which
on a machine with noisy neighbours is the steadier figure (the best of each
series may come from different spells), and its interquartile range:
  cpu lo hi  wall lo hi  proxy_wall lo hi  curl_cpu lo hi  curl_wall lo hi
Last, the instructions a Python call spends inside the shim's connection
handlers (callgrind, 200 and 600 calls): the shim's own work, which the
difference of whole runs above only approximates.
Usage: e2e.py SHIM SPATURZU CERTS CORPUS WORK N ROUNDS"""
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import time

shim, spaturzu, certs, corpus, work, n, rounds = sys.argv[1:8]
n, rounds = int(n), int(rounds)
# With two CPUs or more, the client runs alone on the first and the servers
# (provider, collector, nginx) on the others: the client's CPU time then
# measures the client, not where the scheduler put it beside them.
cpus = sorted(os.sched_getaffinity(0))
client_cpus, server_cpus = (cpus[:1], cpus[1:]) if len(cpus) > 1 else (cpus, cpus)


def servers():
    os.sched_setaffinity(0, server_cpus)


def client():
    os.sched_setaffinity(0, client_cpus)
here = os.path.dirname(os.path.abspath(__file__))
port_file = os.path.join(work, "port")
provider = subprocess.Popen(["/usr/bin/python3", os.path.join(here, "..", "tests", "provider", "provider.py"),
                             "--corpus", corpus, "--cert", os.path.join(certs, "server.pem"),
                             "--key", os.path.join(certs, "server.key"), "--port-file", port_file,
                             "--pace-ms", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=servers)
sock = os.path.join(work, "e2e.sock")
collector = subprocess.Popen([spaturzu, "collector", "--foreground", "--socket", sock, "--db",
                              os.path.join(work, "e2e.db"), "--spool", os.path.join(work, "spool")],
                             stderr=subprocess.DEVNULL, preexec_fn=servers)
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
CURL_BODY = os.path.join(work, "body.json")
with open(CURL_BODY, "w") as f:
    f.write('{"messages": [{"content": "Hello! How are you doing?", "role": "user"}], "model": "gpt-4o", "stream": false}')


def curl_command(target, calls):
    """curl making `calls` calls on one connection: the URLs come from a
    config file, each answer goes to /dev/null."""
    cfg = os.path.join(work, "curl.%d.cfg" % calls)
    with open(cfg, "w") as f:
        for _ in range(calls):
            f.write('url = "https://127.0.0.1:%s/v1/chat/completions"\noutput = /dev/null\n' % target)
    return ["curl", "-sS", "--fail", "--http1.1", "--cacert", os.path.join(certs, "ca.pem"), "-H", "Host: api.openai.com",
            "-H", "Content-Type: application/json", "-d", "@" + CURL_BODY, "-K", cfg]


def timed(cmd, env):
    """The child's CPU seconds (user + system) and wall seconds."""
    r0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=True, preexec_fn=client)
    r1, t1 = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    return r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime, t1 - t0


have_curl = subprocess.run(["sh", "-c", "command -v curl"], capture_output=True).returncode == 0
proxy = None
proxy_port = None
if subprocess.run(["sh", "-c", "command -v nginx"], capture_output=True).returncode == 0:
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    proxy_port = str(s.getsockname()[1])
    s.close()
    ngx = os.path.join(work, "nginx")
    os.makedirs(ngx, exist_ok=True)
    with open(os.path.join(ngx, "nginx.conf"), "w") as f:
        f.write("""daemon off; worker_processes 1; pid %(d)s/nginx.pid; error_log %(d)s/error.log;
events { worker_connections 1024; }
http {
  access_log off; client_body_temp_path %(d)s; proxy_temp_path %(d)s;
  upstream provider { server 127.0.0.1:%(port)s; keepalive 16; }
  server {
    listen 127.0.0.1:%(pport)s ssl; ssl_certificate %(cert)s; ssl_certificate_key %(key)s;
    keepalive_requests 100000;
    location / {
      proxy_pass https://provider; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_set_header Host api.openai.com; proxy_ssl_server_name on; proxy_ssl_name api.openai.com;
      proxy_ssl_session_reuse on; proxy_buffering off;
    }
  }
}
""" % {"d": ngx, "port": port, "pport": proxy_port, "cert": os.path.abspath(os.path.join(certs, "server.pem")),
       "key": os.path.abspath(os.path.join(certs, "server.key"))})
    proxy = subprocess.Popen(["nginx", "-c", os.path.join(ngx, "nginx.conf"), "-p", ngx],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=servers)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", int(proxy_port)), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.02)
results = {}
rounds_seen = {}  # label -> [(cpu, wall)] in round order
try:
    runs = [("without", port, {}), ("with", port, {"LD_PRELOAD": shim, "SPATURZU_SOCKET": sock})]
    if proxy_port:
        runs.append(("proxy", proxy_port, {}))
    # Rounds interleave the workloads, so that a noisy neighbour slows
    # them alike rather than one workload's whole series.
    stored_wanted = 0  # records the shimmed runs so far have made

    def settle():
        """Waits until the collector has stored every record made so far
        (it shares the servers' CPU with the provider: its ingest of one
        run's records must not fall into the next run), then a moment."""
        end = time.monotonic() + 10
        while time.monotonic() < end:
            try:
                db = sqlite3.connect("file:%s?mode=ro" % os.path.join(work, "e2e.db"), uri=True, timeout=1)
                try:
                    if db.execute("SELECT count(*) FROM calls").fetchone()[0] >= stored_wanted:
                        break
                finally:
                    db.close()
            except sqlite3.Error:
                pass
            time.sleep(0.02)
        time.sleep(0.05)

    for r in range(rounds):
        # Every other round runs with the shim first: an order effect
        # falls on both sides alike.
        order = runs if r % 2 == 0 else [runs[1], runs[0]] + runs[2:]
        for label, target, extra in order:
            env = dict(os.environ, **extra)
            out = subprocess.run(["/usr/bin/python3", "-c", CLIENT, target, os.path.join(certs, "ca.pem"), str(n)],
                                 env=env, capture_output=True, text=True, check=True, preexec_fn=client).stdout.split()
            cpu, wall = float(out[0]), float(out[1])
            rounds_seen.setdefault(label, []).append((cpu, wall))
            if label == "with":
                stored_wanted += n
            settle()
            best = results.get(label)
            # each figure is its own best over the rounds
            results[label] = (cpu, wall) if best is None else (min(cpu, best[0]), min(wall, best[1]))
        for label, target, extra in order[:2] if have_curl else []:
            cpu, wall = timed(curl_command(target, n), dict(os.environ, **extra))
            rounds_seen.setdefault("curl " + label, []).append((cpu, wall))
            if label == "with":
                stored_wanted += n
            settle()
            best = results.get("curl " + label)
            results["curl " + label] = (cpu, wall) if best is None else (min(cpu, best[0]), min(wall, best[1]))
    instructions = {}
    if subprocess.run(["sh", "-c", "command -v valgrind"], capture_output=True).returncode == 0:
        for label, target, extra in runs[:2]:
            counts = []
            for calls in (200, 600):
                out = os.path.join(work, "callgrind.%s.%d" % (label, calls))
                # A fixed hash seed: Python's dict probing otherwise moves
                # its own count by a few thousand a call from run to run.
                env = dict(os.environ, PYTHONHASHSEED="0", **extra)
                subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
                                "/usr/bin/python3", "-c", CLIENT, target, os.path.join(certs, "ca.pem"), str(calls)],
                               env=env, capture_output=True, check=True)
                with open(out) as f:
                    counts.append(next(int(l.split()[1]) for l in f if l.startswith("summary:")))
            instructions[label] = (counts[1] - counts[0]) / (600 - 200)
            if label == "with":
                # The shim's own work alone: instructions inside its
                # connection handlers (the hooks' wrappers around them
                # excluded), free of the interpreter's own drift from run
                # to run, which moves the difference above by a few
                # thousand.
                own = []
                for calls in (200, 600):
                    out = os.path.join(work, "callgrind.handlers.%d" % calls)
                    subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
                                    "--toggle-collect=spz_conn_on_read", "--toggle-collect=spz_conn_on_write",
                                    "/usr/bin/python3", "-c", CLIENT, target, os.path.join(certs, "ca.pem"), str(calls)],
                                   env=dict(os.environ, PYTHONHASHSEED="0", **extra), capture_output=True, check=True)
                    with open(out) as f:
                        own.append(next(int(l.split()[1]) for l in f if l.startswith("summary:")))
                instructions["handlers"] = (own[1] - own[0]) / (600 - 200)
            if not have_curl:
                continue
            counts = []
            for calls in (200, 600):
                out = os.path.join(work, "callgrind.curl.%s.%d" % (label, calls))
                subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out] + curl_command(target, calls),
                               env=dict(os.environ, **extra), capture_output=True, check=True)
                with open(out) as f:
                    counts.append(next(int(l.split()[1]) for l in f if l.startswith("summary:")))
            instructions["curl " + label] = (counts[1] - counts[0]) / (600 - 200)
finally:
    provider.terminate()
    collector.terminate()
    if proxy:
        proxy.terminate()
a, b = results["without"], results["with"]
p = results.get("proxy")
i0, i1 = instructions.get("without"), instructions.get("with")
print("%.3f %.3f %.3f %.3f %.3f %.3f %s %s %s %s %s" % (
    a[0], b[0], b[0] / a[0], a[1], b[1], b[1] / a[1], "%.3f" % p[1] if p else "-", "%.3f" % (p[1] / a[1]) if p else "-",
    "%.0f" % i0 if i0 else "-", "%.0f" % i1 if i1 else "-", "%.3f" % (i1 / i0) if i0 else "-"), end="")
c0, c1 = results.get("curl without"), results.get("curl with")
j0, j1 = instructions.get("curl without"), instructions.get("curl with")
curl_times = ("%.3f %.3f %.3f %.3f %.3f %.3f" % (c0[0], c1[0], c1[0] / c0[0], c0[1], c1[1], c1[1] / c0[1])
              if c0 else "- - - - - -")
print(" %s %s %s %s" % (curl_times, "%.0f" % j0 if j0 else "-", "%.0f" % j1 if j1 else "-",
                        "%.3f" % (j1 / j0) if j0 else "-"), end="")


def paired(base, label, i):
    """Median and quartiles of the rounds' own ratios, as "m lo hi"."""
    a, b = rounds_seen.get(base), rounds_seen.get(label)
    if not a or not b:
        return "- - -"
    r = sorted(y[i] / x[i] for x, y in zip(a, b))
    q = len(r) // 4
    return "%.3f %.3f %.3f" % (statistics.median(r), r[q], r[-q - 1])


print(" " + " ".join([paired("without", "with", 0), paired("without", "with", 1), paired("without", "proxy", 1),
                      paired("curl without", "curl with", 0), paired("curl without", "curl with", 1)]), end="")
h = instructions.get("handlers")
print(" %s" % ("%.0f" % h if h else "-"))
