#!/usr/bin/env python3
"""nginx on 127.0.0.1 speaking HTTP/2 over TLS, with the test PKI of https_server.py.

Prints one JSON line ({"port": P, "ca": path}) when it accepts connections, then runs nginx in
the foreground until killed. Routes: /ok answers "ok".
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from https_server import make_pki  # noqa: E402


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    a = ap.parse_args()
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(nginx):
        sys.exit("nginx is not installed (scripts/setup installs nginx-light)")
    make_pki(a.dir)
    d = a.dir
    port = free_port()
    conf = os.path.join(d, "nginx.conf")
    temps = " ".join("%s_temp_path %s/%s;" % (t, d, t)
                     for t in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    with open(conf, "w") as f:
        f.write("""daemon off; master_process off; worker_processes 1;
error_log %(d)s/error.log; pid %(d)s/nginx.pid;
events {}
http {
  access_log off; %(temps)s
  server {
    listen 127.0.0.1:%(port)d ssl http2;
    ssl_certificate %(d)s/server.crt; ssl_certificate_key %(d)s/server.key;
    location /ok { return 200 "ok"; }
  }
}
""" % {"d": d, "temps": temps, "port": port})
    proc = subprocess.Popen([nginx, "-c", conf, "-p", d, "-e", os.path.join(d, "error.log")])
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None:
                sys.exit("nginx exited: " + open(os.path.join(d, "error.log")).read())
            time.sleep(0.05)
    sys.stdout.write(json.dumps({"port": port, "ca": os.path.join(d, "ca.crt")}) + "\n")
    sys.stdout.flush()
    sys.exit(proc.wait())


if __name__ == "__main__":
    main()
