"""PostgreSQL 15 for scripts/testenv: the primary ("postgres") and a streaming standby
("pg-standby") with synchronous replication, as an HA cluster that promises no lost commits
runs it, and the faults the failover tests need (kill the primary, promote the standby).

Postgres refuses to run as root, so as root it runs as the "postgres" user; each server's
directory (PGDATA, socket, log, password file) is then that user's, mode 0700.
"""
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import time

from .common import (RUN, Failed, alive, children, free_port, log, private_dir, run, tail,
                     wait_for, write_private)

PG_BIN = "/usr/lib/postgresql/15/bin"
STANDBY_NAME = "eqops_standby"  # application_name, slot and synchronous_standby_names
REPLICATOR = "eqops_replicator"


def pg_user():
    return "postgres" if os.geteuid() == 0 else None


def pg_owner():
    """(uid, gid) the server's files belong to, or None when that is us."""
    if not pg_user():
        return None
    info = pwd.getpwnam(pg_user())
    return info.pw_uid, info.pw_gid


def as_pg(cmd):
    return ["runuser", "-u", pg_user(), "--"] + cmd if pg_user() else cmd


def pg_ctl(svc, action, mode="fast"):
    cmd = [os.path.join(PG_BIN, "pg_ctl"), "-D", svc["data"], "-l", svc["log"], "-w", "-t",
           "60"]
    if action in ("stop", "restart"):
        cmd += ["-m", mode]
    if action in ("start", "restart"):
        cmd += ["-o", svc["options"]]
    cmd.append(action)
    r = subprocess.run(as_pg(cmd), capture_output=True, text=True)
    if r.returncode != 0 and not (action == "stop" and "not running" in r.stderr + r.stdout):
        raise Failed("pg_ctl %s failed: %s\n%s" % (action, r.stderr.strip(), tail(svc["log"])))


def pg_pids(svc):
    """The postmaster's PID, when it runs (a PID file left by a killed server may name a
    process that is not Postgres by now: the command line must name the data directory)."""
    try:
        with open(os.path.join(svc["data"], "postmaster.pid")) as f:
            pid = int(f.readline())
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv = f.read().split(b"\0")
    except (OSError, ValueError):
        return []
    return [pid] if alive(pid) and svc["data"].encode() in argv else []


def pg_kill(svc):
    """SIGKILL the server and every process of it at once: the host died, nothing was shut
    down, clients see their connections reset."""
    pids = pg_pids(svc)
    if not pids:
        raise Failed("the server of %s is not running" % svc["data"])
    postmaster = pids[0]
    os.kill(postmaster, signal.SIGSTOP)  # starts nothing new meanwhile
    doomed = [postmaster]
    todo = [postmaster]
    while todo:
        kids = children(todo.pop())
        doomed += kids
        todo += kids
    for pid in reversed(doomed):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(p) for p in doomed):
        time.sleep(0.05)


def psql(dsn, password, sql):
    """Run `sql` as `dsn` (no password in it): the SQL on stdin and the password in the
    environment, never on the command line (/proc/PID/cmdline is readable by every local user).
    A commit here never waits for a synchronous standby, which may be down (synchronous_commit
    local): the test environment's own statements must not hang on it."""
    return run([os.path.join(PG_BIN, "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", dsn],
               input="SET synchronous_commit = local;\n" + sql + ";\n",
               env=dict(os.environ, PGPASSWORD=password)).stdout.strip()


def server_options(port, sock, durable):
    # tests trade durability for speed; benchmarks ask for the production settings
    # (synchronous_commit is in postgresql.conf, where ALTER SYSTEM can override it when a
    # synchronous standby joins: the command line would win over both)
    return ("-c listen_addresses=127.0.0.1 -c port=%d -c unix_socket_directories=%s %s"
            "-c max_connections=300 -c shared_buffers=64MB" % (
                port, sock, "" if durable else "-c fsync=off -c full_page_writes=off "))


def new_server(name):
    """A fresh directory for one server, the server's own (0700), with a socket directory;
    returns the service record to fill in."""
    d = os.path.join(RUN, name)
    shutil.rmtree(d, ignore_errors=True)
    private_dir(d, pg_owner())
    port = free_port()
    sock = private_dir(os.path.join(d, "sock"), pg_owner())
    durable = os.environ.get("EQOPS_TESTENV_PG_DURABLE") == "1"
    return {"data": os.path.join(d, "data"), "dir": d, "sock": sock, "port": port,
            "log": os.path.join(d, "postgres.log"), "durable": durable,
            "options": server_options(port, sock, durable)}


def start_postgres(state):
    if not os.path.exists(os.path.join(PG_BIN, "initdb")):
        raise Failed("PostgreSQL 15 is not installed (scripts/setup installs postgresql-15)")
    svc = new_server("postgres")
    d, data, port, owner = svc["dir"], svc["data"], svc["port"], pg_owner()
    superpw, adminpw = secrets.token_hex(16), secrets.token_hex(16)
    svc.update(superpw=superpw, adminpw=adminpw)
    pwfile = os.path.join(d, "pwfile")
    write_private(pwfile, superpw + "\n", owner=owner)
    r = subprocess.run(as_pg([os.path.join(PG_BIN, "initdb"), "-D", data, "-U", "postgres",
                              "-A", "scram-sha-256", "--pwfile", pwfile, "--no-sync", "-E",
                              "UTF8", "--locale", "C.UTF-8"]), capture_output=True, text=True)
    os.unlink(pwfile)
    if r.returncode != 0:
        raise Failed("initdb failed: " + r.stderr)
    # files initdb made are the server's: rewritten in place, they keep owner and mode
    with open(os.path.join(data, "pg_hba.conf"), "w") as f:
        f.write("local all all scram-sha-256\n"
                "host all all 127.0.0.1/32 scram-sha-256\n"
                "host replication %s 127.0.0.1/32 scram-sha-256\n" % REPLICATOR)
    if not svc["durable"]:
        with open(os.path.join(data, "postgresql.conf"), "a") as f:
            f.write("\n# scripts/testenv: speed over durability\nsynchronous_commit = off\n")
    pg_ctl(svc, "start")
    super_dsn = "host=127.0.0.1 port=%d user=postgres dbname=postgres" % port
    # the managed-Postgres shape: CREATEDB CREATEROLE, not a superuser
    psql(super_dsn, superpw, "CREATE ROLE eqops_admin LOGIN CREATEDB CREATEROLE PASSWORD '%s'"
         % adminpw)
    svc["env"] = {
        "EQOPS_TEST_PG_SUPER_DSN": super_dsn + " password=" + superpw,
        "EQOPS_TEST_PG_ADMIN_DSN": "host=127.0.0.1 port=%d user=eqops_admin password=%s "
                                   "dbname=postgres" % (port, adminpw),
        "EQOPS_TEST_PG_HOST": "127.0.0.1",
        "EQOPS_TEST_PG_PORT": str(port),
        "EQOPS_TEST_PG_LOG": svc["log"],
    }
    return svc


# ---- the standby -----------------------------------------------------------------------------

def primary_of(state):
    prim = state["services"].get("postgres")
    if not prim or not pg_pids(prim) or "env" not in prim:
        raise Failed("pg-standby needs a running postgres: scripts/testenv up postgres "
                     "pg-standby")
    return prim


def set_sync(prim, on):
    """Synchronous replication to the standby on (a commit returns once the standby has
    flushed it) or off (asynchronous: a commit returns once the primary has it)."""
    dsn = prim["env"]["EQOPS_TEST_PG_SUPER_DSN"].rsplit(" password=", 1)[0]
    psql(dsn, prim["superpw"],
         "ALTER SYSTEM SET synchronous_standby_names = '%s'" % (STANDBY_NAME if on else ""))
    psql(dsn, prim["superpw"], "ALTER SYSTEM SET synchronous_commit = 'on'")
    psql(dsn, prim["superpw"], "SELECT pg_reload_conf()")
    want = "sync" if on else "async"
    wait_for("standby %s" % want, lambda: psql(
        dsn, prim["superpw"], "SELECT sync_state FROM pg_stat_replication WHERE "
        "application_name = '%s'" % STANDBY_NAME) == want, 30, prim["log"])


def start_standby(state):
    prim = primary_of(state)
    svc = new_server("pg-standby")
    d, data, port, owner = svc["dir"], svc["data"], svc["port"], pg_owner()
    pdsn = prim["env"]["EQOPS_TEST_PG_SUPER_DSN"].rsplit(" password=", 1)[0]
    replpw = secrets.token_hex(16)
    # a replication role, and a fresh slot so the primary keeps the WAL the standby needs
    psql(pdsn, prim["superpw"], "DO $$BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = "
         "'%s') THEN ALTER ROLE %s PASSWORD '%s'; ELSE CREATE ROLE %s REPLICATION LOGIN "
         "PASSWORD '%s'; END IF; END$$" % (REPLICATOR, REPLICATOR, replpw, REPLICATOR, replpw))
    psql(pdsn, prim["superpw"], "SELECT pg_drop_replication_slot(slot_name) FROM "
         "pg_replication_slots WHERE slot_name = '%s'" % STANDBY_NAME)
    passfile = os.path.join(d, "pgpass")
    write_private(passfile, "127.0.0.1:%d:*:%s:%s\n" % (prim["port"], REPLICATOR, replpw),
                  owner=owner)
    r = subprocess.run(as_pg([os.path.join(PG_BIN, "pg_basebackup"), "-D", data, "-h",
                              "127.0.0.1", "-p", str(prim["port"]), "-U", REPLICATOR, "-X",
                              "stream", "-C", "-S", STANDBY_NAME, "-c", "fast", "--no-sync",
                              "-w"]),
                       capture_output=True, text=True, env=dict(os.environ, PGPASSFILE=passfile))
    if r.returncode != 0:
        raise Failed("pg_basebackup failed: " + r.stderr.strip())
    write_private(os.path.join(data, "standby.signal"), "", owner=owner)
    with open(os.path.join(data, "postgresql.auto.conf"), "a") as f:  # the server's file
        f.write("primary_conninfo = 'host=127.0.0.1 port=%d user=%s passfile=''%s'' "
                "application_name=%s'\nprimary_slot_name = '%s'\n"
                % (prim["port"], REPLICATOR, passfile, STANDBY_NAME, STANDBY_NAME))
    pg_ctl(svc, "start")
    set_sync(prim, True)
    hosts = "host=127.0.0.1,127.0.0.1 port=%d,%d" % (prim["port"], port)
    tsa = "dbname=postgres target_session_attrs=read-write"
    svc["env"] = {
        "EQOPS_TEST_PG_STANDBY_PORT": str(port),
        "EQOPS_TEST_PG_STANDBY_LOG": svc["log"],
        "EQOPS_TEST_PG_STANDBY_SUPER_DSN": "host=127.0.0.1 port=%d user=postgres "
                                           "dbname=postgres password=%s" % (port,
                                                                            prim["superpw"]),
        "EQOPS_TEST_PG_HA_DSN": "%s user=eqops_admin password=%s %s" % (hosts, prim["adminpw"],
                                                                        tsa),
        "EQOPS_TEST_PG_HA_SUPER_DSN": "%s user=postgres password=%s %s" % (hosts,
                                                                           prim["superpw"], tsa),
    }
    return svc


# ---- pg-ctl, pg-sync ---------------------------------------------------------------------------

PG_SERVICES = ("postgres", "pg-standby")
PG_ACTIONS = ("start", "stop", "restart", "kill", "promote")


def pg_ctl_cmd(state, args):
    """pg-ctl [postgres|pg-standby] start|stop|restart|kill|promote [MODE]"""
    name = args.pop(0) if args and args[0] in PG_SERVICES else "postgres"
    if not args or args[0] not in PG_ACTIONS or len(args) > 2:
        raise Failed("usage: pg-ctl [postgres|pg-standby] %s [fast|smart|immediate]"
                     % "|".join(PG_ACTIONS))
    action, mode = args[0], args[1] if len(args) > 1 else "fast"
    if mode not in ("fast", "smart", "immediate"):
        raise Failed("pg-ctl: MODE is fast, smart or immediate, not %r" % mode)
    svc = state["services"].get(name)
    if not svc:
        raise Failed(name + " is not up")
    standby = state["services"].get("pg-standby")
    promoted = bool(standby and standby.get("promoted"))
    if action == "promote":
        if name != "pg-standby":
            raise Failed("pg-ctl promote: only pg-standby can be promoted")
        r = subprocess.run(as_pg([os.path.join(PG_BIN, "pg_ctl"), "-D", svc["data"], "-w",
                                  "-t", "60", "promote"]), capture_output=True, text=True)
        if r.returncode != 0:
            raise Failed("pg_ctl promote failed: %s\n%s" % (r.stderr.strip(), tail(svc["log"])))
        svc["promoted"] = True
        log("pg-standby promoted: it is the primary now")
    elif action == "kill":
        pg_kill(svc)
    elif name == "postgres" and action in ("start", "restart") and promoted:
        raise Failed("pg-standby was promoted: starting the old primary would make a second "
                     "primary (split brain); scripts/testenv down, then up, for a new pair")
    else:
        pg_ctl(svc, action, mode)


def pg_sync_cmd(state, args):
    if len(args) != 1 or args[0] not in ("on", "off"):
        raise Failed("usage: pg-sync on|off")
    if "pg-standby" not in state["services"]:
        raise Failed("pg-standby is not up")
    if state["services"]["pg-standby"].get("promoted"):
        raise Failed("pg-standby was promoted: there is no standby any more")
    set_sync(primary_of(state), args[0] == "on")
    state["services"]["pg-standby"]["sync"] = args[0] == "on"
