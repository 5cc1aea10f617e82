"""Each service of the test environment is the real thing (scripts/testenv)."""
import json
import os
import time
import urllib.parse
import urllib.request
import uuid

import pytest

from conftest import need_env, sh


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
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    testenv = os.path.join(root, "scripts", "testenv")
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
