"""The Kubernetes control plane of scripts/testenv: a CA, certificates and tokens, etcd,
kube-apiserver (RBAC, client certificates, token and exec-plugin users) and
kube-controller-manager, on loopback. Keys, tokens and the kubeconfigs that carry them are
written private (0600; the exec plugin 0700) from the moment they exist.
"""
import base64
import json
import os
import secrets
import shutil
import ssl
import urllib.request

from .common import RUN, Failed, free_port, private_dir, reap, run, save_partial, save_state, \
    spawn, stop_pids, wait_for, write_private
from .k8s_build import build_k8s

def openssl(*args, cwd):
    run(["openssl"] + list(args), cwd=cwd)


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3", "-subj",
            "/CN=" + name, "-keyout", "ca.key", "-out", "ca.crt", cwd=d)


def issue(d, name, subj, ext):
    write_private(os.path.join(d, name + ".ext"), ext)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", subj, "-keyout", name + ".key",
            "-out", name + ".csr", cwd=d)
    openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "3", "-extfile", name + ".ext", "-out", name + ".crt",
            cwd=d)


def b64file(path):
    with open(path, "rb") as f:
        return base64.b64encode(f.read()).decode()


def https_get(url, ca, cert=None, key=None, token=None):
    ctx = ssl.create_default_context(cafile=ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req, context=ctx, timeout=5) as r:
        return r.status, r.read().decode()


def kubeconfig(path, server, ca, user, name="test"):
    """A kubeconfig whose cluster, user and context are all called `name`."""
    cfg = {
        "apiVersion": "v1", "kind": "Config", "current-context": name,
        "clusters": [{"name": name, "cluster": {
            "server": server, "certificate-authority-data": b64file(ca)}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "users": [{"name": name, "user": user}],
    }
    write_private(path, json.dumps(cfg, indent=1))  # JSON is YAML; it holds keys or tokens


EXEC_PLUGIN = r"""#!/bin/sh
# Exec credential plugin for the test cluster: prints a token that expires after
# $EQOPS_TEST_EXEC_TTL seconds (default 60) and logs each call, so tests can see refreshes.
ttl=${EQOPS_TEST_EXEC_TTL:-60}
api=client.authentication.k8s.io/v1
case "$KUBERNETES_EXEC_INFO" in *v1beta1*) api=client.authentication.k8s.io/v1beta1 ;; esac
echo "$(date -u +%%s) $api" >> "%(calls)s"
exp=$(date -u -d "+$ttl seconds" +%%Y-%%m-%%dT%%H:%%M:%%SZ)
printf '{"apiVersion":"%%s","kind":"ExecCredential","status":{"token":"%(token)s","expirationTimestamp":"%%s"}}\n' "$api" "$exp"
"""


def start_k8s(state, name):
    bindir = build_k8s()
    d = os.path.join(RUN, name)
    shutil.rmtree(d, ignore_errors=True)
    private_dir(d)
    pki = private_dir(os.path.join(d, "pki"))
    make_ca(pki, "eqops-test-" + name + "-ca")
    issue(pki, "apiserver", "/CN=kube-apiserver",
          "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc,"
          "DNS:eqops-test-apiserver.internal\nextendedKeyUsage=serverAuth\n")
    issue(pki, "admin", "/CN=eqops-admin/O=system:masters", "extendedKeyUsage=clientAuth\n")
    openssl("genrsa", "-out", "sa.key", "2048", cwd=pki)
    openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=pki)
    tokens = {u: secrets.token_hex(20) for u in ("tenant-a", "tenant-b", "exec-user")}
    write_private(os.path.join(pki, "tokens.csv"), "".join(
        '%s,%s,%d,"%s-users"\n' % (tok, user, 1000 + i, user)
        for i, (user, tok) in enumerate(tokens.items())))
    # etcd holds every Secret of the cluster: TLS with client certificates on both of its
    # ports, so another local user can neither read nor write it (loopback is shared)
    issue(pki, "etcd", "/CN=etcd", "subjectAltName=IP:127.0.0.1\n"
          "extendedKeyUsage=serverAuth,clientAuth\n")
    issue(pki, "etcd-client", "/CN=kube-apiserver-etcd-client", "extendedKeyUsage=clientAuth\n")
    ep, pp, ap, kp, hp = free_port(), free_port(), free_port(), free_port(), free_port()
    svc = {"dir": d, "pids": [], "ports": {"etcd": ep, "etcd_http": hp, "apiserver": ap,
                                          "kcm": kp}}
    etcd_tls = ["--client-cert-auth", "--trusted-ca-file=%s/ca.crt" % pki,
                "--cert-file=%s/etcd.crt" % pki, "--key-file=%s/etcd.key" % pki,
                "--peer-client-cert-auth", "--peer-trusted-ca-file=%s/ca.crt" % pki,
                "--peer-cert-file=%s/etcd.crt" % pki, "--peer-key-file=%s/etcd.key" % pki]
    svc["etcd_cmd"] = [os.path.join(bindir, "etcd"), "--name", "t", "--data-dir",
                       os.path.join(d, "etcd"),
                       "--listen-client-urls", "https://127.0.0.1:%d" % ep,
                       # HTTP (health, the JSON gateway) on a port of its own: gRPC and HTTP on
                       # one TLS port starve watches (the API server's watch events stall)
                       "--listen-client-http-urls", "https://127.0.0.1:%d" % hp,
                       "--advertise-client-urls", "https://127.0.0.1:%d" % ep,
                       "--listen-peer-urls", "https://127.0.0.1:%d" % pp,
                       "--initial-advertise-peer-urls", "https://127.0.0.1:%d" % pp,
                       "--initial-cluster", "t=https://127.0.0.1:%d" % pp,
                       "--unsafe-no-fsync", "--watch-progress-notify-interval=5s",
                       "--listen-metrics-urls", ""] + etcd_tls
    etcd = spawn(svc["etcd_cmd"], os.path.join(d, "etcd.log"))
    svc["pids"].append(etcd.pid)
    save_partial(state, name, svc)
    etcd_ca, etcd_cert, etcd_key = (os.path.join(pki, n) for n in
                                    ("ca.crt", "etcd-client.crt", "etcd-client.key"))
    wait_for(name + " etcd", lambda: https_get("https://127.0.0.1:%d/health" % hp, etcd_ca,
                                               etcd_cert, etcd_key)[0] == 200, 60,
             os.path.join(d, "etcd.log"), etcd)
    svc["apiserver_cmd"] = [
        os.path.join(bindir, "kube-apiserver"), "--etcd-servers=https://127.0.0.1:%d" % ep,
        "--etcd-cafile=" + etcd_ca, "--etcd-certfile=" + etcd_cert,
        "--etcd-keyfile=" + etcd_key,
        "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port=%d" % ap,
        "--tls-cert-file=%s/apiserver.crt" % pki, "--tls-private-key-file=%s/apiserver.key" % pki,
        "--client-ca-file=%s/ca.crt" % pki, "--token-auth-file=%s/tokens.csv" % pki,
        "--authorization-mode=RBAC",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        "--service-account-key-file=%s/sa.pub" % pki,
        "--service-account-signing-key-file=%s/sa.key" % pki,
        "--service-cluster-ip-range=10.0.0.0/24", "--allow-privileged=true",
        "--cert-dir=%s/apiserver-certs" % d, "--profiling=false", "--v=1"]
    api = spawn(svc["apiserver_cmd"], os.path.join(d, "apiserver.log"))
    svc["pids"].append(api.pid)
    save_partial(state, name, svc)
    server = "https://127.0.0.1:%d" % ap
    ca, cert, key = (os.path.join(pki, n) for n in ("ca.crt", "admin.crt", "admin.key"))
    wait_for(name + " kube-apiserver", lambda: https_get(server + "/readyz", ca, cert, key)[0]
             == 200, 120, os.path.join(d, "apiserver.log"), api)
    admin_kc = os.path.join(d, "admin.kubeconfig")
    kubeconfig(admin_kc, server, ca, {"client-certificate-data": b64file(cert),
                                      "client-key-data": b64file(key)})
    svc["kcm_cmd"] = [
        os.path.join(bindir, "kube-controller-manager"), "--kubeconfig=" + admin_kc,
        "--authentication-kubeconfig=" + admin_kc, "--authorization-kubeconfig=" + admin_kc,
        # the built-in admin/edit/view roles are aggregated by clusterrole-aggregation
        "--controllers=namespace-controller,serviceaccount-controller,"
        "serviceaccount-token-controller,resourcequota-controller,garbage-collector-controller,"
        "clusterrole-aggregation-controller,root-ca-certificate-publisher-controller",
        "--service-account-private-key-file=%s/sa.key" % pki, "--root-ca-file=" + ca,
        "--leader-elect=false", "--bind-address=127.0.0.1", "--secure-port=%d" % kp,
        "--cert-dir=%s/kcm-certs" % d, "--v=1"]
    kcm = spawn(svc["kcm_cmd"], os.path.join(d, "kcm.log"))
    svc["pids"].append(kcm.pid)
    save_partial(state, name, svc)
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE  # its self-signed serving cert
    wait_for(name + " kube-controller-manager", lambda: urllib.request.urlopen(
        "https://127.0.0.1:%d/healthz" % kp, context=ctx, timeout=2).status == 200, 60,
        os.path.join(d, "kcm.log"), kcm)
    kcs = {"admin": admin_kc, "context": os.path.join(d, "context.kubeconfig")}
    # the admin user again under a context named after the control plane ("eqops-k8s2"), so
    # kubeconfigs of several control planes merge into one KUBECONFIG list
    kubeconfig(kcs["context"], server, ca, {"client-certificate-data": b64file(cert),
                                            "client-key-data": b64file(key)}, "eqops-" + name)
    for user in ("tenant-a", "tenant-b"):
        kcs[user] = os.path.join(d, user + ".kubeconfig")
        kubeconfig(kcs[user], server, ca, {"token": tokens[user]})
    plugin = os.path.join(d, "exec-credential")
    write_private(plugin, EXEC_PLUGIN % {"token": tokens["exec-user"],
                                         "calls": os.path.join(d, "exec-calls.log")}, 0o700)
    write_private(os.path.join(d, "exec-calls.log"), "")  # private before the plugin appends
    kcs["exec"] = os.path.join(d, "exec.kubeconfig")
    kubeconfig(kcs["exec"], server, ca, {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1", "command": plugin,
        "interactiveMode": "Never"}})
    p = "EQOPS_TEST_" + name.upper() + "_"
    svc["env"] = {p + "URL": server, p + "CA": ca, p + "KUBECONFIG": admin_kc,
                  p + "CONTEXT_KUBECONFIG": kcs["context"],
                  p + "KUBECONFIG_TENANT_A": kcs["tenant-a"],
                  p + "KUBECONFIG_TENANT_B": kcs["tenant-b"],
                  p + "KUBECONFIG_EXEC": kcs["exec"],
                  p + "EXEC_CALLS": os.path.join(d, "exec-calls.log"),
                  p + "TOKEN_TENANT_A": tokens["tenant-a"],
                  p + "TOKEN_TENANT_B": tokens["tenant-b"],
                  p + "ADMIN_CERT": cert, p + "ADMIN_KEY": key}
    return svc


def k8s_restart(state, name):
    svc = state["services"].get(name)
    if not svc:
        raise Failed(name + " is not up")
    d = svc["dir"]
    old = svc["pids"][1]
    stop_pids([old])
    reap()
    api = spawn(svc["apiserver_cmd"], os.path.join(d, "apiserver.log"))
    svc["pids"][1] = api.pid
    save_state(state)
    pki = os.path.join(d, "pki")
    wait_for(name + " kube-apiserver", lambda: https_get(
        "https://127.0.0.1:%d/readyz" % svc["ports"]["apiserver"], pki + "/ca.crt",
        pki + "/admin.crt", pki + "/admin.key")[0] == 200, 120, os.path.join(d, "apiserver.log"),
        api)
