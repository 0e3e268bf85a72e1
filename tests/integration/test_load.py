"""10,000 calls over 200 concurrent connections: the client's memory stays
flat under the shim, and every call's record is stored exactly once (the
burst overflows the socket's queue, so the spool carries the rest)."""
import json
import os

import harness

CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "clients", "py_load.py")
CONNECTIONS, CALLS = 200, 10000


class Load(harness.Case):
    def test_many_calls_many_connections(self):
        before = len(self.world.records())
        p = self.world.run([harness.CLIENT_PYTHON, CLIENT, str(self.world.port), self.world.ca, str(CONNECTIONS),
                            str(CALLS)], SPATURZU_AGENT="load")
        out = json.loads(p.stdout)
        self.assertEqual(out["calls"], CALLS)
        early, late = out["rss_kb"]
        # After the first 2,000 calls every connection exists; 8,000 more
        # calls may not grow the process by more than a few MiB. (ASan keeps
        # freed memory in quarantine, so only the plain run can show it.)
        if not harness.SANITIZE:
            self.assertLess(late - early, 8 * 1024, "resident memory grew from %d to %d KiB" % (early, late))
        recs = self.world.wait_records(before + CALLS, timeout=120)[before:]
        self.assertEqual(len(recs), CALLS, "counts in must equal counts out")
        self.assertEqual(len({r["id"] for r in recs}), CALLS)
        self.assertEqual({r["agentName"] for r in recs}, {"load"})
        self.assertEqual({r["promptTokens"] for r in recs}, {14})


if __name__ == "__main__":
    harness.main()
