"""curl --http2 makes LLM calls under the shim: every corpus case as an
HTTP/2 stream (plain and gzip, DATA frames of random sizes, some padded)
gives the provider's exact usage; --parallel multiplexes several calls on
one connection, each its own record; output is identical without the shim."""
import harness
from test_curl_h1 import ALL_CASES, curl_call

FRAMINGS = ["chunked", "gzip", "br", "zstd"]


def h2_call(world, case, framing, extra=()):
    argv = curl_call(world, case, framing, extra)
    return [("--http2" if a == "--http1.1" else a) for a in argv]


class CurlH2(harness.Case):
    def test_every_case_over_http2(self):
        before = len(self.world.records())
        n = 0
        for case in ALL_CASES:
            for framing in FRAMINGS:
                p = self.world.run(h2_call(self.world, case, framing, ["-o", "/dev/null", "-w", "%{http_version}"]),
                                   SPATURZU_AGENT="h2-agent", SPATURZU_TAGS="case=%s,framing=%s" % (case, framing))
                self.assertEqual(p.stdout, b"2", "curl did not speak HTTP/2")
                n += 1
        recs = self.world.wait_records(before + n)[before:]
        self.assertEqual(len(recs), n, self.world.shim_log())
        for rec in recs:
            self.assertRecordMatches(rec, rec["tags"]["case"], agent="h2-agent")
            self.assertNotIn("error", rec)

    def test_parallel_streams_on_one_connection(self):
        before = len(self.world.records())
        cases = harness.all_cases(["openai"])  # one host: one connection
        argv = None
        for i, case in enumerate(cases):
            call = h2_call(self.world, case, FRAMINGS[i % 2], ["-o", "/dev/null", "-w", "%{num_connects}\n"])
            argv = call[:1] + ["--parallel"] + call[1:] if argv is None else argv + ["--next"] + call[1:]
        p = self.world.run(argv, SPATURZU_AGENT="parallel")
        self.assertEqual(sum(int(c) for c in p.stdout.decode().split()), 1, "the streams were multiplexed")
        recs = self.world.wait_records(before + len(cases))[before:]
        self.assertEqual(len(recs), len(cases))
        self.assertEqual(len({r["pid"] for r in recs}), 1)
        # Streams end in any order: (endpoint, model, stream) names each case.
        for case in cases:
            meta, _ = harness.load_case(case)
            key = (meta["request_path"], harness.request_model(meta), bool(meta.get("streamed")))
            found = [r for r in recs if (r["endpoint"], r["model"], r["stream"]) == key]
            self.assertEqual(len(found), 1, case)
            self.assertRecordMatches(found[0], case, agent="parallel")

    def test_output_identical_with_and_without_shim(self):
        for case in ALL_CASES:
            for framing in FRAMINGS:
                argv = h2_call(self.world, case, framing, ["-i"])
                plain = self.world.run(argv, preload=False).stdout
                shimmed = self.world.run(argv, SPATURZU_AGENT="transparency").stdout
                self.assertEqual(plain, shimmed, "%s %s: output differs under the shim" % (case, framing))


if __name__ == "__main__":
    harness.main()
