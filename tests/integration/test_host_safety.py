"""The host never suffers: a threaded program that forks mid-traffic, broken
provider responses, a collector that stops mid-run, and SPATURZU_DISABLE=1.
The client's output stays byte-identical and it never crashes."""
import json
import os
import unittest

import harness
from test_curl_h1 import curl_call

CHAT = "openai/chat_nonstream_gpt4o_usage_details"
STREAM = "openai/chat_stream_include_usage_text"


class HostSafety(harness.Case):
    # GCC 12's ASan allocator takes no lock across fork: a child forked while
    # another thread is inside malloc can block forever on the runtime's own
    # mutex. glibc's malloc is fork-safe, so the plain run is the one that
    # tests the shim here.
    @unittest.skipIf(harness.SANITIZE, "the ASan runtime is not fork-safe in threaded programs")
    def test_fork_in_a_threaded_program(self):
        before = len(self.world.records())
        threads, calls = 4, 5
        p = self.world.run([os.environ["SPZ_FORK_THREADS"], self.world.url("/v1/chat/completions"), self.world.ca,
                            "api.openai.com:%d:127.0.0.1" % self.world.port, str(threads), str(calls)],
                           SPATURZU_AGENT="forker")
        info = json.loads(p.stdout)
        self.assertEqual(info["child_status"], 0)
        recs = self.world.wait_records(before + threads * calls + 2)[before:]
        by_pid = {}
        for r in recs:
            by_pid.setdefault(r["pid"], []).append(r)
            self.assertRecordMatches(r, CHAT, agent="forker")
        self.assertEqual(len(by_pid.get(info["parent"], [])), threads * calls)
        self.assertEqual(len(by_pid.get(info["child"], [])), 2, "the child's calls, once each")
        self.assertEqual(len({r["id"] for r in recs}), len(recs))
        self.assertEqual(len({r["runId"] for r in recs}), 1, "a forked child is in its parent's run")

    def test_broken_responses(self):
        for case in (CHAT, STREAM):
            for framing in ("garbage-chunk", "garbage-body"):
                argv = curl_call(self.world, case, framing, ["-i"])
                plain = self.world.run(argv, preload=False, check=False)
                shimmed = self.world.run(argv, check=False, SPATURZU_AGENT="broken")
                self.assertEqual((plain.returncode, plain.stdout), (shimmed.returncode, shimmed.stdout),
                                 "%s %s: the client saw something else under the shim" % (case, framing))
                self.assertGreater(len(plain.stdout), 0)
        recs = [r for r in self.world.wait_records(0) if r["agentName"] == "broken"]
        self.assertEqual(len(recs), 4, "a broken response still makes a record")
        for r in recs:
            self.assertEqual(r["status"], 200)
            if r.get("error"):
                self.assertEqual(r["error"], "truncated")

    def test_collector_stops_mid_run(self):
        before = len(self.world.records())
        self.world.run(curl_call(self.world, CHAT, "length", ["-o", "/dev/null"]), SPATURZU_AGENT="midrun")
        self.world.stop_collector()
        try:
            out = self.world.run(curl_call(self.world, STREAM, "chunked", ["-i"]), SPATURZU_AGENT="midrun").stdout
            plain = self.world.run(curl_call(self.world, STREAM, "chunked", ["-i"]), preload=False).stdout
            self.assertEqual(out, plain)
        finally:
            self.world.start_collector()
        recs = [r for r in self.world.wait_records(before + 2)[before:] if r["agentName"] == "midrun"]
        self.assertEqual(len(recs), 2)

    def test_disabled_is_pure_pass_through(self):
        before = len(self.world.records())
        log_before = self.world.shim_log()
        spool_before = sorted(os.listdir(self.world.spool)) if os.path.isdir(self.world.spool) else []
        for case in (CHAT, STREAM):
            argv = curl_call(self.world, case, "chunked", ["-i"])
            self.assertEqual(self.world.run(argv, SPATURZU_DISABLE="1").stdout,
                             self.world.run(argv, preload=False).stdout)
        self.assertEqual(len(self.world.wait_records(before + 1, timeout=1.5)), before)
        spool_after = sorted(os.listdir(self.world.spool)) if os.path.isdir(self.world.spool) else []
        self.assertEqual(spool_after, spool_before)
        self.assertEqual(self.world.shim_log(), log_before, "a disabled shim says nothing")



class SpoolLimits(harness.Case):
    """The spool may fill up or meet the host's file size limit: the host
    carries on, output unchanged, and what was spooled whole is ingested."""

    WORLD_ARGS = {"start_collector": False}

    def test_full_disk(self):
        import subprocess
        tiny = os.path.join(self.world.dir, "tiny")
        os.makedirs(tiny)
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12k", "tmpfs", tiny],
                          capture_output=True).returncode != 0:
            self.skipTest("cannot mount a small tmpfs here (needs root)")
        try:
            spool = os.path.join(tiny, "spool")
            for i in range(20):
                argv = curl_call(self.world, CHAT, "length", ["-i"])
                shimmed = self.world.run(argv, SPATURZU_SPOOL=spool, SPATURZU_TAGS="n=%d" % i,
                                         SPATURZU_AGENT="fulldisk")
                if i == 0:
                    plain = self.world.run(argv, preload=False).stdout
                self.assertEqual(shimmed.stdout, plain)
            log = self.world.shim_log()
            self.assertIn("record lost", log, "the disk never filled: the test proves nothing")
            lines = b""
            for name in os.listdir(spool):
                with open(os.path.join(spool, name), "rb") as f:
                    lines += f.read()
            self.assertTrue(lines.endswith(b"\n"), "a torn line was left behind")
            kept = lines.count(b"\n")
            self.assertGreater(kept, 0)
            self.assertLess(kept, 20)
            # The collector takes every whole line and rejects nothing.
            self.world.stop_collector()
            with open(os.path.join(self.world.dir, "collector.err"), "a") as err:
                col = subprocess.Popen([harness.SPATURZU, "collector", "--foreground", "--socket",
                                        self.world.socket, "--db", self.world.db, "--spool", spool],
                                       stdout=subprocess.DEVNULL, stderr=err)
            try:
                recs = self.world.wait_records(kept)
                self.assertEqual(len(recs), kept)
            finally:
                col.terminate()
                col.wait(timeout=20)
            self.assertIn("0 rejected", self.world.collector_log())
        finally:
            subprocess.run(["umount", "-l", tiny])

    def test_file_size_limit_never_kills_the_host(self):
        # A write to a file already at the host's RLIMIT_FSIZE raises SIGXFSZ,
        # which kills. A spool file left by an earlier process with the same
        # pid is such a file: made here with `exec`, which keeps the pid.
        # curl's own output goes to /dev/null, which the limit does not cover.
        os.makedirs(self.world.spool, exist_ok=True)
        argv = curl_call(self.world, CHAT, "length", ["-o", "/dev/null", "-w", "%{http_code}"])
        script = ('head -c 4096 /dev/zero > "%s/$$.jsonl"; ulimit -f 1; exec %s'
                  % (self.world.spool, " ".join("'%s'" % a for a in argv)))
        p = self.world.run(["/bin/sh", "-c", script], check=False, SPATURZU_AGENT="fsize")
        self.assertEqual(p.returncode, 0, "the host died: %r" % p.stderr[-500:])
        self.assertEqual(p.stdout, b"200")
        self.assertIn("record lost", self.world.shim_log())

if __name__ == "__main__":
    harness.main()
