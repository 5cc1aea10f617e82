"""Building the Kubernetes control plane of scripts/testenv (etcd, kube-apiserver,
kube-controller-manager) from the Go module proxy, once per machine.
"""
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time

from .common import CACHE, ROOT, Failed, log

K8S_MODULE = os.path.join(ROOT, "tools", "k8s-testenv")
K8S_BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager")


def k8s_key():
    h = hashlib.sha256()
    for name in ("go.mod", "go.sum"):
        with open(os.path.join(K8S_MODULE, name), "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:16]


def k8s_bin_dir():
    return os.path.join(CACHE, "k8s-testenv", k8s_key(), "bin")


def k8s_version():
    with open(os.path.join(K8S_MODULE, "go.mod")) as f:
        m = re.search(r"^\s*(?:require\s+)?k8s\.io/kubernetes\s+(v[0-9][^\s]*)", f.read(), re.M)
    if not m:
        raise Failed("tools/k8s-testenv/go.mod does not require k8s.io/kubernetes")
    return m.group(1)


def build_k8s():
    """Build the control-plane binaries once per machine (per go.mod/go.sum)."""
    bindir = k8s_bin_dir()
    if all(os.access(os.path.join(bindir, b), os.X_OK) for b in K8S_BINARIES):
        return bindir
    if shutil.which("go") is None:
        raise Failed("Go is needed to build the Kubernetes test binaries")
    os.makedirs(os.path.dirname(bindir), exist_ok=True)
    with open(os.path.join(os.path.dirname(bindir), "lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if all(os.access(os.path.join(bindir, b), os.X_OK) for b in K8S_BINARIES):
            return bindir
        version = k8s_version()
        major, minor = version.lstrip("v").split(".")[:2]
        log("building etcd, kube-apiserver and kube-controller-manager %s from the Go module "
            "proxy; the first time on a machine this takes a while (about 15 minutes on 2 "
            "cores), later runs use %s" % (version, bindir))
        tmp = tempfile.mkdtemp(dir=os.path.dirname(bindir))
        pkg = "k8s.io/component-base/version"
        ldflags = "-s -w -X %s.gitVersion=%s -X %s.gitMajor=%s -X %s.gitMinor=%s" % (
            pkg, version, pkg, major, pkg, minor)
        start = time.monotonic()
        r = subprocess.run(["go", "build", "-trimpath", "-ldflags", ldflags, "-o", tmp + "/",
                            "go.etcd.io/etcd/server/v3", "k8s.io/kubernetes/cmd/kube-apiserver",
                            "k8s.io/kubernetes/cmd/kube-controller-manager"],
                           cwd=K8S_MODULE, capture_output=True, text=True)
        if r.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            raise Failed("building the Kubernetes test binaries failed:\n" + r.stderr[-4000:])
        # go names the binary of go.etcd.io/etcd/server/v3 "server"
        os.rename(os.path.join(tmp, "server"), os.path.join(tmp, "etcd"))
        shutil.rmtree(bindir, ignore_errors=True)
        os.rename(tmp, bindir)
        size = sum(os.path.getsize(os.path.join(bindir, b)) for b in K8S_BINARIES)
        log("built in %.0f s, %.0f MB" % (time.monotonic() - start, size / 1e6))
    return bindir
