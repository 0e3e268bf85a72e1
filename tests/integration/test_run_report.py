"""`spaturzu run` around a script whose calls come from two agents and a
child process: it starts a collector, prints the right per-agent totals,
stops the collector and exits with the script's status. `spaturzu report`
on known records gives the golden table, JSON and CSV; `spaturzu trace`
shows the run as a tree."""
import json
import os
import shlex
import socket
import subprocess
import time
import uuid

import harness
from test_curl_h1 import curl_call

GOLDEN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "golden")
GPT4O = "openai/chat_nonstream_gpt4o_usage_details"          # 0.000335 USD a call
SONNET = "anthropic/messages_nonstream_cache_write"          # 0.01004025 USD


class RunAndReport(harness.FreshWorldCase):
    def spaturzu(self, *args, check=True, **env):
        env.setdefault("SPATURZU_DB", self.world.db)
        e = self.world.env(preload=False, **env)
        e.pop("SPATURZU_LOG", None)
        p = subprocess.run([harness.SPATURZU] + list(args), capture_output=True, text=True, env=e, timeout=120)
        if check and p.returncode != 0:
            raise AssertionError("spaturzu %s: %d\n%s" % (args, p.returncode, p.stderr))
        return p

    def test_run_a_script_of_two_agents_and_a_child(self):
        w = self.world
        q = lambda argv: " ".join(shlex.quote(a) for a in argv)
        script = os.path.join(w.dir, "agents.sh")
        with open(script, "w") as f:
            f.write("set -e\n")
            f.write("echo script-stdout\n")
            for _ in range(2):
                f.write("SPATURZU_AGENT=researcher %s\n" % q(curl_call(w, GPT4O, "chunked", ["-o", "/dev/null"])))
            # A child process of its own (a shell that runs curl) for the writer.
            f.write("SPATURZU_AGENT=writer sh -c %s\n"
                    % shlex.quote(q(curl_call(w, SONNET, "length", ["-o", "/dev/null"]))))
            f.write("exit 3\n")
        self.assertFalse(os.path.exists(w.socket))
        p = self.spaturzu("run", "--agent", "pipeline", "--tags", "team=core", "--", "sh", script, check=False)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertEqual(p.stdout, "script-stdout\n", "the command's stdout is untouched")
        err = p.stderr
        run_line = [l for l in err.splitlines() if l.startswith("spaturzu: run ")]
        self.assertEqual(len(run_line), 1, err)
        run_id = run_line[0].split()[2].rstrip(":")
        # 2 x 0.000335 + 0.01004025
        self.assertIn("3 calls, 0.01071025 USD", run_line[0])
        rows = {l.split("  ")[0].strip(): l.split() for l in err.splitlines()
                if l.startswith("pipeline") or l.startswith("TOTAL")}
        self.assertEqual(rows["pipeline / researcher"][-6:], ["2", "28", "60", "0", "0.00067", "6.3%"])
        self.assertEqual(rows["pipeline / writer"][-6:], ["1", "3", "391", "0", "0.01004025", "93.7%"])
        self.assertEqual(rows["TOTAL"][-6:], ["3", "31", "451", "0", "0.01071025", "100.0%"])
        # The collector it started is gone; the records stay.
        self.assertFalse(os.path.exists(w.socket))
        recs = w.records()
        self.assertEqual({r["runId"] for r in recs}, {run_id})
        self.assertEqual(sorted(tuple(r["agentPath"]) for r in recs),
                         [("pipeline", "researcher"), ("pipeline", "researcher"), ("pipeline", "writer")])
        self.assertTrue(all(r["tags"] == {"team": "core"} for r in recs))

        # The same run as a tree.
        t = self.spaturzu("trace", run_id[:13]).stdout
        lines = t.splitlines()
        self.assertIn("run %s: 3 calls, 0.01071025 USD" % run_id, lines[0])
        self.assertTrue(lines[1].startswith("└─ pipeline  (3 calls, 31 in, 451 out, 0.01071025 USD)"), t)
        self.assertTrue(any("├─ researcher  (2 calls, 28 in, 60 out, 0.00067 USD)" in l for l in lines), t)
        self.assertTrue(any("└─ writer  (1 call, 3 in, 391 out, 0.01004025 USD)" in l for l in lines), t)
        self.assertEqual(sum(" gpt-4o-2024-08-06 " in l for l in lines), 2, t)
        tj = json.loads(self.spaturzu("trace", "--json", run_id).stdout)
        self.assertEqual(tj["runId"], run_id)
        self.assertEqual(len(tj["calls"]), 3)
        [top] = tj["tree"]
        self.assertEqual((top["agent"], top["calls"], top["costUsd"]), ("pipeline", 3, "0.01071025"))
        self.assertEqual(sorted((c["agent"], c["calls"]) for c in top["children"]), [("researcher", 2), ("writer", 1)])
        # Errors name the problem.
        p = self.spaturzu("trace", "ffffffff", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("no run 'ffffffff'", p.stderr)

    def test_run_reports_a_missing_command(self):
        p = self.spaturzu("run", "--", "/nonexistent/program", check=False)
        self.assertEqual(p.returncode, 127)
        self.assertIn("cannot run /nonexistent/program", p.stderr)
        p = self.spaturzu("run", check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("no command given", p.stderr)

    def known_store(self):
        """Records with fixed times, agents, models: one unpriced, one
        estimated, one older than 30 days."""
        self.world.start_collector()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        base = dict(provider="openai", status=200, runId="4a0b8c0e-6c55-4b5e-9a3e-2b1d1c0f9e11")
        rows = [
            # days ago, agent, provider, model, in, out, cached, extra
            (1, "support-triage", "openai", "gpt-4o", 10000, 2000, 4000, {"tags": {"team": "support"}}),
            (2, "support-triage", "openai", "gpt-4o-mini", 50000, 5000, 0, {"tags": {"team": "support"}}),
            (3, "researcher", "anthropic", "claude-sonnet-4-5", 1200, 800, 30000, {"tags": {"team": "labs"}}),
            (5, "researcher", "openai-compatible", "acme-llm", 999, 111, None, {}),
            (6, "writer", "openai", "gpt-3.5-turbo-0301", 300, 50, None, {"usageSource": "tiktoken"}),
            (12, "writer", "gemini", "gemini-2.5-pro", 250000, 1000, None, {"tags": {"team": "labs"}}),
            (45, "writer", "openai", "gpt-4o", 1000000, 0, None, {}),
        ]
        now = 1795435200  # 2026-11-23T12:00:00Z
        for i, (days, agent, prov, model, pin, pout, cached, extra) in enumerate(rows):
            t = time.gmtime(now - days * 86400 - 3600)
            r = dict(base, id=str(uuid.UUID(int=(0x019c << 112) | (7 << 76) | (0x8 << 60) | i)), provider=prov,
                     model=model, agentName=agent, agentPath=[agent], promptTokens=pin, completionTokens=pout,
                     startedAt=time.strftime("%Y-%m-%dT%H:%M:%S.000Z", t), **extra)
            if cached is not None:
                r["cachedInputTokens"] = cached
            s.sendto(json.dumps(r).encode(), self.world.socket)
        self.world.wait_records(len(rows))

    def golden(self, name, text):
        path = os.path.join(GOLDEN, name)
        if os.environ.get("SPZ_UPDATE_GOLDEN"):
            with open(path, "w") as f:
                f.write(text)
        with open(path) as f:
            self.assertEqual(text, f.read(), "differs from tests/golden/" + name)

    def test_report_golden_table_json_csv(self):
        self.known_store()
        now = ["--now", "2026-11-23T12:00Z"]
        self.golden("report-agent.txt", self.spaturzu("report", *now).stdout)
        self.golden("report-agent.json", self.spaturzu("report", "--json", *now).stdout)
        self.golden("report-agent.csv", self.spaturzu("report", "--csv", *now).stdout)
        self.golden("report-model-30d.txt", self.spaturzu("report", "--by", "model", "--since", "30d", *now).stdout)
        self.golden("report-tag-team.csv", self.spaturzu("report", "--by", "tag:team", "--csv", "--since",
                                                         "2026-10-01", "--until", "2026-11-23", *now).stdout)
        j = json.loads(self.spaturzu("report", "--json", *now).stdout)
        seven, thirty = j["windows"]
        self.assertEqual([r["key"] for r in seven["rows"]], ["support-triage", "researcher", "writer"])
        # Exact sums, worked by hand from data/pricing.json:
        # support-triage: gpt-4o 6000 x 2.50 + 4000 x 1.25 + 2000 x 10 = 0.04;
        # gpt-4o-mini 50000 x 0.15 + 5000 x 0.60 = 0.0105
        self.assertEqual(seven["rows"][0]["costUsd"], "0.0505")
        # researcher: sonnet 1200 x 3 + 30000 x 0.30 + 800 x 15 = 0.0246; acme-llm unpriced
        self.assertEqual((seven["rows"][1]["costUsd"], seven["rows"][1]["unpricedCalls"]), ("0.0246", 1))
        # writer: the estimate 300 x 1.50 + 50 x 2.00 = 0.00055; 30 days adds gemini above 200k:
        # 250000 x 2.50 + 1000 x 15 = 0.64
        self.assertEqual(seven["rows"][2]["costUsd"], "0.00055")
        self.assertEqual(thirty["rows"][0], dict(thirty["rows"][0], key="writer", costUsd="0.64055", calls=2))
        self.assertEqual(thirty["total"]["costUsd"], "0.71565")
        # calls filters
        def ids(*args):
            out = self.spaturzu("calls", "--json", *args).stdout
            return [json.loads(l)["model"] for l in out.splitlines()]
        self.assertEqual(ids("--model", "gpt-4o"), ["gpt-4o", "gpt-4o"])
        self.assertEqual(ids("--provider", "anthropic"), ["claude-sonnet-4-5"])
        self.assertEqual(ids("--status", "ok", "--agent", "writer"),
                         ["gpt-4o", "gemini-2.5-pro", "gpt-3.5-turbo-0301"])
        self.assertEqual(ids("--status", "error"), [])
        self.assertEqual(ids("--since", "2026-11-20T00:00Z"), ["claude-sonnet-4-5", "gpt-4o-mini", "gpt-4o"])
        table = self.spaturzu("calls", "--model", "acme-llm").stdout
        self.assertIn("COST USD", table)
        self.assertTrue(table.splitlines()[1].endswith(" ?"), table)
        p = self.spaturzu("calls", "--status", "teapot", check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--status takes 429, 4xx, 5xx, ok or error", p.stderr)
        # Errors say what is wrong.
        for args, says in [(["--by", "colour"], "cannot group by 'colour'"),
                           (["--since", "last tuesday"], "--since 'last tuesday' is not a date"),
                           (["--json", "--csv"], "choose --json or --csv")]:
            p = self.spaturzu("report", *args, check=False)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn(says, p.stderr)
        p = self.spaturzu("report", check=False, SPATURZU_DB=os.path.join(self.world.dir, "none.db"))
        self.assertEqual(p.returncode, 1)
        self.assertIn("no database at", p.stderr)


    def test_report_counts_a_call_of_this_very_second(self):
        # Records carry milliseconds; a report's window ends, excluded, at
        # "now". A call made earlier in the same second is in the past and
        # must be counted, by the text report and the HTML one alike.
        self.world.start_collector()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        page = os.path.join(self.world.dir, "now.html")
        for attempt in range(10):
            while time.time() % 1 > 0.3:  # early in a second: room for the rest
                time.sleep(0.02)
            second = int(time.time())
            r = dict(id=str(uuid.uuid4()), provider="openai", model="gpt-4o", agentName="this-second-%d" % attempt,
                     agentPath=["x"], runId=str(uuid.uuid4()), status=200, promptTokens=1, completionTokens=1,
                     startedAt=time.strftime("%Y-%m-%dT%H:%M:%S.001Z", time.gmtime(second)))
            s.sendto(json.dumps(r).encode(), self.world.socket)
            self.world.wait_records(attempt + 1)
            j = json.loads(self.spaturzu("report", "--json").stdout)
            self.spaturzu("report", "--html", page)
            if int(time.time()) != second:
                continue  # the second ended first: this round proves nothing
            for w in j["windows"]:
                self.assertIn(r["agentName"], [row["key"] for row in w["rows"]], w)
            with open(page) as f:
                self.assertIn(r["agentName"], f.read())
            return
        self.fail("no round fitted in one second")

    def test_html_report_renders_in_chromium(self):
        import shutil
        browser = shutil.which("chromium")
        if not browser:
            self.skipTest("Debian's chromium is not installed (scripts/install-deps.sh installs it)")
        self.known_store()
        page = os.path.join(self.world.dir, "report.html")
        p = self.spaturzu("report", "--html", page, "--now", "2026-11-23T12:00Z")
        self.assertIn("wrote " + page, p.stderr)
        html = open(page).read()
        self.assertNotIn("http://", html.replace("http://www.w3.org/2000/svg", ""))
        self.assertNotIn("https://", html)
        self.assertNotIn("<script", html)
        shot = os.path.join(os.environ.get("SPZ_ARTIFACTS", self.world.dir), "report.png")
        base = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--user-data-dir=" + os.path.join(self.world.dir, "chromium"), "--enable-logging=stderr",
                "--v=0", "--window-size=1000,1800"]
        r = subprocess.run(base + ["--screenshot=" + shot, "file://" + page], capture_output=True, text=True,
                           timeout=120)
        self.assertTrue(os.path.exists(shot) and os.path.getsize(shot) > 20000, r.stderr[-3000:])
        with open(shot, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        consoles = [l for l in r.stderr.splitlines() if "CONSOLE" in l]
        self.assertEqual(consoles, [], "console messages from the page")
        dom = subprocess.run(base + ["--dump-dom", "file://" + page], capture_output=True, text=True,
                             timeout=120).stdout
        for name in ("support-triage", "researcher", "writer", "gemini-2.5-pro", "0.71565", "0.07565"):
            self.assertIn(name, dom)
        self.assertEqual(dom.count("<svg"), 2)


if __name__ == "__main__":
    harness.main()
