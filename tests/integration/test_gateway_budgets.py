"""Budgets from the gateway (GATEWAY.md): the collector fetches each agent's
policy, follows the budget_breach event stream and polls as a backstop; the
shims refuse what a breached hard cap covers. A gateway that does not answer
lets calls through, and the collector's log says why."""
import json
import subprocess
import time

import harness

CASE = "openai/chat_nonstream_gpt4o_usage_details"
KEY = "spa_budget_test_key"

CALLS = r'''
import http.client, json, ssl, sys
port, ca, body, case = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
c = http.client.HTTPSConnection("127.0.0.1", port, context=ssl.create_default_context(cafile=ca))
out = []
for agent in sys.argv[5:]:
    c.request("POST", "/v1/chat/completions", body=body, headers={"Host": "api.openai.com",
              "Content-Type": "application/json", "x-spaturzu-agent": agent, "x-test-case": case})
    r = c.getresponse()
    data = json.loads(r.read())
    out.append([r.status, data.get("error")])
print(json.dumps(out))
'''


def limit(budget_id, scope, breached, enforcement="hard_cap", period="daily"):
    return {"budgetId": budget_id, "scope": scope, "period": period, "limitCost": "1.0000000000",
            "currentCost": "1.2500000000" if breached else "0.2500000000", "pctUsed": 125 if breached else 25,
            "alertThresholdPct": 80, "breached": breached, "enforcement": enforcement}


class GatewayBudgets(harness.FreshWorldCase):
    def setUp(self):
        super().setUp()
        self.gw = harness.Gateway(self.world.dir, key=KEY)

    def tearDown(self):
        super().tearDown()
        self.gw.stop()

    def start(self, *args):
        self.world.start_collector(["--gateway", self.gw.url] + list(args), SPATURZU_API_KEY=KEY)

    def calls(self, *agents):
        w = self.world
        meta, _ = harness.load_case(CASE)
        before = len(w.provider_requests())
        p = w.run([harness.CLIENT_PYTHON, "-c", CALLS, str(w.port), w.ca, meta["request_body"], CASE] + list(agents))
        return json.loads(p.stdout), len(w.provider_requests()) - before

    def wait_for(self, what, check, timeout=10):
        end = time.time() + timeout
        while not check():
            if time.time() > end:
                self.fail("timed out waiting for " + what)
            time.sleep(0.05)

    def test_a_new_agents_policy_is_fetched_as_its_first_call_starts(self):
        """An agent never seen here, with a breached cap at the gateway: its
        first call names it to the collector as it starts, so a second call
        made while the first (slow) one is still running is refused. The
        collector would otherwise learn the agent from the first call's
        record, at its end."""
        self.gw.set(agents={"fresh": [limit("cap-fresh", "agent", True)]})
        self.start("--policy-poll", "3600")
        w = self.world
        meta, _ = harness.load_case(CASE)
        slow = r'''
import http.client, ssl, sys
port, ca, body, case = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
c = http.client.HTTPSConnection("127.0.0.1", port, context=ssl.create_default_context(cafile=ca))
c.request("POST", "/v1/chat/completions", body=body, headers={"Host": "api.openai.com",
          "Content-Type": "application/json", "x-spaturzu-agent": "fresh", "x-test-case": case,
          "x-test-delay-ms": "4000"})
print(c.getresponse().status)
'''
        first = subprocess.Popen([harness.CLIENT_PYTHON, "-c", slow, str(w.port), w.ca, meta["request_body"], CASE],
                                 env=w.env(), stdout=subprocess.PIPE)
        try:
            self.wait_for("the new agent's policy", lambda: "fresh" in self.gw.state()["policyFetches"], timeout=3)
            time.sleep(1.0)  # the stated delay
            res, seen = self.calls("fresh")
            self.assertEqual([r[0] for r in res], [429])
            self.assertEqual(res[0][1]["budgetId"], "cap-fresh")
            self.assertEqual(seen, 0)
            self.assertIsNone(first.poll(), "the first call was still running")
        finally:
            out, _ = first.communicate(timeout=30)
        self.assertEqual(out.decode().strip(), "200", "the first call went through: nothing was known of it yet")

    def test_breach_pushed_by_the_event_stream(self):
        """No polling within the test: only the event makes the collector
        fetch again. The refusal follows within the stated second."""
        self.gw.set(agents={"capped": [limit("cap-agent", "agent", False)]})
        self.start("--policy-poll", "3600")
        self.wait_for("the event stream", lambda: self.gw.state()["openStreams"] == 1)
        res, seen = self.calls("capped", "free")
        self.assertEqual([r[0] for r in res], [200, 200])
        # The collector learns the agents from their records and fetches
        # their policies.
        self.wait_for("the policies", lambda: {"capped", "free", "(untagged)"} <= set(self.gw.state()["policyFetches"]))
        fetched = self.gw.state()["policyFetches"]["capped"]
        self.gw.set(agents={"capped": [limit("cap-agent", "agent", True)]},
                    push={"scope": "agent", "agentName": "capped"})
        self.wait_for("the fetch the event asked for", lambda: self.gw.state()["policyFetches"]["capped"] > fetched)
        time.sleep(1.0)  # the stated delay
        res, seen = self.calls("capped", "free", "capped")
        self.assertEqual([r[0] for r in res], [429, 200, 429])
        self.assertEqual(seen, 1, "the provider saw only the free agent's call")
        err = res[0][1]
        self.assertEqual((err["code"], err["scope"], err["period"], err["limitCost"], err["currentCost"],
                          err["agentName"]), ("budget_exceeded", "agent", "daily", "1.0000000000", "1.2500000000", "capped"))
        self.assertEqual(err["message"],
                         'spaturzu: agent/daily budget exceeded (1.2500000000 >= 1.0000000000) for agent "capped"')
        recs = self.world.wait_records(5)
        self.assertEqual(len(recs), 5)
        refused = [r for r in recs if "refused" in r]
        self.assertEqual([r["refused"]["budgetId"] for r in refused], ["cap-agent", "cap-agent"])
        time.sleep(1.0)
        accepted = self.gw.state()["accepted"]
        self.assertFalse(any(r["id"] in accepted for r in refused), "refusals are not logged to /v1/logs")
        self.assertEqual(len([r for r in recs if r["id"] in accepted]), 3)
        # A project breach fetches every cached policy again.
        counts = dict(self.gw.state()["policyFetches"])
        self.gw.set(project=[limit("cap-project", "project", True)], push={"scope": "project", "agentName": None})
        self.wait_for("every policy fetched again",
                      lambda: all(self.gw.state()["policyFetches"][a] > n for a, n in counts.items()))
        time.sleep(1.0)
        res, _ = self.calls("free", "someone-new")
        self.assertEqual([(r[0], r[1]["scope"]) for r in res], [(429, "project"), (429, "project")])
        out = subprocess.run([harness.SPATURZU, "budgets"], capture_output=True, text=True,
                             env=self.world.collector_env(SPATURZU_DB=self.world.db)).stdout
        self.assertIn("cap-project", out)
        self.assertIn("gateway", out)

    def test_polling_when_there_is_no_event_stream(self):
        self.gw.set(events="off")
        self.start("--policy-poll", "1")
        self.wait_for("a first fetch", lambda: "(untagged)" in self.gw.state()["policyFetches"])
        res, seen = self.calls("anyone")
        self.assertEqual(([r[0] for r in res], seen), ([200], 1))
        self.gw.set(project=[limit("project-daily", "project", True)])
        time.sleep(2.5)  # the interval, the fetch, and the stated second
        res, seen = self.calls("anyone", "other")
        self.assertEqual(([r[0] for r in res], seen), ([429, 429], 0))
        self.assertEqual(res[0][1]["message"], "spaturzu: project/daily budget exceeded (1.2500000000 >= 1.0000000000) for agent \"anyone\"")
        # An alert budget only warns; a lifted breach lets calls through.
        self.gw.set(project=[limit("project-daily", "project", True, enforcement="alert")])
        time.sleep(2.5)
        res, seen = self.calls("anyone")
        self.assertEqual(([r[0] for r in res], seen), ([200], 1))
        self.assertIn("budget project-daily (alert) exceeded by agent \"anyone\"", self.world.shim_log())
        self.assertIn("event stream is unavailable (HTTP 404)", self.world.collector_log())

    def test_event_stream_reconnects(self):
        self.start("--policy-poll", "3600", "--events-reconnect", "0.5")
        self.wait_for("the event stream", lambda: self.gw.state()["eventConnects"] == 1)
        self.gw.set(events="drop")
        # The dropped stream leaves the stub's list when its thread sees the
        # drop: one open stream alone can still be the old one.
        self.wait_for("the reconnection", lambda: self.gw.state()["eventConnects"] >= 2, timeout=5)
        self.wait_for("one stream", lambda: self.gw.state()["openStreams"] == 1, timeout=5)
        self.assertEqual(self.gw.state()["eventConnects"], 2)
        self.assertIn("event stream dropped", self.world.collector_log())
        # Events after the reconnection still count; an unreadable one
        # fetches everything.
        n = self.gw.state()["policyFetches"]["(untagged)"]
        self.gw.set(project=[limit("p", "project", True)], pushRaw="event: budget_breach\ndata: {nonsense\n\n")
        self.wait_for("the fetch", lambda: self.gw.state()["policyFetches"]["(untagged)"] > n)
        time.sleep(1.0)
        res, seen = self.calls("a")
        self.assertEqual(([r[0] for r in res], seen), ([429], 0))

    def test_gateway_down_fails_open_with_a_diagnostic(self):
        self.gw.set(project=[limit("project-daily", "project", True)])
        self.start("--policy-poll", "1")
        time.sleep(1.5)
        res, seen = self.calls("a")
        self.assertEqual(([r[0] for r in res], seen), ([429], 0))
        self.gw.set(policyMode="500")
        time.sleep(2.5)
        res, seen = self.calls("a", "b")
        self.assertEqual(([r[0] for r in res], seen), ([200, 200], 2))
        log = self.world.collector_log()
        self.assertIn("cannot fetch the gateway's policy for agent \"(untagged)\" (HTTP 500); its calls pass "
                      "until the gateway answers (fail-open)", log)
        self.gw.set(policyMode="ok")
        time.sleep(2.5)
        self.assertEqual([r[0] for r in self.calls("a")[0]], [429])
        self.assertIn("policy for agent \"(untagged)\" is back", self.world.collector_log())
        # Gone altogether: connection refused.
        self.gw.stop()
        time.sleep(2.5)
        res, seen = self.calls("a")
        self.assertEqual(([r[0] for r in res], seen), ([200], 1))
        self.assertIn("Couldn't connect to server", self.world.collector_log())
        out = subprocess.run([harness.SPATURZU, "budgets"], capture_output=True, text=True,
                             env=self.world.collector_env(SPATURZU_DB=self.world.db)).stdout
        self.assertIn("fail-open", out)

    def test_no_key_no_policy(self):
        """A wrong key gets 401: fail-open, reported, the key never logged."""
        self.gw.set(project=[limit("project-daily", "project", True)])
        self.world.start_collector(["--gateway", self.gw.url, "--policy-poll", "1"], SPATURZU_API_KEY="spa_wrong")
        time.sleep(1.5)
        res, seen = self.calls("a")
        self.assertEqual(([r[0] for r in res], seen), ([200], 1))
        log = self.world.collector_log()
        self.assertIn("(HTTP 401)", log)
        self.assertNotIn("spa_wrong", log)


if __name__ == "__main__":
    harness.main()
