#!/usr/bin/env python3
"""Loopback stand-ins for what moto cannot be: the EC2 instance metadata service, the
container credentials agent (ECS / EKS Pod Identity), and an AWS endpoint that throttles or
fails on demand. Plain HTTP on 127.0.0.1, a random port, printed as one JSON line
({"port": N}); serves until killed. Used by the C unit tests and the pytest suites.

Routes:
  PUT  /latest/api/token                  IMDSv2 session token (needs the TTL header), "tok-1"
  GET  /latest/meta-data/iam/security-credentials/        "eqops-role" (needs the token)
  GET  /latest/meta-data/iam/security-credentials/eqops-role   credentials JSON
  GET  /container/creds                   credentials JSON when Authorization is "Bearer pod-token"
  POST /throttle<N>/<key>/                the first N requests per key: 400 ThrottlingException
                                          (JSON 1.1), then 200 {}
  POST /fail<S>/<key>/                    always status S with an error body
  POST /xmlerror/                         403 with a query-protocol XML error
  GET  /count?key=K                       how many requests K saw
  POST /imds-v1only/...                   (not a route: set "v1only" with /mode?v1only=1)
  GET  /mode?v1only=0|1&hang=0|1          IMDS behaviour: refuse the token PUT (405), or hang it
"""
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler

from fakeserver import serve

counts = {}
mode = {"v1only": False, "hang": False}
lock = threading.Lock()
EXPIRES = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 6 * 3600))


def creds(prefix):
    return {"Code": "Success", "AccessKeyId": prefix + "AKID", "SecretAccessKey": prefix + "SECRET",
            "Token": prefix + "TOKEN", "Expiration": EXPIRES}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send(self, status, body, ctype="application/json", headers=()):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def count(self, key):
        with lock:
            counts[key] = counts.get(key, 0) + 1
            return counts[key]

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        parts = [p for p in u.path.split("/") if p]
        if u.path == "/mode":
            for k in ("v1only", "hang"):
                if k in q:
                    mode[k] = q[k][0] == "1"
            return self.send(200, json.dumps(mode))
        if u.path == "/count":
            return self.send(200, str(counts.get(q.get("key", [""])[0], 0)), "text/plain")
        if u.path == "/latest/api/token":
            self.count("imds-token")
            if mode["hang"]:
                time.sleep(30)
                return
            if mode["v1only"]:
                return self.send(405, "", "text/plain")
            if self.command != "PUT" or not self.headers.get("x-aws-ec2-metadata-token-ttl-seconds"):
                return self.send(400, "", "text/plain")
            return self.send(200, "tok-1", "text/plain")
        if u.path.startswith("/latest/meta-data/iam/security-credentials"):
            self.count("imds-creds")
            if not mode["v1only"] and self.headers.get("x-aws-ec2-metadata-token") != "tok-1":
                return self.send(401, "", "text/plain")
            if u.path.rstrip("/").endswith("security-credentials"):
                return self.send(200, "eqops-role", "text/plain")
            if u.path.endswith("/eqops-role"):
                return self.send(200, json.dumps(creds("IMDS")))
            return self.send(404, "", "text/plain")
        if u.path == "/container/creds":
            self.count("container")
            if self.headers.get("Authorization") != "Bearer pod-token":
                return self.send(401, '{"message": "bad token"}')
            return self.send(200, json.dumps(creds("POD")))
        if parts and parts[0].startswith("throttle"):
            times = int(parts[0][8:] or 0)
            key = parts[1] if len(parts) > 1 else "default"
            seen = self.count(key)
            if seen <= times:
                return self.send(400, json.dumps({"__type": "ThrottlingException",
                                                  "message": "Rate exceeded"}),
                                 "application/x-amz-json-1.1")
            return self.send(200, "{}", "application/x-amz-json-1.1")
        if parts and parts[0].startswith("fail"):
            status = int(parts[0][4:] or 500)
            key = parts[1] if len(parts) > 1 else "default"
            self.count(key)
            return self.send(status, json.dumps({"__type": "com.amazonaws#InternalFailure:http://x",
                                                 "Message": "it broke"}),
                             "application/x-amz-json-1.1")
        if parts and parts[0] == "xmlerror":
            return self.send(403, "<ErrorResponse><Error><Type>Sender</Type>"
                                  "<Code>SignatureDoesNotMatch</Code><Message>nope</Message>"
                                  "</Error></ErrorResponse>", "text/xml")
        return self.send(404, '{"message": "no such route"}')

    do_GET = do_PUT = do_POST = do_DELETE = handle_any


if __name__ == "__main__":
    serve(Handler)
