"""What the loopback stand-in servers share: a threaded HTTP server on 127.0.0.1 and a random
port, announced as one JSON line ({"port": N}) on stdout, serving until killed."""
import argparse
import json
import sys
import threading
import time
from http.server import ThreadingHTTPServer


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve(handler):
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=False)
    ap.parse_args()
    srv = Server(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    sys.stdout.write(json.dumps({"port": srv.server_address[1]}) + "\n")
    sys.stdout.flush()
    while True:
        time.sleep(3600)
