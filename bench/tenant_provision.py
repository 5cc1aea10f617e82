#!/usr/bin/env python3
"""End-to-end tenant provisioning into two control planes (two regions) and Postgres:
`eqops tenant apply DIR` against a shell baseline doing the same with `kubectl apply` and
`psql`, in one run. Not a test.

Every tenant gets, in each of the two clusters (eu-west: context eqops-k8s, eu-north: context
eqops-k8s2), what include/eqops/tenant.h lists: the labelled Namespace, a ResourceQuota and a
LimitRange from the tier, the NetworkPolicies default-deny, allow-same-namespace and allow-dns,
the ServiceAccount "workload" with the Role and RoleBinding "tenant-workload", the Secret
"db-credentials" (host, port, dbname, user, password), and an Argo CD AppProject and
Application in the namespace "argocd"; in Postgres a LOGIN role with a random password and a
connection limit, and a database cloned from a template (examples/pg/migrations), CONNECT
revoked from PUBLIC and granted to the role, privileges on the tables for the role.

  baseline  a generated bash script, one tenant after the other as an operator script does
            it: per tenant one `kubectl --context C apply --server-side -f -` of a
            multi-document YAML per cluster, then one `psql` session; each phase timed with
            `date +%s%N`. Tenants base-t01...
  eqops     `eqops tenant apply DIR` once over all the specs (its default concurrency), then
            once more (nothing to do). Tenants bench-t01...; per-tenant k8s_ms and pg_ms are
            read from its JSON result.

Prints the total wall times and their ratio, the per-tenant mean and median time spent in
Kubernetes and in Postgres on both sides, and the re-run time. Removes both sets of tenants
at the end (`eqops tenant destroy` for the library's) unless --keep.

Services: EQOPS_TEST_PG_ADMIN_DSN, EQOPS_TEST_K8S_CONTEXT_KUBECONFIG and
EQOPS_TEST_K8S2_CONTEXT_KUBECONFIG from the environment (eval "$(scripts/testenv env)" after
`scripts/testenv up postgres k8s k8s2`) when all three are set; otherwise it starts its own
with scripts/testenv (Postgres with production durability settings) and stops them at the
end. The eqops binary: $EQOPS_CLI, else build/tools/eqops/eqops, else eqops on PATH.

usage: python3 bench/tenant_provision.py [--tenants 50] [--keep]
"""
import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTENV = os.path.join(ROOT, "scripts", "testenv")
CRDS = os.path.join(ROOT, "tests", "data", "argocd", "crds.yaml")
MIGRATIONS = os.path.join(ROOT, "examples", "pg", "migrations")
CLUSTERS = [("eu-west", "eqops-k8s"), ("eu-north", "eqops-k8s2")]
CONTEXTS = [c for _, c in CLUSTERS]
ARGOCD_NS = "argocd"
ARGOCD_SERVER = "https://kubernetes.default.svc"
BASE_TEMPLATE = "bench_base_template"  # the baseline's template database
TIER = {
    "pod_security": "restricted",
    "quota": {"requests.cpu": "4", "requests.memory": "8Gi", "limits.cpu": "8",
              "limits.memory": "16Gi", "pods": "40", "services": "10",
              "persistentvolumeclaims": "10"},
    "limits": {"default": {"cpu": "500m", "memory": "512Mi"},
               "default_request": {"cpu": "100m", "memory": "128Mi"},
               "max": {"cpu": "2", "memory": "4Gi"},
               "min": {"cpu": "10m", "memory": "16Mi"}},
    "connection_limit": 20,
}
OBJECTS_PER_CLUSTER = 12  # ns, quota, limits, 3 netpols, sa, role, binding, secret, 2 argocd

# Used only while tests/data/argocd/crds.yaml does not exist: the two kinds, schemaless.
FALLBACK_CRDS = "\n---\n".join("""apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: %(plural)s.argoproj.io
spec:
  group: argoproj.io
  scope: Namespaced
  names: {kind: %(kind)s, listKind: %(kind)sList, plural: %(plural)s, singular: %(singular)s}
  versions:
    - name: v1alpha1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
""" % k for k in ({"kind": "Application", "plural": "applications", "singular": "application"},
                  {"kind": "AppProject", "plural": "appprojects", "singular": "appproject"}))


def fail(msg):
    sys.exit("tenant_provision: " + msg)


def run(cmd, env, stdin=None, check=True, what=None):
    """Run; on failure print the command (without secrets: none are on command lines) and its
    output, and exit. Returns the CompletedProcess."""
    r = subprocess.run(cmd, env=env, input=stdin, capture_output=True, text=True)
    if check and r.returncode != 0:
        fail("%s failed (exit %d):\n%s%s" % (what or " ".join(cmd[:6]), r.returncode,
                                             r.stdout[-3000:], r.stderr[-3000:]))
    return r


def parse_env(text):
    out = {}
    for line in text.splitlines():
        parts = shlex.split(line)
        if len(parts) == 2 and parts[0] == "export":
            k, _, v = parts[1].partition("=")
            out[k] = v
    return out


def split_password(dsn):
    """A key=value conninfo without its password (which goes to PGPASSWORD), and the
    password. URIs are returned unchanged."""
    if "://" in dsn:
        return dsn, None
    keep, password = [], None
    for tok in shlex.split(dsn):
        k, _, v = tok.partition("=")
        if k == "password":
            password = v
        else:
            keep.append("%s=%s" % (k, conninfo_quote(v)))
    return " ".join(keep), password


def conninfo_quote(v):
    if v and not any(c in v for c in " '\\"):
        return v
    return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"


def conninfo_get(dsn, key, default=""):
    if "://" in dsn:
        return default
    for tok in shlex.split(dsn):
        k, _, v = tok.partition("=")
        if k == key:
            return v
    return default


def find_eqops():
    """(path, None) when `eqops tenant` is usable, else (path or None, why not)."""
    cands = [os.environ.get("EQOPS_CLI"), os.path.join(ROOT, "build", "tools", "eqops", "eqops"),
             shutil.which("eqops")]
    path = next((c for c in cands if c and os.access(c, os.X_OK)), None)
    if path is None:
        return None, "no eqops binary ($EQOPS_CLI, build/tools/eqops/eqops, PATH)"
    r = subprocess.run([path, "tenant", "--help"], capture_output=True, text=True)
    if r.returncode != 0:
        msg = (r.stderr or r.stdout).strip().splitlines()
        return path, "%s has no usable 'tenant' command (%s)" % (
            path, msg[0] if msg else "exit %d" % r.returncode)
    return path, None


# ---- specs ------------------------------------------------------------------------------

def names(prefix, n):
    return ["%s-t%02d" % (prefix, i) for i in range(1, n + 1)]


def argocd_of(name):
    return {"repo": "https://git.example.com/tenants/%s.git" % name, "path": "deploy/prod",
            "revision": "main", "server": ARGOCD_SERVER}


def write_specs(directory, tenants):
    os.makedirs(directory)
    for name in tenants:
        spec = {
            "name": name,
            "tier": "standard",
            "clusters": [{"name": c, "context": ctx} for c, ctx in CLUSTERS],
            "database": {"enabled": True, "connection_limit": TIER["connection_limit"]},
            "secrets": {"kubernetes": {"name": "db-credentials"}},
            "argocd": argocd_of(name),
            "labels": {"team": "bench"},
        }
        with open(os.path.join(directory, name + ".json"), "w") as f:
            json.dump(spec, f, indent=1)


# ---- the shell baseline -----------------------------------------------------------------

def yaml_map(d, indent):
    pad = " " * indent
    return "\n".join("%s%s: %s" % (pad, json.dumps(k), json.dumps(v)) for k, v in d.items())


def baseline_script():
    """The operator script: tenant NAME renders the YAML with heredocs, applies it to each
    context, then runs one psql session. Times go to $TIMES as
    "name ns-cluster1 ns-cluster2 ns-postgres"."""
    lim = TIER["limits"]
    argo = argocd_of("$name")
    manifest = """apiVersion: v1
kind: Namespace
metadata:
  name: $name
  labels:
    eqops.io/tenant: $name
    eqops.io/tier: standard
    app.kubernetes.io/managed-by: eqops
    pod-security.kubernetes.io/enforce: %(psa)s
    team: bench
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: tenant, namespace: $name}
spec:
  hard:
%(quota)s
---
apiVersion: v1
kind: LimitRange
metadata: {name: tenant, namespace: $name}
spec:
  limits:
    - type: Container
      default:
%(default)s
      defaultRequest:
%(default_request)s
      max:
%(max)s
      min:
%(min)s
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: $name}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-same-namespace, namespace: $name}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  ingress: [{from: [{podSelector: {}}]}]
  egress: [{to: [{podSelector: {}}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-dns, namespace: $name}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
    - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}}]
      ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: workload, namespace: $name}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: tenant-workload, namespace: $name}
rules:
  - apiGroups: [""]
    resources: [configmaps, pods, services, endpoints]
    verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: tenant-workload, namespace: $name}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: tenant-workload}
subjects: [{kind: ServiceAccount, name: workload, namespace: $name}]
---
apiVersion: v1
kind: Secret
metadata: {name: db-credentials, namespace: $name}
type: Opaque
stringData:
  host: "$PGHOST_T"
  port: "$PGPORT_T"
  dbname: "$obj"
  user: "$obj"
  password: "$pw"
---
apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata: {name: $name, namespace: %(argo_ns)s, labels: {eqops.io/tenant: $name}}
spec:
  description: tenant $name
  sourceRepos: ["%(repo)s"]
  destinations: [{server: "%(server)s", namespace: $name}]
  clusterResourceWhitelist: []
  namespaceResourceBlacklist: [{group: "", kind: ResourceQuota}, {group: "", kind: LimitRange},
    {group: networking.k8s.io, kind: NetworkPolicy},
    {group: rbac.authorization.k8s.io, kind: Role},
    {group: rbac.authorization.k8s.io, kind: RoleBinding}]
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: $name, namespace: %(argo_ns)s, labels: {eqops.io/tenant: $name}}
spec:
  project: $name
  source: {repoURL: "%(repo)s", path: %(path)s, targetRevision: %(rev)s}
  destination: {server: "%(server)s", namespace: $name}
""" % {"psa": TIER["pod_security"], "quota": yaml_map(TIER["quota"], 4),
       "default": yaml_map(lim["default"], 8),
       "default_request": yaml_map(lim["default_request"], 8),
       "max": yaml_map(lim["max"], 8), "min": yaml_map(lim["min"], 8), "argo_ns": ARGOCD_NS,
       "repo": argo["repo"], "path": argo["path"], "rev": argo["revision"],
       "server": argo["server"]}
    # the statements of eqops/pg.h's tenant create, as one psql session
    sql = """CREATE ROLE "$obj" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
    PASSWORD '$pw' CONNECTION LIMIT %(limit)d;
CREATE DATABASE "$obj" TEMPLATE %(template)s;
REVOKE ALL ON DATABASE "$obj" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE "$obj" TO "$obj";
COMMENT ON DATABASE "$obj" IS 'tenant $name';
\\connect "$obj"
BEGIN;
GRANT USAGE ON SCHEMA public TO "$obj";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "$obj";
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO "$obj";
GRANT EXECUTE ON ALL ROUTINES IN SCHEMA public TO "$obj";
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "$obj";
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO "$obj";
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT EXECUTE ON ROUTINES TO "$obj";
COMMIT;
""" % {"limit": TIER["connection_limit"], "template": BASE_TEMPLATE}
    return """#!/usr/bin/env bash
# Generated by bench/tenant_provision.py: the shell baseline. Provisions each tenant named on
# the command line into the Kubernetes contexts %(contexts)s and Postgres, one after the other.
# Needs KUBECONFIG, PGCONN (a conninfo without password), PGPASSWORD, PGHOST_T, PGPORT_T, TIMES.
set -euo pipefail

manifest() {  # name obj pw
    local name=$1 obj=$2 pw=$3
    cat <<EOF
%(manifest)sEOF
}

database() {  # name obj pw
    local name=$1 obj=$2 pw=$3
    psql -X -q -v ON_ERROR_STOP=1 "$PGCONN" <<EOF
%(sql)sEOF
}

tenant() {
    local name=$1 obj pw t0 t1 line
    obj=tenant_${name//-/_}
    pw=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \\n')
    line=$name
    for ctx in %(contexts)s; do
        t0=$(date +%%s%%N)
        manifest "$name" "$obj" "$pw" |
            kubectl --context "$ctx" apply --server-side --field-manager bench -f - >/dev/null
        t1=$(date +%%s%%N)
        line="$line $((t1 - t0))"
    done
    t0=$(date +%%s%%N)
    database "$name" "$obj" "$pw"
    t1=$(date +%%s%%N)
    echo "$line $((t1 - t0))" >>"$TIMES"
}

for name in "$@"; do
    tenant "$name"
done
""" % {"contexts": " ".join(CONTEXTS), "manifest": manifest, "sql": sql}


def psql(conn, env, sql, what, db=None, check=True):
    c = conn if db is None else conn + " dbname=" + db
    return run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", c, "-c", sql], env, check=check,
               what=what)


def base_template(conn, env):
    psql(conn, env, "DROP DATABASE IF EXISTS %s" % BASE_TEMPLATE, "drop baseline template")
    psql(conn, env, "CREATE DATABASE %s TEMPLATE template0" % BASE_TEMPLATE,
         "create baseline template")
    files = sorted((f for f in os.listdir(MIGRATIONS) if f.endswith(".sql")),
                   key=lambda f: int(f[1:].split("__")[0]))
    for f in files:  # autocommit: one migration has CREATE INDEX CONCURRENTLY
        run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", conn + " dbname=" + BASE_TEMPLATE,
             "-f", os.path.join(MIGRATIONS, f)], env, what="baseline template: " + f)
    return len(files)


def run_baseline(work, tenants, env):
    script = os.path.join(work, "baseline.sh")
    with open(script, "w") as f:
        f.write(baseline_script())
    os.chmod(script, 0o700)
    times = os.path.join(work, "baseline.times")
    benv = dict(env, TIMES=times)
    t0 = time.perf_counter()
    r = subprocess.run(["bash", script] + tenants, env=benv, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        fail("the baseline script failed (exit %d) after %d tenants:\n%s%s" % (
            r.returncode, sum(1 for _ in open(times)) if os.path.exists(times) else 0,
            r.stdout[-3000:], r.stderr[-3000:]))
    per = {}
    with open(times) as f:
        for line in f:
            p = line.split()
            c1, c2, pg = (int(x) / 1e6 for x in p[1:4])
            per[p[0]] = {"k8s": c1 + c2, "k8s_clusters": (c1, c2), "pg": pg}
    if len(per) != len(tenants):
        fail("the baseline recorded %d of %d tenants" % (len(per), len(tenants)))
    return wall, per


def leftovers(prefix, conn, env):
    """Tenants named <prefix>-tNN left by an earlier --keep run: roles and namespaces."""
    found = set()
    r = run(["psql", "-X", "-qtA", conn, "-c", "SELECT rolname FROM pg_roles WHERE rolname "
             "~ '^tenant_%s_t[0-9]{2}$'" % prefix], env)
    found.update(x[len("tenant_"):].replace("_", "-") for x in r.stdout.split())
    for ctx in CONTEXTS:
        r = run(["kubectl", "--context", ctx, "get", "namespaces", "-l", "eqops.io/tenant",
                 "-o", "name"], env, what="listing namespaces in " + ctx)
        found.update(x for x in (n.split("/", 1)[-1] for n in r.stdout.split())
                     if x.startswith(prefix + "-t") and x[len(prefix) + 2:].isdigit())
    return sorted(found)


def clean_baseline(tenants, conn, env):
    for ctx in CONTEXTS:
        kc = ["kubectl", "--context", ctx]
        run(kc + ["-n", ARGOCD_NS, "delete", "applications.argoproj.io,appprojects.argoproj.io",
                  "--ignore-not-found", "--wait=false"] + tenants, env, check=False)
        r = run(kc + ["delete", "namespace", "--ignore-not-found", "--wait=false"] + tenants, env,
                check=False)
        if r.returncode != 0:
            print("warning: deleting the baseline namespaces in %s: %s" % (ctx, r.stderr.strip()))
    sql = []
    for name in tenants:
        obj = "tenant_" + name.replace("-", "_")
        sql += ['DROP DATABASE IF EXISTS "%s";' % obj, 'DROP ROLE IF EXISTS "%s";' % obj]
    sql.append("DROP DATABASE IF EXISTS %s;" % BASE_TEMPLATE)
    # best effort, statement by statement; a database autovacuum is still visiting is retried
    for attempt in range(3):
        r = run(["psql", "-X", "-q", conn], env, stdin="\n".join(sql) + "\n", check=False)
        if "ERROR" not in r.stderr:
            return
        time.sleep(2)
    print("warning: dropping the baseline databases and roles: %s" % r.stderr.strip()[-300:])


# ---- the library ------------------------------------------------------------------------

def eqops_cmd(eqops, verb, specs, tiers, kubeconfig, conn, extra=()):
    # the two control planes' files come from KUBECONFIG (a list, as kubectl reads it);
    # --kubeconfig names one file
    del kubeconfig
    return [eqops, "tenant", verb, specs, "--tiers", tiers, "--pg", conn] + list(extra) + \
        ["-o", "json"]


def run_eqops(cmd, env, what):
    """(wall seconds, parsed JSON or None); exits on failure, printing what failed."""
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    doc = None
    try:
        doc = json.loads(r.stdout) if r.stdout.strip() else None
    except ValueError:
        pass
    failed = doc.get("failed") if isinstance(doc, dict) else None
    if r.returncode != 0 or failed:
        lines = []
        for t in (doc or {}).get("tenants", []) if isinstance(doc, dict) else []:
            for a in t.get("actions", []) or []:
                if a.get("status") == "failed":
                    lines.append("  %s %s %s/%s: %s" % (
                        t.get("tenant", "?"), a.get("cluster", ""), a.get("kind", a.get("step")),
                        a.get("name", ""), a.get("error", "")))
            if t.get("error") and not t.get("ok", True):
                lines.append("  %s: %s" % (t.get("tenant", "?"), t.get("error")))
        fail("%s failed (exit %d, %s tenants failed):\n%s\n%s%s" % (
            what, r.returncode, failed if failed is not None else "?", "\n".join(lines[:40]),
            "" if doc else r.stdout[-2000:], r.stderr[-3000:]))
    if doc is None:
        print("warning: %s printed no JSON" % what)
    return wall, doc


def per_tenant_eqops(doc):
    """{tenant: {"k8s": ms, "pg": ms}} from the apply result: its k8s_ms (the sum of its
    Kubernetes steps over both clusters, like the baseline's two kubectl calls) and pg_ms.
    Missing keys are summed from the actions' "ms", or left out. Returns (per, estimated)."""
    per, estimated = {}, False
    tenants = doc.get("tenants", []) if isinstance(doc, dict) else []
    for t in tenants:
        name = t.get("tenant") or t.get("name")
        if not name:
            continue
        k8s, pg = t.get("k8s_ms"), t.get("pg_ms")
        if k8s is None or pg is None:
            k8s_sum, pg_sum, seen = 0.0, 0.0, False
            for a in t.get("actions", []) or []:
                ms = a.get("ms")
                if not isinstance(ms, (int, float)):
                    continue
                seen = True
                if a.get("cluster"):
                    k8s_sum += ms
                elif a.get("step") != "aws-secret":
                    pg_sum += ms
            if seen:
                estimated = True
                if k8s is None:
                    k8s = k8s_sum
                if pg is None:
                    pg = pg_sum
        per[name] = {"k8s": k8s, "pg": pg}
    return per, estimated


# ---- output -----------------------------------------------------------------------------

def stats(per, key):
    xs = [v[key] for v in per.values() if isinstance(v.get(key), (int, float))]
    if not xs:
        return None
    return statistics.mean(xs), statistics.median(xs)


def fmt(s):
    return "%8.1f %8.1f" % s if s else "%8s %8s" % ("n/a", "n/a")


# ---- main -------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tenants", type=int, default=50)
    ap.add_argument("--keep", action="store_true",
                    help="leave the tenants (and a testenv this script started) in place")
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # in order with stderr when piped
    if not 1 <= args.tenants <= 99:
        fail("--tenants: 1 to 99")
    for tool in ("kubectl", "psql", "bash", "od"):
        if not shutil.which(tool):
            fail("%s is not installed" % tool)
    eqops, why_not = find_eqops()
    if why_not:
        print("eqops tenant is unavailable: %s\nthe library side will fail; running the "
              "baseline first" % why_not, file=sys.stderr)

    top = tempfile.mkdtemp(prefix="eqops-bench-tenant-")
    os.chmod(top, 0o755)  # Postgres runs as its own user when we are root
    work = os.path.join(top, "work")
    os.mkdir(work, 0o700)
    env = dict(os.environ)
    keys = ("EQOPS_TEST_PG_ADMIN_DSN", "EQOPS_TEST_K8S_CONTEXT_KUBECONFIG",
            "EQOPS_TEST_K8S2_CONTEXT_KUBECONFIG")
    own_env = not all(env.get(k) for k in keys)
    if own_env:
        env["EQOPS_TESTENV_DIR"] = os.path.join(top, "env")
        env["EQOPS_TESTENV_PG_DURABLE"] = "1"  # fsync on, as in production
        print("starting postgres, k8s and k8s2 with scripts/testenv (%s)"
              % env["EQOPS_TESTENV_DIR"])
        r = subprocess.run([TESTENV, "up", "postgres", "k8s", "k8s2"], env=env,
                           capture_output=True, text=True)
        if r.returncode != 0:
            subprocess.run([TESTENV, "down"], env=env, capture_output=True)
            shutil.rmtree(top, ignore_errors=True)
            fail("scripts/testenv up failed:\n" + r.stderr[-3000:])
    code = 1
    try:
        if own_env:
            env.update(parse_env(run([TESTENV, "env"], env).stdout))
            missing = [k for k in keys if not env.get(k)]
            if missing:
                fail("scripts/testenv env does not export %s" % ", ".join(missing))
        code = bench(args, env, work, eqops, why_not, own_env)
    finally:
        if own_env and args.keep:
            print("kept the services: EQOPS_TESTENV_DIR=%s scripts/testenv down"
                  % env["EQOPS_TESTENV_DIR"])
        else:
            if own_env:
                subprocess.run([TESTENV, "down"], env=env, capture_output=True)
            shutil.rmtree(top, ignore_errors=True)
    sys.exit(code)


def bench(args, env, work, eqops, why_not, own_env):
    admin = env["EQOPS_TEST_PG_ADMIN_DSN"]
    if "://" in admin:
        fail("EQOPS_TEST_PG_ADMIN_DSN: a key=value conninfo is expected, as scripts/testenv "
             "exports it")
    conn, password = split_password(admin)
    if password is not None:
        env["PGPASSWORD"] = password
    for k in ("PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE"):
        env.pop(k, None)
    pg_host = conninfo_get(conn, "host", "127.0.0.1")
    pg_port = conninfo_get(conn, "port", "5432")
    kubeconfig = env["EQOPS_TEST_K8S_CONTEXT_KUBECONFIG"] + ":" + \
        env["EQOPS_TEST_K8S2_CONTEXT_KUBECONFIG"]
    env.update(KUBECONFIG=kubeconfig, PGCONN=conn, PGHOST_T=pg_host, PGPORT_T=pg_port)
    base = names("base", args.tenants)
    lib = names("bench", args.tenants)

    # ---- setup: Argo CD CRDs and namespace in both clusters, the two templates ----------
    if os.path.exists(CRDS):
        crds, crd_src = open(CRDS).read(), os.path.relpath(CRDS, ROOT)
    else:
        crds, crd_src = FALLBACK_CRDS, "built-in minimal CRDs (%s is missing)" % os.path.relpath(
            CRDS, ROOT)
    for ctx in CONTEXTS:
        kc = ["kubectl", "--context", ctx]
        run(kc + ["apply", "--server-side", "--field-manager", "bench", "-f", "-"], env,
            stdin=crds, what="CRDs into " + ctx)
        run(kc + ["wait", "--for", "condition=Established", "--timeout", "60s",
                  "crd/applications.argoproj.io", "crd/appprojects.argoproj.io"], env,
            what="waiting for the Argo CD CRDs in " + ctx)
        run(kc + ["apply", "--server-side", "--field-manager", "bench", "-f", "-"], env,
            stdin=json.dumps({"apiVersion": "v1", "kind": "Namespace",
                              "metadata": {"name": ARGOCD_NS}}), what="namespace argocd")
    tiers = os.path.join(work, "tiers.json")
    with open(tiers, "w") as f:
        json.dump({"tiers": {"standard": TIER}}, f, indent=1)
    specs = os.path.join(work, "specs")
    write_specs(specs, lib)

    # leftovers of an earlier --keep run with the same services
    old = leftovers("base", conn, env)
    if old:
        print("removing %d baseline tenants of an earlier run" % len(old))
        clean_baseline(old, conn, env)
        wait_namespaces_gone(old, env)

    if not why_not:
        old = leftovers("bench", conn, env)
        if old:
            print("removing %d eqops tenants of an earlier run" % len(old))
            stale = os.path.join(work, "stale")
            write_specs(stale, old)
            run_eqops(eqops_cmd(eqops, "destroy", stale, tiers, kubeconfig, conn,
                                ["--confirm", stale]), env, "eqops tenant destroy (earlier run)")

    t0 = time.perf_counter()
    migrations = base_template(conn, env)
    base_setup = time.perf_counter() - t0
    lib_setup = None
    if not why_not:
        t0 = time.perf_counter()
        run([eqops, "db", "template", "--migrations", MIGRATIONS, "--conninfo", conn], env,
            what="eqops db template")
        lib_setup = time.perf_counter() - t0
    print("%d tenants x %d clusters (%s), %d objects per cluster, plus a Postgres role and "
          "database cloned from a template of %d migrations; Argo CD CRDs: %s" % (
              args.tenants, len(CLUSTERS), ", ".join("%s=%s" % c for c in CLUSTERS),
              OBJECTS_PER_CLUSTER, migrations, crd_src))
    print("templates (not timed below): baseline %.2f s%s" % (
        base_setup, "" if lib_setup is None else ", eqops db template %.2f s" % lib_setup))

    lib_started = False
    try:
        # ---- baseline -----------------------------------------------------------------
        b_wall, b_per = run_baseline(work, base, env)
        bk, bp = stats(b_per, "k8s"), stats(b_per, "pg")
        print(("\n%-34s %9s %11s   %-17s   %-17s" % (
            "", "wall", "per tenant", "k8s mean  median", "pg mean   median")).rstrip())
        print("%-34s %7.2f s %8.1f ms   %s   %s" % (
            "shell: kubectl + psql, sequential", b_wall, b_wall * 1000 / args.tenants,
            fmt(bk), fmt(bp)))
        c1 = stats({k: {"x": v["k8s_clusters"][0]} for k, v in b_per.items()}, "x")
        c2 = stats({k: {"x": v["k8s_clusters"][1]} for k, v in b_per.items()}, "x")
        print("%-34s (median per kubectl apply: %s %.1f ms, %s %.1f ms)" % (
            "", CONTEXTS[0], c1[1], CONTEXTS[1], c2[1]))

        # ---- library ------------------------------------------------------------------
        if why_not:
            print("\neqops: not run: %s" % why_not)
            return 1
        apply_cmd = eqops_cmd(eqops, "apply", specs, tiers, kubeconfig, conn,
                              ["--migrations", MIGRATIONS])
        lib_started = True
        l_wall, doc = run_eqops(apply_cmd, env, "eqops tenant apply")
        l_per, estimated = per_tenant_eqops(doc)
        lk, lp = stats(l_per, "k8s"), stats(l_per, "pg")
        print("%-34s %7.2f s %8.1f ms   %s   %s%s" % (
            "eqops tenant apply (concurrent)", l_wall, l_wall * 1000 / args.tenants, fmt(lk),
            fmt(lp), "  (from action ms)" if estimated else ""))
        r_wall, rdoc = run_eqops(apply_cmd, env, "eqops tenant apply (again)")
        changed = rdoc.get("changed", "?") if isinstance(rdoc, dict) else "?"
        print("%-34s %7.2f s %8.1f ms   changed: %s%s" % (
            "eqops tenant apply, nothing to do", r_wall, r_wall * 1000 / args.tenants, changed,
            "" if changed in (0, "?") else "  (expected 0: not idempotent?)"))
        print("\nratio (shell / eqops), end to end: %.1fx" % (b_wall / l_wall))
        if bk and lk and bp and lp:
            print("per tenant (median), shell / eqops: Kubernetes %.1fx, Postgres %.1fx  "
                  "(eqops runs tenants concurrently: its per-tenant times overlap)"
                  % (bk[1] / lk[1], bp[1] / lp[1]))
        if isinstance(doc, dict) and doc.get("ok") is not None:
            print("eqops result: ok %s, failed %s, changed %s" % (
                doc.get("ok"), doc.get("failed"), doc.get("changed")))
        return 0
    finally:
        if not args.keep:
            if lib_started:
                destroy = eqops_cmd(eqops, "destroy", specs, tiers, kubeconfig, conn,
                                    ["--confirm", specs])
                t0 = time.perf_counter()
                r = subprocess.run(destroy, env=env, capture_output=True, text=True)
                if r.returncode != 0:
                    print("warning: eqops tenant destroy failed (exit %d):\n%s%s" % (
                        r.returncode, r.stdout[-2000:], r.stderr[-2000:]), file=sys.stderr)
                else:
                    print("cleanup: eqops tenant destroy %.2f s" % (time.perf_counter() - t0))
            clean_baseline(base, conn, env)
            if not own_env:  # else scripts/testenv down removes them
                wait_namespaces_gone(base, env)


def wait_namespaces_gone(tenants, env, timeout=120):
    deadline = time.monotonic() + timeout
    for ctx in CONTEXTS:
        while True:
            r = run(["kubectl", "--context", ctx, "get", "namespaces", "-o", "name"], env,
                    check=False)
            left = [n for n in tenants if "namespace/" + n in r.stdout.split()]
            if not left or r.returncode != 0:
                break
            if time.monotonic() > deadline:
                print("warning: namespaces still terminating in %s: %s" % (ctx, " ".join(left)))
                break
            time.sleep(0.5)


if __name__ == "__main__":
    main()
