#!/usr/bin/env python3
"""A stand-in for the hosted spaturzu gateway, faithful to ../shared/GATEWAY.md,
for tests and benchmarks (the real one is out of reach here).

POST /v1/logs takes one LogEntry: it checks the x-spaturzu-key header (when
the stub was given a key; with none, the header must be absent), the content
type, and every field's name and type, then answers 201 {"requestId": id}.
An entry with a field the contract does not name, a missing required field
or a wrong type gets 400, and is kept in `invalid` so a test can say why.
The accepted set is keyed by id, as the gateway deduplicates on it; how
often each id arrived is kept too.

Faults on command, POST /_control {"mode": M, "count": N}: M is one of
ok, 500, 429, 400, hang (read the request, never answer), drop (read it and
close the connection). With count, the mode lasts for N requests, then ok.
GET /_state returns what was received. GET /healthz answers {"ok": true}.

Budgets, as GATEWAY.md has them:
- GET /v1/agents/{agent}/policy answers {"agent", "agentId", "limits"}: the
  project's limits, then the agent's own ("(untagged)" gets the project's
  only). The key is checked as for /v1/logs. Each fetch is counted per agent.
- GET /v1/projects/_me/events is a text/event-stream that stays open; it
  carries the events the test pushes, and a comment every 15 s.
Set on command, POST /_control with any of:
  {"project": [limit, ...]}              the project's limits
  {"agents": {"name": [limit, ...]}}     agents' own limits (merged)
  {"push": {"scope": ..., "agentName": ...}}  a budget_breach event to every
                                         open stream (or "pushRaw": an event's
                                         raw text)
  {"events": "on"|"off"|"drop"}          off: the stream answers 404; drop:
                                         the open streams are closed
  {"policyMode": "ok"|"500"}             policy fetches fail with 500
A limit is given as the contract writes it (budgetId, scope, period,
limitCost, currentCost, pctUsed, alertThresholdPct, breached, enforcement).

With --log FILE every request (line, headers, body) is appended there as
it arrived, for tests that look for what must never be sent.

Run: gateway.py --port-file F [--key K] [--cert C --cert-key K] [--log FILE]
"""
import argparse
import json
import os
import re
import socket
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
LOGENTRY_FIELDS = {
    "id", "provider", "model", "runId", "parentRequestId", "agentName", "agentPath", "promptTokens",
    "completionTokens", "cachedInputTokens", "usageSource", "status", "latencyMs", "tags", "userId",
    "sessionId", "metadata",
}


def validate(entry):
    """Returns None if the entry follows the contract, else the reason."""
    if not isinstance(entry, dict):
        return "body is not a JSON object"
    extra = set(entry) - LOGENTRY_FIELDS
    if extra:
        return "fields outside the contract: %s" % sorted(extra)
    for req in ("id", "provider", "model", "status"):
        if req not in entry:
            return "missing " + req
    if not isinstance(entry["id"], str) or not UUID.match(entry["id"]):
        return "id is not a UUID"
    if entry["id"][14] != "7":
        return "id is not a UUIDv7"
    for k in ("provider", "model", "runId", "parentRequestId", "agentName", "userId", "sessionId"):
        if k in entry and (not isinstance(entry[k], str) or not entry[k]):
            return k + " must be a non-empty string"
    if entry["provider"] != entry["provider"].lower() or entry["provider"] == "google":
        return "provider must be a lowercase name (gemini, not google)"
    if "runId" in entry and not UUID.match(entry["runId"]):
        return "runId is not a UUID"
    if "agentPath" in entry:
        p = entry["agentPath"]
        if not isinstance(p, list) or not all(isinstance(x, str) and x for x in p):
            return "agentPath must be a list of strings"
    for k in ("promptTokens", "completionTokens", "cachedInputTokens", "latencyMs"):
        if k in entry and (type(entry[k]) is not int or entry[k] < 0):
            return k + " must be a non-negative integer"
    if type(entry["status"]) is not int or not 100 <= entry["status"] <= 599:
        return "status must be an integer in 100..599"
    if "usageSource" in entry:
        if entry["usageSource"] not in ("provider", "tiktoken"):
            return "usageSource must be provider or tiktoken"
        if entry["status"] >= 400:
            return "usageSource is omitted on error rows"
    if "tags" in entry:
        t = entry["tags"]
        if not isinstance(t, dict) or len(t) > 32:
            return "tags: an object of at most 32 keys"
        for k, v in t.items():
            if not 1 <= len(k) <= 64 or not isinstance(v, str) or len(v) > 256:
                return "tags: keys of 1..64 chars, string values up to 256"
    return None


class State:
    def __init__(self, key):
        self.lock = threading.Lock()
        self.key = key
        self.mode = "ok"
        self.mode_left = None
        self.accepted = {}  # id -> times received with 2xx
        self.posts = 0
        self.by_outcome = {}
        self.invalid = []
        self.keys_seen = set()
        self.release = threading.Event()
        self.project_limits = []
        self.agent_limits = {}
        self.policy_fetches = {}
        self.policy_mode = "ok"
        self.events_mode = "on"
        self.streams = []  # one queue (a list and a condition) per open stream
        self.event_connects = 0

    def take_mode(self):
        with self.lock:
            mode = self.mode
            if self.mode_left is not None:
                self.mode_left -= 1
                if self.mode_left <= 0:
                    self.mode, self.mode_left = "ok", None
            return mode


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "spaturzu-gateway-stub"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        n = int(self.headers.get("content-length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        st = self.server.state
        if self.server.raw_log:
            with st.lock, open(self.server.raw_log, "ab") as f:
                f.write(self.requestline.encode() + b"\n" + str(self.headers).encode() + b"\n")
        if self.path == "/healthz":
            return self.reply(200, {"ok": True})
        if self.path == "/_state":
            with st.lock:
                return self.reply(200, {"accepted": st.accepted, "posts": st.posts, "byOutcome": st.by_outcome,
                                        "invalid": st.invalid, "keysSeen": sorted(st.keys_seen),
                                        "policyFetches": st.policy_fetches, "eventConnects": st.event_connects,
                                        "openStreams": len(st.streams)})
        m = re.match(r"^/v1/agents/([^/?]+)/policy$", self.path)
        if m:
            return self.policy(urllib.parse.unquote(m.group(1)))
        if self.path == "/v1/projects/_me/events":
            return self.events()
        self.reply(404, {"error": "not found"})

    def key_ok(self):
        st = self.server.state
        key = self.headers.get("x-spaturzu-key")
        if key is not None:
            with st.lock:
                st.keys_seen.add(key)
        return (st.key or None) == key

    def policy(self, agent):
        st = self.server.state
        with st.lock:
            st.policy_fetches[agent] = st.policy_fetches.get(agent, 0) + 1
            mode = st.policy_mode
            limits = list(st.project_limits)
            if agent != "(untagged)":
                limits += st.agent_limits.get(agent, [])
        if not self.key_ok():
            return self.reply(401, {"error": "bad or missing x-spaturzu-key"})
        if mode != "ok":
            return self.reply(int(mode), {"error": "injected " + mode})
        self.reply(200, {"agent": agent, "agentId": None if agent == "(untagged)" else "ag_" + agent,
                         "limits": limits})

    def events(self):
        st = self.server.state
        if not self.key_ok():
            return self.reply(401, {"error": "bad or missing x-spaturzu-key"})
        if "text/event-stream" not in (self.headers.get("accept") or ""):
            return self.reply(406, {"error": "accept: text/event-stream"})
        with st.lock:
            if st.events_mode == "off":
                return self.reply(404, {"error": "no event stream"})
            st.event_connects += 1
            q = {"items": [], "cond": threading.Condition(st.lock), "closed": False}
            st.streams.append(q)
        self.close_connection = True
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.end_headers()
        try:
            self.wfile.write(b": connected\n\n")
            self.wfile.flush()
            while True:
                with st.lock:
                    if not q["items"] and not q["closed"]:
                        q["cond"].wait(15)
                    items, q["items"] = q["items"], []
                    closed = q["closed"]
                if closed:
                    break
                for text in items or [": keep-alive\n\n"]:
                    self.wfile.write(text.encode())
                self.wfile.flush()
        except OSError:
            pass
        finally:
            with st.lock:
                if q in st.streams:
                    st.streams.remove(q)
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def do_POST(self):
        st = self.server.state
        body = self.read_body()
        if self.server.raw_log:
            with st.lock, open(self.server.raw_log, "ab") as f:
                f.write(self.requestline.encode() + b"\n" + str(self.headers).encode() + body + b"\n")
        if self.path == "/_control":
            ctl = json.loads(body or b"{}")
            with st.lock:
                if "mode" in ctl or not ctl:
                    st.mode = ctl.get("mode", "ok")
                    st.mode_left = ctl.get("count")
                    if st.mode != "hang":
                        st.release.set()
                        st.release = threading.Event()
                if "project" in ctl:
                    st.project_limits = ctl["project"]
                if "agents" in ctl:
                    st.agent_limits.update(ctl["agents"])
                if "policyMode" in ctl:
                    st.policy_mode = ctl["policyMode"]
                if "events" in ctl:
                    st.events_mode = "off" if ctl["events"] == "off" else "on"
                    if ctl["events"] in ("off", "drop"):
                        for q in st.streams:
                            q["closed"] = True
                            q["cond"].notify()
                pushes = []
                if "push" in ctl:
                    pushes.append("event: budget_breach\ndata: %s\n\n" % json.dumps(ctl["push"]))
                if "pushRaw" in ctl:
                    pushes.append(ctl["pushRaw"])
                for q in st.streams:
                    q["items"] += pushes
                    q["cond"].notify()
                streams = len(st.streams)
            return self.reply(200, {"mode": st.mode, "openStreams": streams})
        if self.path != "/v1/logs":
            return self.reply(404, {"error": "not found"})
        key = self.headers.get("x-spaturzu-key")
        with st.lock:
            st.posts += 1
            if key is not None:
                st.keys_seen.add(key)
            release = st.release
        mode = st.take_mode()

        def count(outcome):
            with st.lock:
                st.by_outcome[outcome] = st.by_outcome.get(outcome, 0) + 1

        if mode == "hang":
            count("hang")
            release.wait(120)
            self.close_connection = True
            return
        if mode == "drop":
            count("drop")
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if mode in ("500", "429", "400"):
            count(mode)
            return self.reply(int(mode), {"error": "injected " + mode})
        if (st.key or None) != key:
            count("401")
            return self.reply(401, {"error": "bad or missing x-spaturzu-key"})
        if (self.headers.get("content-type") or "").split(";")[0].strip() != "application/json":
            count("415")
            return self.reply(415, {"error": "content-type must be application/json"})
        try:
            entry = json.loads(body)
        except ValueError:
            entry = None
        why = validate(entry) if entry is not None else "body is not JSON"
        if why:
            count("400")
            with st.lock:
                st.invalid.append({"reason": why, "body": body.decode("utf-8", "replace")[:2000]})
            return self.reply(400, {"error": why})
        count("201")
        with st.lock:
            st.accepted[entry["id"]] = st.accepted.get(entry["id"], 0) + 1
        self.reply(201, {"requestId": entry["id"]})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--key", default="")
    ap.add_argument("--cert")
    ap.add_argument("--cert-key")
    ap.add_argument("--log")
    args = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.state = State(args.key)
    server.raw_log = args.log
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.cert_key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
