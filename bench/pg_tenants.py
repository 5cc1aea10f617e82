#!/usr/bin/env python3
"""Postgres-per-client benchmarks, each side by side with its reference in one run:

  1. New tenant: `eqops db create` cloning the migrated template, against a new empty
     database (createdb) plus every migration applied with `psql -1 -f`; and against eqops'
     own fallback path (no template: template0 plus the migrations), for the same schema.
  2. Fleet migration of N tenant databases: `eqops db migrate` (its worker pool) against a
     sequential loop of `psql -1 -f` over the same databases, applying the same DDL.

The server is the project's test Postgres (scripts/testenv, 127.0.0.1) with production
durability settings (fsync on), started and stopped here. The schema is generated: M migrations of 2 tables, 2 indexes, a view and a function.
usage: bench/pg_tenants.py [--tenants 100] [--clones 15] [--migrations 40] [--eqops PATH]
"""
import argparse
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
TESTENV = str(ROOT / "scripts" / "testenv")


def run(*args, env=None, quiet=True):
    r = subprocess.run(args, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("%s failed:\n%s%s" % (" ".join(args), r.stdout, r.stderr))
    return r.stdout


def schema(directory, first, count, suffix=""):
    """Migrations first..first+count-1; `suffix` renames the objects (for a second set)."""
    for v in range(first, first + count):
        t = "t%d%s" % (v, suffix)
        (directory / ("V%d__step_%d.sql" % (v, v))).write_text(f"""
CREATE TABLE {t}_a (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL,
    amount numeric(12, 2) NOT NULL DEFAULT 0 CHECK (amount >= 0), created timestamptz DEFAULT now());
CREATE TABLE {t}_b (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    a_id bigint NOT NULL REFERENCES {t}_a (id), note text, at date NOT NULL);
CREATE INDEX {t}_a_name ON {t}_a (name);
CREATE INDEX {t}_b_at ON {t}_b (a_id, at);
CREATE VIEW {t}_v AS SELECT a.name, count(b.id) AS n, sum(a.amount) AS total
    FROM {t}_a a LEFT JOIN {t}_b b ON b.a_id = a.id GROUP BY a.name;
CREATE FUNCTION {t}_f(x bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS 'SELECT x * 2';
""")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tenants", type=int, default=100)
    ap.add_argument("--clones", type=int, default=15)
    ap.add_argument("--migrations", type=int, default=40)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--eqops", default=shutil.which("eqops") or "eqops")
    a = ap.parse_args()

    work = pathlib.Path(tempfile.mkdtemp(prefix="eqops-bench-pg-"))
    work.chmod(0o755)  # Postgres runs as its own user when we are root
    # fsync, synchronous_commit and full_page_writes on, as in production
    env = dict(os.environ, EQOPS_TESTENV_DIR=str(work / "env"), EQOPS_TESTENV_PG_DURABLE="1")
    run(TESTENV, "up", "postgres", env=env)
    try:
        for line in run(TESTENV, "env", env=env).splitlines():
            k, _, v = line.replace("export ", "", 1).partition("=")
            env[k] = v.strip("'")
        admin = env["EQOPS_TEST_PG_ADMIN_DSN"]
        env["EQOPS_PG_CONNINFO"] = admin
        bench(a, work, env, admin)
    finally:
        run(TESTENV, "down", env=env)
        shutil.rmtree(work, ignore_errors=True)


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000.0


def bench(a, work, env, admin):
    eq = [a.eqops, "db"]
    migs = work / "migrations"
    migs.mkdir()
    schema(migs, 1, a.migrations)
    files = sorted(migs.glob("V*.sql"), key=lambda p: int(p.name[1:].split("__")[0]))
    ddl = 6 * a.migrations
    print("schema: %d migrations, %d DDL statements" % (a.migrations, ddl))
    run(*eq, "template", "--migrations", str(migs), env=env)
    size = run("psql", "-X", "-qtA", admin, "-c",
               "SELECT pg_size_pretty(pg_database_size('eqops_template'))", env=env).strip()
    print("template: %s" % size)

    # ---- 1. one new tenant ----------------------------------------------------------------
    clone, fallback, reference, floor = [], [], [], []
    for i in range(a.clones):
        name = "clone-%d" % i
        clone.append(timed(lambda: run(*eq, "create", name, env=env)))
        run(*eq, "drop", name, "--confirm", name, env=env)
        # eqops without a template: template0 + every migration
        name = "fallback-%d" % i
        fallback.append(timed(lambda: run(*eq, "create", name, "--template-db", "no_template",
                                          "--migrations", str(migs), env=env)))
        run(*eq, "drop", name, "--confirm", name, "--template-db", "no_template", env=env)

        # the reference: createdb, then psql -1 -f per migration file
        db = "ref_%d" % i

        def reference_run():
            run("psql", "-X", "-q", admin, "-c", "CREATE DATABASE %s TEMPLATE template0" % db,
                env=env)
            conninfo = admin.replace("dbname=postgres", "dbname=" + db)
            for f in files:
                run("psql", "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", conninfo, "-f", str(f),
                    env=env)
        reference.append(timed(reference_run))
        run("psql", "-X", "-q", admin, "-c", "DROP DATABASE %s" % db, env=env)
        # the floor: the clone statement alone, from psql
        floor.append(timed(lambda: run("psql", "-X", "-q", admin, "-c",
                                       "CREATE DATABASE %s TEMPLATE eqops_template" % db,
                                       env=env)))
        run("psql", "-X", "-q", admin, "-c", "DROP DATABASE %s" % db, env=env)
    c, f, r, fl = (statistics.median(x) for x in (clone, fallback, reference, floor))
    print("\n1. new tenant (median of %d, ms per tenant)" % a.clones)
    print("   eqops db create, template clone              %8.1f" % c)
    print("   eqops db create, template0 + migrations      %8.1f   clone is %.1fx faster" %
          (f, f / c))
    print("   createdb + psql -1 -f per migration (ref)    %8.1f   clone is %.1fx faster" %
          (r, r / c))
    print("   (floor: psql running CREATE DATABASE ... TEMPLATE alone: %.1f)" % fl)

    # ---- 2. fleet migration ------------------------------------------------------------------
    n = a.tenants
    t0 = time.perf_counter()
    for i in range(n):
        run(*eq, "create", "fleet-%03d" % i, env=env)
    print("\n   (%d tenants created in %.1f s)" % (n, time.perf_counter() - t0))
    add = work / "fleet"
    add.mkdir()
    for p in files:
        shutil.copy(p, add)
    schema(add, a.migrations + 1, 3)  # three new migrations for eqops
    ref_dir = work / "ref"
    ref_dir.mkdir()
    schema(ref_dir, a.migrations + 1, 3, suffix="r")  # the same DDL, other names, for psql
    ref_files = sorted(ref_dir.glob("V*.sql"))
    dbs = ["tenant_fleet_%03d" % i for i in range(n)]

    eqops_ms = timed(lambda: run(*eq, "migrate", "--migrations", str(add), "--skip-template",
                                 "--concurrency", str(a.concurrency), env=env))

    def psql_loop():  # one psql per database, all three files in one transaction
        for db in dbs:
            conninfo = admin.replace("dbname=postgres", "dbname=" + db)
            args = [x for f in ref_files for x in ("-f", str(f))]
            run("psql", "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", conninfo, *args, env=env)
    psql_ms = timed(psql_loop)
    noop_ms = timed(lambda: run(*eq, "migrate", "--migrations", str(add), "--skip-template",
                                "--concurrency", str(a.concurrency), env=env))
    print("\n2. fleet migration of %d tenants, 3 migrations (18 DDL) each" % n)
    print("   eqops db migrate (%d at a time)       %8.0f ms  %6.1f ms/tenant" %
          (a.concurrency, eqops_ms, eqops_ms / n))
    print("   sequential psql -1 -f loop (ref)      %8.0f ms  %6.1f ms/tenant   eqops is "
          "%.1fx faster" % (psql_ms, psql_ms / n, psql_ms / eqops_ms))
    print("   eqops db migrate, nothing to do       %8.0f ms  %6.1f ms/tenant" %
          (noop_ms, noop_ms / n))


if __name__ == "__main__":
    main()
