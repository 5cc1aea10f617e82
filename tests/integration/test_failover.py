"""Failover of the HA Postgres pair of scripts/testenv (a primary and a streaming standby with
synchronous replication): the primary is killed (SIGKILL of every process: the host died) in
the middle of a fleet migration and of a tenant apply, the standby is promoted, and eqops
goes on through the multi-host conninfo (target_session_attrs=read-write). Every database
ends migrated exactly once, no tenant is half-made, no password is lost, and nothing that was
reported done is missing on the new primary. The last two tests show what an asynchronous
standby loses in the same failover (docs/pg.md, "High availability").

Each test brings up a pair of its own (its own run directory), so the shared environment's
Postgres is never killed; the tenant tests use the shared Kubernetes control plane.
"""
import base64
import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import pytest

import eqops
from conftest import CI, need_env, sh
from eqops import pg

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TESTENV = os.path.join(ROOT, "scripts", "testenv")
CLI = os.environ.get("EQOPS_CLI", os.path.join(ROOT, "build", "tools", "eqops", "eqops"))
PG_BIN = "/usr/lib/postgresql/15/bin"
TIERS = """tiers:
  small:
    pod_security: restricted
    quota: {pods: "10"}
    limits:
      default: {cpu: 200m, memory: 128Mi}
    connection_limit: 5
"""

# V1, V2 make the template the tenants are cloned from; V3..V5 are the fleet migration. Every
# migration leaves one row in `effects`: a migration applied twice would leave two.
BASE = {
    "V1__base.sql": "CREATE TABLE effects (version int NOT NULL);\n"
                    "INSERT INTO effects VALUES (1);\n",
    "V2__things.sql": "CREATE TABLE things (id int PRIMARY KEY);\n"
                      "INSERT INTO effects VALUES (2);\n",
}
FLEET = {
    "V3__note.sql": "INSERT INTO effects VALUES (3);\n"
                    "ALTER TABLE things ADD COLUMN note text;\n",
    "V4__index.sql": "CREATE INDEX things_note ON things (note);\n"
                     "INSERT INTO effects VALUES (4);\n",
    "V5__last.sql": "INSERT INTO effects VALUES (5);\n",
}


def parse_env(text):
    env = {}
    for line in text.splitlines():
        k, _, v = line[len("export "):].partition("=")
        env[k] = shlex.split(v)[0] if v else ""
    return env


@pytest.fixture
def pair():
    """A primary and its synchronous standby, in a run directory of their own."""
    for missing, msg in ((not os.path.exists(os.path.join(PG_BIN, "initdb")),
                          "PostgreSQL 15 is not installed (scripts/setup installs it)"),
                         (not os.access(CLI, os.X_OK), "no eqops at %s: set EQOPS_CLI" % CLI)):
        if missing:
            if CI:
                pytest.fail(msg)
            pytest.skip(msg)
    run_dir = tempfile.mkdtemp(prefix="eqops-failover-")
    env = dict(os.environ, EQOPS_TESTENV_DIR=run_dir)
    try:
        sh(TESTENV, "up", "postgres", "pg-standby", env=env)
        env.update(parse_env(sh(TESTENV, "env", env=env).stdout))
        env["EQOPS_PG_CONNINFO"] = env["EQOPS_TEST_PG_HA_DSN"]
        yield env
    finally:
        sh(TESTENV, "down", env=env, check=False)
        shutil.rmtree(run_dir, ignore_errors=True)


def psql(dsn, sql, db=None, check=True):
    if db:
        dsn += " dbname=" + db  # the last dbname wins
    r = sh("psql", "-X", "-qAt", "-v", "ON_ERROR_STOP=1", dsn, "-c", sql, check=check)
    return r.stdout.strip() if check else r


def cli(env, *args, check=True):
    return sh(CLI, "-o", "json", *args, env=env, check=check)


def write_migrations(d, files):
    os.makedirs(d, exist_ok=True)
    for name, sql in files.items():
        with open(os.path.join(d, name), "w") as f:
            f.write(sql)
    return d


class Background:
    """A command running in the background, its output in files."""

    def __init__(self, args, env):
        self.out, self.err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
        self.p = subprocess.Popen(args, env=env, stdout=self.out, stderr=self.err, text=True)

    def running(self):
        return self.p.poll() is None

    def finish(self, timeout=300):
        """(exit code, stdout, stderr)"""
        rc = self.p.wait(timeout)
        self.out.seek(0)
        self.err.seek(0)
        return rc, self.out.read(), self.err.read()


def walsender_pid(env):
    return int(psql(env["EQOPS_TEST_PG_SUPER_DSN"], "SELECT pid FROM pg_stat_replication "
                    "WHERE application_name = 'eqops_standby'"))


def fail_over(env):
    """The primary's host dies; the standby is promoted (as an HA manager would)."""
    sh(TESTENV, "pg-ctl", "kill", env=env)
    sh(TESTENV, "pg-ctl", "pg-standby", "promote", env=env)


def waiting(env, kind):
    """(database, statement) of eqops's sessions on the primary that wait for `kind`: 'SyncRep'
    (a commit waiting for the standby) or 'Lock'."""
    column = "wait_event" if kind == "SyncRep" else "wait_event_type"
    rows = psql(env["EQOPS_TEST_PG_SUPER_DSN"], "SELECT datname || ' ' || "
                "regexp_replace(query, '\\s+', ' ', 'g') FROM pg_stat_activity WHERE "
                "application_name = 'eqops' AND %s = '%s'" % (column, kind))
    return [tuple(line.partition(" ")[::2]) for line in rows.splitlines()]


def fail_over_at_commit(env, run, db, query, timeout=180):
    """Kill the primary while one of eqops's commits waits for the standby: the first whose
    session is in a database matching the regex `db` and whose statement matches `query`.
    The standby is held back (its walsender stopped) so that each commit on the primary waits
    for it; the ones before are let through. The commit of interest is then on the old primary
    only and was never acknowledged; the standby is promoted."""
    ws = walsender_pid(env)
    deadline = time.monotonic() + timeout
    stopped = False
    try:
        while run.running() and time.monotonic() < deadline:
            os.kill(ws, signal.SIGSTOP)
            stopped = True
            for name, sql in waiting(env, "SyncRep"):
                if re.fullmatch(db, name) and re.search(query, sql):
                    fail_over(env)  # SIGKILL ends the stopped walsender too
                    return name
            os.kill(ws, signal.SIGCONT)
            stopped = False
            time.sleep(0.02)
    finally:
        if stopped:
            try:
                os.kill(ws, signal.SIGCONT)
            except ProcessLookupError:
                pass
    raise AssertionError("no commit of %s matching %r waited: %s" % (db, query, run.finish()))


@contextlib.contextmanager
def holding(env, catalog, timeout=120):
    """A session of the test holds `catalog` locked in SHARE mode: whoever writes it waits."""
    holder = subprocess.Popen(["psql", "-X", "-q", env["EQOPS_TEST_PG_SUPER_DSN"], "-c",
                               "BEGIN; LOCK %s IN SHARE MODE; SELECT pg_sleep(%d)" % (catalog,
                                                                                      timeout)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while psql(env["EQOPS_TEST_PG_SUPER_DSN"], "SELECT count(*) FROM pg_locks WHERE "
                   "relation = '%s'::regclass AND mode = 'ShareLock' AND granted" % catalog,
                   "postgres") != "1":
            assert holder.poll() is None and time.monotonic() < deadline, "no lock on " + catalog
            time.sleep(0.05)
        yield
    finally:
        holder.kill()
        holder.wait()


def fail_over_in_statement(env, run, query, timeout=120):
    """Kill the primary while an eqops statement matching `query` waits for a lock (see
    holding): the statement is in flight, its transaction not committed."""
    deadline = time.monotonic() + timeout
    while run.running() and time.monotonic() < deadline:
        if any(re.search(query, sql) for _, sql in waiting(env, "Lock")):
            fail_over(env)  # the holder's session dies with the server
            return
        time.sleep(0.05)
    raise AssertionError("no statement matching %r waited: %s" % (query, run.finish()))


def new_primary(env):
    return env["EQOPS_TEST_PG_STANDBY_SUPER_DSN"]


def history(dsn, db):
    return psql(dsn, "SELECT string_agg(version::text, ',' ORDER BY version) "
                     "FROM eqops.schema_history", db)


def effects(dsn, db):
    return psql(dsn, "SELECT string_agg(version::text, ',' ORDER BY version) FROM effects", db)


def test_the_standby_is_synchronous(pair):
    primary, standby = pair["EQOPS_TEST_PG_SUPER_DSN"], pair["EQOPS_TEST_PG_STANDBY_SUPER_DSN"]
    assert psql(primary, "SELECT sync_state FROM pg_stat_replication") == "sync"
    assert psql(standby, "SELECT pg_is_in_recovery()") == "t"
    psql(primary, "CREATE TABLE probe (x int); INSERT INTO probe VALUES (1)")
    deadline = time.monotonic() + 10
    while psql(standby, "SELECT count(*) FROM pg_class WHERE relname = 'probe'") != "1":
        assert time.monotonic() < deadline, "the standby never saw the commit"
        time.sleep(0.1)
    r = psql(standby, "INSERT INTO probe VALUES (2)", check=False)
    assert r.returncode != 0 and "read-only transaction" in r.stderr
    # the HA DSN lands on the primary whichever host is up
    assert psql(pair["EQOPS_TEST_PG_HA_SUPER_DSN"], "SELECT pg_is_in_recovery()") == "f"
    # the promise: while the standby does not receive WAL, a commit does not return
    ws = walsender_pid(pair)
    os.kill(ws, signal.SIGSTOP)
    try:
        p = subprocess.Popen(["psql", "-X", "-qAt", primary, "-c", "INSERT INTO probe VALUES (3)"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(2.0)
        assert p.poll() is None, "a commit returned before the standby had it"
    finally:
        os.kill(ws, signal.SIGCONT)
    assert p.wait(30) == 0


def test_a_database_the_standby_has_not_replayed_yet_is_waited_for(pair):
    """In the failover window the old primary refuses connections and the standby, still
    replaying, does not know a database created just before the crash: that is a server not
    ready yet, not a database that does not exist."""
    primary, standby = pair["EQOPS_TEST_PG_SUPER_DSN"], pair["EQOPS_TEST_PG_STANDBY_SUPER_DSN"]
    psql(standby, "SELECT pg_wal_replay_pause()")  # a standby behind on replay
    psql(primary, "CREATE DATABASE maint_new OWNER eqops_admin")  # flushed there, not replayed
    sh(TESTENV, "pg-ctl", "kill", env=pair)
    log, outcome = [], {}
    eqops.set_log_handler(lambda lvl, mod, msg: log.append(msg), eqops.LOG_WARN)

    def connect():  # the maintenance database of the conninfo is the new one
        try:
            with pg.Cluster(pair["EQOPS_TEST_PG_HA_DSN"] + " dbname=maint_new",
                            max_retries=8) as c:
                outcome["tenants"] = c.tenants()
        except eqops.Error as e:
            outcome["error"] = e

    worker = threading.Thread(target=connect)
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while not log and worker.is_alive() and time.monotonic() < deadline:  # met the standby
            time.sleep(0.05)
        sh(TESTENV, "pg-ctl", "pg-standby", "promote", env=pair)  # ends the pause, replays
        worker.join(120)
    finally:
        eqops.set_log_handler(None)
    print("\n".join(log))
    assert outcome == {"tenants": []}, (outcome, log)
    assert any("maint_new" in m and "does not exist" in m and "retrying" in m for m in log), log


def make_fleet(env, tmp_path, n):
    base = write_migrations(str(tmp_path / "base"), BASE)
    cli(env, "db", "template", "--migrations", base)
    names = ["fo-%02d" % i for i in range(n)]
    for name in names:
        cli(env, "db", "create", name)
    fleet = write_migrations(str(tmp_path / "fleet"), dict(BASE, **FLEET))
    return names, fleet


@pytest.mark.parametrize("canary,victim", [(0, r"tenant_fo_(0[3-9]|1.)"), (3, r"tenant_fo_0[0-2]")],
                         ids=["in-the-fleet-stage", "in-the-canary-stage"])
def test_failover_in_the_middle_of_a_fleet_migration(pair, tmp_path, canary, victim):
    names, fleet = make_fleet(pair, tmp_path, 12)
    args = [CLI, "-v", "-o", "json", "db", "migrate", "--migrations", fleet, "--concurrency", "2",
            "--canary", str(canary)]
    run = Background(args, pair)
    # the primary dies as a tenant's migration commits (the canaries are the first three)
    fail_over_at_commit(pair, run, victim, r"^COMMIT$")
    rc, out, err = run.finish()

    print("first run: exit %d\n%s\n%s" % (rc, out[-3000:], err[-3000:]))
    # the run noticed: it retried on the new primary, or it stopped and said so
    assert "retrying" in err or rc != 0, err
    first = json.loads(out) if out.strip() else None
    dsn = new_primary(pair)
    dbs = ["eqops_template"] + ["tenant_" + n.replace("-", "_") for n in names]
    if first is not None:  # nothing reported done may be missing on the new primary
        for r in first["databases"]:
            if r["status"] == "ok":
                assert history(dsn, r["database"]) == "1,2,3,4,5", r
    else:
        assert rc == 1 and "error" in err, err

    # run again: every database ends at version 5, each migration applied exactly once
    again = json.loads(cli(pair, "db", "migrate", "--migrations", fleet).stdout)
    assert again["failed"] == 0 and again["ok"] == len(dbs), again
    for db in dbs:
        assert history(dsn, db) == "1,2,3,4,5", db
        assert effects(dsn, db) == "1,2,3,4,5", db
        assert psql(dsn, "SELECT count(*) FROM pg_indexes WHERE indexname = 'things_note'",
                    db) == "1", db
    assert json.loads(cli(pair, "db", "validate", "--migrations", fleet).stdout)["problems"] == 0
    assert json.loads(cli(pair, "db", "drift").stdout)["drifted"] == 0


# ---- tenants ------------------------------------------------------------------------------------

def tenant_env(pair, tmp_path):
    kc, = need_env("EQOPS_TEST_K8S_CONTEXT_KUBECONFIG")
    tiers = tmp_path / "tiers.yaml"
    tiers.write_text(TIERS)
    return dict(pair, KUBECONFIG=kc, EQOPS_TENANT_TIERS=str(tiers))


def write_spec(tmp_path, name):
    spec = {"name": name, "tier": "small", "clusters": [{"name": "r0", "context": "eqops-k8s"}],
            "database": {"settings": {"statement_timeout": "30s"}}}
    path = tmp_path / (name + ".json")
    path.write_text(json.dumps(spec))
    return str(path)


def stored_creds(env, name):
    r = sh("kubectl", "-n", name, "get", "secret", "db-credentials", "-o", "json", env=env)
    return {k: base64.b64decode(v).decode() for k, v in json.loads(r.stdout)["data"].items()}


def opens(env, creds):
    """Do the stored credentials open the tenant's database on the new primary?"""
    r = subprocess.run(["psql", "-X", "-Atc", "select current_user", "host=127.0.0.1 port=%s "
                        "dbname=%s user=%s" % (env["EQOPS_TEST_PG_STANDBY_PORT"],
                                               creds["dbname"], creds["user"])],
                       env=dict(os.environ, PGPASSWORD=creds["password"], PGCONNECT_TIMEOUT="5"),
                       capture_output=True, text=True, timeout=30)
    return r.returncode == 0 and r.stdout.strip() == creds["user"]


def destroy(env, spec, name):
    cli(env, "tenant", "destroy", spec, "--confirm", name, check=False)


# Statements of a tenant's database step (pg.md, "Create"), each the moment the primary dies,
# with the catalog only it writes: the role (the Secret holds the password already), the
# clone, and the isolation transaction half done (its RESET ALL waits)
STEPS = {"role": ("pg_authid", r'^BEGIN; CREATE ROLE "tenant_'),
         "database": ("pg_database", r'^CREATE DATABASE "tenant_'),
         "isolation": ("pg_db_role_setting", r'^BEGIN; REVOKE ALL ON DATABASE "tenant_')}


@pytest.mark.parametrize("step", list(STEPS))
def test_failover_in_the_middle_of_a_tenant_apply(pair, tmp_path, step):
    env = tenant_env(pair, tmp_path)
    name = "fo-" + step
    spec = write_spec(tmp_path, name)
    destroy(env, spec, name)
    env["EQOPS_MIGRATIONS"] = write_migrations(str(tmp_path / "migrations"), BASE)
    cli(env, "db", "template", "--migrations", env["EQOPS_MIGRATIONS"])  # and the control db
    try:
        catalog, statement = STEPS[step]
        with holding(env, catalog):
            run = Background([CLI, "-v", "-o", "json", "tenant", "apply", spec], env)
            fail_over_in_statement(env, run, statement)
        rc, out, err = run.finish()
        print("first apply: exit %d\n%s\n%s" % (rc, out[-3000:], err[-3000:]))
        first = json.loads(out) if out.strip() else None
        dsn = new_primary(pair)
        if rc == 0:  # reported done: then it is done on the new primary
            assert first["ok"], first
            assert opens(env, stored_creds(env, name))
            assert json.loads(cli(env, "db", "show", name).stdout)["state"] == "ready"

        again = cli(env, "tenant", "apply", spec, check=False)
        assert again.returncode == 0, (out, err, again.stdout, again.stderr)
        creds = stored_creds(env, name)
        assert opens(env, creds), "the stored password does not open the database"
        shown = json.loads(cli(env, "db", "show", name).stdout)
        assert shown["state"] == "ready" and shown["schema_version"] == 2, shown
        assert history(dsn, creds["dbname"]) == "1,2"
        assert effects(dsn, creds["dbname"]) == "1,2"
        plan = json.loads(cli(env, "tenant", "plan", spec).stdout)
        assert plan["changed"] == 0, [a for a in plan["actions"] if a["action"] != "none"]
        drift = cli(env, "tenant", "drift", spec, check=False)
        assert drift.returncode == 0, drift.stdout
    finally:
        destroy(env, spec, name)


# ---- what an asynchronous standby loses ----------------------------------------------------

def async_failover(env, work):
    """Replication made asynchronous, WAL to the standby held back while `work` runs (a slow
    network, a busy standby), then the primary dies and the standby is promoted: whatever
    `work` committed is acknowledged and lost."""
    sh(TESTENV, "pg-sync", "off", env=env)
    ws = walsender_pid(env)
    os.kill(ws, signal.SIGSTOP)
    try:
        result = work()
    finally:
        sh(TESTENV, "pg-ctl", "kill", env=env)  # SIGKILL also ends the stopped walsender
    sh(TESTENV, "pg-ctl", "pg-standby", "promote", env=env)
    return result


def test_an_asynchronous_standby_loses_a_reported_migration(pair, tmp_path):
    names, fleet = make_fleet(pair, tmp_path, 2)
    fast = write_migrations(str(tmp_path / "fast"), dict(BASE, **{
        "V3__note.sql": FLEET["V3__note.sql"]}))
    done = async_failover(pair, lambda: json.loads(
        cli(pair, "db", "migrate", "--migrations", fast).stdout))
    assert done["failed"] == 0 and all(r["to"] == 3 for r in done["databases"]), done
    dsn = new_primary(pair)
    db = "tenant_" + names[0].replace("-", "_")
    assert history(dsn, db) == "1,2"  # reported at version 3, found at version 2
    pending = json.loads(cli(pair, "db", "validate", "--migrations", fast).stdout)
    assert all(d["pending"] == [3] for d in pending["databases"]), pending
    # the migration and its history row were lost together: the next run applies it once
    cli(pair, "db", "migrate", "--migrations", fast)
    assert history(dsn, db) == "1,2,3" and effects(dsn, db) == "1,2,3"


def test_an_asynchronous_standby_loses_a_rotated_password(pair, tmp_path):
    env = tenant_env(pair, tmp_path)
    name = "fo-rotate"
    spec = write_spec(tmp_path, name)
    destroy(env, spec, name)
    env["EQOPS_MIGRATIONS"] = write_migrations(str(tmp_path / "migrations"), BASE)
    try:
        cli(env, "tenant", "apply", spec)
        before = stored_creds(env, name)
        async_failover(env, lambda: cli(env, "tenant", "apply", spec, "--rotate-password"))
        after = stored_creds(env, name)
        # the Secret has the new password (Kubernetes kept it); the role lost it with the
        # primary, and has the old one again
        assert after["password"] != before["password"]
        assert not opens(env, after) and opens(env, before)
        # apply does not guess: it stops and says how to go on
        r = cli(env, "tenant", "apply", spec, check=False)
        assert r.returncode == 1 and "rotate" in r.stderr, r.stderr
        cli(env, "tenant", "apply", spec, "--rotate-password")
        assert opens(env, stored_creds(env, name))
    finally:
        destroy(env, spec, name)
