"""Each service of the test environment is the real thing (scripts/testenv); its run
directory is private."""
import hashlib
import json
import os
import pwd
import shutil
import stat
import tempfile
import time
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
