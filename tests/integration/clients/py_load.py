"""Many LLM calls over many concurrent connections, with the process's
resident memory sampled as they go.
Usage: py_load.py PORT CA CONNECTIONS CALLS
Prints JSON: {"calls": N, "rss_kb": [after 20% of the calls, at the end]}."""
import asyncio
import json
import socket
import ssl
import sys

import aiohttp

port, ca, conns, total = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
_getaddrinfo = socket.getaddrinfo
socket.getaddrinfo = lambda host, *a, **k: _getaddrinfo("127.0.0.1" if host == "api.openai.com" else host, *a, **k)
BODY = json.dumps({"messages": [{"content": "Hello! How are you doing?", "role": "user"}], "model": "gpt-4o",
                   "stream": False}).encode()


def rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])


async def main():
    ctx = ssl.create_default_context(cafile=ca)
    done, samples = 0, []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=conns, ssl=ctx)) as s:
        async def worker(n):
            nonlocal done
            for _ in range(n):
                async with s.post("https://api.openai.com:%d/v1/chat/completions" % port, data=BODY,
                                  headers={"content-type": "application/json", "x-test-framing": "chunked"}) as r:
                    await r.read()
                    assert r.status == 200
                done += 1
                if done == total // 5:
                    samples.append(rss_kb())
        per = total // conns
        await asyncio.gather(*(worker(per) for _ in range(conns)))
    samples.append(rss_kb())
    print(json.dumps({"calls": done, "rss_kb": samples}))


asyncio.run(main())
