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
        raise AssertionError("%s failed (%d):\n%s%s" % (" ".join(args), r.returncode, r.stdout,
                                                         r.stderr))
    return r


@pytest.fixture
def kubeconfig():
    return need_env("EQOPS_TEST_K8S_KUBECONFIG")[0]
