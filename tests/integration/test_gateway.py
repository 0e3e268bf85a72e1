"""Forwarding to the gateway (GATEWAY.md) against its faithful stand-in:
the exact LogEntry, the key header, retries through 500, 429, hangs, dropped
connections and a gateway process that is down, a final 4xx, SIGKILL of the
collector mid-delivery, SIGTERM's bounded drain, and counts in equal counts
out with spool and socket together. Every record reaches the gateway's
accepted set, each id there once."""
import json
import os
import signal
import sqlite3
import time

import harness
from test_curl_h1 import curl_call
from test_python_stdlib import CLIENT, PLAN_CASES, plan

KEY = "spa_test_CANARY_KEY_4c1d"
FAST = ["--retry-base", "0.2", "--retry-max", "0.5", "--attempt-timeout", "1"]


class GatewayForwarding(harness.FreshWorldCase):
    def setUp(self):
        super().setUp()
        self.gw = harness.Gateway(self.world.dir, key=KEY)

    def tearDown(self):
        super().tearDown()
        self.gw.stop()

    def start(self, *args):
        self.world.start_collector(["--gateway", self.gw.url] + FAST + list(args), SPATURZU_API_KEY=KEY)

    def calls(self, agent="fwd-agent"):
        """Seven real calls (one an estimate) through Python under the shim."""
        before = len(self.world.records())
        self.world.run([harness.CLIENT_PYTHON, CLIENT, "http.client", str(self.world.port), self.world.ca, plan()],
                       SPATURZU_AGENT=agent)
        recs = self.world.wait_records(before + len(PLAN_CASES))
        self.assertEqual(len(recs), before + len(PLAN_CASES))
        return recs[before:]

    def rows(self):
        db = sqlite3.connect(self.world.db)
        try:
            return {r[0]: r[1:] for r in db.execute("SELECT id, delivery, attempts, last_error FROM calls")}
        finally:
            db.close()

    def wait_delivered(self, ids, timeout=15):
        """The gateway has them; the collector marks them when it reads the
        answers, a moment later."""
        end = time.time() + timeout
        while True:
            rows = self.rows()
            if all(rows.get(i, (0,))[0] == 1 for i in ids) or time.time() > end:
                return rows
            time.sleep(0.05)

    def test_each_record_arrives_as_the_contract_says(self):
        self.start()
        recs = self.calls()
        # An error row too: usageSource must be omitted there.
        self.world.run(curl_call(self.world, "openai/chat_nonstream_gpt4o_usage_details", "length",
                                 ["-H", "x-test-error: 503", "-o", "/dev/null"]), SPATURZU_AGENT="fwd-agent")
        recs = self.world.wait_records(len(recs) + 1)
        ids = [r["id"] for r in recs]
        st = self.gw.wait_accepted(ids)
        self.assertEqual(st["invalid"], [])
        self.assertEqual(sorted(st["accepted"]), sorted(ids))
        self.assertEqual(set(st["accepted"].values()), {1})
        self.assertEqual(st["keysSeen"], [KEY])
        self.assertEqual(st["posts"], len(ids), "one POST per record, none repeated")
        rows = self.wait_delivered(ids)
        for r in recs:
            self.assertEqual(rows[r["id"]][0], 1, "delivered rows are marked")
        estimate = [r for r in recs if r.get("usageSource") == "tiktoken"]
        self.assertEqual(len(estimate), 1)
        errors = [r for r in recs if r["status"] >= 400]
        self.assertEqual(len(errors), 1)
        # The key never reaches the log or the database.
        self.assertNotIn(KEY, self.world.collector_log())
        with open(self.world.db, "rb") as f:
            self.assertNotIn(KEY.encode(), f.read())

    def test_body_is_exactly_the_logentry(self):
        """What goes out is the record's LogEntry fields, nothing local."""
        import subprocess
        rec = {"id": "01968d1c-2b3a-7c4d-8e5f-0123456789ab", "provider": "anthropic", "model": "claude-sonnet-4-5",
               "responseModel": "claude-sonnet-4-5-20250929", "runId": "4a0b8c0e-6c55-4b5e-9a3e-2b1d1c0f9e11",
               "agentName": "writer", "agentPath": ["planner", "writer"], "promptTokens": 3,
               "completionTokens": 391, "cachedInputTokens": 0, "cacheWriteTokens": 1111, "usageSource": "provider",
               "status": 200, "latencyMs": 812, "stream": False, "ttftMs": 700, "host": "api.anthropic.com",
               "endpoint": "/v1/messages", "pid": 42, "exe": "/usr/bin/x", "tags": {"team": "core"},
               "startedAt": "2026-11-23T09:00:00.000Z"}
        self.start()
        import socket
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.sendto(json.dumps(rec).encode(), self.world.socket)
        s.close()
        self.gw.wait_accepted([rec["id"]])
        # Re-run the stub's validation on what we would send, and compare values.
        out = subprocess.run([harness.SPATURZU, "calls", "--json", "--db", self.world.db], capture_output=True,
                             text=True, check=True).stdout
        self.assertIn(rec["id"], out)
        st = self.gw.state()
        self.assertEqual(st["invalid"], [])
        self.assertEqual(list(st["accepted"]), [rec["id"]])

    def fault_then_recover(self, mode, count):
        self.gw.control(mode, count)
        self.start()
        recs = self.calls()
        ids = [r["id"] for r in recs]
        st = self.gw.wait_accepted(ids, timeout=60)
        self.assertEqual(sorted(st["accepted"]), sorted(ids), self.world.collector_log())
        self.assertEqual(set(st["accepted"].values()), {1})
        self.assertGreaterEqual(st["byOutcome"].get(mode, 0), count)
        rows = self.wait_delivered(ids)
        self.assertTrue(all(rows[i][0] == 1 for i in ids))
        self.assertTrue(any(rows[i][1] > 1 for i in ids), "some rows needed retries")
        return rows

    def test_retries_through_500(self):
        self.fault_then_recover("500", 12)

    def test_retries_through_429(self):
        self.fault_then_recover("429", 9)

    def test_retries_through_dropped_connections(self):
        self.fault_then_recover("drop", 9)

    def test_retries_through_hangs_with_the_attempt_timeout(self):
        # The stub never answers a hung POST: each of the 7 rows got through
        # only because its first attempt timed out and was retried.
        rows = self.fault_then_recover("hang", 7)
        self.assertTrue(all(r[1] >= 2 for r in rows.values()), rows)

    def test_gateway_down_longer_than_the_schedule(self):
        """The gateway process is gone for longer than 1+2+4+8+16 retries
        (scaled); rows wait and go when it is back on the same port."""
        port = self.gw.port
        self.gw.stop()
        self.start()
        recs = self.calls()
        ids = [r["id"] for r in recs]
        time.sleep(4)  # 0.2 x (1+2+4+8+16) = 6.2 s scaled schedule, retry-max 0.5 s beyond it
        rows = self.rows()
        self.assertTrue(all(rows[i][0] == 0 for i in ids))
        self.assertTrue(all(rows[i][1] >= 3 for i in ids), rows)
        self.assertIn("Couldn't connect", rows[ids[0]][2] or "")
        self.gw = harness.Gateway(self.world.dir, key=KEY, port=port)
        st = self.gw.wait_accepted(ids, timeout=30)
        self.assertEqual(sorted(st["accepted"]), sorted(ids))

    def test_final_4xx_is_not_retried(self):
        self.gw.control("400", 1)
        self.start("--max-in-flight", "1")
        recs = self.calls()
        ids = [r["id"] for r in recs]
        st = self.gw.wait_accepted(ids[1:], timeout=30)
        time.sleep(1.5)
        st = self.gw.state()
        self.assertEqual(st["posts"], len(ids), "the refused one was not sent again")
        self.assertNotIn(ids[0], st["accepted"])
        rows = self.rows()
        self.assertEqual(rows[ids[0]][0], 2)
        self.assertIn("HTTP 400", rows[ids[0]][2])
        self.assertIn("refused record %s for good" % ids[0], self.world.collector_log())

    def test_sigkill_mid_delivery_loses_nothing(self):
        self.gw.control("hang")
        self.start()
        recs = self.calls()
        ids = [r["id"] for r in recs]
        end = time.time() + 10
        while self.gw.state()["posts"] < len(ids) and time.time() < end:
            time.sleep(0.05)
        self.world.collector.send_signal(signal.SIGKILL)
        self.world.collector.wait()
        self.world.collector = None
        self.gw.control("ok")
        self.start()
        st = self.gw.wait_accepted(ids, timeout=30)
        self.assertEqual(sorted(st["accepted"]), sorted(ids))
        self.assertEqual(set(st["accepted"].values()), {1})

    def test_sigterm_drains_within_its_bound(self):
        self.gw.control("hang")
        self.start("--drain-timeout", "1.5", "--attempt-timeout", "30")
        recs = self.calls()
        ids = [r["id"] for r in recs]
        end = time.time() + 10
        while self.gw.state()["posts"] < len(ids) and time.time() < end:
            time.sleep(0.05)
        t0 = time.monotonic()
        self.world.collector.send_signal(signal.SIGTERM)
        self.world.collector.wait(timeout=10)
        took = time.monotonic() - t0
        self.world.collector = None
        self.assertLess(took, 4, "SIGTERM waits for POSTs in flight at most --drain-timeout")
        self.assertIn("still in flight", self.world.collector_log())
        self.assertTrue(all(r[0] == 0 for r in self.rows().values()))
        self.gw.control("ok")
        self.start()
        st = self.gw.wait_accepted(ids, timeout=30)
        self.assertEqual(sorted(st["accepted"]), sorted(ids))

    def test_spool_and_socket_under_load_counts_match(self):
        """Records through the socket and through spool files at once, the
        collector restarted in the middle: stored = sent = accepted."""
        import socket
        import uuid as uuidlib
        self.start("--max-in-flight", "50")
        n_sock, n_spool = 3000, 2000

        def rec(i):
            u = uuidlib.UUID(int=(0x019a << 112) | (7 << 76) | (0x8 << 60) | i)
            return json.dumps({"id": str(u), "provider": "openai", "model": "gpt-4o-mini", "status": 200,
                               "promptTokens": i % 500, "completionTokens": 7, "agentName": "load",
                               "runId": "4a0b8c0e-6c55-4b5e-9a3e-2b1d1c0f9e11"})
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        os.makedirs(self.world.spool, exist_ok=True)
        sent_sock = 0
        for i in range(n_sock):
            if i == n_sock // 2:
                self.world.stop_collector()
                # the shim's spool format: one record per line
                with open(os.path.join(self.world.spool, "load-1.jsonl"), "w") as f:
                    for j in range(n_spool):
                        f.write(rec(n_sock + j) + "\n")
                self.start("--max-in-flight", "50")
            while True:
                try:
                    s.sendto(rec(i).encode(), self.world.socket)
                    sent_sock += 1
                    break
                except BlockingIOError:
                    time.sleep(0.001)
        total = n_sock + n_spool
        ids = [json.loads(rec(i))["id"] for i in range(total)]
        st = self.gw.wait_accepted(ids, timeout=120)
        self.assertEqual(len(st["accepted"]), total)
        self.assertEqual(set(st["accepted"]), set(ids))
        rows = self.wait_delivered(ids)
        self.assertEqual(len(rows), total)
        self.assertEqual(sum(1 for r in rows.values() if r[0] == 1), total)


if __name__ == "__main__":
    harness.main()
