"""Python's http.client and urllib (which load _ssl with dlopen and call
SSL_write_ex/SSL_read_ex) make OpenAI calls under the shim: exact records,
keep-alive on one connection, output identical with and without the shim."""
import json
import os

import harness

CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "clients", "py_calls.py")

PLAN_CASES = [
    ("openai/chat_nonstream_gpt4o_usage_details", "chunked", 0),
    ("openai/chat_stream_include_usage_text", "chunked", 7),
    ("openai/chat_nonstream_o3mini_reasoning_tokens", "gzip", 0),
    ("openai/responses_stream_gpt55", "length", 100),
    ("openai/embeddings_base64_te3small", "length", 0),
    ("openai/chat_stream_no_usage_gpt35_2023", "chunked", 1),
    ("openai/responses_nonstream_gpt4o", "chunked-gzip", 3),
]


def plan():
    out = []
    for case, framing, read in PLAN_CASES:
        meta, _ = harness.load_case(case)
        out.append({"path": meta["request_path"], "body": meta["request_body"], "framing": framing, "read": read})
    return json.dumps(out)


class PythonStdlib(harness.Case):
    def client(self, mode, preload=True, agent="py-agent"):
        return self.world.run([harness.CLIENT_PYTHON, CLIENT, mode, str(self.world.port), self.world.ca, plan()],
                              preload=preload, SPATURZU_AGENT=agent)

    def check_run(self, mode, agent):
        before = len(self.world.records())
        shimmed = self.client(mode, agent=agent).stdout
        plain = self.client(mode, preload=False).stdout
        self.assertEqual(shimmed, plain, "client output differs under the shim")
        self.assertEqual(len(shimmed.splitlines()), len(PLAN_CASES))
        recs = self.world.wait_records(before + len(PLAN_CASES))[before:]
        self.assertEqual(len(recs), len(PLAN_CASES), self.world.shim_log())
        for rec, (case, _, _) in zip(recs, PLAN_CASES):
            self.assertRecordMatches(rec, case, agent=agent)
            self.assertIn("python3", rec["exe"])
        return recs

    def test_http_client_keep_alive(self):
        recs = self.check_run("http.client", "httpclient-agent")
        self.assertEqual(len({r["pid"] for r in recs}), 1)
        self.assertEqual(len({r["runId"] for r in recs}), 1)

    def test_urllib(self):
        self.check_run("urllib", "urllib-agent")

    def test_stream_without_usage_is_an_estimate(self):
        recs = [r for r in self.world.records() if r.get("responseModel") == "gpt-3.5-turbo-0301"]
        if not recs:
            self.check_run("urllib", "urllib-agent")
            recs = [r for r in self.world.records() if r.get("responseModel") == "gpt-3.5-turbo-0301"]
        for rec in recs:
            self.assertEqual(rec["usageSource"], "tiktoken")  # never zeros passed off as the provider's
            self.assertGreater(rec["promptTokens"], 0)

    def test_a_connection_at_a_freed_ones_address_is_its_own(self):
        # Each round frees a connection the shim passed over (not HTTP) and
        # opens an LLM call, whose SSL object glibc gives the freed one's
        # address: the shim's per-thread memory of the last connection's
        # state must not take the call for the freed connection.
        code = """
import http.client, socket, ssl, sys
port, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
body = '{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}'
for _ in range(3):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="api.openai.com")
    s.sendall(b"\\x16 not HTTP at all\\r\\n\\r\\n")
    s.close()
    del s
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
    c.request("POST", "/v1/chat/completions", body=body,
              headers={"Host": "api.openai.com", "Content-Type": "application/json"})
    r = c.getresponse()
    print(r.status, len(r.read()))
    c.close()
"""
        before = len(self.world.records())
        out = self.world.run([harness.CLIENT_PYTHON, "-c", code, str(self.world.port), self.world.ca],
                             SPATURZU_AGENT="reuse-agent").stdout
        self.assertEqual(len(out.splitlines()), 3, out)
        recs = [r for r in self.world.wait_records(before + 3)[before:] if r["agentName"] == "reuse-agent"]
        self.assertEqual(len(recs), 3, self.world.shim_log())
        self.assertEqual({r["status"] for r in recs}, {200})


if __name__ == "__main__":
    harness.main()
