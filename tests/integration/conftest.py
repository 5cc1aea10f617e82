"""Shared fixtures for the integration tests: the services of scripts/testenv.

With CI=true a missing service is a failure; locally a test skips with a message saying how
to start the environment.
"""
import os
import subprocess

import pytest

CI = os.environ.get("CI") == "true"
START = "start it with: scripts/testenv up; eval \"$(scripts/testenv env)\""


def need_env(*names):
    missing = [n for n in names if not os.environ.get(n)]
    if missing:
        msg = "test environment not running (%s unset); %s" % (", ".join(missing), START)
        if CI:
            pytest.fail(msg)
        pytest.skip(msg)
    return [os.environ[n] for n in names]


def sh(*args, env=None, check=True, input=None):
    """Run a command; return CompletedProcess with text output."""
    r = subprocess.run(args, capture_output=True, text=True, env=env, input=input, timeout=120)
    if check and r.returncode != 0:
        # stderr first: it says what went wrong; a long stdout is cut to its start
        raise AssertionError("%s failed (%d):\nstderr:\n%s\nstdout:\n%s" % (
            " ".join(args), r.returncode, r.stderr, r.stdout[:4000]))
    return r


def psql_args(dsn, db=None):
    """(argv, env) to run psql on `dsn` (a keyword conninfo as scripts/testenv writes them):
    the password goes into PGPASSWORD, not onto the command line, where every local user could
    read it in /proc/PID/cmdline; `db` replaces the database."""
    parts = dsn.split()
    password = [p[len("password="):] for p in parts if p.startswith("password=")]
    keep = [p for p in parts if not p.startswith("password=") and
            not (db and p.startswith("dbname="))]
    if db:
        keep.append("dbname=" + db)
    env = dict(os.environ, PGCONNECT_TIMEOUT="10")
    if password:
        env["PGPASSWORD"] = password[-1]
    return ["psql", "-X", "-qAt", "-v", "ON_ERROR_STOP=1", " ".join(keep)], env


def psql(dsn, sql, db=None, check=True, timeout=120):
    """Run `sql` (given on stdin: it may hold passwords too) as `dsn`; the output stripped, or
    with check=False the CompletedProcess."""
    args, env = psql_args(dsn, db)
    r = subprocess.run(args, input=sql, capture_output=True, text=True, env=env, timeout=timeout)
    if not check:
        return r
    if r.returncode != 0:
        raise AssertionError("psql %s failed (%d): %s" % (args[-1], r.returncode, r.stderr))
    return r.stdout.strip()


@pytest.fixture
def kubeconfig():
    return need_env("EQOPS_TEST_K8S_KUBECONFIG")[0]
