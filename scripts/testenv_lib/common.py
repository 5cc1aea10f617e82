"""What every part of scripts/testenv shares: paths, logging, processes, and the run directory
with its state file, which hold passwords, tokens and keys and so are private.

The run directory has a predictable name in /tmp (other commands find it by it), so somebody
else could make it first: to read what is written there, or to plant a state file that
decides which processes `down` signals and what `env` prints for `eval`. It is used only
when it is a real directory (not a symbolic link) owned by us; it is kept at mode 0711 (the
postgres user passes through it when we are root); everything below it is created private
(umask 077), and secrets are written atomically with their mode set when the file is made.
"""
import hashlib
import json
import os
import pwd
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUN = os.environ.get("EQOPS_TESTENV_DIR") or "/tmp/eqops-testenv-" + hashlib.sha256(
    ROOT.encode()).hexdigest()[:10]
CACHE = os.environ.get("EQOPS_CACHE_DIR") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "eqops")
STATE = os.path.join(RUN, "state.json")
RUN_MODE = 0o711


class Failed(Exception):
    pass


def log(msg):
    print("testenv: " + msg, file=sys.stderr, flush=True)


def tail(path, n=30):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return "(no log at %s)" % path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, check, timeout, logfile=None, proc=None):
    """Poll check() until it returns true; raise Failed with the log tail after `timeout` s."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise Failed("%s exited with status %s\n%s" % (what, proc.returncode,
                                                          tail(logfile) if logfile else ""))
        try:
            if check():
                return
        except Exception as e:  # noqa: BLE001 - any failure means "not ready yet"
            last = e
        time.sleep(0.2)
    raise Failed("%s not ready after %ds (%s)\n%s" % (what, timeout, last or "no answer",
                                                      tail(logfile) if logfile else ""))


def run(cmd, timeout=120, **kw):
    """Run `cmd` to its end, at most `timeout` seconds (then Failed: waits are bounded)."""
    try:
        return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=timeout,
                              **kw)
    except subprocess.TimeoutExpired:
        raise Failed("%s did not finish within %d s" % (os.path.basename(cmd[0]), timeout))


# ---- the run directory and private files ---------------------------------------------------

def user_name(uid):
    try:
        return "%s (uid %d)" % (pwd.getpwuid(uid).pw_name, uid)
    except KeyError:
        return "uid %d" % uid


def run_dir(create):
    """Check the run directory (making it first when `create`): True when it exists and is
    ours. Refuses a symbolic link, a non-directory and a directory of another user."""
    if create:
        try:
            os.mkdir(RUN, RUN_MODE)
        except FileExistsError:
            pass
    try:
        st = os.lstat(RUN)
    except FileNotFoundError:
        return False
    if not stat.S_ISDIR(st.st_mode):
        raise Failed("the run directory %s is a symbolic link or not a directory: refusing to "
                     "use it; remove it, or set EQOPS_TESTENV_DIR to a directory of yours" % RUN)
    if st.st_uid != os.geteuid():
        raise Failed("the run directory %s belongs to %s, not to %s: someone else made it, so "
                     "refusing to use it (it would hold passwords and keys, and its state file "
                     "decides what is started and stopped); remove it, or set "
                     "EQOPS_TESTENV_DIR to a directory of yours"
                     % (RUN, user_name(st.st_uid), user_name(os.geteuid())))
    if stat.S_IMODE(st.st_mode) != RUN_MODE:
        os.chmod(RUN, RUN_MODE)
    return True


def private_dir(path, owner=None):
    """A new directory only its owner (us, or `owner` as (uid, gid)) can enter."""
    os.mkdir(path, 0o700)
    if owner is not None:
        os.chown(path, *owner)
    return path


def write_private(path, text, mode=0o600, owner=None):
    """Write `text` to `path` atomically, the file created with `mode` (never readable by
    others, not even for a moment) and, when given, handed to `owner` (uid, gid)."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")  # 0600, O_EXCL
    try:
        if mode != 0o600:
            os.fchmod(fd, mode)
        if owner is not None:
            os.fchown(fd, *owner)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def load_state():
    if not run_dir(create=False):
        return {"services": {}}
    try:
        fd = os.open(STATE, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return {"services": {}}
    with os.fdopen(fd) as f:
        try:
            return json.load(f)
        except ValueError:
            return {"services": {}}


def save_state(state):
    run_dir(create=True)
    write_private(STATE, json.dumps(state, indent=1))


def save_partial(state, name, svc):
    """Record PIDs as soon as they exist, so `down` can stop a half-started service."""
    state["services"][name] = svc
    save_state(state)


# ---- processes ----------------------------------------------------------------------------

def alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a zombie is not alive
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def children(pid):
    try:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
        return [int(x) for x in out.split()]
    except OSError:
        return []


def spawn(cmd, logfile, env=None, user=None):
    """Start a daemon in its own session, output to logfile; returns the Popen."""
    if user is not None and os.geteuid() == 0:
        cmd = ["runuser", "-u", user, "--"] + cmd
    out = open(logfile, "ab")
    return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env=env, start_new_session=True, close_fds=True)


def stop_pids(pids, grace=10):
    for pid in pids:
        for target in (-pid, pid):
            try:
                os.kill(target, signal.SIGTERM)
            except OSError:
                pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.1)
    for pid in pids:
        if alive(pid):
            for target in (-pid, pid):
                try:
                    os.kill(target, signal.SIGKILL)
                except OSError:
                    pass


def reap():
    """Collect exited children so they do not linger as zombies."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass
