"""Server-side apply of 1,000 objects (200 tenants x 5 objects: Namespace, ResourceQuota,
LimitRange, NetworkPolicy, ServiceAccount) to a local kube-apiserver: `eqops k8s apply -f`
against `kubectl apply --server-side -f` on the same manifest shape, in one run. Each tool
creates its own set of tenants (first apply), then applies the same manifest again (nothing
changes). Prints wall times, the CPU time each client process used, and the ratios. Not a test.

usage: python3 bench/k8s_apply.py [--tenants 200] [--keep]
Starts its own control plane with scripts/testenv (the binaries are built once per machine).
"""
import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTENV = os.path.join(ROOT, "scripts", "testenv")


def manifest(prefix, tenants):
    docs = []
    for i in range(tenants):
        ns = "%s-%03d" % (prefix, i)
        labels = {"eqops.io/tenant": ns, "eqops.io/tier": "gold",
                  "pod-security.kubernetes.io/enforce": "restricted"}
        docs += [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}},
            {"apiVersion": "v1", "kind": "ResourceQuota",
             "metadata": {"name": "tenant", "namespace": ns},
             "spec": {"hard": {"requests.cpu": "8", "requests.memory": "16Gi", "pods": "50"}}},
            {"apiVersion": "v1", "kind": "LimitRange",
             "metadata": {"name": "tenant", "namespace": ns},
             "spec": {"limits": [{"type": "Container", "default": {"cpu": "500m",
                                                                   "memory": "512Mi"},
                                  "defaultRequest": {"cpu": "100m", "memory": "128Mi"}}]}},
            {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
             "metadata": {"name": "default-deny", "namespace": ns},
             "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}},
            {"apiVersion": "v1", "kind": "ServiceAccount",
             "metadata": {"name": "workload", "namespace": ns}},
        ]
    # one List document: both tools unpack it, and both read JSON
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}) + "\n"


def run(cmd, env):
    """Wall seconds and the child's CPU seconds (user + system)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        sys.exit("%s failed:\n%s" % (" ".join(cmd[:4]), r.stderr[-2000:]))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tenants", type=int, default=200)
    ap.add_argument("--keep", action="store_true", help="leave the control plane running")
    args = ap.parse_args()
    eqops = shutil.which("eqops") or sys.exit("eqops is not installed (scripts/bootstrap)")
    kubectl = shutil.which("kubectl") or sys.exit("kubectl is not installed")
    run_dir = tempfile.mkdtemp(prefix="eqops-bench-k8s-")
    env = dict(os.environ, EQOPS_TESTENV_DIR=run_dir)
    subprocess.run([TESTENV, "up", "k8s"], env=env, check=True, stdout=subprocess.DEVNULL)
    try:
        out = subprocess.run([TESTENV, "env"], env=env, check=True, capture_output=True,
                             text=True).stdout
        for line in out.splitlines():
            k, _, v = line[len("export "):].partition("=")
            env[k] = v.strip("'")
        kc = env["EQOPS_TEST_K8S_KUBECONFIG"]
        n = args.tenants * 5
        files = {}
        for tool in ("kubectl", "eqops"):
            files[tool] = os.path.join(run_dir, tool + ".yaml")
            with open(files[tool], "w") as f:
                f.write(manifest("bench-" + tool, args.tenants))
        tools = {
            "kubectl": [kubectl, "--kubeconfig", kc, "apply", "--server-side",
                        "--field-manager", "bench", "-f", files["kubectl"]],
            "eqops": [eqops, "k8s", "apply", "--kubeconfig", kc, "--qps", "0",
                      "--field-manager", "bench", "-f", files["eqops"]],
        }
        results = {}
        for tool, cmd in tools.items():
            create = run(cmd, env)
            again = run(cmd, env)
            results[tool] = (create, again)
        print("server-side apply of %d objects (%d tenants x 5) to a local kube-apiserver"
              % (n, args.tenants))
        for phase, idx in (("create", 0), ("re-apply, no change", 1)):
            k_wall, k_cpu = results["kubectl"][idx]
            e_wall, e_cpu = results["eqops"][idx]
            print("%-20s kubectl %6.2f s (cpu %5.2f s)   eqops %6.2f s (cpu %5.2f s)   "
                  "ratio %4.1fx wall, %5.1fx cpu"
                  % (phase, k_wall, k_cpu, e_wall, e_cpu, k_wall / e_wall, k_cpu / max(e_cpu, 1e-3)))
        print("eqops per object: %.2f ms wall, %.3f ms of its own cpu"
              % (results["eqops"][0][0] * 1000 / n, results["eqops"][0][1] * 1000 / n))
    finally:
        if not args.keep:
            subprocess.run([TESTENV, "down"], env=env, stdout=subprocess.DEVNULL)
            shutil.rmtree(run_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
