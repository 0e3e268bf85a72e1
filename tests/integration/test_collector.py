"""The collector on its own: hostile datagrams never stop ingestion,
`spaturzu status` tells the backlog, the delivery error and the unpriced
models, SIGHUP reloads prices and prices the calls that had none, a broken
price file is refused with a clear message."""
import array
import json
import os
import signal
import socket
import subprocess
import time
import unittest
import uuid

import harness


def record(i, **over):
    r = {"id": str(uuid.UUID(int=(0x019b << 112) | (7 << 76) | (0x8 << 60) | i)), "provider": "openai",
         "model": "gpt-4o-mini", "status": 200, "promptTokens": 1000, "completionTokens": 100,
         "agentName": "col", "startedAt": "2026-11-23T10:00:00.000Z"}
    r.update(over)
    return r


class Collector(harness.FreshWorldCase):
    def setUp(self):
        super().setUp()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)

    def tearDown(self):
        self.sock.close()
        super().tearDown()

    def send(self, data):
        if isinstance(data, dict):
            data = json.dumps(data).encode()
        self.sock.sendto(data, self.world.socket)

    def spaturzu(self, *args, check=True):
        p = subprocess.run([harness.SPATURZU] + list(args) + ["--db", self.world.db], capture_output=True,
                           text=True, env=self.world.collector_env())
        if check and p.returncode not in (0, 1):
            raise AssertionError(p.stderr)
        return p

    def status(self):
        p = self.spaturzu("status", "--json", "--socket", self.world.socket, "--spool", self.world.spool)
        return json.loads(p.stdout), p.returncode

    def test_hostile_datagrams_never_stop_ingestion(self):
        self.world.start_collector()
        deep = b"[" * 100000 + b"]" * 100000
        hostile = [
            b"x" * 65537,                                             # beyond 64 KiB
            b"", b"{", b'{"id": "x"', b"null", b"[]", b'"string"', b"\x00\x01\x02",
            json.dumps(record(1))[:-5].encode(),                      # truncated
            b'{"id": "\xff\xfe", "provider": "openai"}',                # invalid UTF-8
            deep[:60000],                                             # deep nesting
            json.dumps(record(2, status="200")).encode(),             # wrong types
            json.dumps(record(3, promptTokens=-5)).encode(),
            json.dumps(record(4, promptTokens=10 ** 30)).encode(),
            json.dumps(record(5, agentPath="planner")).encode(),
            json.dumps(record(6, tags={"k%d" % i: "v" for i in range(40)})).encode(),
            json.dumps(record(7, id="not-a-uuid")).encode(),
            json.dumps(record(8, model="m\u0000odel")).encode(),
            json.dumps(record(9, status=99)).encode(),
            b'{"id": "01968d1c-2b3a-7c4d-8e5f-0123456789ab", "id": "01968d1c-2b3a-7c4d-8e5f-0123456789ac",'
            b' "provider": "openai", "model": "m", "status": 200}',     # duplicate keys
        ]
        valid = [record(100 + i) for i in range(20)]
        for i, h in enumerate(hostile):
            self.send(h)
            self.send(valid[i % len(valid)] if i < len(valid) else record(200 + i))
        # A descriptor passed along must not leak into the collector.
        r, w = os.pipe()
        fds = array.array("i", [r, w])
        self.sock.sendmsg([json.dumps(record(300)).encode()],
                          [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)], 0, self.world.socket)
        os.close(r)
        os.close(w)
        want = len(hostile) + 1
        recs = self.world.wait_records(want)
        self.assertEqual(len(recs), want, self.world.collector_log())
        self.assertIsNone(self.world.collector.poll(), "the collector is alive")
        fd_dir = "/proc/%d/fd" % self.world.collector.pid
        targets = [os.readlink(os.path.join(fd_dir, f)) for f in os.listdir(fd_dir)]
        self.assertFalse([t for t in targets if t.startswith("pipe:")], targets)
        self.world.stop_collector()
        log = self.world.collector_log()
        self.assertIn("%d rejected" % len(hostile), log)
        self.assertIn("size 65537 out of bounds", log)

    def test_end_of_run_marker_comes_after_every_record_before_it(self):
        """`spaturzu run` knows its command's records are stored when the
        collector has noted the marker it sends after them: the marker is
        noted only once every datagram before it is committed, and is not
        counted as a record."""
        import sqlite3
        self.world.start_collector()
        n = 3000
        for i in range(n):
            self.send(record(1000 + i))
        self.send(b'{"spaturzuMarker":"run-test-1"}')
        end = time.time() + 30
        marker = None
        while time.time() < end:
            try:
                db = sqlite3.connect("file:%s?mode=ro" % self.world.db, uri=True, timeout=5)
                row = db.execute("SELECT value FROM meta WHERE key = 'ingest.marker'").fetchone()
                marker = row and row[0]
                if marker == "run-test-1":
                    stored = db.execute("SELECT count(*) FROM calls").fetchone()[0]
                    db.close()
                    break
                db.close()
            except sqlite3.OperationalError:
                pass
            time.sleep(0.005)
        self.assertEqual(marker, "run-test-1")
        self.assertEqual(stored, n, "every record sent before the marker was stored when it was noted")
        self.world.stop_collector()
        self.assertIn("%d received, %d stored" % (n, n), self.world.collector_log())

    def test_status_sighup_and_unpriced_models(self):
        dead = socket.socket()
        dead.bind(("127.0.0.1", 0))
        port = dead.getsockname()[1]
        dead.close()  # nothing listens there: the gateway is down
        self.world.start_collector(["--gateway", "http://127.0.0.1:%d" % port, "--retry-base", "0.2"],
                                   SPATURZU_API_KEY="spa_x")
        self.send(record(1))                                                   # priced
        self.send(record(2, provider="openai-compatible", model="acme-llm-7b"))  # unknown
        self.send(record(3, model="gpt-4o-mini", status=429, promptTokens=None, completionTokens=None))
        recs = self.world.wait_records(3)
        self.assertEqual(len(recs), 3)
        by_id = {r["id"]: r for r in recs}
        # 1000 x 0.15 + 100 x 0.60
        self.assertEqual(by_id[record(1)["id"]]["costUsd"], "0.00021")
        self.assertIsNone(by_id[record(2)["id"]]["costUsd"], "unknown is null, never 0")
        self.assertEqual(by_id[record(3)["id"]]["costUsd"], "0", "an error without usage bills nothing")
        time.sleep(1.5)
        st, rc = self.status()
        self.assertEqual(rc, 0)
        self.assertTrue(st["collector"]["running"])
        self.assertEqual(st["collector"]["pid"], self.world.collector.pid)
        self.assertEqual(st["database"]["calls"], 3)
        fwd = st["forwarding"]
        self.assertEqual(fwd["backlog"], 3)
        self.assertEqual(fwd["failing"], 3)
        self.assertIn("Couldn't connect", fwd["lastError"])
        self.assertEqual(fwd["delivered"], 0)
        self.assertEqual([(u["provider"], u["model"], u["calls"]) for u in st["pricing"]["unknownModels"]],
                         [("openai-compatible", "acme-llm-7b", 1)])
        text = self.spaturzu("status", "--socket", self.world.socket, "--spool", self.world.spool).stdout
        self.assertIn("acme-llm-7b", text)
        self.assertIn("3 records waiting", text)
        self.assertIn("1 model has no price; its calls have a null cost", text)
        self.assertNotIn("spa_x", text + json.dumps(st) + self.world.collector_log())

        # A price for it, SIGHUP: the stored call gets its cost.
        cfg = os.path.join(self.world.dir, "config", "spaturzu")
        os.makedirs(cfg, exist_ok=True)
        with open(os.path.join(cfg, "pricing.json"), "w") as f:
            json.dump({"providers": {"openai-compatible": {"models": {
                "acme-llm-7b": {"input": "0.20", "output": "0.40"}}}}}, f)
        self.world.collector.send_signal(signal.SIGHUP)
        end = time.time() + 10
        while time.time() < end:
            rec = {r["id"]: r for r in self.world.records()}[record(2)["id"]]
            if rec["costUsd"] is not None:
                break
            time.sleep(0.1)
        self.assertEqual(rec["costUsd"], "0.00024")  # 1000 x 0.20 + 100 x 0.40
        st, _ = self.status()
        self.assertEqual(st["pricing"]["unknownModels"], [])
        self.assertIn("SIGHUP: prices reloaded", self.world.collector_log())

        # A broken file on SIGHUP keeps the prices in use.
        with open(os.path.join(cfg, "pricing.json"), "w") as f:
            f.write("{broken")
        self.world.collector.send_signal(signal.SIGHUP)
        time.sleep(1)
        self.assertIn("SIGHUP: the price file is broken", self.world.collector_log())
        self.assertIsNone(self.world.collector.poll())

        # Stopped: status says so, exits 1, and still reports the store.
        self.world.stop_collector()
        st, rc = self.status()
        self.assertEqual(rc, 1)
        self.assertFalse(st["collector"]["running"])
        self.assertEqual(st["forwarding"]["backlog"], 3)

    def test_broken_price_file_refused_at_start(self):
        bad = os.path.join(self.world.dir, "bad.json")
        with open(bad, "w") as f:
            json.dump({"providers": {"openai": {"models": {"gpt-4o": {"input": 2.5, "output": "10"}}}}}, f)
        p = subprocess.run([harness.SPATURZU, "collector", "--foreground", "--socket", self.world.socket,
                            "--db", self.world.db, "--pricing", bad], capture_output=True, text=True,
                           env=self.world.collector_env(), timeout=20)
        self.assertEqual(p.returncode, 1)
        self.assertIn(bad, p.stderr)
        self.assertIn("providers.openai.models.gpt-4o: input must be a decimal string", p.stderr)
        self.assertIn("fix or remove the price file", p.stderr)


class SystemMode(harness.Case):
    """`--system`: one socket for a group's members; others are kept out;
    each record keeps the uid that sent it."""

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root to create a group and switch users")
        cls.group = "spztest%d" % os.getpid()
        subprocess.run(["groupadd", cls.group], check=True)
        import grp
        cls.gid = grp.getgrnam(cls.group).gr_gid
        cls.world = harness.World(start_collector=False)

    @classmethod
    def tearDownClass(cls):
        cls.world.close()
        subprocess.run(["groupdel", cls.group], check=False)

    def send_as(self, uid, groups, rec):
        code = ("import os,socket,sys\n"
                "os.setgroups(%r); os.setgid(65534); os.setuid(%d)\n"
                "s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
                "try:\n    s.sendto(sys.argv[1].encode(), sys.argv[2]); print('sent')\n"
                "except OSError as e:\n    print(e.errno)\n") % (groups, uid)
        return subprocess.run([harness.CLIENT_PYTHON, "-c", code, json.dumps(rec), self.world.socket],
                              capture_output=True, text=True, check=True).stdout.strip()

    def test_group_members_send_others_cannot(self):
        w = self.world
        os.chmod(w.dir, 0o711)  # others may pass through to the socket's directory
        spool = os.path.join(w.dir, "system-spool")
        w.start_collector(["--system", "--group", self.group, "--spool", spool])
        run_dir = os.path.dirname(w.socket)
        st = os.stat(run_dir)
        self.assertEqual((st.st_gid, st.st_mode & 0o7777), (self.gid, 0o750))
        st = os.stat(w.socket)
        self.assertEqual((st.st_gid, st.st_mode & 0o777), (self.gid, 0o660))
        st = os.stat(spool)
        self.assertEqual((st.st_gid, st.st_mode & 0o7777), (self.gid, 0o1730))
        # nobody (65534) in the group may send; without it, the kernel refuses.
        self.assertEqual(self.send_as(65534, [self.gid], record(1, agentName="member")), "sent")
        import errno
        self.assertEqual(self.send_as(65534, [], record(2, agentName="outsider")), str(errno.EACCES))
        recs = w.wait_records(1)
        self.assertEqual([r["agentName"] for r in recs], ["member"])
        self.assertEqual(recs[0]["uid"], 65534)


if __name__ == "__main__":
    harness.main()
