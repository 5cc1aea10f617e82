#!/usr/bin/env python3
"""A loopback API server that misbehaves on demand, for what a healthy kube-apiserver will not
do: 429 with Retry-After, 503, a connection dropped in the middle of a body, a body that
stalls, a watch stream cut off. Plain HTTP on 127.0.0.1, a random port, printed as one JSON
line ({"port": N}); serves until killed.

It serves just enough of the API: discovery of /api/v1 (ConfigMap, namespaced) and
/api/v1/namespaces/<ns>/configmaps[/<name>] (GET, POST, watch). Fault modes, per name:

  GET  /mode?fault=F&times=N     the next N requests for objects get fault F:
                                 429 (Retry-After: 1), 503, drop (half a body, then close),
                                 slow (a body trickling for 30 s), stall (a watch stream
                                 that sends nothing after its headers), none; a watch
                                 gets 503 and stall too
  GET  /count?key=K              requests seen: "get", "create", "watch", "discovery"
  watch: the first watch stream sends one ADDED event (resourceVersion 10) and is cut; the
  next one must resume from resourceVersion=10, sends MODIFIED (11) and ends.
"""
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler

from fakeserver import serve

counts = {}
fault = {"kind": "none", "times": 0}
lock = threading.Lock()
watch_rvs = []

DISCOVERY = {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
    {"name": "configmaps", "namespaced": True, "kind": "ConfigMap", "verbs": ["get", "list"]},
    {"name": "namespaces", "namespaced": False, "kind": "Namespace", "verbs": ["get"]}]}


def cm(name, rv, v):
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "faults", "resourceVersion": str(rv)},
            "data": {"v": v}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send(self, status, body, headers=()):
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def count(self, key):
        with lock:
            counts[key] = counts.get(key, 0) + 1

    def take_fault(self):
        with lock:
            if fault["times"] > 0:
                fault["times"] -= 1
                return fault["kind"]
        return "none"

    def faulty(self, body):
        """Send `body` (200) or the fault of the moment; True when a fault was sent."""
        f = self.take_fault()
        if f == "429":
            self.send(429, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                            "reason": "TooManyRequests", "message": "slow down", "code": 429,
                            "details": {"retryAfterSeconds": 1}}, [("Retry-After", "1")])
        elif f == "503":
            self.send(503, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                            "reason": "ServiceUnavailable", "message": "restarting",
                            "code": 503})
        elif f == "drop":
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
        elif f == "slow":
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data) + 1000))
            self.end_headers()
            try:
                for _ in range(30):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(1)
            except OSError:
                pass
            self.close_connection = True
        else:
            self.send(200, body)
            return False
        return True

    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(u.query)
        if u.path == "/mode":
            with lock:
                fault["kind"] = q.get("fault", ["none"])[0]
                fault["times"] = int(q.get("times", ["1"])[0])
            return self.send(200, "{}")
        if u.path == "/count":
            with lock:
                return self.send(200, str(counts.get(q.get("key", [""])[0], 0)))
        if u.path == "/api/v1":
            self.count("discovery")
            return self.send(200, DISCOVERY)
        parts = u.path.strip("/").split("/")
        if parts[:4] == ["api", "v1", "namespaces", "faults"] and parts[4:5] == ["configmaps"]:
            if "watch" in q:
                return self.watch(q)
            if len(parts) == 6:
                self.count("get")
                return self.faulty(cm(parts[5], 5, "x"))
            return self.send(200, {"kind": "ConfigMapList", "apiVersion": "v1",
                                   "metadata": {"resourceVersion": "9"}, "items": []})
        return self.send(404, {"kind": "Status", "reason": "NotFound", "code": 404,
                               "message": "no such route"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        self.count("create")
        return self.faulty(cm("new", 6, "y"))

    def watch(self, q):
        self.count("watch")
        rv = q.get("resourceVersion", [""])[0]
        f = self.take_fault()
        if f == "503":  # the watch refused: the client waits and reconnects
            return self.send(503, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                   "reason": "ServiceUnavailable", "message": "restarting",
                                   "code": 503})
        if f == "stall":  # headers, then silence
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.flush()
            time.sleep(30)
            self.close_connection = True
            return
        with lock:
            watch_rvs.append(rv)
            first = len(watch_rvs) == 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def chunk(obj):
            line = (json.dumps(obj) + "\n").encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
            self.wfile.flush()

        if first:
            chunk({"type": "ADDED", "object": cm("w", 10, "1")})
            self.close_connection = True  # cut, without the closing chunk
            return
        if rv == "10":
            chunk({"type": "MODIFIED", "object": cm("w", 11, "2")})
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


if __name__ == "__main__":
    serve(Handler)
