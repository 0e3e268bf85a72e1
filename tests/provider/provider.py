#!/usr/bin/env python3
"""The test provider: a TLS server that answers LLM API requests by replaying
the recorded responses in shared/corpus, so the shim sees real provider bytes
over real TLS.

Each request picks a corpus case: the `x-test-case: provider/case` header if
given, else the case recorded for the same path, model and stream flag. The
response is framed as asked (`x-test-framing` header, else --framing):
  length        Content-Length
  chunked       chunked coding in random chunk sizes
  gzip          gzip content coding with Content-Length (the recorded wire
                bytes when the case has them)
  chunked-gzip  gzip content coding, chunked
  br, zstd      brotli or zstd content coding, chunked
  close         no length: the body ends when the connection closes
  garbage-chunk a chunked body whose second chunk size is not hex
  garbage-body  Content-Length framing around bytes that are not the case's
Streams (SSE) are written in several paced writes. Non-LLM paths answer small
JSON: GET /healthz, GET /v1/models. GET /_test/stats returns the request counts.
`x-test-delay-ms: N` makes an HTTP/1.1 answer wait N ms. An `x-test-error: STATUS` header answers with that status and the provider's
error JSON shape instead of the case.

HTTP/2 is offered through ALPN (h2, then http/1.1): the same cases, framed
as DATA frames of random sizes, some padded, within the peer's flow-control
windows, several streams answered in turns.
"""
import collections
import select
import argparse
import gzip
import json
import os
import random
import socket
import socketserver
import ssl
import sys
import threading
import time

HOP_HEADERS = {"content-length", "transfer-encoding", "content-encoding", "connection", "keep-alive"}


def encode(body, wire, framing):
    """The payload and its content coding for a framing (deterministic bytes)."""
    if "gzip" in framing:
        return (wire if wire is not None else gzip.compress(body, mtime=0)), "gzip"
    if framing == "br":
        import brotli
        return brotli.compress(body), "br"
    if framing == "zstd":
        import zstandard
        return zstandard.ZstdCompressor(level=3).compress(body), "zstd"
    return body, None


class Corpus:
    def __init__(self, root):
        self.cases = {}
        for provider in sorted(os.listdir(root)):
            pdir = os.path.join(root, provider)
            if not os.path.isdir(pdir):
                continue
            for name in sorted(os.listdir(pdir)):
                if not name.endswith(".meta.json"):
                    continue
                case = name[: -len(".meta.json")]
                with open(os.path.join(pdir, name)) as f:
                    meta = json.load(f)
                with open(os.path.join(pdir, case + ".body"), "rb") as f:
                    body = f.read()
                wire = None
                wpath = os.path.join(pdir, case + ".wire.gz")
                if os.path.exists(wpath):
                    with open(wpath, "rb") as f:
                        wire = f.read()
                self.cases[provider + "/" + case] = (meta, body, wire)

    def pick(self, path, body):
        try:
            req = json.loads(body) if body else {}
        except ValueError:
            req = {}
        model = req.get("model") if isinstance(req, dict) else None
        stream = bool(req.get("stream")) if isinstance(req, dict) else False
        best = None
        for key, (meta, _, _) in self.cases.items():
            if meta.get("request_path") != path:
                continue
            try:
                rec = json.loads(meta.get("request_body") or "{}")
            except ValueError:
                rec = {}
            score = 1
            if rec.get("model") == model:
                score += 2
            if bool(rec.get("stream")) == stream:
                score += 4
            if meta.get("request_body") == body.decode("utf-8", "replace"):
                score += 8
            if best is None or score > best[0]:
                best = (score, key)
        return best[1] if best else None


class Stats:
    def __init__(self, log_path):
        self.lock = threading.Lock()
        self.count = 0
        self.by_path = {}
        self.log_path = log_path

    def add(self, method, path, case):
        with self.lock:
            self.count += 1
            self.by_path[path] = self.by_path.get(path, 0) + 1
            if self.log_path:
                with open(self.log_path, "a") as f:
                    f.write(json.dumps({"method": method, "path": path, "case": case}) + "\n")


class Handler(socketserver.BaseRequestHandler):
    def setup(self):
        self.rng = random.Random(self.server.seed ^ hash(self.client_address))
        self.conn = self.server.tls.wrap_socket(self.request, server_side=True)
        self.rfile = self.conn.makefile("rb")

    def send(self, data):
        self.conn.sendall(data)

    def read_request(self):
        line = self.rfile.readline(65537)
        if not line:
            return None
        while line in (b"\r\n", b"\n"):
            line = self.rfile.readline(65537)
            if not line:
                return None
        method, target, _ = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
        headers = {}
        while True:
            h = self.rfile.readline(65537)
            if h in (b"\r\n", b"\n", b""):
                break
            k, v = h.decode("latin-1").split(":", 1)
            headers[k.strip().lower()] = v.strip()
        if headers.get("expect", "").lower() == "100-continue":
            self.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = b""
        if "chunked" in headers.get("transfer-encoding", "").lower():
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                body += self.rfile.read(size)
                self.rfile.readline()
        elif "content-length" in headers:
            body = self.rfile.read(int(headers["content-length"]))
        return method, target, headers, body

    def respond_plain(self, status, obj, keep=True):
        data = json.dumps(obj).encode()
        self.send(
            b"HTTP/1.1 %d OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % (status, len(data))
            + data
        )

    def handle(self):
        if self.conn.selected_alpn_protocol() == "h2":
            try:
                H2Session(self).run()
            except (ConnectionError, ssl.SSLError, OSError, ValueError):
                pass
            return
        try:
            while True:
                req = self.read_request()
                if req is None:
                    return
                method, target, headers, body = req
                path = target
                if method == "GET" and path.split("?")[0] in ("/healthz", "/v1/models"):
                    self.server.stats.add(method, path, None)
                    self.respond_plain(200, {"ok": True, "data": []})
                    continue
                if method == "GET" and path == "/_test/stats":
                    self.respond_plain(200, {"count": self.server.stats.count, "by_path": self.server.stats.by_path})
                    continue
                case = headers.get("x-test-case") or self.server.corpus.pick(path, body)
                self.server.stats.add(method, path, case)
                if headers.get("x-test-error"):
                    status = int(headers["x-test-error"])
                    err = {"error": {"message": "recorded error", "type": "rate_limit_error" if status == 429
                                     else "server_error", "code": None}}
                    data = json.dumps(err).encode()
                    self.send(b"HTTP/1.1 %d Error\r\ncontent-type: application/json\r\nx-request-id: req_error\r\n"
                              b"content-length: %d\r\n\r\n" % (status, len(data)) + data)
                    continue
                if case not in self.server.corpus.cases:
                    self.respond_plain(404, {"error": {"message": "no recorded case for " + path}})
                    continue
                framing = headers.get("x-test-framing", self.server.framing)
                if headers.get("x-test-delay-ms"):  # a slow provider (HTTP/1.1)
                    time.sleep(float(headers["x-test-delay-ms"]) / 1000.0)
                if not self.replay(case, method, framing):
                    return
                if "close" in headers.get("connection", "").lower():
                    return  # asked to close after this answer (PHP's https:// streams read to the end)
        except (ConnectionError, ssl.SSLError, OSError, ValueError):
            return

    def replay(self, case, method, framing):
        meta, body, wire = self.server.corpus.cases[case]
        status = meta.get("status") or 200
        lines = ["HTTP/1.1 %d %s" % (status, "OK" if status < 400 else "Error")]
        headers = meta.get("response_headers") or {}
        if not any(k.lower() == "content-type" for k in headers):
            # Fixtures stored without headers: what the provider sends.
            lines.append("content-type: " + ("text/event-stream" if body.startswith(b"data:") else "application/json"))
        for k, v in headers.items():
            if k.lower() in HOP_HEADERS:
                continue
            for one in v if isinstance(v, list) else [v]:
                lines.append("%s: %s" % (k, one))
        payload, coding = encode(body, wire, framing)
        if coding:
            lines.append("content-encoding: " + coding)
        if framing in ("length", "gzip", "garbage-body"):
            lines.append("content-length: %d" % len(payload))
        elif framing in ("chunked", "chunked-gzip", "br", "zstd", "garbage-chunk"):
            lines.append("transfer-encoding: chunked")
        elif framing == "close":
            lines.append("connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if method == "HEAD":
            self.send(head)
            return True
        if framing == "garbage-chunk":
            self.send(head + b"5\r\n" + payload[:5] + b"\r\nZZ\r\n" + payload[5:40])
            return False  # and close
        if framing == "garbage-body":
            junk = bytes((i * 131 + 7) % 256 for i in range(len(payload)))
            self.send(head + junk)
            return True
        pieces = self.split(payload, meta.get("streamed", False))
        out = [head]
        for i, piece in enumerate(pieces):
            if framing in ("chunked", "chunked-gzip", "br", "zstd"):
                out.append(b"%x\r\n" % len(piece) + piece + b"\r\n")
            else:
                out.append(piece)
            if meta.get("streamed") and self.server.pace > 0:
                self.send(b"".join(out))
                out = []
                time.sleep(self.server.pace)
        if framing in ("chunked", "chunked-gzip", "br", "zstd"):
            out.append(b"0\r\n\r\n")
        self.send(b"".join(out))
        if framing == "close":
            return False
        return True

    def split(self, data, streamed):
        if not data:
            return []
        pieces, i = [], 0
        n = 6 if streamed else 3
        while i < len(data):
            size = self.rng.randint(1, max(1, 2 * len(data) // n))
            pieces.append(data[i : i + size])
            i += size
        return pieces

    def finish(self):
        try:
            self.conn.close()
        except OSError:
            pass


class H2Session:
    """One HTTP/2 connection: requests are answered as they complete, the
    answers' DATA frames sent in turns as flow control allows."""

    def __init__(self, handler):
        import h2.config
        import h2.connection
        self.h = handler
        self.sock = handler.conn
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding=None))
        self.streams = {}
        self.outgoing = collections.OrderedDict()  # stream id -> [bytes, ...] still to send
        self.pace = {}

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def run(self):
        import h2.events
        self.conn.initiate_connection()
        self.flush()
        while True:
            if not self.outgoing or self.sock.pending() or select.select([self.sock], [], [], 0)[0]:
                data = self.sock.recv(65536)
                if not data:
                    return
                for ev in self.conn.receive_data(data):
                    if isinstance(ev, h2.events.RequestReceived):
                        # A request without a body also gets StreamEnded: answered there.
                        self.streams[ev.stream_id] = [dict(ev.headers), b""]
                    elif isinstance(ev, h2.events.DataReceived):
                        self.streams[ev.stream_id][1] += ev.data
                        self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                    elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id in self.streams:
                        self.answer(ev.stream_id)
                    elif isinstance(ev, h2.events.StreamReset):
                        self.outgoing.pop(ev.stream_id, None)
                    elif isinstance(ev, h2.events.ConnectionTerminated):
                        return
            self.send_some()
            self.flush()

    def answer(self, sid):
        headers, body = self.streams.pop(sid)
        hdr = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in headers.items()}
        method, path = hdr.get(":method", "GET"), hdr.get(":path", "/")
        srv = self.h.server
        if method == "GET" and path.split("?")[0] in ("/healthz", "/v1/models"):
            srv.stats.add(method, path, None)
            self.reply(sid, 200, [("content-type", "application/json")], [json.dumps({"ok": True, "data": []}).encode()])
            return
        case = hdr.get("x-test-case") or srv.corpus.pick(path, body)
        srv.stats.add(method, path, case)
        if case not in srv.corpus.cases:
            self.reply(sid, 404, [("content-type", "application/json")], [b'{"error":{"message":"no case"}}'])
            return
        meta, rbody, wire = srv.corpus.cases[case]
        framing = hdr.get("x-test-framing", srv.framing)
        headers = []
        mh = meta.get("response_headers") or {}
        if not any(k.lower() == "content-type" for k in mh):
            headers.append(("content-type", "text/event-stream" if rbody.startswith(b"data:") else "application/json"))
        for k, v in mh.items():
            if k.lower() in HOP_HEADERS:
                continue
            for one in v if isinstance(v, list) else [v]:
                headers.append((k.lower(), one))
        payload, coding = encode(rbody, wire, framing)
        if coding:
            headers.append(("content-encoding", coding))
        pieces = self.h.split(payload, meta.get("streamed", False)) if method != "HEAD" else []
        if meta.get("streamed"):
            self.pace[sid] = srv.pace
        self.reply(sid, meta.get("status") or 200, headers, pieces)

    def reply(self, sid, status, headers, pieces):
        self.conn.send_headers(sid, [(":status", str(status))] + headers, end_stream=not pieces)
        if pieces:
            self.outgoing[sid] = list(pieces)

    def send_some(self):
        """One piece per stream in turn, as far as the windows allow."""
        for sid in list(self.outgoing):
            pieces = self.outgoing[sid]
            window = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size)
            if window <= 0:
                continue
            piece = pieces[0]
            pad = self.h.rng.choice([None, None, 0, 5, 17])
            room = window - (pad + 1 if pad is not None else 0)
            if room <= 0:
                pad, room = None, window
            chunk, rest = piece[:room], piece[room:]
            if rest:
                pieces[0] = rest
            else:
                pieces.pop(0)
            self.conn.send_data(sid, chunk, end_stream=not pieces, pad_length=pad)
            if not pieces:
                del self.outgoing[sid]
            if self.pace.get(sid):
                self.flush()
                time.sleep(self.pace[sid])


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512  # hundreds of clients connect at once in the load test


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--framing", default="length")
    ap.add_argument("--pace-ms", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--log")
    args = ap.parse_args()

    srv = Server(("127.0.0.1", args.port), Handler)
    srv.corpus = Corpus(args.corpus)
    srv.stats = Stats(args.log)
    srv.framing = args.framing
    srv.pace = args.pace_ms / 1000.0
    srv.seed = args.seed
    srv.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    srv.tls.load_cert_chain(args.cert, args.key)
    srv.tls.set_alpn_protocols(["h2", "http/1.1"])
    port = srv.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(port))
        os.rename(tmp, args.port_file)
    print("test provider on 127.0.0.1:%d with %d cases" % (port, len(srv.corpus.cases)), flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
