"""valgrind memcheck over curl with the shim: HTTP/1.1 and HTTP/2, a stream
estimated locally, a gzip body, an AWS event stream, a request that is not an
LLM call; and a deep-bound client plugin. Any memory error, or a definite leak, fails. Plain build only:
valgrind and ASan do not mix."""
import shutil
import unittest

import harness
from test_curl_h1 import curl_call
from test_deepbind import deep_plugin_argv

CALLS = [
    ("openai/chat_stream_no_usage_gpt35_2023", "chunked", "--http1.1"),
    ("openai/chat_stream_include_usage_text", "gzip", "--http2"),
    ("bedrock/converse_stream_nova_micro_eventstream", "br", "--http1.1"),
    ("anthropic/messages_stream_cache_read_compaction", "zstd", "--http2"),
]


@unittest.skipIf(harness.SANITIZE, "valgrind does not run ASan-built code")
@unittest.skipIf(not shutil.which("valgrind"), "valgrind is not installed")
class Valgrind(harness.Case):
    def memcheck(self, argv, **env):
        vg = ["valgrind", "-q", "--trace-children=yes", "--error-exitcode=99", "--leak-check=full",
              "--show-leak-kinds=definite", "--errors-for-leak-kinds=definite"]
        e = self.world.env(True, **env)
        preload = e.pop("LD_PRELOAD")
        p = self.world.run(vg + ["env", "LD_PRELOAD=" + preload] + argv, preload=False, check=False, **env)
        self.assertEqual(p.returncode, 0, p.stderr.decode("utf-8", "replace")[-3000:])

    def test_no_memory_errors_no_leaks(self):
        before = len(self.world.records())
        for case, framing, proto in CALLS:
            argv = [proto if a == "--http1.1" else a for a in curl_call(self.world, case, framing, ["-o", "/dev/null"])]
            self.memcheck(argv, SPATURZU_AGENT="valgrind")
        self.memcheck(self.world.curl_args() + ["-o", "/dev/null", self.world.url("/v1/models")])
        recs = self.world.wait_records(before + len(CALLS))[before:]
        self.assertEqual(len(recs), len(CALLS))
        for rec, (case, _, _) in zip(recs, CALLS):
            self.assertRecordMatches(rec, case, agent="valgrind")

    def test_deep_bound_plugin(self):
        """The rebinding of a deep-binding load (deepbind.c), which the
        sanitizer build cannot run, and the call made through it."""
        before = len(self.world.records())
        for kind in ("lazy", "noplt"):
            self.memcheck(deep_plugin_argv(self.world, kind, "valgrind-deep"))
        recs = self.world.wait_records(before + 2)[before:]
        self.assertEqual(len(recs), 2)
        for rec in recs:
            self.assertRecordMatches(rec, "openai/chat_nonstream_gpt4o_usage_details")
            self.assertEqual(rec["agentName"], "valgrind-deep")  # the plugin's x-spaturzu-agent header


if __name__ == "__main__":
    harness.main()
