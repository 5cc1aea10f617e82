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


def test_apply_path_refuses_nothing_to_apply(kubeconfig, tmp_path, monkeypatch):
    """Nothing to apply is an error before any request (nothing listens at the server); a FIFO
    without a writer fails within the bounded wait (EQOPS_FIFO_WAIT), never hangs; a bad file
    anywhere applies nothing and is named."""
    import os
    monkeypatch.setenv("EQOPS_FIFO_WAIT", "1")
    with k8s.Client(kubeconfig) as c:
        empty = tmp_path / "manifests"
        empty.mkdir()
        with pytest.raises(eqops.InvalidArgument) as e:
            c.apply_path(empty)
        assert e.value.field == "path" and "no manifest files" in str(e.value)
        (empty / "sub").mkdir()
        (empty / "sub" / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\n")
        (empty / "notes.txt").write_text("not a manifest")
        with pytest.raises(eqops.InvalidArgument):
            c.apply_path(empty)  # the subdirectory needs recursive=True
        (empty / "a.yaml").write_text("---\n# nothing\n")
        with pytest.raises(eqops.InvalidArgument) as e:
            c.apply_path(str(empty))
        assert "no objects passed to apply" in str(e.value)
        with pytest.raises(eqops.InvalidArgument) as e:
            c.apply_path(empty, recursive=True)  # sub/cm.yaml has no name
        assert "sub/cm.yaml: object 0" in str(e.value)
        with pytest.raises(eqops.InvalidArgument) as e:
            c.apply_manifest("")
        assert "no objects passed to apply" in str(e.value)
        fifo = tmp_path / "fifo.yaml"
        os.mkfifo(fifo)
        with pytest.raises(eqops.Timeout) as e:
            c.apply_path(fifo)
        assert "no data from FIFO" in str(e.value)
        with pytest.raises(eqops.NotFound):
            c.apply_path(tmp_path / "missing.yaml")
