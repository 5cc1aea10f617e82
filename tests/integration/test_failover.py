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
from conftest import CI, need_env, psql_args, sh
from conftest import psql as conftest_psql
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
    """The SQL on stdin and the password in the environment: nothing secret on a command
    line."""
    return conftest_psql(dsn, sql, db=db, check=check)


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


def fail_over(env, before_promote=None):
    """The primary's host dies; the standby is promoted (as an HA manager would).
    `before_promote` runs in between (the standby has all it will ever get, and nobody can
    write there yet)."""
    sh(TESTENV, "pg-ctl", "kill", env=env)
    if before_promote:
        before_promote()
    sh(TESTENV, "pg-ctl", "pg-standby", "promote", env=env)


def waiting(env, kind):
    """(pid, transaction id, database, statement) of eqops's sessions on the primary that wait
    for `kind`: 'SyncRep' (a commit waiting for the standby) or 'Lock'."""
    column = "wait_event" if kind == "SyncRep" else "wait_event_type"
    rows = psql(env["EQOPS_TEST_PG_SUPER_DSN"], "SELECT pid || ' ' || coalesce(backend_xid::text, "
                "'-') || ' ' || datname || ' ' || regexp_replace(query, '\\s+', ' ', 'g') FROM "
                "pg_stat_activity WHERE application_name = 'eqops' AND %s = '%s'" % (column, kind))
    out = []
    for line in rows.splitlines():
        pid, xid, name, sql = line.split(" ", 3)
        out.append((int(pid), xid, name, sql))
    return out


def xact_status(dsn, xid):
    """What the server `dsn` knows of transaction `xid` (a fresh cluster: epoch 0):
    'committed', 'aborted', 'in progress', or 'unknown' when it has not seen it yet."""
    r = psql(dsn, "SELECT pg_xact_status('%s'::xid8)" % xid, check=False)
    if r.returncode != 0:
        assert "in the future" in r.stderr, r.stderr
        return "unknown"
    return r.stdout.strip()


def settled(standby):
    """Wait until the standby has replayed all it received and receives nothing more (the
    walsender is stopped; WAL already in flight lands first)."""
    q = "SELECT pg_last_wal_receive_lsn() || ' ' || pg_last_wal_replay_lsn()"
    last, until = None, time.monotonic() + 30
    while True:
        now = psql(standby, q)
        received, replayed = now.split()
        if now == last and received == replayed:
            return
        assert time.monotonic() < until, "the standby never settled: " + now
        last = now
        time.sleep(0.3)


def fail_over_at_commit(env, run, db, query, shipped, timeout=180):
    """Kill the primary while one of eqops's commits waits for the standby: the first whose
    session is in a database matching the regex `db` and whose statement matches `query`.
    The standby is held back (its walsender stopped) so that each commit on the primary waits
    for it; the ones before are let through. The backend of the commit of interest is stopped
    (its client never hears back), then either
      shipped=False: the primary dies with the commit not on the standby (its transaction
        unknown there, checked): a commit lost, never acknowledged;
      shipped=True: the WAL is let through until the standby has replayed the commit
        (checked), then the primary dies: the commit survives the failover although its
        client saw an error (the ambiguous case: a re-run must not apply it again).
    The standby is promoted. Returns (database, transaction id)."""
    ws = walsender_pid(env)
    standby = env["EQOPS_TEST_PG_STANDBY_SUPER_DSN"]
    deadline = time.monotonic() + timeout
    stopped = []
    try:
        while run.running() and time.monotonic() < deadline:
            os.kill(ws, signal.SIGSTOP)
            stopped = [ws]
            waits = waiting(env, "SyncRep")
            for pid, xid, name, sql in waits:
                if not (re.fullmatch(db, name) and re.search(query, sql)):
                    continue
                os.kill(pid, signal.SIGSTOP)
                stopped.append(pid)
                settled(standby)
                if xact_status(standby, xid) == "committed":
                    continue  # it reached the standby before the walsender stopped
                if shipped:
                    os.kill(ws, signal.SIGCONT)
                    stopped.remove(ws)
                    until = time.monotonic() + 30
                    while xact_status(standby, xid) != "committed":
                        assert time.monotonic() < until, "the standby never replayed " + xid
                        time.sleep(0.05)

                def the_case_is_the_one_meant():
                    # once the primary is dead the standby has all it will get: the commit is
                    # there or not for good (checked before anyone can write there again,
                    # which could reuse the transaction id)
                    settled(standby)
                    status = xact_status(standby, xid)
                    assert (status == "committed") == shipped, (name, xid, status)
                fail_over(env, the_case_is_the_one_meant)  # SIGKILL ends the stopped ones too
                stopped = []
                return name, xid
            if not waits:
                # nothing to let through: the walsender stays stopped, so that no commit can
                # reach the standby between two looks (one did, once, in CI)
                time.sleep(0.02)
                continue
            for pid in reversed(stopped):
                os.kill(pid, signal.SIGCONT)
            stopped = []
            time.sleep(0.02)
    finally:
        for pid in stopped:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
    raise AssertionError("no commit of %s matching %r waited: %s" % (db, query, run.finish()))


@contextlib.contextmanager
def holding(env, catalog, timeout=120):
    """A session of the test holds `catalog` locked in SHARE mode: whoever writes it waits."""
    args, penv = psql_args(env["EQOPS_TEST_PG_SUPER_DSN"])
    holder = subprocess.Popen(args, env=penv, stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    holder.stdin.write("BEGIN; LOCK %s IN SHARE MODE; SELECT pg_sleep(%d);\n" % (catalog,
                                                                                timeout))
    holder.stdin.flush()
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
        if any(re.search(query, sql) for _, _, _, sql in waiting(env, "Lock")):
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


def test_a_stopped_standby_comes_back(pair):
    """With the standby stopped, the primary still asks for a synchronous standby: the test
    environment's own statements on it must not wait for one (they hung for ever)."""
    sh(TESTENV, "pg-ctl", "pg-standby", "stop", env=pair)
    r = subprocess.run([TESTENV, "up", "pg-standby"], env=pair, capture_output=True, text=True,
                       timeout=180)
    assert r.returncode == 0, r.stderr
    env = dict(pair, **parse_env(sh(TESTENV, "env", env=pair).stdout))
    assert psql(env["EQOPS_TEST_PG_SUPER_DSN"], "SELECT sync_state FROM pg_stat_replication") \
        == "sync"


def test_no_secret_on_a_command_line():
    """While the environment comes up and the tests use it, no process shows a password on
    its command line (/proc/PID/cmdline is readable by every local user)."""
    run_dir = tempfile.mkdtemp(prefix="eqops-cmdline-")
    env = dict(os.environ, EQOPS_TESTENV_DIR=run_dir)
    secrets = []
    seen, done = set(), threading.Event()

    def scan():
        while not done.is_set():
            for pid in os.listdir("/proc"):
                try:
                    with open("/proc/%s/cmdline" % pid, "rb") as f:
                        seen.add(f.read().replace(b"\0", b" ").decode(errors="replace"))
                except (OSError, ValueError):
                    pass
            time.sleep(0.005)

    scanner = threading.Thread(target=scan)
    scanner.start()
    try:
        sh(TESTENV, "up", "postgres", "pg-standby", env=env)
        env.update(parse_env(sh(TESTENV, "env", env=env).stdout))
        with holding(env, "pg_authid", timeout=2):
            psql(env["EQOPS_TEST_PG_SUPER_DSN"], "SELECT 1")
        secrets = [v.rpartition("password=")[2].split()[0] for k, v in env.items()
                   if k.endswith("_DSN") and "password=" in v]
        with open(os.path.join(run_dir, "pg-standby", "pgpass")) as f:  # the replicator's
            secrets.append(f.read().strip().rsplit(":", 1)[1])
    finally:
        done.set()
        scanner.join()
        sh(TESTENV, "down", env=env, check=False)
        shutil.rmtree(run_dir, ignore_errors=True)
    assert len(secrets) >= 3 and all(len(p) >= 16 for p in secrets), secrets
    shown = [c for c in seen for p in secrets if p in c]
    assert len(seen) > 10 and shown == [], shown


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
            with pg.Cluster(pair["EQOPS_TEST_PG_HA_DSN"] + " dbname=maint_new") as c:
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
    # with the default options (failover_wait_ms 30 s), not more retries than the defaults
    assert outcome == {"tenants": []}, (outcome, log)
    assert any("maint_new" in m and "does not exist" in m and "retrying" in m for m in log), log


def standby_first(env):
    """The HA conninfo with the standby listed first (as after a failover, once the old
    primary is rebuilt as a standby)."""
    p, s = env["EQOPS_TEST_PG_PORT"], env["EQOPS_TEST_PG_STANDBY_PORT"]
    dsn = env["EQOPS_TEST_PG_HA_DSN"]
    assert "port=%s,%s" % (p, s) in dsn, dsn
    return dsn.replace("port=%s,%s" % (p, s), "port=%s,%s" % (s, p))


def test_a_standby_listed_first_does_not_say_a_new_database_is_missing(pair):
    """libpq stops at the first server that answers with an error: a standby listed first
    that has not replayed a new database yet answered "does not exist", taken as final. Only
    the primary's answer about a database counts: eqops asks it, on its host."""
    primary, standby = pair["EQOPS_TEST_PG_SUPER_DSN"], pair["EQOPS_TEST_PG_STANDBY_SUPER_DSN"]
    psql(standby, "SELECT pg_wal_replay_pause()")
    psql(primary, "CREATE DATABASE fresh_db OWNER eqops_admin")
    assert psql(standby, "SELECT count(*) FROM pg_database WHERE datname = 'fresh_db'") == "0"
    env = dict(pair, EQOPS_PG_CONNINFO=standby_first(pair) + " dbname=fresh_db")
    r = sh(CLI, "-v", "-o", "json", "db", "list", env=env, check=False)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) is not None
    # a database that exists nowhere is still reported missing, by the primary, at once
    env["EQOPS_PG_CONNINFO"] = standby_first(pair) + " dbname=nowhere_db"
    r = sh(CLI, "-o", "json", "db", "list", env=env, check=False)
    err = json.loads(r.stderr.splitlines()[-1])["error"]
    assert r.returncode == 1 and err["code"] == "EQOPS_ENOTFOUND", r.stderr
    assert 'database "nowhere_db" does not exist' in err["message"], err
    assert "port %s failed" % pair["EQOPS_TEST_PG_PORT"] in err["message"], err  # the primary
    assert "retrying" not in r.stderr, r.stderr
    psql(standby, "SELECT pg_wal_replay_resume()")


def make_fleet(env, tmp_path, n):
    base = write_migrations(str(tmp_path / "base"), BASE)
    cli(env, "db", "template", "--migrations", base)
    names = ["fo-%02d" % i for i in range(n)]
    for name in names:
        cli(env, "db", "create", name)
    fleet = write_migrations(str(tmp_path / "fleet"), dict(BASE, **FLEET))
    return names, fleet


@pytest.mark.parametrize("canary,victim,shipped", [
    (0, r"tenant_fo_(0[3-9]|1.)", False), (3, r"tenant_fo_0[0-2]", False),
    (0, r"tenant_fo_(0[3-9]|1.)", True)],
    ids=["in-the-fleet-stage", "in-the-canary-stage", "committed-on-the-standby-unacknowledged"])
def test_failover_in_the_middle_of_a_fleet_migration(pair, tmp_path, canary, victim, shipped):
    names, fleet = make_fleet(pair, tmp_path, 12)
    args = [CLI, "-v", "-o", "json", "db", "migrate", "--migrations", fleet, "--concurrency", "2",
            "--canary", str(canary)]
    run = Background(args, pair)
    # the primary dies as a tenant's migration commits (the canaries are the first three)
    victim_db, xid = fail_over_at_commit(pair, run, victim, r"^COMMIT$", shipped)
    rc, out, err = run.finish()

    print("first run: exit %d\n%s\n%s" % (rc, out[-3000:], err[-3000:]))
    dsn = new_primary(pair)
    # the victim's lost connection was noticed and its migration retried on the new primary,
    # within the default failover wait
    assert re.search(r"%s: V\d__\w+\.sql: server closed the connection.*retrying" % victim_db,
                     err), err
    assert re.search(r"connect to database %s: .*retrying" % victim_db, err), err
    if rc == 0:  # the run finished on the new primary: every database reported done
        first = json.loads(out)
        assert first["failed"] == 0 and first["ok"] == 13, first
        reported = first["databases"]
    else:  # the fleet lock died with the old primary: the stage under way finished, then the
        # run stopped at the next stage and said so (docs/pg.md, "High availability")
        assert rc == 1 and out == "" and "fleet lock: the connection holding the lock was " \
            "lost; stopped (run again)" in err, (rc, out, err)
        reported = [{"database": victim_db, "status": "ok"}]
    dbs = ["eqops_template"] + ["tenant_" + n.replace("-", "_") for n in names]
    # nothing reported done is missing on the new primary, nothing was applied twice: the
    # victim's migration in particular, whether its commit survived or not
    for r in reported:
        assert r["status"] == "ok", r
        assert history(dsn, r["database"]) == "1,2,3,4,5", r
        assert effects(dsn, r["database"]) == "1,2,3,4,5", r

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


def password_opens(env, user, password):
    """Does `password` log `user` in on the new primary (its maintenance database)?"""
    r = subprocess.run(["psql", "-X", "-Atc", "select 1", "host=127.0.0.1 port=%s dbname=postgres "
                        "user=%s" % (env["EQOPS_TEST_PG_STANDBY_PORT"], user)],
                       env=dict(os.environ, PGPASSWORD=password, PGCONNECT_TIMEOUT="5"),
                       capture_output=True, text=True, timeout=30)
    return r.returncode == 0


def consistent(env, spec, name, dsn):
    """Right after an interrupted apply, before anything converges it: no half-made tenant.
    A plan can be made (the tenant is resumable and says what is left); a role that exists
    takes the password its Secret holds (none lost); a database that exists is isolated
    (PUBLIC may not connect) or not yet marked ready; a tenant shown ready is complete."""
    plan = cli(env, "tenant", "plan", spec, check=False)
    assert plan.returncode == 0, (plan.stdout, plan.stderr)
    role = "tenant_" + name.replace("-", "_")
    secret = sh("kubectl", "-n", name, "get", "secret", "db-credentials", "-o", "name",
                env=env, check=False)
    if psql(dsn, "SELECT count(*) FROM pg_roles WHERE rolname = '%s'" % role) == "1":
        assert secret.returncode == 0, "a role without its Secret"
        assert password_opens(env, role, stored_creds(env, name)["password"]), \
            "the role does not take the stored password"
    shown = cli(env, "db", "show", name, check=False)
    state = json.loads(shown.stdout)["state"] if shown.returncode == 0 else None
    public_connect = psql(dsn, "SELECT count(*) FROM pg_database d WHERE datname = '%s' AND "
                          "(datacl IS NULL OR EXISTS (SELECT FROM aclexplode(d.datacl) a WHERE "
                          "a.grantee = 0 AND a.privilege_type = 'CONNECT'))" % role)
    if state == "ready":
        assert public_connect == "0", "a tenant shown ready whose database PUBLIC may open"
        assert opens(env, stored_creds(env, name))


def destroy(env, spec, name):
    cli(env, "tenant", "destroy", spec, "--confirm", name, check=False)


# Statements of a tenant's database step (pg.md, "Create"), each the moment the primary dies,
# with the catalog only it writes: the role (the Secret holds the password already), the
# clone, and the isolation transaction half done (its RESET ALL waits)
STEPS = {"role": ("pg_authid", r'^BEGIN; CREATE ROLE "tenant_'),
         "database": ("pg_database", r'^CREATE DATABASE "tenant_'),
         "isolation": ("pg_db_role_setting", r'^BEGIN; REVOKE ALL ON DATABASE "tenant_')}


@pytest.mark.parametrize("step", list(STEPS) + ["role-committed-unacknowledged"])
def test_failover_in_the_middle_of_a_tenant_apply(pair, tmp_path, step):
    env = tenant_env(pair, tmp_path)
    name = "fo-" + step.split("-")[0] + ("-c" if "committed" in step else "")
    spec = write_spec(tmp_path, name)
    destroy(env, spec, name)
    env["EQOPS_MIGRATIONS"] = write_migrations(str(tmp_path / "migrations"), BASE)
    cli(env, "db", "template", "--migrations", env["EQOPS_MIGRATIONS"])  # and the control db
    try:
        if step in STEPS:  # the statement in flight, not committed
            catalog, statement = STEPS[step]
            with holding(env, catalog):
                run = Background([CLI, "-v", "-o", "json", "tenant", "apply", spec], env)
                fail_over_in_statement(env, run, statement)
        else:  # the role's transaction committed on the standby, its client told nothing
            run = Background([CLI, "-v", "-o", "json", "tenant", "apply", spec], env)
            fail_over_at_commit(env, run, r".*", STEPS["role"][1], shipped=True)
        rc, out, err = run.finish()
        print("first apply: exit %d\n%s\n%s" % (rc, out[-3000:], err[-3000:]))
        first = json.loads(out) if out.strip() else None
        dsn = new_primary(pair)
        consistent(env, spec, name, dsn)
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
    `work` committed is acknowledged and lost: at the kill, the standby has replayed less WAL
    than the primary had written (checked by LSN, so the loss is the case tested, not luck)."""
    sh(TESTENV, "pg-sync", "off", env=env)
    standby = env["EQOPS_TEST_PG_STANDBY_SUPER_DSN"]
    ws = walsender_pid(env)
    os.kill(ws, signal.SIGSTOP)
    try:
        before = psql(env["EQOPS_TEST_PG_SUPER_DSN"], "SELECT pg_current_wal_insert_lsn()")
        result = work()
        written = psql(env["EQOPS_TEST_PG_SUPER_DSN"], "SELECT pg_current_wal_flush_lsn()")
        settled(standby)
        replayed = psql(standby, "SELECT pg_last_wal_replay_lsn()")
        # the standby has nothing of what `work` wrote
        assert psql(standby, "SELECT '%s'::pg_lsn <= '%s'::pg_lsn AND '%s'::pg_lsn < '%s'::pg_lsn"
                    % (replayed, before, before, written)) == "t", (before, replayed, written)
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
