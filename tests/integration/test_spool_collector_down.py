"""With no collector listening, records go to the spool; when the collector
starts it ingests them all, none lost and none doubled, and a restart adds
nothing."""
import ctypes
import json
import os

import harness
from test_curl_h1 import curl_call

CASES = ["openai/chat_nonstream_gpt4o_usage_details", "openai/chat_stream_include_usage_text",
         "openai/embeddings_base64_te3small"]


class SpoolWhenCollectorDown(harness.FreshWorldCase):
    def spooled_lines(self):
        lines = []
        if os.path.isdir(self.world.spool):
            for name in os.listdir(self.world.spool):
                with open(os.path.join(self.world.spool, name)) as f:
                    lines += [json.loads(l) for l in f if l.strip()]
        return lines

    def test_spool_then_ingest_exactly_once(self):
        rounds = 4
        for i in range(rounds):
            for case in CASES:
                self.world.run(curl_call(self.world, case, "chunked", ["-o", "/dev/null"]),
                               SPATURZU_AGENT="offline", SPATURZU_TAGS="round=%d,case=%s" % (i, case))
        spooled = self.spooled_lines()
        self.assertEqual(len(spooled), rounds * len(CASES))
        self.assertIn("record spooled", self.world.shim_log())
        self.assertFalse(os.path.exists(self.world.db))

        self.world.start_collector()
        recs = self.world.wait_records(len(spooled))
        self.assertEqual(sorted(r["id"] for r in recs), sorted(s["id"] for s in spooled))
        self.assertEqual(len({r["id"] for r in recs}), len(recs))
        for rec in recs:
            self.assertRecordMatches(rec, rec["tags"]["case"], agent="offline")
        self.assertEqual(self.spooled_lines(), [], "spool files must be removed once stored")

        # A call while the collector runs goes by the socket; a restart
        # re-reads nothing twice.
        self.world.run(curl_call(self.world, CASES[0], "length", ["-o", "/dev/null"]), SPATURZU_AGENT="online")
        recs = self.world.wait_records(len(spooled) + 1)
        self.assertEqual(len(recs), len(spooled) + 1)
        self.world.stop_collector()
        self.world.start_collector()
        recs = self.world.wait_records(len(spooled) + 2, timeout=1.5)
        self.assertEqual(len(recs), len(spooled) + 1)
        self.assertIn("0 rejected", self.world.collector_log())

    def test_spool_survives_collector_stop_mid_run(self):
        self.world.start_collector()
        self.world.run(curl_call(self.world, CASES[0], "length", ["-o", "/dev/null"]), SPATURZU_AGENT="a")
        self.assertEqual(len(self.world.wait_records(1)), 1)
        self.world.stop_collector()
        for case in CASES:
            self.world.run(curl_call(self.world, case, "length", ["-o", "/dev/null"]), SPATURZU_AGENT="b")
        self.assertEqual(len(self.spooled_lines()), len(CASES))
        self.world.start_collector()
        recs = self.world.wait_records(1 + len(CASES))
        self.assertEqual(len(recs), 1 + len(CASES))
        self.assertEqual([r["agentName"] for r in recs].count("b"), len(CASES))




class RecordRing(harness.FreshWorldCase):
    def ring_path(self):
        import glob
        rings = [p for p in glob.glob("/dev/shm/spaturzu-%d-*.ring" % os.geteuid())]
        return rings

    def test_orphaned_fresh_rings_of_other_sockets_are_removed(self):
        """A collector killed while it made its ring leaves the ring's
        temporary file (8 MiB of memory) under a name no collector on
        another socket would look for; a collector removes such files once
        their maker is gone, and leaves a live maker's alone. A file written
        in the last minute stays even when its pid is gone here: its maker
        may be a collector in another PID namespace at work on it."""
        import subprocess
        import time
        dead = subprocess.Popen(["true"])
        dead.wait()
        prefix = "/dev/shm/spaturzu-%d-00000000deadbeef.ring.new-" % os.geteuid()
        other = "/dev/shm/spaturzu-%d-00000000feedface.ring.new-" % os.geteuid()
        orphan, live, recent = prefix + str(dead.pid), prefix + str(os.getpid()), other + str(dead.pid)
        for path in (orphan, live, recent):
            with open(path, "wb") as f:
                f.write(b"\0" * 4096)
        idle = time.time() - 120
        for path in (orphan, live):
            os.utime(path, (idle, idle))
        try:
            self.world.start_collector()
            self.assertFalse(os.path.exists(orphan), "a dead collector's half-made ring is removed")
            self.assertTrue(os.path.exists(live), "a live maker's file stays")
            self.assertTrue(os.path.exists(recent), "a file written in the last minute stays")
            self.assertIn("left by a collector killed", self.world.collector_log())
        finally:
            for path in (orphan, live, recent):
                if os.path.exists(path):
                    os.unlink(path)

    def test_records_in_the_ring_survive_a_collector_killed(self):
        """Records go by the collector's ring (no system call, no datagram)
        while it beats; those it had not taken when it was killed are taken
        by the next collector: none lost, none doubled."""
        import signal
        import time
        w = self.world
        before = set(self.ring_path())
        w.start_collector()
        ring = set(self.ring_path()) - before
        self.assertEqual(len(ring), 1, "the collector made its ring in /dev/shm")
        w.run(curl_call(w, CASES[0], "length", ["-o", "/dev/null"]), SPATURZU_AGENT="ring")
        self.assertEqual(len(w.wait_records(1)), 1)
        # Frozen, its heartbeat is still fresh for up to two seconds: the
        # shims keep writing to the ring; then it dies without a word.
        w.collector.send_signal(signal.SIGSTOP)
        start = time.time()
        for case in CASES:
            w.run(curl_call(w, case, "length", ["-o", "/dev/null"]), SPATURZU_AGENT="ring")
        self.assertLess(time.time() - start, 1.8, "the calls took too long for the test's premise")
        w.collector.send_signal(signal.SIGKILL)
        w.collector.wait(timeout=10)
        w.collector = None
        self.assertEqual(self.spooled_lines(), [], "nothing spooled: the records are in the ring")
        self.assertTrue(os.path.exists(list(ring)[0]), "the ring holding records stays")
        w.start_collector()
        recs = w.wait_records(1 + len(CASES))
        self.assertEqual(len(recs), 1 + len(CASES), w.collector_log())
        self.assertEqual(len({r["id"] for r in recs}), len(recs))
        for rec in recs:
            self.assertRecordMatches(rec, self.case_of(rec), agent="ring")
        w.stop_collector()
        self.assertFalse(os.path.exists(list(ring)[0]), "an empty ring goes with its collector")

    def test_records_taken_but_not_stored_survive_a_collector_killed(self):
        """A record the collector took from the ring but could not store
        (the database is locked by another writer) keeps its slot: the
        collector killed then loses nothing, and the next one stores it."""
        import signal
        import sqlite3
        import time
        w = self.world
        w.start_collector()
        w.run(curl_call(w, CASES[0], "length", ["-o", "/dev/null"]), SPATURZU_AGENT="ring")
        self.assertEqual(len(w.wait_records(1)), 1)
        blocker = sqlite3.connect(w.db, timeout=10, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # the collector's commits wait 5 s, then fail
        for case in CASES:
            w.run(curl_call(w, case, "length", ["-o", "/dev/null"]), SPATURZU_AGENT="ring")
        deadline = time.time() + 20
        while "does not take records" not in w.collector_log() and time.time() < deadline:
            time.sleep(0.1)
        self.assertIn("does not take records", w.collector_log(), "the collector tried to store them and failed")
        w.collector.send_signal(signal.SIGKILL)
        w.collector.wait(timeout=10)
        w.collector = None
        blocker.execute("ROLLBACK")
        blocker.close()
        self.assertEqual(self.spooled_lines(), [], "nothing spooled: the records are in the ring")
        w.start_collector()
        recs = w.wait_records(1 + len(CASES))
        self.assertEqual(len(recs), 1 + len(CASES), w.collector_log())
        self.assertEqual(len({r["id"] for r in recs}), len(recs))
        w.stop_collector()

    def ring_of_socket(self):
        """The ring's path as the shims compute it from the socket's."""
        h = 1469598103934665603
        for b in self.world.socket.encode():
            h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
        if not os.path.isdir("/dev/shm"):
            self.skipTest("no /dev/shm here")
        return "/dev/shm/spaturzu-%d-%016x.ring" % (os.geteuid(), h)

    def test_a_fresh_ring_is_cleared_by_the_collector(self):
        """tmpfs clears a fallocated page at its first fault: the collector
        faults every page of a new ring in, so that no host pays for it in
        the middle of a call. mincore() counts a page only once cleared."""
        w = self.world
        ring = self.ring_of_socket()
        w.start_collector()
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mmap.restype = ctypes.c_void_p
        libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                              ctypes.c_long]
        libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
        fd = os.open(ring, os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            addr = libc.mmap(None, size, 1, 1, fd, 0)  # PROT_READ, MAP_SHARED
            self.assertNotEqual(addr, ctypes.c_void_p(-1).value)
            pages = (ctypes.c_ubyte * ((size + 4095) // 4096))()
            self.assertEqual(libc.mincore(addr, size, pages), 0, os.strerror(ctypes.get_errno()))
            libc.munmap(addr, size)
        finally:
            os.close(fd)
        self.assertEqual(sum(p & 1 for p in pages), len(pages), "every page of the new ring is cleared")
        w.stop_collector()

    def test_a_ring_left_half_made_is_removed(self):
        """A collector killed while it made its ring leaves the file under
        its temporary name (8 MiB of tmpfs); the next collector of that
        socket removes it."""
        w = self.world
        ring = self.ring_of_socket()
        stale = ring + ".new-999999"
        with open(stale, "wb") as f:
            f.write(b"\0" * 4096)
        try:
            w.start_collector()
            self.assertTrue(os.path.exists(ring), "the collector made its ring at the path the shims compute")
            self.assertFalse(os.path.exists(stale), "the half-made ring of a killed collector is gone")
            self.assertIn("left by a collector killed while it made its ring", w.collector_log())
            w.stop_collector()
        finally:
            if os.path.exists(stale):
                os.unlink(stale)

    def case_of(self, rec):
        for case in CASES:
            meta, _ = harness.load_case(case)
            if meta["request_path"] == rec["endpoint"] and harness.request_model(meta) == rec["model"]:
                return case
        raise AssertionError("no case for %r" % rec)

    spooled_lines = SpoolWhenCollectorDown.spooled_lines


if __name__ == "__main__":
    harness.main()
