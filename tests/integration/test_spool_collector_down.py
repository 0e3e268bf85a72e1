"""With no collector listening, records go to the spool; when the collector
starts it ingests them all, none lost and none doubled, and a restart adds
nothing."""
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


if __name__ == "__main__":
    harness.main()
