"""Local budgets on the collector's side: the budgets file, the spend of the
current period from the store, the state published in the budget map the
shims read (sequence lock, fixed layout), `spaturzu budgets`, SIGHUP, and a
broken file refused with its reason. (Refusing calls in the shim is the
next part of issue 7.)"""
import json
import os
import signal
import socket
import struct
import subprocess
import time
import uuid

import harness

HEADER = struct.Struct("<QQqII")
ENTRY = struct.Struct("<64s40sBBBBIqq")


def read_map(path):
    """As a shim reads it: retry while the writer holds the sequence odd,
    and while the file is not published yet (a collector that has just
    bound its socket creates the map, then fills it; a shim sees no
    budgets until then)."""
    for _ in range(100):
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            data = b""
        if len(data) < HEADER.size or HEADER.unpack_from(data, 0)[0] == 0:
            time.sleep(0.02)
            continue
        magic, seq, updated_ms, count, _ = HEADER.unpack_from(data, 0)
        entries = []
        for i in range(count):
            agent, bid, scope, period, enf, breached, _, limit, cur = ENTRY.unpack_from(data, HEADER.size + i * ENTRY.size)
            entries.append({"agent": agent.rstrip(b"\0").decode(), "id": bid.rstrip(b"\0").decode(),
                            "scope": scope, "period": period, "hardCap": enf == 1, "breached": bool(breached),
                            "limit": limit, "current": cur})
        with open(path, "rb") as f:
            seq2 = HEADER.unpack_from(f.read(HEADER.size), 0)[1]
        if seq % 2 == 0 and seq == seq2:
            return magic, seq, updated_ms, entries
    raise AssertionError("budget map stayed locked or unpublished")


def record(i, agent, prompt, **over):
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    r = {"id": str(uuid.UUID(int=(0x019d << 112) | (7 << 76) | (0x8 << 60) | i)), "provider": "openai",
         "model": "gpt-4o", "status": 200, "promptTokens": prompt, "completionTokens": 0, "agentName": agent,
         "agentPath": [agent], "startedAt": now}
    r.update(over)
    return r


class Budgets(harness.FreshWorldCase):
    def setUp(self):
        super().setUp()
        self.cfg = os.path.join(self.world.dir, "config", "spaturzu")
        os.makedirs(self.cfg)
        self.map = os.path.join(os.path.dirname(self.world.socket), "budgets.map")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)

    def tearDown(self):
        self.sock.close()
        super().tearDown()

    def write_budgets(self, budgets):
        with open(os.path.join(self.cfg, "budgets.json"), "w") as f:
            json.dump({"budgets": budgets}, f)

    def budgets_cmd(self, *args):
        e = self.world.collector_env(SPATURZU_DB=self.world.db)
        return subprocess.run([harness.SPATURZU, "budgets"] + list(args), capture_output=True, text=True, env=e)

    def wait_map(self, pred, timeout=5):
        end = time.time() + timeout
        while True:
            m = read_map(self.map)
            if pred(m[3]) or time.time() > end:
                return m
            time.sleep(0.05)

    def test_spend_crosses_a_cap_and_the_map_says_so(self):
        self.write_budgets([
            {"id": "triage-daily", "scope": "agent", "agent": "triage", "period": "daily", "limitUsd": "0.01",
             "enforcement": "hard_cap", "alertThresholdPct": 50},
            {"id": "project-month", "scope": "project", "period": "monthly", "limitUsd": "100",
             "enforcement": "alert"},
        ])
        self.world.start_collector()
        magic, seq, updated, entries = read_map(self.map)
        self.assertEqual(magic, 0x3147445542415053)
        self.assertEqual([(e["id"], e["agent"], e["hardCap"], e["breached"]) for e in entries],
                         [("triage-daily", "triage", True, False), ("project-month", "", False, False)])
        self.assertEqual(entries[0]["limit"], 10 ** 10)  # 0.01 USD in picodollars
        st = os.stat(self.map)
        self.assertEqual(st.st_mode & 0o777, 0o600)
        # 2000 prompt tokens of gpt-4o at 2.50 = 0.005: half the cap, an alert.
        self.sock.sendto(json.dumps(record(1, "triage", 2000)).encode(), self.world.socket)
        m = self.wait_map(lambda es: es[0]["current"] > 0)
        self.assertEqual(m[3][0]["current"], 5 * 10 ** 9)
        self.assertFalse(m[3][0]["breached"])
        self.assertGreater(m[1], seq, "each publication moves the sequence")
        out = self.budgets_cmd().stdout
        self.assertRegex(out, r"triage-daily +agent +triage +daily +0\.01 +0\.005 +50\.0% +hard_cap +file +alert")
        # Another agent's call counts for the project, not for triage.
        self.sock.sendto(json.dumps(record(2, "writer", 100000)).encode(), self.world.socket)
        # Then triage crosses its cap: 0.005 + 0.0075 >= 0.01.
        self.sock.sendto(json.dumps(record(3, "triage", 3000)).encode(), self.world.socket)
        m = self.wait_map(lambda es: es[0]["breached"])
        self.assertTrue(m[3][0]["breached"])
        self.assertEqual(m[3][0]["current"], 125 * 10 ** 8)
        self.assertEqual(m[3][1]["current"], (2000 + 100000 + 3000) * 2500000)
        self.assertIn("budget triage-daily breached: 0.0125 >= 0.01 USD; its calls are refused",
                      self.world.collector_log())
        j = json.loads(self.budgets_cmd("--json").stdout)
        self.assertEqual([(b["id"], b["currentUsd"], b["calls"], b["state"]) for b in j["budgets"]],
                         [("triage-daily", "0.0125", 2, "BREACHED: calls refused"),
                          ("project-month", "0.2625", 3, "ok")])
        # Yesterday's spend is not today's: a daily budget starts at 00:00 UTC.
        old = record(4, "triage", 10 ** 6, startedAt="2020-01-01T00:00:00.000Z")
        self.sock.sendto(json.dumps(old).encode(), self.world.socket)
        time.sleep(0.6)
        self.assertEqual(read_map(self.map)[3][0]["current"], 125 * 10 ** 8)

        # SIGHUP: a higher limit lifts the breach.
        self.write_budgets([{"id": "triage-daily", "scope": "agent", "agent": "triage", "period": "daily",
                             "limitUsd": "1", "enforcement": "hard_cap"}])
        self.world.collector.send_signal(signal.SIGHUP)
        m = self.wait_map(lambda es: len(es) == 1 and not es[0]["breached"])
        self.assertEqual([(e["id"], e["breached"]) for e in m[3]], [("triage-daily", False)])
        self.assertIn("budget triage-daily under its limit again", self.world.collector_log())
        # A broken file on SIGHUP keeps the budgets in force.
        with open(os.path.join(self.cfg, "budgets.json"), "w") as f:
            f.write('{"budgets": [{"id": "x", "scope": "agent", "period": "daily", "limitUsd": "1"}]}')
        self.world.collector.send_signal(signal.SIGHUP)
        time.sleep(0.8)
        self.assertIn("SIGHUP: the budgets file is broken", self.world.collector_log())
        self.assertEqual([e["id"] for e in read_map(self.map)[3]], ["triage-daily"])

    def test_broken_budgets_refused_at_start_with_the_reason(self):
        for bad, says in [
            ([{"id": "a", "scope": "agent", "period": "daily", "limitUsd": "1"}], 'budget "a": an agent budget names'),
            ([{"id": "a", "scope": "project", "period": "weekly", "limitUsd": "1"}], '"period" must be'),
            ([{"id": "a", "scope": "project", "period": "daily", "limitUsd": 1}], '"limitUsd" must be a positive'),
            ([{"id": "a", "scope": "project", "period": "daily", "limitUsd": "1", "enforce": "hard_cap"}],
             'unknown field "enforce"'),
        ]:
            self.write_budgets(bad)
            p = subprocess.run([harness.SPATURZU, "collector", "--foreground", "--socket", self.world.socket,
                                "--db", self.world.db], capture_output=True, text=True, timeout=20,
                               env=self.world.collector_env())
            self.assertEqual(p.returncode, 1)
            self.assertIn(says, p.stderr)
            self.assertIn("budgets.json", p.stderr)
        os.unlink(os.path.join(self.cfg, "budgets.json"))
        self.assertIn("No budgets", self.budgets_cmd().stdout)


if __name__ == "__main__":
    harness.main()
