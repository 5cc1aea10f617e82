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


def test_cli_secrets_merge_keys_and_nul(ns, tmp_path):
    """What the API server answers about a Secret never shows its values; merge keys are
    applied as kubectl applies them; a NUL on stdin is refused, nothing applied."""
    kc = need_env("EQOPS_TEST_K8S_KUBECONFIG")[0]
    eq = cli()
    # a number where the Secret's schema wants a string: the server's 500 quotes the value
    sec = tmp_path / "sec.yaml"
    sec.write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: s1, namespace: %s}\n"
                   "stringData:\n  password: 98237465019283\n" % ns)
    r = sh(eq, "k8s", "apply", "-f", str(sec), "--kubeconfig", kc, "-o", "json", check=False)
    assert r.returncode == 1, r
    assert "98237465019283" not in r.stderr + r.stdout
    err = json.loads(r.stdout or r.stderr)["error"]
    assert err["code"] == "EQOPS_EINVAL" and ".stringData.password" in err["message"], err
    # merge keys: a mapping through an alias, and an inline one, explicit keys winning
    merge = tmp_path / "merge.yaml"
    merge.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm2\n"
                     "  namespace: %s\n  labels:\n    <<: &l {team: a, env: prod, app: z}\n"
                     "    app: x\ndata: {x: '1'}\n---\napiVersion: v1\nkind: ConfigMap\n"
                     "metadata:\n  <<: {name: cm4, namespace: %s}\n  labels: {a: b}\n"
                     % (ns, ns))
    want = kubectl(kc, "apply", "--server-side", "--dry-run=server", "-o", "json", "-f",
                   str(merge)).stdout
    want = json.loads(want)["items"]
    got = json.loads(sh(eq, "k8s", "apply", "-f", str(merge), "--kubeconfig", kc, "-o",
                        "json").stdout)
    assert [o["metadata"]["labels"] for o in got] == \
        [o["metadata"]["labels"] for o in want] == [{"team": "a", "env": "prod", "app": "x"},
                                                     {"a": "b"}]
    assert [o["metadata"]["name"] for o in got] == ["cm2", "cm4"]
    # a NUL byte on stdin: refused as kubectl refuses it, not the end of the manifest
    text = ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a1, namespace: %s}\n\0\n---\n"
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b1, namespace: %s}\n" % (ns, ns))
    r = sh(eq, "k8s", "apply", "-f", "-", "--kubeconfig", kc, input=text, check=False)
    assert r.returncode == 1 and "control characters are not allowed" in r.stderr, r
    assert kubectl(kc, "get", "configmap", "a1", "-n", ns, check=False).returncode == 1


def kubectl(kc, *args, check=True, input=None):
    return sh("kubectl", "--kubeconfig", kc, *args, check=check, input=input)


def names_of(applied):
    return ["%s/%s" % (o["kind"].lower(), o["metadata"]["name"]) for o in applied]


def test_cli_apply_directory_like_kubectl(admin, ns, tmp_path):
    """eqops k8s apply -f DIR [-R] applies what kubectl applies from the same directory, in
    the same order, and fails where kubectl fails (nothing to apply is never a success)."""
    kc = need_env("EQOPS_TEST_K8S_KUBECONFIG")[0]
    eq = cli()
    role = "py-dir-" + ns
    d = tmp_path / "manifests"
    (d / "sub").mkdir(parents=True)
    # (kubectl reads a file that starts with '{' as JSON only: YAML first)
    (d / "b.yaml").write_text(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\n"
        "metadata: {name: %s}\nrules: []\n---\n" % role + json.dumps(cm(ns, "b1", v="1")))
    (d / "a.json").write_text(json.dumps(cm(ns, "a1", v="1")))
    (d / "c.yml").write_text(json.dumps({"apiVersion": "v1", "kind": "List",
                                         "items": [cm(ns, "c1"), cm(ns, "c2")]}))
    (d / "notes.txt").write_text("not a manifest: [")
    (d / "sub" / "d.yaml").write_text(json.dumps(cm(ns, "d1", v="1")))
    try:
        for recursive in ([], ["-R"]):
            want = kubectl(kc, "apply", "--server-side", "--dry-run=server", "-o", "name",
                           "-f", str(d), *recursive).stdout.split()
            got = json.loads(sh(eq, "k8s", "apply", "--dry-run", "-o", "json", "-f", str(d),
                                *recursive, "--kubeconfig", kc).stdout)
            # kubectl says "clusterrole.rbac.authorization.k8s.io/NAME": the kind is enough
            want = [w.split("/")[0].split(".")[0] + "/" + w.split("/", 1)[1] for w in want]
            assert names_of(got) == want, (want, names_of(got))
            assert ("configmap/d1" in names_of(got)) == bool(recursive)
        out = sh(eq, "k8s", "apply", "-R", "-f", str(d), "--kubeconfig", kc).stdout
        assert "ConfigMap %s/d1 applied" % ns in out and "ClusterRole %s applied" % role in out
        listed = kubectl(kc, "get", "configmaps", "-n", ns, "-o", "name").stdout.split()
        assert {"configmap/a1", "configmap/b1", "configmap/c1", "configmap/c2",
                "configmap/d1"} <= set(listed)
        # again: nothing changes, still a success
        sh(eq, "k8s", "apply", "-R", "-f", str(d), "--kubeconfig", kc)

        # nothing to apply: both fail
        empty = tmp_path / "empty.yaml"
        empty.write_text("")
        k = kubectl(kc, "apply", "--server-side", "-f", str(empty), check=False)
        e = sh(eq, "k8s", "apply", "-f", str(empty), "--kubeconfig", kc, check=False)
        assert k.returncode == 1 and "no objects passed to apply" in k.stderr
        assert e.returncode == 1 and "no objects passed to apply" in e.stderr
        nodir = tmp_path / "nothing"
        nodir.mkdir()
        k = kubectl(kc, "apply", "--server-side", "-f", str(nodir), check=False)
        e = sh(eq, "k8s", "apply", "-f", str(nodir), "--kubeconfig", kc, check=False)
        assert k.returncode == 1 and "recognized file extensions" in k.stderr
        assert e.returncode == 1 and "no manifest files" in e.stderr
        # a file that is not a manifest, named explicitly (its name does not matter then)
        k = kubectl(kc, "apply", "--server-side", "-f", str(d / "notes.txt"), check=False)
        e = sh(eq, "k8s", "apply", "-f", str(d / "notes.txt"), "--kubeconfig", kc, check=False)
        assert k.returncode == 1 and "notes.txt" in k.stderr
        assert e.returncode == 1 and "notes.txt" in e.stderr
        # a bad file in the directory: eqops applies nothing (kubectl applies the others)
        (d / "e.yaml").write_text(json.dumps(cm(ns, "e1")) + "\n---\nkind: [\n")
        (d / "a0.yaml").write_text(json.dumps(cm(ns, "a0")))
        e = sh(eq, "k8s", "apply", "-f", str(d), "--kubeconfig", kc, check=False)
        assert e.returncode == 1 and "e.yaml: invalid YAML" in e.stderr
        assert kubectl(kc, "get", "configmap", "a0", "-n", ns, check=False).returncode == 1
    finally:
        kubectl(kc, "delete", "clusterrole", role, "--ignore-not-found")


def test_apply_path_binding(admin, ns, tmp_path, monkeypatch):
    d = tmp_path / "m"
    (d / "sub").mkdir(parents=True)
    (d / "x.yaml").write_text(json.dumps(cm(ns, "x")) + "\n---\n" + json.dumps(cm(ns, "y")))
    (d / "sub" / "z.json").write_text(json.dumps(cm(ns, "z")))
    assert names_of(admin.apply_path(d)) == ["configmap/x", "configmap/y"]
    # name order, a directory at the place of its name ("sub" < "x.yaml"), as kubectl walks
    assert names_of(admin.apply_path(str(d), recursive=True, dry_run=True)) == \
        ["configmap/z", "configmap/x", "configmap/y"]
    with pytest.raises(eqops.NotFound):
        admin.get("v1", "ConfigMap", "z", ns)  # the dry run stored nothing
    os.mkfifo(d / "sub" / "w.yaml")
    monkeypatch.setenv("EQOPS_FIFO_WAIT", "1")  # no writer: no data within 1 s, never a hang
    with pytest.raises(eqops.Timeout):
        admin.apply_path(d, recursive=True)


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
        # the client's token: triggered, a request stops before it is sent
        with eqops.CancelToken() as t, k8s.Client.eks(a, name, cancel=t) as c:
            t.trigger()
            with pytest.raises(eqops.Canceled):
                c.request("GET", "/version")
