"""Integration harness: a private world per test class with the TLS test
provider, a collector on its own socket and database, and helpers to run
real clients with the shim preloaded and read back the stored records.

Paths come from the environment meson sets: SPZ_SHIM, SPZ_SPATURZU,
SPZ_PROVIDER, SPZ_GEN_CERTS, SPZ_CORPUS_DIR, SPZ_BUILD_ROOT; SPZ_SANITIZE is
set in a sanitizer build, whose shim needs the ASan runtime preloaded first.
"""
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

SHIM = os.environ["SPZ_SHIM"]
SPATURZU = os.environ["SPZ_SPATURZU"]
PROVIDER = os.environ["SPZ_PROVIDER"]
GEN_CERTS = os.environ["SPZ_GEN_CERTS"]
CORPUS = os.environ["SPZ_CORPUS_DIR"]
BUILD_ROOT = os.environ["SPZ_BUILD_ROOT"]
SANITIZE = os.environ.get("SPZ_SANITIZE", "")
CLIENT_PYTHON = os.environ.get("SPZ_CLIENT_PYTHON", "/usr/bin/python3")
# /usr/bin/curl deadlocks under a preloaded ASan runtime (libp11-kit's
# constructor and glibc's setlocale lock), before the shim runs; the sanitizer
# run uses curl-lite, the same libcurl driven with the same options.
CURL = os.environ["SPZ_CURL_LITE"] if SANITIZE else (shutil.which("curl") or "/usr/bin/curl")


GATEWAY = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "gateway", "gateway.py")


def certs_dir():
    """The test CA and server certificate, made once per build tree."""
    d = os.path.join(BUILD_ROOT, "test-certs")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        subprocess.run(["sh", GEN_CERTS, d], check=True)
    return d


def sanitizer_preload():
    """The runtime libraries a sanitizer-built shim needs ahead of it."""
    if not SANITIZE:
        return []
    libs = []
    for name in ("libasan.so", "libubsan.so"):
        if name.startswith("libasan") and "address" not in SANITIZE:
            continue
        if name.startswith("libubsan") and "undefined" not in SANITIZE:
            continue
        out = subprocess.run(["cc", "-print-file-name=" + name], capture_output=True, text=True).stdout.strip()
        if out and os.path.isabs(out):
            libs.append(os.path.realpath(out))
    return libs


# Fixtures recorded without their request: the provider's usual one.
DEFAULT_REQUESTS = {
    "gemini": ("generativelanguage.googleapis.com", "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"),
    "xai": ("api.x.ai", "/v1/chat/completions"),
    "mistral": ("api.mistral.ai", "/v1/chat/completions"),
}


def all_cases(providers=None):
    out = []
    for provider in sorted(os.listdir(CORPUS)):
        pdir = os.path.join(CORPUS, provider)
        if not os.path.isdir(pdir) or (providers and provider not in providers):
            continue
        out += sorted(provider + "/" + f[: -len(".meta.json")] for f in os.listdir(pdir) if f.endswith(".meta.json"))
    return out


def load_case(name):
    """The case's meta (with request host, path and body filled in) and body."""
    provider, case = name.split("/", 1)
    with open(os.path.join(CORPUS, provider, case + ".meta.json")) as f:
        meta = json.load(f)
    with open(os.path.join(CORPUS, provider, case + ".body"), "rb") as f:
        body = f.read()
    host, path = DEFAULT_REQUESTS.get(provider, (None, None))
    meta["request_host"] = meta.get("request_host") or host
    meta["request_path"] = meta.get("request_path") or path
    rb = meta.get("request_body") or ""
    if rb.startswith("<see "):
        with open(os.path.join(CORPUS, provider, rb[5:].rstrip(">"))) as f:
            rb = f.read()
    meta["request_body"] = rb
    return meta, body


def request_model(meta):
    try:
        req = json.loads(meta["request_body"])
    except ValueError:
        return None
    return req.get("model") if isinstance(req, dict) else None


class World:
    """Provider + collector + paths, in a temporary directory."""

    def __init__(self, start_collector=True, framing="length"):
        self.dir = tempfile.mkdtemp(prefix="spz-it-")
        self.socket = os.path.join(self.dir, "run", "collector.sock")
        self.db = os.path.join(self.dir, "spaturzu.db")
        self.spool = os.path.join(self.dir, "spool")
        self.log = os.path.join(self.dir, "shim.log")
        self.certs = certs_dir()
        self.ca = os.path.join(self.certs, "ca.pem")
        self.collector = None
        self.provider_log = os.path.join(self.dir, "provider-requests.jsonl")
        port_file = os.path.join(self.dir, "port")
        self.provider = subprocess.Popen(
            [CLIENT_PYTHON, PROVIDER, "--corpus", CORPUS, "--cert", os.path.join(self.certs, "server.pem"),
             "--key", os.path.join(self.certs, "server.key"), "--port-file", port_file, "--framing", framing,
             "--log", self.provider_log],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.port = int(self._wait_file(port_file))
        if start_collector:
            self.start_collector()

    def _wait_file(self, path, timeout=15):
        end = time.time() + timeout
        while time.time() < end:
            if os.path.exists(path):
                with open(path) as f:
                    return f.read()
            time.sleep(0.02)
        raise RuntimeError("timed out waiting for " + path)

    def collector_env(self, **extra):
        e = {k: v for k, v in os.environ.items() if not k.startswith("SPATURZU_") and k != "LD_PRELOAD"}
        # No user's price overrides leak into a test.
        e["XDG_CONFIG_HOME"] = os.path.join(self.dir, "config")
        e.update({k: str(v) for k, v in extra.items()})
        return e

    def start_collector(self, args=(), **env):
        with open(os.path.join(self.dir, "collector.err"), "a") as err:
            self.collector = subprocess.Popen(
                [SPATURZU, "collector", "--foreground", "--socket", self.socket, "--db", self.db,
                 "--spool", self.spool] + list(args), stdout=subprocess.DEVNULL, stderr=err,
                env=self.collector_env(**env))
        end = time.time() + 15
        while not os.path.exists(self.socket):
            if time.time() > end or self.collector.poll() is not None:
                raise RuntimeError("collector did not start: " + self.collector_log())
            time.sleep(0.02)

    def stop_collector(self):
        if self.collector and self.collector.poll() is None:
            self.collector.send_signal(signal.SIGTERM)
            self.collector.wait(timeout=20)
        self.collector = None

    def collector_log(self):
        try:
            with open(os.path.join(self.dir, "collector.err")) as f:
                return f.read()
        except OSError:
            return ""

    def close(self):
        self.stop_collector()
        self.provider.terminate()
        self.provider.wait(timeout=10)
        if os.environ.get("SPZ_KEEP_TMP"):
            sys.stderr.write("kept " + self.dir + "\n")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def env(self, preload=True, **extra):
        e = dict(os.environ)
        for k in list(e):
            if k.startswith("SPATURZU_"):
                del e[k]
        e.update(SPATURZU_SOCKET=self.socket, SPATURZU_SPOOL=self.spool, SPATURZU_LOG=self.log)
        # A sanitizer build's libraries (the shim, the no-op libspaturzu) need
        # the sanitizer runtime first, with or without the shim.
        libs = sanitizer_preload() + ([SHIM] if preload else [])
        if libs:
            e["LD_PRELOAD"] = ":".join(libs)
        if SANITIZE:
            # The host programs are not ours: their own leaks are not the shim's.
            e["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=0:exitcode=86"
            e["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1:exitcode=87"
        e.update({k: str(v) for k, v in extra.items()})
        return e

    def run(self, argv, preload=True, input=None, check=True, **extra):
        p = subprocess.run(argv, env=self.env(preload, **extra), input=input, capture_output=True, timeout=120)
        if check and p.returncode != 0:
            raise AssertionError("%s exited %d\nstdout: %r\nstderr: %s" % (
                argv[0], p.returncode, p.stdout[-2000:], p.stderr.decode("utf-8", "replace")[-4000:]))
        return p

    def curl_args(self, host="api.openai.com"):
        return [CURL, "-sS", "--cacert", self.ca, "--resolve", "%s:%d:127.0.0.1" % (host, self.port)]

    def url(self, path, host="api.openai.com"):
        return "https://%s:%d%s" % (host, self.port, path)

    def settle(self, timeout=5):
        """Waits until every record sent so far is stored: the collector
        commits records in groups, so a count taken right after a call may
        miss it. The marker is what `spaturzu run` sends: the collector
        notes it in meta once everything before it is committed."""
        if not self.collector or self.collector.poll() is not None or not os.path.exists(self.socket):
            return
        import socket
        import sqlite3
        token = "settle-%d-%d" % (os.getpid(), int(time.time() * 1e6))
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            s.sendto(('{"spaturzuMarker":"%s"}' % token).encode(), self.socket)
        except OSError:
            return
        finally:
            s.close()
        end = time.time() + timeout
        while time.time() < end:
            try:
                db = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, timeout=1)
                try:
                    row = db.execute("SELECT value FROM meta WHERE key = 'ingest.marker'").fetchone()
                finally:
                    db.close()
                if row and row[0] == token:
                    return
            except sqlite3.Error:
                pass
            time.sleep(0.01)

    def records(self):
        if not os.path.exists(self.db):
            return []
        self.settle()
        p = subprocess.run([SPATURZU, "calls", "--json", "--db", self.db], capture_output=True, text=True, check=True)
        return [json.loads(l) for l in p.stdout.splitlines() if l.strip()]

    def wait_records(self, n, timeout=15):
        end = time.time() + timeout
        recs = self.records()
        while len(recs) < n and time.time() < end:
            time.sleep(0.05)
            recs = self.records()
        time.sleep(0.2)  # let anything extra (a wrong duplicate) arrive too
        return self.records()

    def provider_requests(self):
        try:
            with open(self.provider_log) as f:
                return [json.loads(l) for l in f if l.strip()]
        except OSError:
            return []

    def shim_log(self):
        try:
            with open(self.log) as f:
                return f.read()
        except OSError:
            return ""


class Gateway:
    """The gateway stand-in (tests/gateway/gateway.py) on a loopback port."""

    def __init__(self, workdir, key="", port=0):
        self.workdir, self.key = workdir, key
        self.port_file = os.path.join(workdir, "gateway-port-%d" % time.monotonic_ns())
        self.raw_log = os.path.join(workdir, "gateway-requests.log")
        self.proc = subprocess.Popen([CLIENT_PYTHON, GATEWAY, "--port-file", self.port_file, "--key", key,
                                      "--port", str(port), "--log", self.raw_log],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = time.time() + 15
        while not os.path.exists(self.port_file):
            if time.time() > end or self.proc.poll() is not None:
                raise RuntimeError("gateway stub did not start")
            time.sleep(0.02)
        with open(self.port_file) as f:
            self.port = int(f.read())
        self.url = "http://127.0.0.1:%d" % self.port

    def _call(self, method, path, body=None):
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request(method, path, body=json.dumps(body) if body is not None else None,
                  headers={"content-type": "application/json"})
        r = c.getresponse()
        data = json.loads(r.read() or b"null")
        c.close()
        return data

    def control(self, mode, count=None):
        return self._call("POST", "/_control", {"mode": mode, "count": count})

    def set(self, **ctl):
        """Budget state and events: see tests/gateway/gateway.py."""
        return self._call("POST", "/_control", ctl)

    def state(self):
        return self._call("GET", "/_state")

    def wait_accepted(self, ids, timeout=30):
        end = time.time() + timeout
        while True:
            st = self.state()
            if set(ids) <= set(st["accepted"]) or time.time() > end:
                return st
            time.sleep(0.1)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


class Case(unittest.TestCase):
    """Checks a record against a corpus case's expectations. Subclasses
    share one World per class; WORLD_ARGS are its arguments."""

    WORLD_ARGS = {}

    @classmethod
    def setUpClass(cls):
        cls.world = World(**cls.WORLD_ARGS)

    @classmethod
    def tearDownClass(cls):
        cls.world.close()

    def assertRecordMatches(self, rec, case, agent=None):
        meta, _ = load_case(case)
        exp = dict(meta["expected_usage"])
        exp.update(exp.get("iterations_sum") or {})  # billed usage: the sum over iterations
        fields = [("input", "promptTokens"), ("output", "completionTokens"), ("cached_read", "cachedInputTokens"),
                  ("cache_creation", "cacheWriteTokens"), ("reasoning", "reasoningTokens")]
        reported = any(exp.get(k) is not None for k, _ in fields)
        for key, field in fields:
            if exp.get(key) is not None:
                self.assertEqual(rec.get(field), exp[key], "%s: %s" % (case, field))
            elif not reported and rec.get("usageSource") == "tiktoken" and field in ("promptTokens",
                                                                                      "completionTokens"):
                self.assertGreater(rec[field], 0, "%s: an estimate, never 0" % case)
            else:
                self.assertNotIn(field, rec, "%s: %s must be absent" % (case, field))
        if reported:
            self.assertEqual(rec.get("usageSource"), "provider")
        elif meta.get("streamed"):
            # A stream without usage is estimated locally, and says so.
            self.assertEqual(rec.get("usageSource"), "tiktoken", case)
        else:
            self.assertNotIn("usageSource", rec)
        if meta.get("expected_model"):
            # A provider that names no model (Bedrock, Cohere) served the one asked for.
            self.assertEqual(rec.get("responseModel", rec["model"]), meta["expected_model"])
        if request_model(meta):
            self.assertEqual(rec["model"], request_model(meta))
        self.assertEqual(rec["provider"], meta["provider"])
        self.assertEqual(rec["status"], meta.get("status") or 200)
        self.assertEqual(rec["stream"], bool(meta.get("streamed")))
        # Every corpus model has a price (exact figures: tests/unit/test-pricing.c).
        if "promptTokens" in rec or "completionTokens" in rec:
            self.assertRegex(rec["costUsd"] or "", r"^[0-9]+(\.[0-9]+)?$", case)
        if agent:
            self.assertEqual(rec["agentName"], agent)
            self.assertEqual(rec["agentPath"], [agent])



class FreshWorldCase(Case):
    """A world of its own for each test, no collector started: for tests
    that start, stop, kill or reconfigure the collector themselves."""

    @classmethod
    def setUpClass(cls):
        pass

    @classmethod
    def tearDownClass(cls):
        pass

    def setUp(self):
        self.world = World(start_collector=False)

    def tearDown(self):
        self.world.close()


def main():
    unittest.main(verbosity=2)
