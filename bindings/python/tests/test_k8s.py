"""eqops.k8s without a cluster: kubeconfig reading, contexts, input checks.

The verbs run against the test control plane in tests/integration/test_k8s.py."""
import json

import pytest

import eqops
from eqops import k8s

CONFIG = {
    "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1/"}}],
    "users": [{"name": "u", "user": {"token": "secret-token"}}],
    "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u", "namespace": "ns1"}},
                 {"name": "y", "context": {"cluster": "c", "user": "u"}}],
    "current-context": "x",
}


@pytest.fixture
def kubeconfig(tmp_path):
    p = tmp_path / "config"
    p.write_text(json.dumps(CONFIG))
    return p


def test_client_from_kubeconfig(kubeconfig):
    with k8s.Client(kubeconfig) as c:
        assert (c.server, c.context, c.namespace) == ("https://127.0.0.1:1", "x", "ns1")
    with k8s.Client(kubeconfig, context="y", namespace="other") as c:
        assert (c.context, c.namespace) == ("y", "other")
    ctx = k8s.contexts(kubeconfig)
    assert ctx["current"] == "x" and [c["name"] for c in ctx["contexts"]] == ["x", "y"]
    assert "secret-token" not in json.dumps(ctx)


def test_errors_name_the_problem(kubeconfig, tmp_path):
    with pytest.raises(eqops.NotFound) as e:
        k8s.Client(kubeconfig, context="nope")
    assert e.value.field == "context"
    with pytest.raises(eqops.NotFound):
        k8s.Client(tmp_path / "missing")
    bad = tmp_path / "bad"
    bad.write_text("users: {x: 1}\n")
    with pytest.raises(eqops.InvalidArgument) as e:
        k8s.Client(bad)
    assert "bad" in str(e.value)
    with k8s.Client(kubeconfig) as c:
        with pytest.raises(eqops.InvalidArgument) as e:
            c.get("v1", "ConfigMap", "../etc", "ns1")
        assert e.value.field == "name"
        with pytest.raises(eqops.InvalidArgument):
            c.create({"kind": "ConfigMap"})
        with pytest.raises(eqops.InvalidArgument):
            c.apply_manifest("{not yaml: [")
    c.close()
    with pytest.raises(ValueError):
        c.get("v1", "ConfigMap", "a")
