"""curl --http1.1 makes LLM calls under the shim: every corpus case of every
provider, with every framing, gives a record with the provider's exact usage,
and several calls on one keep-alive connection give one record each."""
import hashlib
import json
import os

import harness

ALL_CASES = harness.all_cases()
OPENAI_CASES = harness.all_cases(["openai"])
FRAMINGS = ["length", "chunked", "gzip", "chunked-gzip", "br", "zstd", "close"]


def curl_call(world, case, framing, extra=()):
    meta, _ = harness.load_case(case)
    host = meta["request_host"]
    # Bodies go through a file: some are larger than one argument may be.
    body = meta["request_body"].encode()
    path = os.path.join(world.dir, "body-%s.json" % hashlib.sha256(body).hexdigest()[:16])
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(body)
    return world.curl_args(host) + ["--http1.1", "-H", "content-type: application/json",
                                    "-H", "authorization: Bearer sk-test-not-a-key",
                                    "-H", "x-test-framing: " + framing, "-H", "x-test-case: " + case,
                                    "--data-binary", "@" + path, *extra,
                                    world.url(meta["request_path"], host)]


class CurlH1(harness.Case):
    def test_every_case_every_framing(self):
        before = len(self.world.records())
        n = 0
        for case in ALL_CASES:
            for framing in FRAMINGS:
                self.world.run(curl_call(self.world, case, framing, ["-o", "/dev/null"]),
                               SPATURZU_AGENT="curl-agent", SPATURZU_TAGS="case=%s,framing=%s" % (case, framing))
                n += 1
        recs = self.world.wait_records(before + n)[before:]
        self.assertEqual(len(recs), n, self.world.shim_log())
        seen = set()
        for rec in recs:
            key = (rec["tags"]["case"], rec["tags"]["framing"])
            self.assertNotIn(key, seen)
            seen.add(key)
            self.assertRecordMatches(rec, rec["tags"]["case"], agent="curl-agent")
            self.assertEqual(rec["host"], harness.load_case(rec["tags"]["case"])[0]["request_host"])
            self.assertNotIn("error", rec)
        self.assertEqual(len(seen), n)

    def test_keep_alive_calls_on_one_connection(self):
        before = len(self.world.records())
        argv = None
        for i, case in enumerate(OPENAI_CASES):
            call = curl_call(self.world, case, FRAMINGS[i % 4], ["-o", "/dev/null", "-w", "%{num_connects}\n"])
            argv = call if argv is None else argv + ["--next"] + call[1:]
        p = self.world.run(argv, SPATURZU_AGENT="keepalive")
        connects = p.stdout.decode().split()
        self.assertEqual(connects[0], "1")
        self.assertTrue(all(c == "0" for c in connects[1:]), "curl did not reuse the connection: %s" % connects)
        recs = self.world.wait_records(before + len(OPENAI_CASES))[before:]
        self.assertEqual(len(recs), len(OPENAI_CASES))
        self.assertEqual(len({r["pid"] for r in recs}), 1)
        for rec, case in zip(recs, OPENAI_CASES):
            self.assertRecordMatches(rec, case, agent="keepalive")

    def test_output_identical_with_and_without_shim(self):
        for case in ALL_CASES:
            for framing in ("chunked", "gzip", "close"):
                argv = curl_call(self.world, case, framing, ["-i"])
                plain = self.world.run(argv, preload=False).stdout
                shimmed = self.world.run(argv, SPATURZU_AGENT="transparency").stdout
                self.assertEqual(plain, shimmed, "%s %s: output differs under the shim" % (case, framing))
                self.assertGreater(len(plain), 100)

    def test_provider_errors_make_records(self):
        before = len(self.world.records())
        for status in (400, 429, 500, 503):
            p = self.world.run(curl_call(self.world, OPENAI_CASES[0], "length",
                                         ["-H", "x-test-error: %d" % status, "-o", "/dev/null", "-w", "%{http_code}"]),
                               SPATURZU_AGENT="errors")
            self.assertEqual(p.stdout, str(status).encode())
        recs = self.world.wait_records(before + 4)[before:]
        self.assertEqual([r["status"] for r in recs], [400, 429, 500, 503])
        for r in recs:
            self.assertNotIn("promptTokens", r)
            self.assertNotIn("usageSource", r)  # error rows carry no usage source
            self.assertEqual(r["requestId"], "req_error")
            self.assertEqual(r["model"], "gpt-4o")

    def test_non_llm_requests_make_no_record(self):
        before = len(self.world.records())
        for path in ("/healthz", "/v1/models"):
            p = self.world.run(self.world.curl_args() + ["--http1.1", self.world.url(path)])
            self.assertIn(b'"ok"', p.stdout)
        # A request to a path no provider serves, on the same host, and a POST.
        self.world.run(self.world.curl_args() + ["--http1.1", "-d", "{}", "-o", "/dev/null",
                                                 self.world.url("/v1/files")])
        recs = self.world.wait_records(before + 1, timeout=1.5)
        self.assertEqual(len(recs), before)
        served = [r["path"] for r in self.world.provider_requests()]
        self.assertIn("/healthz", served)
        self.assertIn("/v1/models", served)


if __name__ == "__main__":
    harness.main()
