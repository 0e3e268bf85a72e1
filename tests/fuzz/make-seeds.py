#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, made from shared/corpus.
Usage: make-seeds.py CORPUS_DIR OUT_DIR"""
import gzip
import json
import os
import struct
import sys
import zlib

corpus, out = sys.argv[1], sys.argv[2]


def put(target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def cases():
    for provider in sorted(os.listdir(corpus)):
        pdir = os.path.join(corpus, provider)
        if not os.path.isdir(pdir):
            continue
        for f in sorted(os.listdir(pdir)):
            if f.endswith(".meta.json"):
                name = f[: -len(".meta.json")]
                meta = json.load(open(os.path.join(pdir, f)))
                body = open(os.path.join(pdir, name + ".body"), "rb").read()
                yield provider + "_" + name, meta, body


def conversation(parts):
    out = b""
    for direction, data in parts:
        for i in range(0, len(data), 65535):
            chunk = data[i:i + 65535]
            out += bytes([direction]) + struct.pack(">H", len(chunk)) + chunk
    return out


for name, meta, body in cases():
    ctype = json.dumps(meta.get("response_headers") or {})
    req_body = (meta.get("request_body") or "{}").encode()[:20000]
    host = meta.get("request_host") or "api.openai.com"
    path = meta.get("request_path") or "/v1/chat/completions"
    request = b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n" % (path.encode(), host.encode(), len(req_body)) + req_body
    stype = "text/event-stream" if b"data:" in body[:10] else (
        "application/vnd.amazon.eventstream" if "eventstream" in ctype else "application/json")
    gz = gzip.compress(body, mtime=0)
    response = b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % (
        stype.encode(), len(gz)) + gz
    if stype == "text/event-stream":
        put("sse", name, b"\x80" + body)
    elif stype == "application/json":
        put("json", name, b"\x80" + body)
    else:
        put("eventstream", name, b"\x80" + body)
    put("json", name + "_request", b"\x01" + req_body)
    put("jsontop", name + "_request", req_body)
    put("http1", name + "_req", b"\x81" + request)
    put("http1", name + "_resp", b"\x80" + response)
    put("decode", name + "_gzip", b"\x01" + gz)
    put("decode", name + "_deflate", b"\x02" + zlib.compress(body))
    put("conn", name, conversation([(0, request), (1, response)]))
    put("tokenizer", name, b"\x80" + body[:4000])


def h2_frame(ftype, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


def h2gate_seeds():
    """HTTP/2 conversations for the budget gate: refused and served streams,
    the server's SETTINGS, the answer to the gate's PING, responses."""
    try:
        import hpack
    except ImportError:  # python3-hpack comes with python3-h2 (install-deps)
        return
    enc, srv = hpack.Encoder(), hpack.Encoder()
    body = b'{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}'

    def req(stream, agent):
        block = enc.encode([(":method", "POST"), (":scheme", "https"), (":path", "/v1/chat/completions"),
                            (":authority", "api.openai.com"), ("content-type", "application/json"),
                            hpack.NeverIndexedHeaderTuple("authorization", "Bearer sk-x"),
                            ("x-spaturzu-agent", agent)])
        return h2_frame(1, 4, stream, block) + h2_frame(0, 0, stream, body[:20]) + h2_frame(0, 1, stream, body[20:])

    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + h2_frame(4, 0, 0, b"")
    server = h2_frame(4, 0, 0, b"") + h2_frame(4, 1, 0, b"")
    ping_ack = h2_frame(6, 1, 0, b"spzgate\x00")
    resp = h2_frame(1, 5, 3, srv.encode([(":status", "200"), ("content-type", "application/json")]))
    wu = h2_frame(8, 0, 0, struct.pack(">I", 1000))

    def rec(flags, data):
        return bytes([flags]) + struct.pack(">H", len(data)) + data
    put("h2gate", "refused_then_served", rec(0, preface) + rec(0, req(1, "blocked")) + rec(1, server + ping_ack) +
        rec(2, req(3, "free")) + rec(0x11, resp) + rec(0, wu))
    put("h2gate", "small_reads", rec(0, preface + req(1, "free") + req(3, "blocked")) +
        rec(0x41, server + ping_ack[:5]) + rec(0x21, ping_ack[5:] + resp))


h2gate_seeds()

for i, tags in enumerate([b"a=1,b=2", b"k\\,ey=v\\=al,x=", b'["nightly-report","fetch"]', b"=,=,,"]):
    put("attr", "seed%d" % i, tags)
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
with open(os.path.join(root, "data", "pricing.json"), "rb") as f:
    put("pricing", "builtin", b"\x00" + f.read())
for i, name in enumerate([b"bedrock\0us.anthropic.claude-sonnet-4-5-20250929-v1:0\0",
                          b"openrouter\0anthropic/claude-sonnet-4.6\0anthropic/claude-4.6-sonnet-20260217",
                          b"gemini\0gemini-2.5-pro-preview-05-06\0", b"openai\0gpt-4o-2024-08-06\0gpt-4o"]):
    put("pricing", "name%d" % i, b"\x01" + name)
# Top-level scalars of every kind around containers with escapes, brackets
# in strings and nesting, for the held-request reading.
put("jsontop", "mixed", b'{ "a": 1, "b":true,"c" : null, "d":false, "e":"x y", "f":[1,{"g":"\\"]}"},[]],'
    b' "h": -1.5e3, "i": {"j": {"k": "}"}}, "": "", "m": "%s" }\n' % (b"v" * 300))
put("budgets", "file", b"\x00" + json.dumps({"budgets": [
    {"id": "triage-daily", "scope": "agent", "agent": "support-triage", "period": "daily", "limitUsd": "5.00",
     "enforcement": "hard_cap", "alertThresholdPct": 80},
    {"id": "all", "scope": "project", "period": "monthly", "limitUsd": "100", "enforcement": "alert"}]}).encode())
put("budgets", "policy", b"\x02" + json.dumps({"agent": "writer", "agentId": None, "limits": [
    {"budgetId": "b1", "scope": "project", "period": "monthly", "limitCost": "100.0000000000",
     "currentCost": "12.5000000000", "pctUsed": 12.5, "alertThresholdPct": 80, "breached": False,
     "enforcement": "alert"},
    {"budgetId": "b2", "scope": "agent", "period": "daily", "limitCost": "1.2345000000",
     "currentCost": "1.3000000000", "pctUsed": 105.3, "alertThresholdPct": 80, "breached": True,
     "enforcement": "hard_cap"}]}).encode())
put("budgets", "breach", b"\x02" + json.dumps({"scope": "agent", "agentName": "writer"}).encode())
put("budgets", "map", b"\x01" + struct.pack("<QQqII", 0x3147445542415053, 2, 1795435200000, 1, 0)
    + b"writer".ljust(64, b"\0") + b"w".ljust(40, b"\0") + bytes([1, 0, 1, 1]) + b"\0" * 4
    + struct.pack("<qq", 5 * 10 ** 12, 6 * 10 ** 12))
put("record", "seed0", json.dumps({
    "id": "01a20778-1ee6-7468-9a2f-8e1a92c60595", "provider": "openai", "model": "gpt-4o", "runId": "r",
    "agentName": "a", "agentPath": ["a"], "promptTokens": 1, "completionTokens": 2, "status": 200,
    "tags": {"k": "v"}}).encode())


def packed_record(strings, usage, flags=0, error=0, status=200, refusal=None):
    """A record in the ring's packed form (common/record_pack.h)."""
    present = 0
    counts = b""
    for field, value in sorted(usage.items()):
        present |= 1 << field
        counts += struct.pack("<q", value)
    out = bytes([1, 1, flags, error]) + struct.pack("<HHqqqq", status, present, 40, 0, 1795432898099, 4242)
    out += counts
    for s in strings:
        out += struct.pack("<H", len(s)) + s
    if refusal:
        out += refusal
    return out


put("record", "packed0", packed_record(
    [b"01a20823-de33-737b-8dd5-3cf9528e8653", b"openai", b"gpt-4o", b"gpt-4o-2024-08-06",
     b'"runId":"r","agentName":"a","agentPath":["a"],"tags":{"k":"v"}', b"api.openai.com",
     b"/v1/chat/completions", b"req_1", b"/usr/bin/python3"], {0: 14, 1: 30, 2: 0, 4: 0}))
put("record", "packed1", packed_record(
    [b"01a20823-de33-737b-8dd5-3cf9528e8654", b"anthropic", b"unknown", b"", b'"runId":"r"', b"h\x01\xff",
     b"/v1/messages", b"", b"/bin/x", b"budget-1"], {}, flags=0x04 | 0x01, error=1,
    refusal=bytes([1, 0]) + struct.pack("<qq", 5 * 10 ** 12, 6 * 10 ** 12)))
