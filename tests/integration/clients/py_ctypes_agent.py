"""A Python program that names its agents through ctypes, loading the no-op
libspaturzu; it runs the same with and without the shim.
Usage: py_ctypes_agent.py LIBSPATURZU PORT CA"""
import ctypes
import json
import ssl
import sys
import urllib.request

lib = ctypes.CDLL(sys.argv[1])
port, ca = int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)


def chat():
    body = {"messages": [{"content": "Hello! How are you doing?", "role": "user"}], "model": "gpt-4o", "stream": False}
    req = urllib.request.Request("https://127.0.0.1:%d/v1/chat/completions" % port, data=json.dumps(body).encode(),
                                 headers={"Host": "api.openai.com", "Content-Type": "application/json"})
    urllib.request.urlopen(req, context=ctx).read()


lib.spaturzu_set_agent(b"ctypes-agent")
chat()
lib.spaturzu_begin_run(b"planner", b"phase=plan")
chat()
lib.spaturzu_set_tag(b"phase", b"review")
chat()
lib.spaturzu_end_run()
print("active", lib.spaturzu_active())
