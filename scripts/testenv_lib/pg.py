"""PostgreSQL 15 for scripts/testenv.

Postgres refuses to run as root, so as root it runs as the "postgres" user; each server's
directory (PGDATA, socket, log, password file) is then that user's, mode 0700.
"""
import os
import pwd
import secrets
import shutil
import subprocess
import time

from .common import RUN, Failed, alive, free_port, private_dir, run, tail, write_private

PG_BIN = "/usr/lib/postgresql/15/bin"


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


def psql(dsn, password, sql):
    return run([os.path.join(PG_BIN, "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", dsn,
                "-c", sql], env=dict(os.environ, PGPASSWORD=password)).stdout.strip()


def server_options(port, sock, durable):
    # tests trade durability for speed; benchmarks ask for the production settings
    return ("-c listen_addresses=127.0.0.1 -c port=%d -c unix_socket_directories=%s %s"
            "-c max_connections=300 -c shared_buffers=64MB" % (
                port, sock, "" if durable else
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "))


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
                "host all all 127.0.0.1/32 scram-sha-256\n")
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
