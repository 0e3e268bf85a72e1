"""The host never suffers: a threaded program that forks mid-traffic, broken
provider responses, a collector that stops mid-run, and SPATURZU_DISABLE=1.
The client's output stays byte-identical and it never crashes."""
import json
import os
import unittest

import harness
from test_curl_h1 import curl_call

CLIENTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "clients")
CHAT = "openai/chat_nonstream_gpt4o_usage_details"
STREAM = "openai/chat_stream_include_usage_text"


class HostSafety(harness.Case):
    # GCC 12's ASan allocator takes no lock across fork: a child forked while
    # another thread is in malloc (libssl's, here) can block forever on the
    # runtime's own mutex. glibc's malloc is fork-safe, so the plain run is
    # the one that tests the shim here.
    @unittest.skipIf(harness.SANITIZE, "the ASan runtime is not fork-safe in threaded programs")
    def test_fork_in_a_threaded_program(self):
        before = len(self.world.records())
        threads, calls = 4, 5
        p = self.world.run([harness.CLIENT_PYTHON, os.path.join(CLIENTS, "py_fork_threads.py"), str(self.world.port),
                            self.world.ca, str(threads), str(calls)], SPATURZU_AGENT="forker")
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


if __name__ == "__main__":
    harness.main()
