"""Privacy: prompts, completions and credentials never leave the process.
Every corpus case is sent over HTTP/1.1 and HTTP/2 with canary markers in
every prompt string, the Authorization and x-api-key headers, a query-string
key and SPATURZU_API_KEY; the completions' own texts are canaries too. None
may appear in any raw datagram, spool file, database row, log line, or
request the collector sends to the gateway."""
import hashlib
import json
import os
import re
import socket
import sqlite3
import threading

import harness

PROMPT_KEYS = {"content", "text", "input", "prompt", "system", "instructions", "messages", "contents"}
COMPLETION_KEYS = {"content", "text", "partial_json", "arguments", "thinking", "refusal", "summary", "delta",
                   "output_text", "embedding", "outputText"}


def canary_request(meta, tag):
    """The request body with every prompt string replaced by a canary."""
    try:
        body = json.loads(meta["request_body"])
    except ValueError:
        return meta["request_body"].encode(), []
    found = []

    def walk(x, under_prompt):
        if isinstance(x, dict):
            return {k: walk(v, under_prompt or k in PROMPT_KEYS) for k, v in x.items()}
        if isinstance(x, list):
            return [walk(v, under_prompt) for v in x]
        if isinstance(x, str) and under_prompt:
            c = "CANARY-PROMPT-%s-%d" % (tag, len(found))
            found.append(c)
            return c + " " + x
        return x

    return json.dumps(walk(body, False)).encode(), found


def completion_strings(body):
    """Text the provider generated, from JSON, SSE data and event stream payloads."""
    docs = []
    text = body.decode("utf-8", "replace")
    for m in re.finditer(r"\{.*\}", text):
        docs.append(m.group(0))
    out = set()

    def walk(x, under):
        if isinstance(x, dict):
            for k, v in x.items():
                walk(v, under or k in COMPLETION_KEYS)
        elif isinstance(x, list):
            for v in x:
                walk(v, under)
        elif isinstance(x, str) and under and len(x) >= 12 and not x.startswith(("msg_", "chatcmpl", "resp_")):
            out.add(x[:40])

    for d in docs:
        try:
            walk(json.loads(d), False)
        except ValueError:
            pass
    return out


class Capture:
    """Stands where the collector would and keeps every datagram as sent."""

    def __init__(self, path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.path = path
        self.datagrams = []
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while True:
            try:
                data = self.sock.recv(70000)
            except OSError:
                return
            if data == b"stop":
                return
            self.datagrams.append(data)

    def close(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.sendto(b"stop", self.path)
        self.thread.join(5)
        self.sock.close()
        os.unlink(self.path)


class Privacy(harness.Case):
    WORLD_ARGS = {"start_collector": False}

    def calls(self, tag):
        """Runs every case over HTTP/1.1 and HTTP/2; returns canaries and count."""
        canaries, n = [], 0
        for case in harness.all_cases():
            meta, body = harness.load_case(case)
            canaries += sorted(completion_strings(body))
            for proto in ("--http1.1", "--http2"):
                req, prompts = canary_request(meta, "%s-%d" % (tag, n))
                canaries += prompts
                key = "CANARY-KEY-%s-%d" % (tag, n)
                canaries.append(key)
                path = os.path.join(self.world.dir, "req-%s-%d.json" % (tag, n))
                with open(path, "wb") as f:
                    f.write(req)
                target = meta["request_path"] + ("&" if "?" in meta["request_path"] else "?") + "key=" + key
                host = meta["request_host"]
                argv = self.world.curl_args(host) + [
                    proto, "-o", "/dev/null", "-H", "content-type: application/json",
                    "-H", "authorization: Bearer sk-" + key, "-H", "x-api-key: " + key,
                    "-H", "x-test-case: " + case, "-H", "x-test-framing: chunked",
                    "--data-binary", "@" + path, self.world.url(target, host)]
                self.world.run(argv, SPATURZU_AGENT="privacy", SPATURZU_API_KEY="spa_CANARY-SPATURZU-KEY")
                n += 1
        canaries.append("CANARY-SPATURZU-KEY")
        return canaries, n

    def assertClean(self, where, blob, canaries):
        for c in canaries:
            needle = c.encode() if isinstance(blob, bytes) else c
            at = blob.find(needle)
            if at >= 0:
                self.fail("%r leaked into %s: ...%r..." % (c, where, blob[max(0, at - 120):at + 60]))

    def test_no_marker_leaves_the_process(self):
        # 1. Datagrams, as the shim sends them.
        cap = Capture(self.world.socket)
        try:
            canaries, n = self.calls("dgram")
        finally:
            cap.close()
        # Records, and the notices naming an agent as its first call in a
        # process starts (a name and nothing else).
        notices = [d for d in cap.datagrams if d.startswith(b'{"spaturzuAgent":')]
        records = [d for d in cap.datagrams if d not in notices]
        self.assertEqual(len(records), n, self.world.shim_log())
        self.assertClean("a datagram", b"\n".join(cap.datagrams), canaries)
        self.assertTrue(all(json.loads(d)["agentName"] == "privacy" for d in records))
        self.assertTrue(notices)
        self.assertTrue(all(json.loads(d) == {"spaturzuAgent": "privacy"} for d in notices), notices)

        # 2. The spool, with no collector.
        more, m = self.calls("spool")
        canaries += more
        spooled = b""
        for name in os.listdir(self.world.spool):
            with open(os.path.join(self.world.spool, name), "rb") as f:
                spooled += f.read()
        self.assertEqual(spooled.count(b"\n"), m)
        self.assertClean("the spool", spooled, canaries)

        # 3. The database the collector makes of it, every log, and what it
        # forwards to the gateway (with a key of its own, which may go there).
        gw = harness.Gateway(self.world.dir, key="spa_collector_key")
        self.addCleanup(gw.stop)
        self.world.start_collector(["--gateway", gw.url], SPATURZU_API_KEY="spa_collector_key")
        recs = self.world.wait_records(m)
        self.assertEqual(len(recs), m)
        db = sqlite3.connect(self.world.db)
        dump = "\n".join(db.iterdump())
        db.close()
        self.assertClean("the database", dump, canaries)
        self.assertClean("the shim's log", self.world.shim_log(), canaries)
        self.assertClean("the collector's log", self.world.collector_log(), canaries)
        st = gw.wait_accepted([r["id"] for r in recs], timeout=60)
        self.assertEqual(len(st["accepted"]), m, "every record was forwarded")
        self.assertEqual(st["invalid"], [])
        with open(gw.raw_log, "rb") as f:
            sent = f.read()
        self.assertIn(b"x-spaturzu-key: spa_collector_key", sent)
        self.assertClean("a request to the gateway", sent, canaries)

        # 4. The record ring, which records cross while the collector runs
        # (its slots keep the bytes after the collector took them).
        before = {r["id"] for r in recs}
        more, k = self.calls("ring")
        canaries += more
        recs = self.world.wait_records(m + k)
        self.assertEqual(len(recs), m + k)
        new = [r["id"] for r in recs if r["id"] not in before]
        self.assertEqual(len(new), k)
        h = 1469598103934665603
        for ch in self.world.socket.encode():
            h = ((h ^ ch) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
        with open("/dev/shm/spaturzu-%d-%016x.ring" % (os.geteuid(), h), "rb") as f:
            ring = f.read()
        self.assertTrue(all(i.encode() in ring for i in new), "the records went through the ring")
        # Packed (common/record_pack.h), as a collector that reads them gets
        # them: the slot holding each id begins with the packed form's magic.
        # The ring's header is 192 bytes, a slot 2,048, its data after 16.
        for i in new:
            at = ring.index(i.encode())
            slot = 192 + (at - 192) // 2048 * 2048
            self.assertEqual(ring[slot + 16], 0x01, "record %s packed in the ring" % i)
        self.assertClean("the record ring", ring, canaries)
        self.assertGreater(len(canaries), 100)
        # The canaries did reach the provider: the test is not vacuous.
        served = json.dumps(self.world.provider_requests())
        self.assertIn("CANARY-KEY-dgram-0", served)


if __name__ == "__main__":
    harness.main()
