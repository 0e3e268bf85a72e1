"""The official openai and @anthropic-ai/sdk npm packages under Debian's
Node.js 18 (which links the system OpenSSL) make calls under the shim,
streaming and not: exact records, and what the SDK returns is the same with
and without the shim."""
import json
import os
import subprocess

import harness

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
NODE_DIR = os.environ.get("SPZ_NODE18", os.path.join(harness.BUILD_ROOT, "node18"))
NODE = os.path.join(NODE_DIR, "usr", "bin", "nodejs")
CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "clients", "node_sdks.js")

CASES = [
    ("openai", "chat", "openai/chat_nonstream_gpt4o_usage_details", "chunked"),
    ("openai", "chat", "openai/chat_stream_include_usage_text", "chunked"),
    ("openai", "chat", "openai/chat_nonstream_o3mini_reasoning_tokens", "gzip"),
    ("openai", "chat", "openai/chat_stream_no_usage_gpt35_2023", "length"),
    ("openai", "responses", "openai/responses_nonstream_gpt4o", "br"),
    ("openai", "responses", "openai/responses_stream_gpt55", "chunked"),
    ("openai", "embeddings", "openai/embeddings_base64_te3small", "chunked-gzip"),  # node-fetch has no zstd
    ("anthropic", "messages", "anthropic/messages_stream_basic", "chunked"),
    ("anthropic", "beta", "anthropic/messages_nonstream_basic", "gzip"),
    ("anthropic", "beta", "anthropic/messages_nonstream_cache_write", "length"),
    ("anthropic", "beta", "anthropic/messages_stream_cache_read_compaction", "chunked"),
]


def setUpModule():
    subprocess.run([os.path.join(ROOT, "scripts", "install-node18.sh"), NODE_DIR], check=True,
                   stdout=subprocess.DEVNULL)


class NodeSdks(harness.Case):
    def test_openai_and_anthropic_sdks(self):
        plan = []
        for sdk, api, case, framing in CASES:
            meta, _ = harness.load_case(case)
            plan.append({"sdk": sdk, "api": api, "case": case, "framing": framing,
                         "params": json.loads(meta["request_body"])})
        plan_file = os.path.join(self.world.dir, "node-plan.json")
        with open(plan_file, "w") as f:
            json.dump(plan, f)
        argv = [NODE, CLIENT, str(self.world.port), self.world.ca, plan_file]
        lib = os.path.join(NODE_DIR, "usr", "lib", "x86_64-linux-gnu")
        before = len(self.world.records())
        shimmed = self.world.run(argv, SPATURZU_AGENT="node-agent", LD_LIBRARY_PATH=lib).stdout
        plain = self.world.run(argv, preload=False, LD_LIBRARY_PATH=lib).stdout
        self.assertEqual(shimmed, plain, "what the SDKs return differs under the shim")
        self.assertEqual(len(shimmed.splitlines()), len(CASES))
        recs = self.world.wait_records(before + len(CASES))[before:]
        self.assertEqual(len(recs), len(CASES), self.world.shim_log())
        for rec, (_, _, case, _) in zip(recs, CASES):
            self.assertRecordMatches(rec, case, agent="node-agent")
            self.assertIn("node", rec["exe"])


if __name__ == "__main__":
    harness.main()
