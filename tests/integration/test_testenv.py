"""Each service of the test environment is the real thing (scripts/testenv); its run
directory is private; the first build of the Kubernetes binaries shows progress."""
import base64
import hashlib
import json
import os
import pty
import pwd
import re
import shutil
import stat
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest

from conftest import need_env, sh

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TESTENV = os.path.join(ROOT, "scripts", "testenv")


def kubectl(kc, *args, check=True):
    return sh("kubectl", "--kubeconfig", kc, "--request-timeout=20s", *args, check=check)


def wait(what, fn, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.5)
    raise AssertionError("timed out waiting for " + what)


@pytest.mark.parametrize("cluster", ["K8S", "K8S2"])
def test_quota_status_and_namespace_deletion(cluster):
    if cluster == "K8S2" and not os.environ.get("EQOPS_TEST_K8S2_KUBECONFIG"):
        pytest.skip("the second control plane is started only on request (testenv up k8s2)")
    kc, = need_env("EQOPS_TEST_%s_KUBECONFIG" % cluster)
    ns = "testenv-" + uuid.uuid4().hex[:8]
    kubectl(kc, "create", "namespace", ns)
    kubectl(kc, "-n", ns, "create", "quota", "q", "--hard=pods=5,secrets=10")
    # the controller manager fills in status.used
    used = wait("quota status", lambda: json.loads(
        kubectl(kc, "-n", ns, "get", "quota", "q", "-o", "json").stdout)
        .get("status", {}).get("used"))
    assert used["pods"] == "0"
    # and the default ServiceAccount appears
    wait("default serviceaccount", lambda: kubectl(
        kc, "-n", ns, "get", "serviceaccount", "default", check=False).returncode == 0)
    kubectl(kc, "delete", "namespace", ns, "--wait=true", "--timeout=90s")
    r = kubectl(kc, "get", "namespace", ns, check=False)
    assert r.returncode != 0 and "NotFound" in r.stderr


def test_rbac_tenant_isolation():
    admin, ta, tb = need_env("EQOPS_TEST_K8S_KUBECONFIG", "EQOPS_TEST_K8S_KUBECONFIG_TENANT_A",
                             "EQOPS_TEST_K8S_KUBECONFIG_TENANT_B")
    suffix = uuid.uuid4().hex[:6]
    ns_a, ns_b = "tenant-a-" + suffix, "tenant-b-" + suffix
    for ns in (ns_a, ns_b):
        kubectl(admin, "create", "namespace", ns)
    try:
        # nobody may read secrets before a binding exists
        assert kubectl(ta, "auth", "can-i", "get", "secrets", "-n", ns_a,
                       check=False).stdout.strip() == "no"
        kubectl(admin, "-n", ns_a, "create", "rolebinding", "tenant-a-edit",
                "--clusterrole=edit", "--user=tenant-a")
        assert wait("rolebinding to take effect", lambda: kubectl(
            ta, "auth", "can-i", "get", "secrets", "-n", ns_a,
            check=False).stdout.strip() == "yes")
        # tenant A is refused in tenant B's namespace, and B in A's
        assert kubectl(ta, "auth", "can-i", "get", "secrets", "-n", ns_b,
                       check=False).stdout.strip() == "no"
        assert kubectl(tb, "auth", "can-i", "get", "secrets", "-n", ns_a,
                       check=False).stdout.strip() == "no"
        r = kubectl(ta, "-n", ns_b, "get", "secrets", check=False)
        assert r.returncode != 0 and "Forbidden" in r.stderr
    finally:
        for ns in (ns_a, ns_b):
            kubectl(admin, "delete", "namespace", ns, "--wait=false", check=False)


def test_exec_plugin_user_is_authenticated():
    kc, calls = need_env("EQOPS_TEST_K8S_KUBECONFIG_EXEC", "EQOPS_TEST_K8S_EXEC_CALLS")
    r = kubectl(kc, "auth", "whoami", "-o", "json")
    assert json.loads(r.stdout)["status"]["userInfo"]["username"] == "exec-user"
    assert os.path.getsize(calls) > 0


def test_postgres_admin_role_creates_and_drops_a_database():
    dsn, = need_env("EQOPS_TEST_PG_ADMIN_DSN")
    db = "testenv_" + uuid.uuid4().hex[:8]
    role = sh("psql", "-X", "-Atc", "select rolsuper, rolcreatedb, rolcreaterole from pg_roles "
              "where rolname = current_user", dsn).stdout.strip()
    assert role == "f|t|t"  # the managed-Postgres shape
    sh("psql", "-X", "-v", "ON_ERROR_STOP=1", "-c", "CREATE DATABASE " + db, dsn)
    assert sh("psql", "-X", "-Atc", "select 1 from pg_database where datname = '%s'" % db,
              dsn).stdout.strip() == "1"
    sh("psql", "-X", "-v", "ON_ERROR_STOP=1", "-c", "DROP DATABASE " + db, dsn)
    # scram-sha-256: a wrong password is refused
    bad = dsn.replace("password=", "password=x")
    r = sh("psql", "-X", "-Atc", "select 1", bad, check=False)
    assert r.returncode != 0 and "password authentication failed" in r.stderr


def test_aws_calls_against_moto():
    need_env("AWS_ENDPOINT_URL")
    who = json.loads(sh("aws", "sts", "get-caller-identity", "--output", "json").stdout)
    assert who["Account"]
    name = "testenv/" + uuid.uuid4().hex[:8]
    out = json.loads(sh("aws", "secretsmanager", "create-secret", "--name", name,
                        "--secret-string", '{"password":"x"}', "--output", "json").stdout)
    assert out["Name"] == name
    got = json.loads(sh("aws", "secretsmanager", "get-secret-value", "--secret-id", name,
                        "--output", "json").stdout)
    assert got["SecretString"] == '{"password":"x"}'


def test_moto_signature_checking_can_be_switched_on():
    need_env("AWS_ENDPOINT_URL")
    testenv = TESTENV
    sh(testenv, "moto-auth", "on")
    try:
        env = dict(os.environ)
        for line in sh(testenv, "env").stdout.splitlines():
            k, _, v = line[len("export "):].partition("=")
            env[k] = v.strip("'")
        good = dict(env, AWS_ACCESS_KEY_ID=env["EQOPS_TEST_AWS_AUTH_KEY_ID"],
                    AWS_SECRET_ACCESS_KEY=env["EQOPS_TEST_AWS_AUTH_SECRET"])
        sh("aws", "sts", "get-caller-identity", env=good)
        wrong = dict(good, AWS_SECRET_ACCESS_KEY="not-the-secret")
        r = sh("aws", "sts", "get-caller-identity", env=wrong, check=False)
        assert r.returncode != 0 and "SignatureDoesNotMatch" in r.stderr
    finally:
        sh(testenv, "moto-auth", "off")


def test_promtool_checks_rules(tmp_path):
    need_env("EQOPS_TEST_PROMETHEUS_URL")
    good = tmp_path / "good.yml"
    good.write_text("groups:\n- name: g\n  rules:\n  - record: job:up:sum\n"
                    "    expr: sum by (job) (up)\n")
    bad = tmp_path / "bad.yml"
    bad.write_text("groups:\n- name: g\n  rules:\n  - record: job:up:sum\n"
                   "    expr: sum by (job) (up\n")
    assert sh("promtool", "check", "rules", str(good)).returncode == 0
    r = sh("promtool", "check", "rules", str(bad), check=False)
    assert r.returncode != 0 and "parse error" in (r.stdout + r.stderr)


def test_prometheus_answers_with_the_seeded_value():
    url, = need_env("EQOPS_TEST_PROMETHEUS_URL")
    q = urllib.parse.urlencode({"query": 'eqops_testenv_seed_value{source="testenv"}',
                                "time": "2026-01-01T00:30:00Z"})
    with urllib.request.urlopen(url + "/api/v1/query?" + q, timeout=10) as r:
        body = json.load(r)
    assert body["status"] == "success"
    [sample] = body["data"]["result"]
    assert sample["value"][1] == "42"


def test_etcd_takes_only_clients_with_a_certificate():
    """etcd holds every Secret of the cluster, and loopback is shared by every local user: it
    must refuse a client without the API server's certificate (plain HTTP or TLS alone), on
    its gRPC port and on its HTTP port."""
    import ssl
    run_dir, = need_env("EQOPS_TESTENV_DIR")
    with open(os.path.join(run_dir, "state.json")) as f:
        svc = json.load(f)["services"]["k8s"]
    grpc, http, pki = svc["ports"]["etcd"], svc["ports"]["etcd_http"], os.path.join(svc["dir"],
                                                                                   "pki")
    key = base64.b64encode(b"/registry/namespaces/").decode()
    body = json.dumps({"key": key, "range_end": base64.b64encode(b"/registry/namespaces0")
                       .decode(), "keys_only": True}).encode()
    anonymous = ssl.create_default_context(cafile=os.path.join(pki, "ca.crt"))
    for port in (grpc, http):
        with pytest.raises(Exception) as e:  # plain HTTP on a TLS port
            urllib.request.urlopen("http://127.0.0.1:%d/v3/kv/range" % port, body, timeout=5)
        assert not isinstance(e.value, urllib.error.HTTPError) or e.value.code >= 400
        with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
            urllib.request.urlopen("https://127.0.0.1:%d/v3/kv/range" % port, body, timeout=5,
                                   context=anonymous).read()
    # the API server's certificate is let in (the port is etcd's)
    client = ssl.create_default_context(cafile=os.path.join(pki, "ca.crt"))
    client.load_cert_chain(os.path.join(pki, "etcd-client.crt"),
                           os.path.join(pki, "etcd-client.key"))
    with urllib.request.urlopen("https://127.0.0.1:%d/v3/kv/range" % http, body, timeout=5,
                                context=client) as r:
        assert r.status == 200 and int(json.load(r).get("count", 0)) > 0


def test_prometheus_cannot_be_stopped_over_http():
    """No test reloads or stops Prometheus over HTTP (prom-load restarts it): the lifecycle
    API stays off, so another local user cannot stop it."""
    url, = need_env("EQOPS_TEST_PROMETHEUS_URL")
    for path in ("/-/quit", "/-/reload"):
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(urllib.request.Request(url + path, method="POST"), timeout=10)
        assert e.value.code == 403, (path, e.value.code)
    with urllib.request.urlopen(url + "/-/healthy", timeout=10) as r:
        assert r.status == 200


# ---- the run directory is private ------------------------------------------------------------

def someone_else():
    """(uid, gid) of a user who is not us, to own a planted directory (needs root)."""
    if os.geteuid() != 0:
        pytest.skip("only root can make a directory that belongs to another user")
    nobody = pwd.getpwnam("nobody")
    return nobody.pw_uid, nobody.pw_gid


def planted(path, owner):
    os.mkdir(path, 0o777)
    os.chmod(path, 0o777)  # as an attacker would: open to all
    os.chown(path, *owner)
    return path


def refused(run_dir, env, script=TESTENV):
    for args in (["up", "moto"], ["env"], ["status"], ["down"], ["pg-ctl", "stop"]):
        r = sh(script, *args, env=env, check=False)
        assert r.returncode != 0, (args, r.stdout, r.stderr)
        assert run_dir in r.stderr and "refusing to use it" in r.stderr, (args, r.stderr)
        assert "export" not in r.stdout
    # nothing was written, changed or removed
    st = os.lstat(run_dir)
    assert os.listdir(run_dir) == [] and stat.S_IMODE(st.st_mode) == 0o777


def test_a_run_directory_of_another_user_is_refused():
    owner = someone_else()
    run_dir = planted(tempfile.mktemp(prefix="eqops-planted-", dir="/tmp"), owner)
    try:
        refused(run_dir, dict(os.environ, EQOPS_TESTENV_DIR=run_dir))
    finally:
        shutil.rmtree(run_dir)


def test_the_derived_run_directory_of_another_user_is_refused(tmp_path):
    """The default path, /tmp/eqops-testenv-<hash of the checkout>, made first by someone
    else: here for a copy of the script in a checkout of its own."""
    owner = someone_else()
    checkout = tmp_path / "checkout"
    shutil.copytree(os.path.join(ROOT, "scripts"), checkout / "scripts",
                    ignore=shutil.ignore_patterns("__pycache__"))
    run_dir = "/tmp/eqops-testenv-" + hashlib.sha256(str(checkout).encode()).hexdigest()[:10]
    planted(run_dir, owner)
    try:
        env = {k: v for k, v in os.environ.items() if k != "EQOPS_TESTENV_DIR"}
        refused(run_dir, env, str(checkout / "scripts" / "testenv"))
    finally:
        shutil.rmtree(run_dir)


def test_a_symbolic_link_as_run_directory_is_refused(tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir()
    link = tempfile.mktemp(prefix="eqops-link-", dir="/tmp")
    os.symlink(target, link)
    try:
        r = sh(TESTENV, "up", "moto", env=dict(os.environ, EQOPS_TESTENV_DIR=link),
               check=False)
        assert r.returncode != 0 and "symbolic link" in r.stderr, r.stderr
        assert os.listdir(target) == []
    finally:
        os.unlink(link)


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_the_run_directory_and_its_secrets_are_private():
    run_dir, = need_env("EQOPS_TESTENV_DIR")
    st = os.lstat(run_dir)
    assert stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid()
    assert mode(run_dir) == 0o711, oct(mode(run_dir))
    assert mode(os.path.join(run_dir, "state.json")) == 0o600
    secret_files = 0
    for top, dirs, files in os.walk(run_dir):
        for d in dirs:  # nothing below the run directory can be entered by others
            assert mode(os.path.join(top, d)) & 0o077 == 0, os.path.join(top, d)
        for f in files:
            path = os.path.join(top, f)
            if not stat.S_ISREG(os.lstat(path).st_mode):
                continue  # the Postgres socket, in a 0700 directory
            assert mode(path) & 0o077 == 0, (path, oct(mode(path)))
            if f.endswith((".key", ".kubeconfig", "tokens.csv", "pgpass", "state.json")):
                assert mode(path) == 0o600, (path, oct(mode(path)))
                secret_files += 1
            if f == "exec-credential":  # holds a token, and runs
                assert mode(path) == 0o700
    assert secret_files >= 1
    pg = os.path.join(run_dir, "postgres")
    if os.path.isdir(pg):
        want = pwd.getpwnam("postgres").pw_uid if os.geteuid() == 0 else os.geteuid()
        for d in (pg, os.path.join(pg, "data")):
            assert os.lstat(d).st_uid == want and mode(d) == 0o700, d


# ---- the first build shows progress ----------------------------------------------------------

README = os.path.join(ROOT, "README.md")
DEMO = os.path.join(ROOT, "scripts", "demo")


def test_one_build_estimate_everywhere():
    estimate = sh(TESTENV, "build-estimate").stdout.strip()
    assert re.fullmatch(r"about \d+ minutes on \d+ cores", estimate), estimate
    with open(README) as f:
        readme = " ".join(f.read().split())
    assert set(re.findall(r"about \d+ minutes on \d+ cores", readme)) == {estimate}
    with open(DEMO) as f:
        demo = f.read()
    assert "build-estimate" in demo and not re.search(r"about \d+ minutes", demo)


# A stand-in for go: `go list` names eight packages to compile, `go build -v` names them as it
# "compiles" them, slowly, then writes the three binaries; FAIL=1 makes the build fail.
FAKE_GO = r"""#!/usr/bin/env python3
import os, sys, time
args = sys.argv[1:]
pkgs = ["example.com/m/p%d" % i for i in range(8)]
if args[:2] == ["list", "-deps"]:
    print("go: downloading example.com/m v1.0.0", file=sys.stderr)
    print("\n".join(pkgs))
elif args[0] == "build":
    for p in pkgs:
        time.sleep(0.5)
        print(p, file=sys.stderr, flush=True)
    if os.environ.get("FAIL"):
        print("# example.com/m/p5\np5.go:3:1: syntax error: the fake compiler says no",
              file=sys.stderr)
        sys.exit(1)
    out = args[args.index("-o") + 1]
    for b in ("server", "kube-apiserver", "kube-controller-manager"):
        with open(os.path.join(out, b), "w") as f:
            f.write("#!/bin/sh\n")
        os.chmod(os.path.join(out, b), 0o755)
else:
    sys.exit(2)
"""


@pytest.fixture
def fake_go(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "go").write_text(FAKE_GO)
    (bindir / "go").chmod(0o755)
    return dict(os.environ, PATH="%s:%s" % (bindir, os.environ["PATH"]),
                EQOPS_CACHE_DIR=str(tmp_path / "cache"), EQOPS_TESTENV_PROGRESS_SECONDS="0.5")


def test_the_build_shows_progress_in_a_log(fake_go):
    first = subprocess.Popen([TESTENV, "build-k8s"], env=fake_go, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)  # a second process that needs the binaries meanwhile waits and says so
    second = sh(TESTENV, "build-k8s", env=fake_go)
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert out.strip() == second.stdout.strip() and os.path.isdir(out.strip())
    assert os.access(os.path.join(out.strip(), "etcd"), os.X_OK)
    assert "about " in err and "modules downloaded: 1; packages to compile: 8" in err, err
    # periodic lines (not a terminal) with the count, the share and the time so far
    lines = re.findall(r"compiling: (\d) of 8 packages \(\d+%\), \d+s", err)
    assert len(lines) >= 3 and lines == sorted(lines), err
    assert re.search(r"built in \d+s", err)
    assert "another process is building" in second.stderr, second.stderr
    assert re.search(r"waiting for the other build \(compiling: \d of 8", second.stderr), \
        second.stderr
    # built: the next call returns at once, silently
    again = sh(TESTENV, "build-k8s", env=fake_go)
    assert again.stdout == out and again.stderr == ""


def test_the_build_shows_one_updating_line_on_a_terminal(fake_go):
    master, slave = pty.openpty()
    p = subprocess.Popen([TESTENV, "build-k8s"], env=fake_go, stdout=subprocess.PIPE,
                         stderr=slave)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the other side is closed
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    assert p.wait(60) == 0
    text = seen.decode()
    assert text.count("\r\x1b[K") >= 3, text  # redrawn in place
    assert re.search(r"compiling: \d of 8 packages", text) and "built in" in text


def test_a_failed_build_says_why_and_leaves_nothing(fake_go):
    r = sh(TESTENV, "build-k8s", env=dict(fake_go, FAIL="1"), check=False)
    assert r.returncode == 1
    assert "building the Kubernetes test binaries failed" in r.stderr
    assert "the fake compiler says no" in r.stderr
    cache = os.path.join(fake_go["EQOPS_CACHE_DIR"], "k8s-testenv")
    for key in os.listdir(cache):
        assert sorted(os.listdir(os.path.join(cache, key))) == ["lock"], os.listdir(
            os.path.join(cache, key))
