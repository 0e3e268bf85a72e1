"""Ruby's Net::HTTP (its openssl extension loaded with dlopen, calling
SSL_write/SSL_read) makes OpenAI calls on one keep-alive connection under
the shim: exact records, output identical with and without the shim."""
import json
import os
import shutil
import unittest

import harness

CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "clients", "ruby_calls.rb")
RUBY = shutil.which("ruby")

CASES = [
    ("openai/chat_nonstream_gpt4o_usage_details", "length"),
    ("openai/chat_stream_include_usage_text", "chunked"),
    ("openai/chat_nonstream_o3mini_reasoning_tokens", "gzip"),
    ("openai/responses_stream_gpt55", "chunked"),
    ("openai/chat_stream_no_usage_gpt35_2023", "chunked-gzip"),
]


@unittest.skipUnless(RUBY, "ruby is not installed (scripts/install-deps.sh)")
class Ruby(harness.Case):
    def client(self, preload=True, agent="ruby-agent"):
        plan = []
        for case, framing in CASES:
            meta, _ = harness.load_case(case)
            plan.append({"path": meta["request_path"], "body": meta["request_body"], "framing": framing,
                         "stream": bool(meta.get("streamed"))})
        return self.world.run([RUBY, CLIENT, str(self.world.port), self.world.ca, json.dumps(plan)],
                              preload=preload, SPATURZU_AGENT=agent).stdout

    def test_net_http_keep_alive(self):
        before = len(self.world.records())
        shimmed = self.client()
        plain = self.client(preload=False)
        self.assertEqual(shimmed, plain, "Ruby's output differs under the shim")
        self.assertEqual(len(shimmed.splitlines()), len(CASES))
        recs = self.world.wait_records(before + len(CASES))[before:]
        self.assertEqual(len(recs), len(CASES), self.world.shim_log())
        for rec, (case, _) in zip(recs, CASES):
            self.assertRecordMatches(rec, case, agent="ruby-agent")
            self.assertIn("ruby", rec["exe"])
        self.assertEqual(len({r["pid"] for r in recs}), 1)


if __name__ == "__main__":
    harness.main()
