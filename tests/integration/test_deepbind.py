"""Libraries loaded with RTLD_DEEPBIND bind libssl's functions in their own
dependency tree, before any preloaded library: PHP loads every extension so,
and php-curl's calls never reached the shim. Here real PHP (php-curl on one
keep-alive handle, and PHP's own https:// streams), and the peek client as a
deep-bound plugin (lazily bound through its PLT, and with no PLT at all),
make calls under the shim: exact records, output identical with and without
it. The shim's dlopen keeps the caller's run path (a bare plugin name found
through the loader's DT_RUNPATH), an SSL_write that the deep binding finds
in another library stays bound there, and SPATURZU_DISABLE leaves
deep-bound loads alone. Budgets refuse php-curl's calls too."""
import json
import os
import shutil
import subprocess
import unittest

import harness
from test_budget_gate import BreachedBudgets

HERE = os.path.dirname(os.path.abspath(__file__))
PHP_CLIENT = os.path.join(HERE, "clients", "php_calls.php")
PHP = shutil.which("php")

PHP_CASES = [
    ("openai/chat_nonstream_gpt4o_usage_details", "chunked"),
    ("openai/chat_stream_include_usage_text", "chunked"),
    ("openai/chat_nonstream_o3mini_reasoning_tokens", "gzip"),
    ("openai/chat_stream_no_usage_gpt35_2023", "length"),
    ("openai/responses_nonstream_gpt4o", "chunked-gzip"),
]


def plan(cases):
    out = []
    for case, framing in cases:
        meta, _ = harness.load_case(case)
        out.append({"path": meta["request_path"], "body": meta["request_body"], "framing": framing})
    return json.dumps(out)


def php_has_curl():
    if not PHP:
        return False
    p = subprocess.run([PHP, "-r", "echo function_exists('curl_init') ? 'yes' : 'no';"], capture_output=True, text=True)
    return p.stdout == "yes"


@unittest.skipIf(harness.SANITIZE, "the sanitizer runtime refuses every RTLD_DEEPBIND load "
                 "(google/sanitizers#611); test_valgrind checks this path for memory errors")
class DeepBind(harness.Case):
    def php(self, mode, cases, preload=True, **env):
        return self.world.run([PHP, PHP_CLIENT, mode, str(self.world.port), self.world.ca, plan(cases)],
                              preload=preload, **env)

    def check_php(self, mode, agent):
        before = len(self.world.records())
        shimmed = self.php(mode, PHP_CASES, SPATURZU_AGENT=agent).stdout
        plain = self.php(mode, PHP_CASES, preload=False).stdout
        self.assertEqual(shimmed, plain, "PHP's output differs under the shim")
        self.assertEqual(len(shimmed.splitlines()), len(PHP_CASES))
        recs = self.world.wait_records(before + len(PHP_CASES))[before:]
        self.assertEqual(len(recs), len(PHP_CASES), self.world.shim_log())
        for rec, (case, _) in zip(recs, PHP_CASES):
            self.assertRecordMatches(rec, case, agent=agent)
            self.assertIn("php", rec["exe"])
        return recs

    @unittest.skipUnless(php_has_curl(), "php with php-curl is not installed (scripts/install-deps.sh)")
    def test_php_curl_calls(self):
        recs = self.check_php("curl", "php-curl-agent")
        self.assertEqual(len({r["pid"] for r in recs}), 1)

    @unittest.skipUnless(PHP, "php is not installed (scripts/install-deps.sh)")
    def test_php_https_streams(self):
        self.check_php("stream", "php-stream-agent")

    @unittest.skipUnless(php_has_curl(), "php with php-curl is not installed (scripts/install-deps.sh)")
    def test_disabled_leaves_deep_bound_loads_alone(self):
        before = len(self.world.records())
        shimmed = self.php("curl", PHP_CASES[:2], SPATURZU_DISABLE="1").stdout
        plain = self.php("curl", PHP_CASES[:2], preload=False).stdout
        self.assertEqual(shimmed, plain)
        self.assertEqual(len(self.world.wait_records(before + 1, timeout=1)), before)

    def test_deep_bound_plugins_lazy_and_without_plt(self):
        for kind in ("lazy", "noplt"):
            before = len(self.world.records())
            argv = deep_plugin_argv(self.world, kind, "deep-" + kind)
            shimmed = json.loads(self.world.run(argv).stdout)
            plain = json.loads(self.world.run(argv, preload=False).stdout)
            self.assertEqual(shimmed, plain, kind)
            self.assertEqual(shimmed["status"], "HTTP/1.1 200 OK")
            recs = self.world.wait_records(before + 1)[before:]
            self.assertEqual(len(recs), 1, "%s: %s" % (kind, self.world.shim_log()))
            self.assertRecordMatches(recs[0], "openai/chat_nonstream_gpt4o_usage_details", agent="deep-" + kind)

    def test_another_librarys_ssl_write_keeps_its_deep_binding(self):
        # The plugin's SSL_write is a library's of its own, listed before
        # libssl: rebinding it to the hook would hand libssl an object that
        # is not an SSL (a crash, checked).
        argv = [os.environ["SPZ_DEEP_HOST"], os.environ["SPZ_DEEP_FAKE_USER"]]
        self.assertEqual(self.world.run(argv, preload=False).stdout, b"4243\n")
        self.assertEqual(self.world.run(argv).stdout, b"4243\n")

    def test_dlopen_keeps_the_callers_run_path(self):
        argv = [os.environ["SPZ_DLOPEN_RUNPATH"], os.environ["SPZ_DLO_PLUGIN"]]
        plain = self.world.run(argv, preload=False)
        shimmed = self.world.run(argv)
        self.assertEqual(plain.stdout, b"42 42 42\n", plain.stderr)
        self.assertEqual(shimmed.stdout, b"42 42 42\n", shimmed.stderr)
        self.assertEqual(shimmed.stderr, b"")


@unittest.skipIf(harness.SANITIZE, "the sanitizer runtime refuses every RTLD_DEEPBIND load")
@unittest.skipUnless(php_has_curl(), "php with php-curl is not installed (scripts/install-deps.sh)")
class DeepBindBudget(BreachedBudgets):
    """The budget gate through the rebound hooks: php-curl reads the shim's
    429 for a capped agent and, on the same handle, the provider's answer
    for another; the provider never sees the refused call."""

    def test_php_curl_refused_then_served_on_one_handle(self):
        w = self.world
        case = "openai/chat_nonstream_gpt4o_usage_details"
        meta, _ = harness.load_case(case)
        calls = [{"path": meta["request_path"], "body": meta["request_body"], "framing": "length", "agent": a}
                 for a in ("blocked", "free")]
        before = len(w.provider_requests())
        out = w.run([PHP, PHP_CLIENT, "curl", str(w.port), w.ca, json.dumps(calls)]).stdout.decode().splitlines()
        self.assertEqual(len(out), 2, out)
        status, _, body = out[0].split(" ", 2)
        self.assertEqual(status, "429")
        err = json.loads(json.loads(body))["error"]
        self.assertEqual((err["code"], err["agentName"], err["scope"]), ("budget_exceeded", "blocked", "agent"))
        self.assertEqual(out[1].split()[0], "200")
        self.assertEqual(len(w.provider_requests()[before:]), 1, "the refused call reached the provider")
        recs = w.wait_records(2)
        refused = [r for r in recs if r.get("refused")]
        self.assertEqual([r["agentName"] for r in refused], ["blocked"])


def deep_plugin_argv(world, kind, agent):
    """deep-host running the peek client as a deep-bound plugin."""
    body = os.path.join(world.dir, "deep-body.json")
    with open(body, "w") as f:
        f.write('{"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello! How are you doing?"}]}')
    plugin = next(p for p in os.environ["SPZ_DEEP_PLUGINS"].split(":") if kind in os.path.basename(p))
    return [os.environ["SPZ_DEEP_HOST"], plugin, str(world.port), world.ca, "api.openai.com",
            "/v1/chat/completions", body, agent]


if __name__ == "__main__":
    harness.main()
