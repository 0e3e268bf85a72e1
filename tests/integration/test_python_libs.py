"""httpx with HTTP/2, requests and aiohttp make LLM calls of every provider
under the shim, streaming and not: exact records, identical output."""
import json
import os

import harness

CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "clients", "py_libs.py")


def plan(cases, framings):
    out = []
    for i, case in enumerate(cases):
        meta, _ = harness.load_case(case)
        out.append({"host": meta["request_host"], "path": meta["request_path"], "body": meta["request_body"],
                    "framing": framings[i % len(framings)], "case": case, "stream": bool(meta.get("streamed"))})
    return out


class PythonLibs(harness.Case):
    def check(self, mode, framings, version):
        cases = harness.all_cases()
        plan_file = os.path.join(self.world.dir, "plan-%s.json" % mode)
        with open(plan_file, "w") as f:
            json.dump(plan(cases, framings), f)
        argv = [harness.CLIENT_PYTHON, CLIENT, mode, str(self.world.port), self.world.ca, plan_file]
        before = len(self.world.records())
        shimmed = self.world.run(argv, SPATURZU_AGENT=mode).stdout
        plain = self.world.run(argv, preload=False).stdout
        self.assertEqual(shimmed, plain, "%s: output differs under the shim" % mode)
        lines = shimmed.decode().splitlines()
        self.assertEqual(len(lines), len(cases))
        self.assertTrue(all(l.startswith(version) for l in lines), lines[:3])
        recs = self.world.wait_records(before + len(cases))[before:]
        self.assertEqual(len(recs), len(cases), self.world.shim_log())
        for rec, case in zip(recs, cases):
            self.assertRecordMatches(rec, case, agent=mode)

    def test_httpx_http2(self):
        self.check("httpx-h2", ["chunked", "gzip"], "HTTP/2")

    def test_requests(self):
        self.check("requests", ["chunked", "gzip", "length", "close"], "HTTP/1.1")

    def test_aiohttp(self):
        self.check("aiohttp", ["length", "chunked-gzip", "chunked"], "HTTP/1.1")


if __name__ == "__main__":
    harness.main()
