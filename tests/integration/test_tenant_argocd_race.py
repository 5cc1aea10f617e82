"""The Argo CD namespace made by someone else between eqops's read and its create: eqops reads it
again and checks it like any other, instead of taking "already exists" for its own.

The real API server of scripts/testenv sits behind a loopback proxy that makes the interleaving
happen every time: when eqops creates the Argo CD namespace, the proxy first creates it itself,
labelled as another tenant's, then passes eqops's create on (409 AlreadyExists).
"""
import base64
import http.client
import http.server
import json
import os
import ssl
import tempfile
import threading
import uuid

from conftest import need_env, sh

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI = os.environ.get("EQOPS_CLI", os.path.join(ROOT, "build", "tools", "eqops", "eqops"))
TIERS = "tiers:\n  small:\n    pod_security: restricted\n    quota: {pods: \"5\"}\n"


class RaceProxy:
    """Plain HTTP on 127.0.0.1 to the API server of `admin_kc` (with its client certificate);
    the first create of namespace `ns` is preceded by the proxy's own, labelled
    eqops.io/tenant=`owner`."""

    def __init__(self, admin_kc, ns, owner, tmp):
        with open(admin_kc) as f:
            cfg = json.load(f)
        cluster, user = cfg["clusters"][0]["cluster"], cfg["users"][0]["user"]
        files = {}
        for key, data in (("ca", cluster["certificate-authority-data"]),
                          ("cert", user["client-certificate-data"]),
                          ("key", user["client-key-data"])):
            files[key] = os.path.join(tmp, key + ".pem")
            with open(files[key], "wb") as f:
                f.write(base64.b64decode(data))
        self.ctx = ssl.create_default_context(cafile=files["ca"])
        self.ctx.load_cert_chain(files["cert"], files["key"])
        hostport = cluster["server"].split("//", 1)[1]
        self.host, self.port = hostport.rsplit(":", 1)
        self.ns, self.owner, self.raced = ns, owner, 0
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # each response ends with the connection

            def log_message(self, *args):
                pass

            def forward(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if (self.command == "POST" and self.path.split("?")[0] == "/api/v1/namespaces"
                        and json.loads(body)["metadata"]["name"] == proxy.ns
                        and not proxy.raced):
                    proxy.raced += 1
                    mine = json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {
                        "name": proxy.ns, "labels": {"eqops.io/tenant": proxy.owner}}})
                    status, _, _ = proxy.upstream("POST", "/api/v1/namespaces", mine.encode(),
                                                  {"Content-Type": "application/json"})
                    assert status == 201, status
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "authorization", "connection")}
                status, rheaders, conn = proxy.upstream(self.command, self.path, body, headers,
                                                        stream=True)
                self.send_response(status)
                for k, v in rheaders:
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.end_headers()
                while True:  # watches too: whatever comes, as it comes
                    chunk = conn.read1(65536) if hasattr(conn, "read1") else conn.read(65536)
                    if not chunk:
                        break
                    self.wfile.write(chunk)
                    self.wfile.flush()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def upstream(self, method, path, body, headers, stream=False):
        c = http.client.HTTPSConnection(self.host, int(self.port), context=self.ctx, timeout=60)
        c.request(method, path, body=body or None, headers=headers)
        r = c.getresponse()
        if stream:
            return r.status, r.getheaders(), r
        r.read()
        c.close()
        return r.status, None, None

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_an_argocd_namespace_made_meanwhile_is_checked(tmp_path):
    admin_kc, dsn = need_env("EQOPS_TEST_K8S_KUBECONFIG", "EQOPS_TEST_PG_ADMIN_DSN")
    tag = uuid.uuid4().hex[:6]
    home, tenant, squatter = "it-race-argo-" + tag, "it-race-" + tag, "it-squat-" + tag
    kc = lambda *a, check=True: sh("kubectl", "--kubeconfig", admin_kc, *a, check=check)
    kc("apply", "-f", os.path.join(ROOT, "tests", "data", "argocd", "crds.yaml"))
    kc("wait", "--for=condition=Established", "--timeout=60s",
       "crd/applications.argoproj.io", "crd/appprojects.argoproj.io")
    proxy = RaceProxy(admin_kc, home, squatter, tempfile.mkdtemp(dir=str(tmp_path)))
    config = tmp_path / "proxy.kubeconfig"
    config.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "race",
        "clusters": [{"name": "race", "cluster": {"server": proxy.url}}],
        "users": [{"name": "race", "user": {"token": "unused"}}],
        "contexts": [{"name": "race", "context": {"cluster": "race", "user": "race"}}]}))
    tiers = tmp_path / "tiers.yaml"
    tiers.write_text(TIERS)
    spec = tmp_path / (tenant + ".json")
    spec.write_text(json.dumps({
        "name": tenant, "tier": "small", "clusters": [{"name": "r0", "context": "race"}],
        "argocd": {"repo": "https://git.example.com/%s.git" % tenant, "path": "deploy"}}))
    env = dict(os.environ, KUBECONFIG=str(config), EQOPS_TENANT_TIERS=str(tiers),
               EQOPS_PG_CONNINFO=dsn)
    try:
        r = sh(CLI, "-o", "json", "tenant", "apply", str(spec), "--argocd-namespace", home,
               env=env, check=False)
        assert proxy.raced == 1, ("the proxy never saw the create of " + home, r.stderr)
        assert r.returncode == 1, (r.stdout, r.stderr)
        assert "labelled as tenant %s's namespace" % squatter in r.stderr, r.stderr
        # nothing of the tenant's went into the other tenant's namespace
        got = kc("-n", home, "get", "appprojects.argoproj.io,applications.argoproj.io", "-o",
                 "name").stdout.split()
        assert got == [], got
    finally:
        sh(CLI, "tenant", "destroy", str(spec), "--confirm", tenant, env=env, check=False)
        proxy.close()
        kc("delete", "namespace", home, tenant, "--wait=false", check=False)
