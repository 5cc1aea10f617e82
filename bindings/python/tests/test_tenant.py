"""eqops.tenant without services: the env, spec checks and defaults, rendering, refusals made
before any request, an unreachable cluster, the fleet's checks and the progress callback.
Against real clusters and Postgres the operations run in tests/integration."""
import json

import pytest

import eqops
from eqops import tenant

TIERS = {"tiers": {"small": {"pod_security": "restricted",
                             "quota": {"pods": "10", "requests.cpu": "2"},
                             "limits": {"default": {"cpu": "500m"}}, "connection_limit": 5}}}
SPEC = {"name": "acme-power", "tier": "small", "clusters": [{"name": "eu-west", "context": "nope"}]}
# the API server of this kubeconfig refuses connections
KUBECONFIG = {
    "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
    "users": [{"name": "u", "user": {"token": "secret-token"}}],
    "contexts": [{"name": "down", "context": {"cluster": "c", "user": "u"}}],
    "current-context": "down",
}
UNREACHABLE = {"name": "acme-power", "tier": "small", "database": {"enabled": False},
               "clusters": [{"name": "eu-west", "context": "down"}]}


@pytest.fixture
def tiers(tmp_path):
    p = tmp_path / "tiers.json"
    p.write_text(json.dumps(TIERS))
    return p


@pytest.fixture
def env(tiers):
    with tenant.Env(tiers) as e:
        yield e


@pytest.fixture
def offline(tiers, tmp_path):
    kc = tmp_path / "kubeconfig"
    kc.write_text(json.dumps(KUBECONFIG))
    with tenant.Env(tiers_file=tiers, kubeconfig=kc, request_timeout_ms=500) as e:
        yield e


def test_check_fills_in_the_defaults(env):
    for spec in (SPEC, json.dumps(SPEC), "name: acme-power\ntier: small\nclusters:\n"
                 "  - {name: eu-west, context: nope}\n"):
        doc = env.check(spec)
        assert doc["name"] == "acme-power" and doc["tier"] == "small"
        assert doc["database"]["enabled"] is True
        assert doc["database"]["connection_limit"] == 5  # the tier's
        assert doc["secrets"]["kubernetes"]["name"] == "db-credentials"


def test_render(env):
    objs = env.render(SPEC)
    assert objs[0]["kind"] == "Namespace" and objs[0]["metadata"]["name"] == "acme-power"
    kinds = [o["kind"] for o in objs]
    assert {"ResourceQuota", "LimitRange", "NetworkPolicy", "ServiceAccount",
            "Secret"} <= set(kinds)
    for o in objs:
        assert o["metadata"]["labels"]["eqops.io/tenant"] == "acme-power"
    assert objs[0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    quota = next(o for o in objs if o["kind"] == "ResourceQuota")
    assert quota["spec"]["hard"] == {"pods": "10", "requests.cpu": "2"}
    secret = next(o for o in objs if o["kind"] == "Secret")
    assert "data" not in secret and "stringData" not in secret
    assert env.render(SPEC, cluster="eu-west") == objs
    with pytest.raises(eqops.NotFound) as e:
        env.render(SPEC, cluster="other")
    assert e.value.field == "cluster"


@pytest.mark.parametrize("name", ["../etc", "Robert'); DROP", "a", "x" * 41, "select", "",
                                  "acme power", "acme\nx"])
def test_hostile_names_are_refused(env, name):
    for call in (env.check, env.render, env.status, env.plan):
        with pytest.raises(eqops.InvalidArgument) as e:
            call(dict(SPEC, name=name))
        assert e.value.field == "name"
        assert isinstance(e.value, ValueError)


def test_bad_specs_name_the_field(env):
    cases = [
        (dict(SPEC, tier="huge"), "tier"),
        (dict(SPEC, clusters=[{"name": "eu-west", "context": "x",
                               "eks": {"cluster": "c", "region": "eu-west-1"}}]), "clusters[0]"),
        (dict(SPEC, clusters=[{"name": "eu-west"}]), "clusters[0]"),
        (dict(SPEC, clusters=[{"name": "eu-west", "eks": {"cluster": "c", "region": "mars"}}]),
         "clusters[0].eks.region"),
        (dict(SPEC, clusters=[{"name": "EU", "context": "x"}]), "clusters[0].name"),
        (dict(SPEC, clusters=[]), "clusters"),
    ]
    for spec, field in cases:
        with pytest.raises(eqops.InvalidArgument) as e:
            env.check(spec)
        assert e.value.field == field, (spec, str(e.value))
    with pytest.raises(eqops.InvalidArgument):
        env.check("name: [")
    with pytest.raises(eqops.InvalidArgument):
        env.check("[]")


def test_env_errors(tiers, tmp_path):
    with pytest.raises(eqops.NotFound):
        tenant.Env(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"tiers": {"small": {"pod_security": "none"}}}))
    with pytest.raises(eqops.InvalidArgument) as e:
        tenant.Env(bad)
    assert e.value.field == "tiers.small.pod_security"
    with pytest.raises(eqops.InvalidArgument) as e:
        tenant.Env(tiers, concurrency=33)
    assert e.value.field == "concurrency"
    with pytest.raises(eqops.InvalidArgument):
        tenant.Env(tiers, lock_wait_ms=-1)
    with tenant.Env() as no_tiers:  # enough for list(), not for a spec
        with pytest.raises(eqops.InvalidArgument) as e:
            no_tiers.check(SPEC)
        assert e.value.field == "tier"


def test_reserved_names(tiers, tmp_path):
    with tenant.Env(tiers) as env:  # the built-in list
        for name in ("argocd", "kube-system", "kube-x", "monitoring", "cert-manager"):
            with pytest.raises(eqops.InvalidArgument) as e:
                env.check(dict(SPEC, name=name))
            assert e.value.field == "name" and "is reserved" in str(e.value)
    kc = tmp_path / "kubeconfig"
    kc.write_text(json.dumps(KUBECONFIG))
    with tenant.Env(tiers, kubeconfig=kc, argocd_namespace="gitops",
                    reserved_names=["billing", "team-*"]) as env:
        for name in ("gitops", "billing", "team-red", "argocd", "kube-public"):
            for call in (env.check, env.render, env.status, env.plan, env.apply, env.reconcile,
                         env.drift):
                with pytest.raises(eqops.InvalidArgument) as e:
                    call(dict(SPEC, name=name))
                assert e.value.field == "name", (name, str(e.value))
        assert env.check(dict(SPEC, name="billing-east"))["name"] == "billing-east"
        # destroy takes a reserved name: it goes on to the cluster ("nope" is no context)
        with pytest.raises(eqops.NotFound) as e:
            env.destroy(dict(SPEC, name="billing", database={"enabled": False}), "billing")
        assert e.value.field == "clusters[0].context"
    with tenant.Env(tiers, reserved_names="billing") as env:  # one name as a string
        with pytest.raises(eqops.InvalidArgument):
            env.check(dict(SPEC, name="billing"))
    for bad in (["ok", "Bad"], ["ok", "a*b"], ["ok", "x" * 64]):
        with pytest.raises(eqops.InvalidArgument) as e:
            tenant.Env(tiers, reserved_names=bad)
        assert e.value.field == "reserved_names[1]"
    for bad in (["a\nb"], [""], [3]):
        with pytest.raises(TypeError):
            tenant.Env(tiers, reserved_names=bad)


def test_database_settings_allow_list(env):
    for name in ("role", "session_authorization", "search_path", "local_preload_libraries"):
        with pytest.raises(eqops.InvalidArgument) as e:
            env.check(dict(SPEC, database={"settings": {name: "x"}}))
        assert e.value.field == "database.settings." + name
        assert "not a setting a tenant database may have" in str(e.value)
    doc = env.check(dict(SPEC, database={"settings": {"statement_timeout": "30s",
                                                      "work_mem": "8MB"}}))
    assert doc["database"]["settings"] == {"statement_timeout": "30s", "work_mem": "8MB"}


def test_appproject_denies_argo_kinds(env):
    spec = dict(SPEC, argocd={"repo": "https://git.example.com/a.git", "path": "deploy"})
    project = next(o for o in env.render(spec) if o["kind"] == "AppProject")
    # Argo CD's own kinds only: "*" would also deny Rollouts, Workflows and Events kinds
    assert [d["kind"] for d in project["spec"]["namespaceResourceBlacklist"]
            if d["group"] == "argoproj.io"] == ["Application", "ApplicationSet", "AppProject"]


def test_destroy_needs_confirmation_before_any_request(offline):
    # the context "nope" does not exist: anything past the check would fail otherwise
    for confirm in (None, "", "acme", "ACME-POWER"):
        with pytest.raises(eqops.InvalidArgument) as e:
            offline.destroy(SPEC, confirm)
        assert e.value.field == "confirm"
    with pytest.raises(eqops.Error) as e:
        offline.destroy(SPEC, "acme-power")
    assert e.value.field != "confirm"
    with pytest.raises(eqops.NotFound) as e:
        offline.destroy(dict(SPEC, database={"enabled": False}), "acme-power")
    assert e.value.field == "clusters[0].context"


def test_unknown_context_and_missing_database(offline):
    with pytest.raises(eqops.NotFound) as e:
        offline.plan(dict(SPEC, database={"enabled": False}))
    assert e.value.field == "clusters[0].context"
    with pytest.raises(eqops.InvalidArgument) as e:
        offline.apply(SPEC)  # a database without pg_conninfo
    assert e.value.field == "pg_conninfo"
    with pytest.raises(eqops.InvalidArgument) as e:
        offline.apply(SPEC, cluster_parallel=17)
    assert e.value.field == "cluster_parallel"


def test_unreachable_cluster_fails_cleanly(offline):
    for call in (offline.plan, offline.reconcile, offline.drift):
        with pytest.raises(eqops.Unavailable) as e:
            call(UNREACHABLE)
        assert "secret-token" not in str(e.value)
    # status reports a region it cannot reach instead of failing
    st = offline.status(UNREACHABLE)
    assert st["health"] == "unknown" and st["error"] and "secret-token" not in json.dumps(st)
    with pytest.raises(eqops.Unavailable):
        offline.apply(UNREACHABLE, rotate_password=True, cluster_parallel=1)
    with pytest.raises(eqops.Unavailable):
        offline.list()
    with pytest.raises(eqops.Unavailable):
        offline.list(["down"])
    with pytest.raises(eqops.NotFound):
        offline.list("nope")
    with pytest.raises(TypeError):
        offline.list(["a\nb"])


def test_progress(offline, tmp_path):
    seen = []
    with pytest.raises(eqops.Unavailable):
        offline.plan(UNREACHABLE, progress=lambda *ev: seen.append(ev))
    assert seen[0] == ("acme-power", "eu-west", "namespace", "start", 0, seen[0][5])
    assert seen[-1][2:5] == ("namespace", "failed", 1)
    assert all(isinstance(ev[4], int) and ev[4] <= ev[5] for ev in seen)

    def boom(*ev):
        raise KeyError("from the callback")

    with pytest.raises(KeyError, match="from the callback"):
        offline.plan(UNREACHABLE, progress=boom)
    with pytest.raises(eqops.Error):  # stopped or failed; either way an error, no crash
        offline.plan(UNREACHABLE, progress=lambda *ev: True)
    (tmp_path / "a.json").write_text(json.dumps(UNREACHABLE))
    with pytest.raises(KeyError):
        offline.fleet("plan", tmp_path, progress=boom)


def test_fleet(offline, tiers, tmp_path):
    d = tmp_path / "specs"
    d.mkdir()
    doc, failed = offline.fleet("plan", d)
    assert (doc["tenants"], doc["ok"], failed) == ([], 0, 0)
    (d / "tiers.json").write_text(tiers.read_text())  # a tiers file among the specs is skipped
    (d / "a.json").write_text(json.dumps(UNREACHABLE))
    (d / "b.yaml").write_text("name: other\ntier: small\ndatabase: {enabled: false}\n"
                              "clusters: [{name: eu, context: down}]\n")
    doc, failed = offline.fleet("status", d)
    assert failed == 2 and doc["failed"] == 2 and doc["operation"] == "status"
    assert sorted(t["tenant"] for t in doc["tenants"]) == ["acme-power", "other"]
    doc, failed = offline.fleet("drift", str(d), rotate_password=False, progress=lambda *ev: None)
    assert failed == 2
    # the same tenant twice: refused before anything is done
    (d / "c.json").write_text(json.dumps(dict(UNREACHABLE, tier="small")))
    with pytest.raises(eqops.InvalidArgument) as e:
        offline.fleet("apply", d)
    assert e.value.field == "name" and "acme-power" in str(e.value)
    (d / "c.json").unlink()
    with pytest.raises(eqops.InvalidArgument) as e:
        offline.fleet("destroy", d)
    assert e.value.field == "confirm"
    with pytest.raises(eqops.InvalidArgument) as e:
        offline.fleet("destroy", d, confirm="elsewhere")
    assert e.value.field == "confirm"
    with pytest.raises(eqops.InvalidArgument) as e:
        offline.fleet("explode", d)
    assert e.value.field == "operation"
    (d / "d.json").write_text(json.dumps(dict(UNREACHABLE, name="x")))
    with pytest.raises(eqops.InvalidArgument) as e:
        offline.fleet("plan", d)
    assert e.value.field == "name"
    with pytest.raises(eqops.NotFound):
        offline.fleet("plan", tmp_path / "missing")


def test_closed_env(tiers):
    e = tenant.Env(tiers)
    e.close()
    e.close()
    with pytest.raises(ValueError):
        e.check(SPEC)
    with pytest.raises(ValueError):
        e.fleet("plan", "/tmp")
