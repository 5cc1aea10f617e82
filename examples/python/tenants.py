"""Onboarding through the Python binding: apply every tenant spec of a directory (a no-op when
they are already there), migrate their databases, print their status and an SLO budget report.

    python3 tenants.py DIR [SERIES.csv]

The connections come from the environment, as for the eqops tool: KUBECONFIG,
EQOPS_PG_CONNINFO, EQOPS_TENANT_TIERS (the tiers file) and EQOPS_MIGRATIONS.
"""
import os
import sys

import eqops
from eqops import pg, slo, tenant

directory = sys.argv[1]
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
migrations = os.environ.get("EQOPS_MIGRATIONS", os.path.join(root, "examples", "pg", "migrations"))
steps = {}


def progress(name, cluster, step, status, done, total):
    if status != "start":
        steps[name] = (done, total)


with tenant.Env(tiers_file=os.environ["EQOPS_TENANT_TIERS"],
                pg_conninfo=os.environ["EQOPS_PG_CONNINFO"], migrations_dir=migrations) as env:
    result, failed = env.fleet("apply", directory, progress=progress)
    for r in result["tenants"]:
        print("apply %-12s ok=%s changed=%d (%d steps, k8s %d ms, postgres %d ms)" % (
            r["tenant"], r["ok"], r["changed"], steps.get(r["tenant"], (0, 0))[1],
            r["k8s_ms"], r["pg_ms"]))
    with pg.Cluster(os.environ["EQOPS_PG_CONNINFO"]) as cluster:
        run = cluster.migrate(migrations)
        print("migrate: target version %s, %d database(s) ok" % (run["target_version"],
                                                                 run["ok"]))
    status, _ = env.fleet("status", directory)
    for s in status["tenants"]:
        db = s.get("database", {})
        print("status %-12s %-8s clusters=%s schema=v%s login=%s" % (
            s["tenant"], s["health"], ",".join(c["cluster"] for c in s["clusters"]),
            db.get("schema_version"), db.get("login")))
    if failed:
        sys.exit("%d tenant(s) failed" % failed)

if len(sys.argv) > 2:
    report = slo.SloSet.load(os.path.join(root, "examples", "slo", "billing-api.json")).report(
        series=slo.load_series(sys.argv[2]))
    for o in report["objectives"]:
        if o.get("no_data"):
            print("slo %-36s NO DATA" % o["id"])
            continue
        b = o["budget"]
        print("slo %-36s SLI %.4f%%  budget %.1f%% remaining" % (o["id"], 100 * o["sli"],
                                                                100 * b["remaining"]))
print("libeqops", eqops.version())
