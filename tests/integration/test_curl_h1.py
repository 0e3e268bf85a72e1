"""curl --http1.1 makes OpenAI calls under the shim: every OpenAI corpus case
with every framing gives a record with the provider's exact usage, and
several calls on one keep-alive connection give one record each."""
import json
import os

import harness

OPENAI_CASES = sorted("openai/" + f[: -len(".meta.json")]
                      for f in os.listdir(os.path.join(harness.CORPUS, "openai")) if f.endswith(".meta.json"))
FRAMINGS = ["length", "chunked", "gzip", "chunked-gzip", "close"]


def curl_call(world, case, framing, extra=()):
    meta, _ = harness.load_case(case)
    return world.curl_args() + ["--http1.1", "-H", "content-type: application/json",
                                "-H", "authorization: Bearer sk-test-not-a-key",
                                "-H", "x-test-framing: " + framing, "-H", "x-test-case: " + case,
                                "--data-binary", meta["request_body"], *extra,
                                world.url(meta["request_path"])]


class CurlH1(harness.Case):
    def test_every_openai_case_every_framing(self):
        before = len(self.world.records())
        n = 0
        for case in OPENAI_CASES:
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
            self.assertEqual(rec["provider"], "openai")
            self.assertEqual(rec["host"], "api.openai.com")
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
        for case in OPENAI_CASES:
            for framing in ("chunked", "gzip", "close"):
                argv = curl_call(self.world, case, framing, ["-i"])
                plain = self.world.run(argv, preload=False).stdout
                shimmed = self.world.run(argv, SPATURZU_AGENT="transparency").stdout
                self.assertEqual(plain, shimmed, "%s %s: output differs under the shim" % (case, framing))
                self.assertGreater(len(plain), 100)

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
