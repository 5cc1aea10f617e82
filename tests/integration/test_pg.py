"""eqops.pg from Python against the test Postgres, and a server crash in the middle of a fleet
migration: after a restart and a re-run every database is at the same version, and none is
half-migrated."""
import json
import os
import pathlib
import shutil
import threading
import time

import pytest

import eqops
from eqops import pg
from conftest import need_env, sh

ROOT = pathlib.Path(__file__).resolve().parents[2]
MIGRATIONS = ROOT / "examples" / "pg" / "migrations"
TESTENV = str(ROOT / "scripts" / "testenv")


def psql(dsn, db, sql):
    return sh("psql", "-X", "-qtA", "-v", "ON_ERROR_STOP=1", "%s dbname=%s" % (dsn, db),
              "-c", sql).stdout.strip()


@pytest.fixture
def cluster():
    dsn, = need_env("EQOPS_TEST_PG_ADMIN_DSN")
    c = pg.Cluster(dsn, db_prefix="py_", template_db="pytpl", control_db="pyctl")

    def clean():
        for t in c.tenants():
            c.drop_tenant(t["name"], t["name"])
    clean()
    yield c
    clean()
    c.close()


def test_tenant_lifecycle_from_python(cluster):
    cluster.ensure_template(MIGRATIONS)
    t = cluster.create_tenant("notebook", settings={"statement_timeout": "45s"})
    assert t.created and t.database == "py_notebook" and t.schema_version == 4
    assert t.password and t.password not in repr(t) and "conninfo" not in repr(t)
    again = cluster.create_tenant("notebook")
    assert not again.created and again.password is None
    assert cluster.tenant("notebook").state == "ready"
    rotated = cluster.rotate("notebook")
    assert rotated.password != t.password
    assert [x["name"] for x in cluster.tenants(with_versions=True)] == ["notebook"]
    assert cluster.tenants(True)[0]["schema_version"] == 4
    with pytest.raises(eqops.InvalidArgument) as e:
        cluster.create_tenant("Robert'); DROP TABLE students;--")
    assert e.value.field == "name"
    with pytest.raises(eqops.NotFound):
        cluster.tenant("nobody")
    with pytest.raises(eqops.InvalidArgument):
        cluster.drop_tenant("notebook", "yes")
    with pytest.raises(TypeError):
        cluster.create_tenant("notebook", settings=["a=1\nb=2"])
    pg.check_tenant_name("fine-name")
    with pytest.raises(eqops.InvalidArgument):
        pg.check_tenant_name("select")


def test_migrate_validate_drift_from_python(cluster):
    for name in ("alpha", "beta"):
        cluster.create_tenant(name, migrations=MIGRATIONS)
    seen = []
    plan = cluster.migrate(MIGRATIONS, dry_run=True,
                           progress=lambda db, st, done, total: seen.append((db, st, done, total)))
    assert plan["dry_run"] and plan["ok"] == 3 and len(seen) == 3 and seen[-1][2:] == (3, 3)

    class Boom(Exception):
        pass

    def explode(*_):
        raise Boom()
    with pytest.raises(Boom):  # an exception in the callback stops the run and comes back
        cluster.migrate(MIGRATIONS, progress=explode)
    assert cluster.validate(MIGRATIONS)["problems"] == 0
    drift = cluster.drift()
    assert drift["drifted"] == 0 and {t["tenant"] for t in drift["tenants"]} == {"alpha", "beta"}
    assert cluster.fingerprint("py_alpha") == drift["template"]
    super_dsn, = need_env("EQOPS_TEST_PG_SUPER_DSN")
    psql(super_dsn, "py_beta", "CREATE INDEX sites_region ON sites (region)")
    drift = cluster.drift(["beta"])
    assert drift["drifted"] == 1
    assert any("sites_region" in x for x in drift["tenants"][0]["only_in_tenant"])


def test_server_crash_mid_fleet_migration(cluster, tmp_path):
    dsn, super_dsn = need_env("EQOPS_TEST_PG_ADMIN_DSN", "EQOPS_TEST_PG_SUPER_DSN")
    # a template of its own, at version 2
    psql(super_dsn, "postgres", "DROP DATABASE IF EXISTS pytpl_crash")
    cluster = pg.Cluster(dsn, db_prefix="py_", template_db="pytpl_crash", control_db="pyctl")
    mig = tmp_path / "migrations"
    mig.mkdir()
    for f in sorted(MIGRATIONS.glob("V[12]__*.sql")):
        shutil.copy(f, mig)
    cluster.ensure_template(mig)
    names = ["crash-%02d" % i for i in range(12)]
    for n in names:
        cluster.create_tenant(n)
    # three more migrations, one of them slow, so the crash lands in the middle of them
    shutil.copy(MIGRATIONS / "V3__audit.sql", mig)
    (mig / "V4__slow.sql").write_text(
        "CREATE TABLE slow_marker (x int);\nSELECT pg_sleep(0.4);\n"
        "INSERT INTO slow_marker VALUES (1);\n")
    (mig / "V5__after.sql").write_text("ALTER TABLE slow_marker ADD COLUMN y int;\n")

    log = []
    eqops.set_log_handler(lambda lvl, mod, msg: log.append(msg), eqops.LOG_WARN)
    halfway = threading.Event()
    outcome = {}

    def progress(db, status, done, total):
        if done >= 4:
            halfway.set()

    def run():
        try:
            outcome["result"] = cluster.migrate(mig, concurrency=2, continue_on_error=True,
                                                progress=progress)
        except eqops.Error as e:  # the run itself may fail while the server is down
            outcome["error"] = e

    worker = threading.Thread(target=run)
    worker.start()
    assert halfway.wait(120)
    sh(TESTENV, "pg-ctl", "stop", "immediate")
    time.sleep(1.0)
    sh(TESTENV, "pg-ctl", "start")
    worker.join(300)
    assert not worker.is_alive()
    eqops.set_log_handler(None)
    first = outcome.get("result")
    hit = (first is None or first["failed"] > 0 or first["skipped"] > 0 or
           any("retrying" in m for m in log))
    assert hit, "the crash did not interrupt the run: %r" % (first,)

    # the re-run finishes the fleet
    again = cluster.migrate(mig, concurrency=2, continue_on_error=True)
    assert again["failed"] == 0, again
    dbs = ["pytpl_crash"] + ["py_" + n.replace("-", "_") for n in names]
    for db in dbs:
        versions = psql(super_dsn, db,
                        "SELECT string_agg(version::text, ',' ORDER BY version) "
                        "FROM eqops.schema_history")
        assert versions == "1,2,3,4,5", (db, versions)
        # every recorded migration's objects are there, exactly once
        assert psql(super_dsn, db, "SELECT count(*) FROM slow_marker") == "1", db
        assert psql(super_dsn, db, "SELECT count(*) FROM information_schema.columns "
                                   "WHERE table_name = 'slow_marker'") == "2", db
    assert cluster.drift()["drifted"] == 0
    cluster.close()


def test_cli_db(cluster):
    dsn, = need_env("EQOPS_TEST_PG_ADMIN_DSN")
    cli = os.environ.get("EQOPS_CLI") or shutil.which("eqops")
    if not cli:
        pytest.skip("EQOPS_CLI is not set and eqops is not on PATH")
    env = dict(os.environ, EQOPS_PG_CONNINFO=dsn)
    common = ["--prefix", "py_", "--template-db", "pytpl", "--control-db", "pyctl"]

    def eqops_json(*args, rc=0):
        r = sh(cli, "-o", "json", "db", *args, *common, env=env, check=False)
        assert r.returncode == rc, (args, r.stdout, r.stderr)
        # on failure the error object is the last line of stderr (log lines come first)
        return json.loads(r.stdout) if rc == 0 else json.loads(r.stderr.splitlines()[-1])

    made = eqops_json("create", "cli-tenant", "--migrations", str(MIGRATIONS), "--set",
                      "statement_timeout=20s")
    assert made["created"] and made["password"] and made["schema_version"] == 4
    assert eqops_json("create", "cli-tenant")["password"] is None
    assert eqops_json("show", "cli-tenant")["state"] == "ready"
    assert [t["name"] for t in eqops_json("list", "--versions")] == ["cli-tenant"]
    plan = eqops_json("migrate", "--migrations", str(MIGRATIONS), "--dry-run")
    assert plan["failed"] == 0 and plan["dry_run"]
    assert eqops_json("validate", "--migrations", str(MIGRATIONS))["problems"] == 0
    assert eqops_json("drift")["drifted"] == 0
    err = eqops_json("drop", "cli-tenant", "--confirm", "other", rc=1)["error"]
    assert err["code"] == "EQOPS_EINVAL" and err["field"] == "confirm"
    assert eqops_json("create", "DROP TABLE x", rc=1)["error"]["field"] == "name"
    assert eqops_json("drop", "cli-tenant", "--confirm", "cli-tenant")["state"] == "dropped"
    text = sh(cli, "db", "list", *common, env=env).stdout
    assert "0 tenant(s)" in text


def test_fleet_migration_cancelled_in_a_statement_then_finished(cluster, tmp_path):
    """A token triggered from another thread while a tenant's migration runs pg_sleep: the
    server ends the statement (PQcancel), migrate raises eqops.Canceled at once, nothing of
    that migration is recorded; the next run applies it once in every database."""
    super_dsn, = need_env("EQOPS_TEST_PG_SUPER_DSN")
    mig = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, mig)
    cluster.ensure_template(mig)
    for n in ("sleepy-a", "sleepy-b"):
        cluster.create_tenant(n)
    psql(super_dsn, "postgres", "DROP ROLE IF EXISTS py_sleep; CREATE ROLE py_sleep NOLOGIN")
    (mig / "V90__slow.sql").write_text(
        "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'py_sleep') "
        "THEN PERFORM pg_sleep(60); END IF; END $$;\nCREATE TABLE slow (id int);\n")
    token = eqops.CancelToken()
    sleeping = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' " \
               "AND pid <> pg_backend_pid()"
    when = {}

    def trigger():
        for _ in range(3000):
            if psql(super_dsn, "postgres", sleeping + " AND state = 'active'") != "0":
                break
            time.sleep(0.01)
        when["t"] = time.monotonic()
        token.trigger()

    th = threading.Thread(target=trigger)
    th.start()
    try:
        with pytest.raises(eqops.Canceled):
            cluster.migrate(mig, skip_template=True, concurrency=1, cancel=token)
        stopped = time.monotonic() - when["t"]
    finally:
        th.join()
    assert stopped < 10
    assert psql(super_dsn, "postgres", sleeping) == "0"
    for db in ("py_sleepy_a", "py_sleepy_b"):
        assert psql(super_dsn, db, "SELECT count(*) FROM eqops.schema_history "
                                   "WHERE version = 90") == "0"
    psql(super_dsn, "postgres", "DROP ROLE py_sleep")
    token.reset()
    res = cluster.migrate(mig, skip_template=True, cancel=token)
    assert res["failed"] == 0
    for db in ("py_sleepy_a", "py_sleepy_b"):
        assert psql(super_dsn, db, "SELECT count(*) FROM eqops.schema_history "
                                   "WHERE version = 90") == "1"


def test_a_dead_first_server_of_the_host_list_is_passed_after_its_timeout():
    """libpq gives up on a server of the host list after connect_timeout and tries the next;
    eqops connects without blocking (to watch the token) and must do the same: with a first
    server that accepts the connection and never answers, the second (the real one) is reached
    after about connect_timeout, not given up on."""
    import socket
    dsn, = need_env("EQOPS_TEST_PG_ADMIN_DSN")
    parts = dict(p.split("=", 1) for p in dsn.split())
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    try:
        parts["host"] = "%s,%s" % ("127.0.0.1", parts.get("host", "127.0.0.1"))
        parts["port"] = "%d,%s" % (srv.getsockname()[1], parts.get("port", "5432"))
        parts.pop("hostaddr", None)
        parts["connect_timeout"] = "2"
        two = " ".join("%s=%s" % kv for kv in parts.items())
        t0 = time.monotonic()
        with pg.Cluster(two, failover_wait=0):  # connects: to the second server
            pass
        assert time.monotonic() - t0 >= 1.5  # the first server's timeout was waited out
    finally:
        srv.close()
