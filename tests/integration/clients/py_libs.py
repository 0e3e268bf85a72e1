"""Python HTTP libraries making LLM calls as unmodified programs do.
Usage: py_libs.py MODE PORT CA PLAN_FILE
  MODE  httpx-h2 | requests | aiohttp
  PLAN_FILE holds JSON [{"host":..., "path":..., "body":..., "framing":..., "case":..., "stream": bool}, ...]
Provider host names resolve to 127.0.0.1 inside this process only, so TLS
verification and SNI are the real ones. Prints per call: HTTP version,
status and the SHA-256 of the body bytes the library gave."""
import hashlib
import json
import socket
import sys

MODE, PORT, CA = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(sys.argv[4]) as f:
    PLAN = json.load(f)

_getaddrinfo = socket.getaddrinfo


def local_getaddrinfo(host, *args, **kwargs):
    if isinstance(host, str) and any(host == c["host"] for c in PLAN):
        host = "127.0.0.1"
    return _getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = local_getaddrinfo


def url(c):
    return "https://%s:%d%s" % (c["host"], PORT, c["path"])


def headers(c):
    return {"content-type": "application/json", "authorization": "Bearer sk-test-not-a-key",
            "x-test-framing": c["framing"], "x-test-case": c["case"]}


def out(version, status, data):
    print(version, status, hashlib.sha256(data).hexdigest(), flush=True)


def run_httpx():
    import httpx
    with httpx.Client(http2=True, verify=CA) as client:
        for c in PLAN:
            if c["stream"]:
                with client.stream("POST", url(c), content=c["body"].encode(), headers=headers(c)) as r:
                    data = b"".join(r.iter_bytes())
            else:
                r = client.post(url(c), content=c["body"].encode(), headers=headers(c))
                data = r.content
            out(r.http_version, r.status_code, data)


def run_requests():
    import requests
    with requests.Session() as s:
        for c in PLAN:
            r = s.post(url(c), data=c["body"].encode(), headers=headers(c), verify=CA, stream=c["stream"])
            data = b"".join(r.iter_content(chunk_size=7)) if c["stream"] else r.content
            out("HTTP/1.1", r.status_code, data)


def run_aiohttp():
    import asyncio
    import ssl

    import aiohttp

    async def main():
        ctx = ssl.create_default_context(cafile=CA)
        async with aiohttp.ClientSession() as s:
            for c in PLAN:
                async with s.post(url(c), data=c["body"].encode(), headers=headers(c), ssl=ctx) as r:
                    if c["stream"]:
                        data = b"".join([chunk async for chunk in r.content.iter_chunked(9)])
                    else:
                        data = await r.read()
                    out("HTTP/1.1", r.status, data)

    asyncio.run(main())


{"httpx-h2": run_httpx, "requests": run_requests, "aiohttp": run_aiohttp}[MODE]()
