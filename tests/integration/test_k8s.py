"""The k8s module from Python and the eqops CLI against the test control plane."""
import json
import os
import threading
import uuid

import pytest

import eqops
from conftest import need_env, sh
from eqops import k8s

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cli():
    return os.environ.get("EQOPS_CLI") or os.path.join(ROOT, "build", "tools", "eqops", "eqops")


@pytest.fixture
def admin():
    kc = need_env("EQOPS_TEST_K8S_KUBECONFIG")[0]
    with k8s.Client(kc) as c:
        yield c


@pytest.fixture
def ns(admin):
    name = "py-" + uuid.uuid4().hex[:8]
    admin.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    yield name
    admin.delete("v1", "Namespace", name)


def cm(ns, name, **data):
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": ns, "labels": {"py": "yes"}}, "data": data}


def test_verbs(admin, ns):
    assert admin.server.startswith("https://127.0.0.1:")
    created = admin.create(cm(ns, "a", x="1"))
    with pytest.raises(eqops.AlreadyExists):
        admin.create(cm(ns, "a", x="1"))
    assert admin.get("v1", "ConfigMap", "a", ns)["data"] == {"x": "1"}
    stale = dict(created, data={"x": "2"})
    admin.replace(stale)
    with pytest.raises(eqops.Conflict):
        admin.replace(stale)
    assert admin.patch("v1", "ConfigMap", "a", {"data": {"y": "3"}}, ns)["data"] == \
        {"x": "2", "y": "3"}
    admin.apply(cm(ns, "b", quota="10"))
    with pytest.raises(eqops.Conflict) as e:
        admin.apply(cm(ns, "b", quota="20"), field_manager="other")
    assert e.value.reason == "Conflict" and e.value.field == ".data.quota"
    assert admin.apply(cm(ns, "b", quota="20"), field_manager="other", force=True)["data"] == \
        {"quota": "20"}
    admin.delete("v1", "ConfigMap", "a", ns, dry_run=True)
    assert admin.list("v1", "ConfigMap", ns, label_selector="py=yes")
    admin.delete("v1", "ConfigMap", "a", ns)
    with pytest.raises(eqops.NotFound):
        admin.get("v1", "ConfigMap", "a", ns)
    assert admin.resource("apps/v1", "Deployment")["resource"] == "deployments"


def test_manifest_pages_and_watch(admin, ns):
    objs = [cm(ns, "m%02d" % i, i=str(i)) for i in range(30)]
    applied = admin.apply_manifest(objs, concurrency=4)
    assert [o["metadata"]["name"] for o in applied] == ["m%02d" % i for i in range(30)]
    pages = list(admin.pages("v1", "ConfigMap", ns, label_selector="py=yes", limit=7))
    assert len(pages) == 5 and sum(len(p["items"]) for p in pages) == 30
    seen = []

    def on_event(kind, obj):
        seen.append((kind, obj["metadata"]["name"]))
        return len(seen) == 32  # the 30, then one change and one deletion

    def change():  # on its own client: a Client is used by one thread at a time
        while len(seen) < 30:
            threading.Event().wait(0.05)
        with k8s.Client(os.environ["EQOPS_TEST_K8S_KUBECONFIG"]) as other:
            other.patch("v1", "ConfigMap", "m00", {"data": {"i": "changed"}}, ns)
            other.delete("v1", "ConfigMap", "m01", ns)

    t = threading.Thread(target=change)
    t.start()
    stopped = admin.watch("v1", "ConfigMap", on_event, ns, label_selector="py=yes",
                          duration="60s")
    t.join()
    assert stopped is False
    assert seen[30:] == [("MODIFIED", "m00"), ("DELETED", "m01")]

    def boom(kind, obj):
        raise RuntimeError("from the callback")

    with pytest.raises(RuntimeError):
        admin.watch("v1", "ConfigMap", boom, ns, duration="10s")

    # a pager outliving its client: an error, not a crash
    other = k8s.Client(os.environ["EQOPS_TEST_K8S_KUBECONFIG"])
    gen = other.pages("v1", "ConfigMap", ns, limit=5)
    next(gen)
    other.close()
    with pytest.raises(ValueError):
        next(gen)


def test_tenant_is_refused_and_contexts():
    kc = need_env("EQOPS_TEST_K8S_KUBECONFIG_TENANT_A")[0]
    with k8s.Client(kc) as c:
        with pytest.raises(eqops.Forbidden) as e:
            c.list("v1", "Secret", "kube-system")
        assert e.value.reason == "Forbidden" and e.value.http_status == 403
    ctx = k8s.contexts(kc)
    assert ctx["current"] == ctx["contexts"][0]["name"]


def test_cli(ns):
    kc = need_env("EQOPS_TEST_K8S_KUBECONFIG")[0]
    eq = cli()
    who = json.loads(sh(eq, "k8s", "whoami", "--kubeconfig", kc, "-o", "json").stdout)
    assert who["user"] == "eqops-admin"
    manifest = "\n---\n".join(json.dumps(cm(ns, n, v="1")) for n in ("c1", "c2"))
    out = sh(eq, "k8s", "apply", "-f", "-", "--kubeconfig", kc, input=manifest).stdout
    assert "ConfigMap %s/c1 applied" % ns in out
    got = json.loads(sh(eq, "k8s", "get", "configmap", "c2", "-n", ns, "--kubeconfig", kc).stdout)
    assert got["data"] == {"v": "1"}
    listed = sh(eq, "k8s", "get", "ConfigMap", "-n", ns, "-l", "py=yes", "--kubeconfig",
                kc).stdout
    assert "c1" in listed and "c2" in listed
    events = sh(eq, "k8s", "watch", "configmap", "-n", ns, "-l", "py=yes", "--timeout", "2s",
                "-o", "json", "--kubeconfig", kc).stdout.splitlines()
    assert sorted(json.loads(e)["object"]["metadata"]["name"] for e in events) == ["c1", "c2"]
    sh(eq, "k8s", "delete", "configmap", "c1", "-n", ns, "--kubeconfig", kc)
    r = sh(eq, "k8s", "get", "configmap", "c1", "-n", ns, "--kubeconfig", kc, check=False)
    assert r.returncode == 1 and "NotFound" in r.stderr
    r = sh(eq, "k8s", "apply", "-f", "-", "--kubeconfig", kc, input="{not yaml: [", check=False)
    assert r.returncode == 1 and "manifest" in r.stderr


def test_request_resource_and_eks(admin):
    version = json.loads(admin.request("GET", "/version"))
    assert version["major"] == "1"
    assert admin.resource("v1", "ConfigMap") == {"group": "", "version": "v1",
                                                  "kind": "ConfigMap", "resource": "configmaps",
                                                  "namespaced": True}
    with pytest.raises(eqops.NotFound):
        admin.resource("v1", "NoSuchKind")
    moto = need_env("EQOPS_TEST_AWS_ENDPOINT")[0]
    from eqops import aws
    name = "py-k8s-" + uuid.uuid4().hex[:8]
    sh("aws", "eks", "create-cluster", "--region", "eu-west-1", "--name", name, "--role-arn",
       "arn:aws:iam::123456789012:role/eks", "--resources-vpc-config", "subnetIds=subnet-1")
    with aws.Client("eu-west-1", endpoint_url=moto,
                    credentials=aws.Credentials("testing", "testing")) as a:
        described = a.eks_describe_cluster(name)
        with k8s.Client.eks(a, name, namespace="tenants") as c:
            assert c.server == described["endpoint"] and c.namespace == "tenants"
