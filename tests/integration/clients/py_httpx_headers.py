"""An httpx Client with HTTP/2 and default headers, as an SDK configured with
default_headers sends them: x-spaturzu-agent, -run and -tags.
Usage: py_httpx_headers.py PORT CA RUN_ID"""
import socket
import sys

import httpx

port, ca, run = int(sys.argv[1]), sys.argv[2], sys.argv[3]
_getaddrinfo = socket.getaddrinfo
socket.getaddrinfo = lambda host, *a, **k: _getaddrinfo("127.0.0.1" if host == "api.openai.com" else host, *a, **k)
headers = {"x-spaturzu-agent": "h2-header-agent", "x-spaturzu-run": run, "x-spaturzu-tags": "via=h2"}
with httpx.Client(http2=True, verify=ca, headers=headers) as client:
    for _ in range(2):
        r = client.post("https://api.openai.com:%d/v1/chat/completions" % port,
                        json={"messages": [{"content": "Hello! How are you doing?", "role": "user"}],
                              "model": "gpt-4o", "stream": False})
        r.raise_for_status()
        print(r.http_version)
