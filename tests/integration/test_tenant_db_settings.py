"""Settings a tenant's database carries beyond its spec (made by hand, or allowed by an older
eqops): tenant plan and drift show them on the database step, apply removes them; they are not
a schema difference for a person to decide ("manual")."""
import json
import os
import uuid

from conftest import need_env, psql, sh

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI = os.environ.get("EQOPS_CLI", os.path.join(ROOT, "build", "tools", "eqops", "eqops"))
TIERS = "tiers:\n  small:\n    pod_security: restricted\n    quota: {pods: \"5\"}\n"


def eq(env, *args, check=True):
    r = sh(CLI, "-o", "json", "tenant", *args, env=env, check=check)
    return r, (json.loads(r.stdout) if r.stdout.strip() else None)


def db_step(res):
    [a] = [a for a in res["actions"] if a["kind"] == "PostgresDatabase"]
    return a


def test_settings_beyond_the_spec_are_shown_and_removed(tmp_path):
    kc, dsn, super_dsn = need_env("EQOPS_TEST_K8S_CONTEXT_KUBECONFIG", "EQOPS_TEST_PG_ADMIN_DSN",
                                  "EQOPS_TEST_PG_SUPER_DSN")
    name = "it-dbset-" + uuid.uuid4().hex[:6]
    db = "tenant_" + name.replace("-", "_")
    tiers = tmp_path / "tiers.yaml"
    tiers.write_text(TIERS)
    spec = tmp_path / (name + ".json")
    spec.write_text(json.dumps({
        "name": name, "tier": "small", "clusters": [{"name": "r0", "context": "eqops-k8s"}],
        "database": {"settings": {"statement_timeout": "30s", "datestyle": "SQL, DMY"}}}))
    env = dict(os.environ, KUBECONFIG=kc, EQOPS_PG_CONNINFO=dsn, EQOPS_TENANT_TIERS=str(tiers))
    try:
        _, res = eq(env, "apply", str(spec))
        assert res["ok"], res
        _, plan = eq(env, "plan", str(spec))
        assert plan["changed"] == 0, plan  # the spec's settings, as stored, are no change
        psql(super_dsn, "ALTER DATABASE {0} SET search_path = 'eqops';\n"
             "ALTER DATABASE {0} SET work_mem = '2GB';\n"
             "ALTER DATABASE {0} SET statement_timeout = '5s'".format(db), db="postgres")
        _, plan = eq(env, "plan", str(spec))
        step = db_step(plan)
        assert step["action"] == "update", step
        assert sorted(step["fields"]) == ["database.settings.search_path",
                                          "database.settings.statement_timeout",
                                          "database.settings.work_mem"], step
        r, drift = eq(env, "drift", str(spec), check=False)
        assert r.returncode == 1 and db_step(drift)["action"] == "update", drift
        assert all(a["action"] != "manual" for a in drift["actions"]), drift
        _, res = eq(env, "apply", str(spec))
        assert res["ok"], res
        assert psql(super_dsn, "SELECT string_agg(c, ',' ORDER BY c) FROM pg_db_role_setting s "
                    "JOIN pg_database d ON d.oid = s.setdatabase, unnest(s.setconfig) c WHERE "
                    "datname = '%s'" % db, db="postgres") == \
            "DateStyle=SQL, DMY,statement_timeout=30s"
        _, plan = eq(env, "plan", str(spec))
        assert plan["changed"] == 0, plan
    finally:
        sh(CLI, "tenant", "destroy", str(spec), "--confirm", name, env=env, check=False)
