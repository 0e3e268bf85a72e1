"""A requests Session with default headers, as an SDK configured with
default_headers sends them: x-spaturzu-agent, -run and -tags.
Usage: py_requests_headers.py PORT CA RUN_ID"""
import sys

import requests

port, ca, run = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = requests.Session()
s.headers.update({"Host": "api.openai.com", "x-spaturzu-agent": "header-agent",
                  "x-spaturzu-run": run, "x-spaturzu-tags": "via=headers,team=sdk"})
for _ in range(2):
    r = s.post("https://127.0.0.1:%d/v1/chat/completions" % port,
               json={"messages": [{"content": "Hello! How are you doing?", "role": "user"}], "model": "gpt-4o",
                     "stream": False}, verify=ca)
    r.raise_for_status()
print("ok")
