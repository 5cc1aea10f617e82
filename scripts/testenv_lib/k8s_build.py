"""Building the Kubernetes control plane of scripts/testenv (etcd, kube-apiserver,
kube-controller-manager) from the Go module proxy, once per machine, with progress.

The build is long the first time (the estimate below), so it shows what it does: the modules
downloaded while the packages are resolved, then the packages compiled out of the packages
to compile (the dependencies Go's build cache does not hold) and the time so far; as one
line that updates on a terminal, and as a line every 30 seconds otherwise (logs, CI). A
second process that needs the binaries meanwhile waits for the first and shows its progress.
"""
import collections
import fcntl
import hashlib
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from .common import CACHE, ROOT, Failed, log

K8S_MODULE = os.path.join(ROOT, "tools", "k8s-testenv")
K8S_BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager")
K8S_TARGETS = ("go.etcd.io/etcd/server/v3", "k8s.io/kubernetes/cmd/kube-apiserver",
               "k8s.io/kubernetes/cmd/kube-controller-manager")

# The one estimate of a first build, measured with empty caches on 2 cores: README.md says it
# and scripts/demo prints it (scripts/testenv build-estimate); a test keeps them equal.
BUILD_ESTIMATE = "about 6 minutes on 2 cores"


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


def minutes(seconds):
    s = int(seconds)
    return "%dm%02ds" % (s // 60, s % 60) if s >= 60 else "%ds" % s


class Progress:
    """One line that updates in place on a terminal; elsewhere a line every 30 seconds
    ($EQOPS_TESTENV_PROGRESS_SECONDS).
    Each update is also written to `mirror` (a file a waiting process reads)."""

    def __init__(self, mirror=None):
        self.tty = sys.stderr.isatty()
        self.every = float(os.environ.get("EQOPS_TESTENV_PROGRESS_SECONDS") or 30)
        self.start = time.monotonic()
        self.printed = self.mirrored = 0.0
        self.mirror = mirror
        self.dirty = False

    def update(self, text, force=False):
        now = time.monotonic()
        line = "%s, %s" % (text, minutes(now - self.start))
        if self.tty and (force or now - self.printed >= 0.5):
            sys.stderr.write("\r\033[Ktestenv: " + line)
            sys.stderr.flush()
            self.printed, self.dirty = now, True
        elif not self.tty and (force or now - self.printed >= self.every):
            log(line)
            self.printed = now
        if self.mirror and now - self.mirrored >= 1.0:
            with open(self.mirror + ".tmp", "w") as f:
                f.write(line + "\n")
            os.replace(self.mirror + ".tmp", self.mirror)
            self.mirrored = now

    def end(self):
        if self.dirty:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self.dirty = False


def stream(cmd, on_line, progress, text, stdout=subprocess.DEVNULL):
    """Run `cmd` in the module. Each line of its stderr goes to on_line(line), which returns
    the new progress text, or None for a line that is not progress. The progress (`text` to
    begin with) is shown at least once a second. Returns (rc, the last 60 other lines)."""
    p = subprocess.Popen(cmd, cwd=K8S_MODULE, stdout=stdout, stderr=subprocess.PIPE, text=True,
                         stdin=subprocess.DEVNULL)
    lines = queue.Queue()

    def pump():
        for line in p.stderr:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    other = collections.deque(maxlen=60)
    while True:
        try:
            line = lines.get(timeout=1.0)
        except queue.Empty:
            line = ""
        if line is None:
            break
        if line:
            got = on_line(line)
            if got is None:
                other.append(line)
            else:
                text = got
        if text:
            progress.update(text)
    return p.wait(), "\n".join(other)


def compile_plan(progress):
    """The packages to compile (those Go's build cache lacks); downloads the modules."""
    downloads = [0]

    def on_line(line):
        if line.startswith("go: downloading "):
            downloads[0] += 1
            return "resolving the packages: modules downloaded: %d" % downloads[0]
        return None

    with tempfile.TemporaryFile("w+") as out:
        rc, other = stream(["go", "list", "-deps", "-f", "{{if .Stale}}{{.ImportPath}}{{end}}"]
                           + list(K8S_TARGETS), on_line, progress,
                           "resolving the packages to compile", stdout=out)
        out.seek(0)
        stale = [x for x in out.read().split() if x]
    if rc != 0:
        raise Failed("resolving the Kubernetes packages failed:\n" + other[-4000:])
    return len(stale), downloads[0]


def go_build(tmp, version, progress):
    total, downloads = compile_plan(progress)
    progress.update("modules downloaded: %d; packages to compile: %d" % (downloads, total),
                    force=True)
    major, minor = version.lstrip("v").split(".")[:2]
    pkg = "k8s.io/component-base/version"
    ldflags = "-s -w -X %s.gitVersion=%s -X %s.gitMajor=%s -X %s.gitMinor=%s" % (
        pkg, version, pkg, major, pkg, minor)
    done = [0]

    def on_line(line):
        # -v names each package as it is compiled; anything else is a message
        if line.startswith("#") or " " in line or ":" in line:
            return None
        done[0] += 1
        if done[0] >= total:
            return "compiled %d packages; linking" % done[0]
        return "compiling: %d of %d packages (%d%%)" % (done[0], total, 100 * done[0] // total)

    rc, other = stream(["go", "build", "-v", "-trimpath", "-ldflags", ldflags, "-o", tmp + "/"]
                       + list(K8S_TARGETS), on_line, progress,
                       "compiling: 0 of %d packages (0%%)" % total)
    if rc != 0:
        raise Failed("building the Kubernetes test binaries failed:\n" + other[-4000:])


def wait_for_other(lock, progress_file):
    """Another process holds the build lock: wait, showing its progress."""
    log("another process is building the Kubernetes binaries; waiting for it")
    progress = Progress()
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            pass
        try:
            with open(progress_file) as f:
                theirs = f.read().strip()
        except OSError:
            theirs = "starting"
        progress.update("waiting for the other build (%s)" % theirs)
        time.sleep(1.0)
    progress.end()


def build_k8s():
    """Build the control-plane binaries once per machine (per go.mod/go.sum)."""
    bindir = k8s_bin_dir()
    if all(os.access(os.path.join(bindir, b), os.X_OK) for b in K8S_BINARIES):
        return bindir
    if shutil.which("go") is None:
        raise Failed("Go is needed to build the Kubernetes test binaries")
    top = os.path.dirname(bindir)
    os.makedirs(top, exist_ok=True)
    progress_file = os.path.join(top, "progress")
    with open(os.path.join(top, "lock"), "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            wait_for_other(lock, progress_file)
        if all(os.access(os.path.join(bindir, b), os.X_OK) for b in K8S_BINARIES):
            return bindir
        version = k8s_version()
        log("building etcd, kube-apiserver and kube-controller-manager %s from the Go module "
            "proxy: the first time on a machine this takes %s (this one has %d), later runs "
            "use %s" % (version, BUILD_ESTIMATE, os.cpu_count() or 1, bindir))
        tmp = tempfile.mkdtemp(dir=top)
        progress = Progress(mirror=progress_file)
        try:
            go_build(tmp, version, progress)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        finally:
            progress.end()
            try:
                os.unlink(progress_file)
            except OSError:
                pass
        # go names the binary of go.etcd.io/etcd/server/v3 "server"
        os.rename(os.path.join(tmp, "server"), os.path.join(tmp, "etcd"))
        shutil.rmtree(bindir, ignore_errors=True)
        os.rename(tmp, bindir)
        size = sum(os.path.getsize(os.path.join(bindir, b)) for b in K8S_BINARIES)
        log("built in %s, %.0f MB" % (minutes(time.monotonic() - progress.start), size / 1e6))
    return bindir
