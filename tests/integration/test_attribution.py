"""Attribution without code changes and with a few: threads with their own
frames, Python through ctypes, process trees through the environment, and
request headers set as SDK default headers."""
import os
import uuid

import harness
from test_curl_h1 import curl_call

CLIENTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "clients")
THREADED = os.environ["SPZ_THREADED_CLIENT"]
LIBSPATURZU = os.environ["SPZ_LIBSPATURZU"]
CHAT = "openai/chat_nonstream_gpt4o_usage_details"


class Attribution(harness.Case):
    def new_records(self, before, n, timeout=15):
        recs = self.world.wait_records(before + n, timeout=timeout)[before:]
        self.assertEqual(len(recs), n, self.world.shim_log())
        return recs

    def test_threads_each_with_their_own_frame(self):
        threads, calls = 6, 3
        before = len(self.world.records())
        argv = [THREADED, self.world.url("/v1/chat/completions"), self.world.ca,
                "api.openai.com:%d:127.0.0.1" % self.world.port, str(threads), str(calls)]
        p = self.world.run(argv, SPATURZU_AGENT="threaded-service")
        self.assertIn(b"shim active: 1", p.stdout)
        recs = self.new_records(before, threads * calls + 1)
        by_agent = {}
        for r in recs:
            by_agent.setdefault(r["agentName"], []).append(r)
            self.assertRecordMatches(r, CHAT)
        for i in range(threads):
            mine = by_agent["worker-%d" % i]
            self.assertEqual(len(mine), calls)
            self.assertEqual({r["tags"]["thread"] for r in mine}, {str(i)})
            self.assertEqual({tuple(r["agentPath"]) for r in mine}, {("threaded-service", "worker-%d" % i)})
            self.assertEqual(len({r["runId"] for r in mine}), 1)
        runs = {by_agent["worker-%d" % i][0]["runId"] for i in range(threads)}
        self.assertEqual(len(runs), threads, "each thread's frame is its own run")
        sub = by_agent["sub"][0]
        self.assertEqual(sub["agentPath"], ["threaded-service", "worker-0", "sub"])
        self.assertEqual(sub["runId"], by_agent["worker-0"][0]["runId"])
        self.assertEqual(sub["tags"], {"thread": "0", "nested": "yes"})
        last_of_worker0 = max(by_agent["worker-0"], key=lambda r: (r["startedAt"], r["id"]))
        self.assertEqual(sub["parentRequestId"], last_of_worker0["id"])
        # Without the shim the same program runs and says so.
        p = self.world.run(argv, preload=False)
        self.assertIn(b"shim active: 0", p.stdout)

    def test_python_ctypes(self):
        before = len(self.world.records())
        argv = [harness.CLIENT_PYTHON, os.path.join(CLIENTS, "py_ctypes_agent.py"), LIBSPATURZU,
                str(self.world.port), self.world.ca]
        p = self.world.run(argv)
        self.assertIn(b"active 1", p.stdout)
        recs = self.new_records(before, 3)
        self.assertEqual(recs[0]["agentPath"], ["ctypes-agent"])
        self.assertEqual(recs[1]["agentPath"], ["ctypes-agent", "planner"])
        self.assertEqual(recs[1]["tags"], {"phase": "plan"})
        self.assertEqual(recs[2]["tags"], {"phase": "review"})
        self.assertEqual(recs[1]["runId"], recs[2]["runId"])
        self.assertNotEqual(recs[0]["runId"], recs[1]["runId"])
        self.assertEqual(recs[1]["parentRequestId"], recs[0]["id"])
        p = self.world.run(argv, preload=False)
        self.assertIn(b"active 0", p.stdout)

    def test_shell_script_children_nest_in_one_run(self):
        before = len(self.world.records())
        fetch = " ".join("'%s'" % a for a in curl_call(self.world, CHAT, "length", ["-o", "/dev/null"]))
        script = ("SPATURZU_AGENT=fetch %s && SPATURZU_AGENT=summarize %s && %s"
                  % (fetch, fetch, fetch))
        self.world.run(["/bin/sh", "-c", script], SPATURZU_AGENT="nightly-report", SPATURZU_TAGS="job=nightly")
        recs = self.new_records(before, 3)
        self.assertEqual(len({r["runId"] for r in recs}), 1, "one run for the whole process tree")
        self.assertEqual([r["agentPath"] for r in recs],
                         [["nightly-report", "fetch"], ["nightly-report", "summarize"], ["nightly-report"]])
        self.assertEqual({r["tags"]["job"] for r in recs}, {"nightly"})
        # Joining an existing run from outside.
        run = str(uuid.uuid4())
        before = len(self.world.records())
        self.world.run(["/bin/sh", "-c", fetch], SPATURZU_AGENT="joiner", SPATURZU_RUN_ID=run)
        self.assertEqual(self.new_records(before, 1)[0]["runId"], run)

    def test_request_headers_from_sdk_defaults(self):
        before = len(self.world.records())
        run = str(uuid.uuid4())
        self.world.run([harness.CLIENT_PYTHON, os.path.join(CLIENTS, "py_requests_headers.py"), str(self.world.port),
                        self.world.ca, run])
        recs = self.new_records(before, 2)
        for r in recs:
            self.assertEqual(r["agentName"], "header-agent")
            self.assertEqual(r["agentPath"], ["header-agent"])  # replaces the default (program name)
            self.assertEqual(r["runId"], run)
            self.assertEqual(r["tags"], {"via": "headers", "team": "sdk"})
            self.assertRecordMatches(r, CHAT)

    def test_request_headers_over_http2(self):
        before = len(self.world.records())
        run = str(uuid.uuid4())
        p = self.world.run([harness.CLIENT_PYTHON, os.path.join(CLIENTS, "py_httpx_headers.py"), str(self.world.port),
                            self.world.ca, run], SPATURZU_AGENT="service")
        self.assertEqual(p.stdout.split(), [b"HTTP/2", b"HTTP/2"])
        for r in self.new_records(before, 2):
            self.assertEqual(r["agentPath"], ["service", "h2-header-agent"])  # nests under a named agent
            self.assertEqual(r["runId"], run)
            self.assertEqual(r["tags"], {"via": "h2"})
            self.assertRecordMatches(r, CHAT)
        before = len(self.world.records())
        argv = [("--http2" if a == "--http1.1" else a) for a in curl_call(self.world, CHAT, "chunked", ["-o", "/dev/null"])]
        self.world.run(argv[:1] + ["-H", "x-spaturzu-agent: curl-h2", "-H", "x-spaturzu-tags: a=1"] + argv[1:])
        rec = self.new_records(before, 1)[0]
        self.assertEqual(rec["agentPath"], ["curl-h2"])  # replaces the default (program name)
        self.assertEqual(rec["tags"], {"a": "1"})

    def test_out_of_limit_tags_dropped_with_diagnostic(self):
        before = len(self.world.records())
        self.world.run(curl_call(self.world, CHAT, "length", ["-o", "/dev/null"]),
                       SPATURZU_TAGS="ok=1,%s=too-long-key" % ("k" * 65))
        rec = self.new_records(before, 1)[0]
        self.assertEqual(rec["tags"], {"ok": "1"})
        self.assertIn("dropped: keys are 1-64 characters", self.world.shim_log())


if __name__ == "__main__":
    harness.main()
