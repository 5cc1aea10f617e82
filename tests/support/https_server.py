#!/usr/bin/env python3
"""A real HTTPS server on 127.0.0.1 for the HTTP layer tests.

It makes its own PKI with the openssl command (a test CA, a server certificate for 127.0.0.1,
a second CA nobody trusts, and a client CA with a client certificate), listens on two random
loopback ports (one plain TLS, one that requires a client certificate) and prints one JSON line
with the ports and the PEM paths, then serves until killed.

Routes (GET unless said otherwise):
  /ok                         200 "ok"
  /echo                       200, JSON of the method, path, headers and body length
  /flaky?key=K&fail=N&status=S&retry_after=R&date=1
                              any method: the first N requests for key K answer S (default 503)
                              with Retry-After R seconds (or as an HTTP date with date=1), then 200
  /count?key=K                200, how many requests /flaky and /hang saw for K
  /hang?key=K                 accept the request and never answer
  /big?n=N[&chunked=1]        N bytes of 'x', with Content-Length or chunked
  /stream?n=N&delay=D         N lines, one every D seconds, chunked
  /whoami                     (client-certificate port) 200, the client certificate's subject CN
"""
import argparse
import email.utils
import json
import os
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def sh(*args, cwd):
    subprocess.run(args, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_pki(d):
    os.makedirs(d, exist_ok=True)
    for ca in ("ca", "other-ca", "client-ca"):
        sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
           "-subj", "/CN=eqops-test-" + ca, "-keyout", ca + ".key", "-out", ca + ".crt", cwd=d)
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:eqops-test.internal\n"
                "extendedKeyUsage=serverAuth\n")
    with open(os.path.join(d, "client.ext"), "w") as f:
        f.write("extendedKeyUsage=clientAuth\n")
    for name, subj, ca, ext in (("server", "/CN=localhost", "ca", "server.ext"),
                                ("client", "/CN=eqops-client/O=tenants", "client-ca", "client.ext")):
        sh("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", subj,
           "-keyout", name + ".key", "-out", name + ".csr", cwd=d)
        sh("openssl", "x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey",
           ca + ".key", "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", name + ".crt",
           cwd=d)


COUNTS = {}
COUNTS_LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def send_text(self, status, text, headers=()):
        body = text.encode()
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def handle_any(self):
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        body = self.read_body()
        if u.path == "/ok":
            return self.send_text(200, "ok")
        if u.path == "/echo":
            out = {"method": self.command, "path": self.path, "body_len": len(body),
                   "headers": {k.lower(): v for k, v in self.headers.items()}}
            return self.send_text(200, json.dumps(out))
        if u.path == "/flaky":
            key = q.get("key", "")
            with COUNTS_LOCK:
                COUNTS[key] = COUNTS.get(key, 0) + 1
                n = COUNTS[key]
            if n <= int(q.get("fail", "1")):
                hdrs = []
                if "retry_after" in q:
                    secs = int(q["retry_after"])
                    if q.get("date") == "1":
                        hdrs.append(("Retry-After",
                                     email.utils.formatdate(time.time() + secs, usegmt=True)))
                    else:
                        hdrs.append(("Retry-After", str(secs)))
                return self.send_text(int(q.get("status", "503")), "try later", hdrs)
            return self.send_text(200, "recovered after %d" % (n - 1))
        if u.path == "/count":
            with COUNTS_LOCK:
                return self.send_text(200, str(COUNTS.get(q.get("key", ""), 0)))
        if u.path == "/hang":
            key = q.get("key", "")
            with COUNTS_LOCK:
                COUNTS[key] = COUNTS.get(key, 0) + 1
            time.sleep(3600)
            return None
        if u.path == "/big":
            n = int(q.get("n", "0"))
            self.send_response(200)
            if q.get("chunked") == "1":
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                left = n
                while left > 0:
                    k = min(left, 65536)
                    self.wfile.write(b"%x\r\n" % k + b"x" * k + b"\r\n")
                    left -= k
                self.wfile.write(b"0\r\n\r\n")
            else:
                self.send_header("Content-Length", str(n))
                self.end_headers()
                self.wfile.write(b"x" * n)
            return None
        if u.path == "/stream":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                for i in range(int(q.get("n", "3"))):
                    line = b"line %d\n" % i
                    self.wfile.write(b"%x\r\n" % len(line) + line + b"\r\n")
                    self.wfile.flush()
                    time.sleep(float(q.get("delay", "0.05")))
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
            return None
        if u.path == "/whoami":
            cert = self.connection.getpeercert() or {}
            cn = ""
            for rdn in cert.get("subject", ()):
                for k, v in rdn:
                    if k == "commonName":
                        cn = v
            return self.send_text(200, cn)
        return self.send_text(404, "no such route")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve(ctx):
    srv = Server(("127.0.0.1", 0), Handler)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv.server_address[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    a = ap.parse_args()
    make_pki(a.dir)
    p = lambda n: os.path.join(a.dir, n)
    plain = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    plain.load_cert_chain(p("server.crt"), p("server.key"))
    mtls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    mtls.load_cert_chain(p("server.crt"), p("server.key"))
    mtls.load_verify_locations(p("client-ca.crt"))
    mtls.verify_mode = ssl.CERT_REQUIRED
    info = {"port": serve(plain), "mtls_port": serve(mtls), "ca": p("ca.crt"),
            "other_ca": p("other-ca.crt"), "client_cert": p("client.crt"),
            "client_key": p("client.key")}
    sys.stdout.write(json.dumps(info) + "\n")
    sys.stdout.flush()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
