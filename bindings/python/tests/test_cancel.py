"""eqops.CancelToken: made, triggered, reset and closed, and accepted as cancel= by every
client and call whose C options carry a token. (What a cancelled call does is tested with
each module.) Nothing here reaches a server: each call stops at an input check, which shows
the call went through with the token."""
import json
import socket
import threading
import time

import pytest

import eqops
from eqops import aws, k8s, pg, slo, tenant

KUBECONFIG = {
    "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
    "users": [{"name": "u", "user": {"token": "secret-token"}}],
    "contexts": [{"name": "down", "context": {"cluster": "c", "user": "u"}}],
    "current-context": "down",
}
SLO = ('{"service": "s", "slos": [{"name": "a", "window": "7d", "target": 99, "sli": '
       '{"events": {"bad": "sum(rate(e[{{.window}}]))", "total": "sum(rate(t[{{.window}}]))"}}}]}')


def test_token_states():
    t = eqops.CancelToken()
    assert not t.triggered
    t.trigger()
    t.trigger()  # idempotent
    assert t.triggered
    t.reset()
    assert not t.triggered
    t.close()
    with pytest.raises(ValueError, match="CancelToken is closed"):
        t.trigger()


def test_anything_but_a_token_is_refused():
    with pytest.raises(TypeError, match="cancel: expected an eqops.CancelToken"):
        aws.Client(region="eu-west-1", cancel=object())
    with pytest.raises(TypeError, match="cancel"):
        pg.Cluster("host=127.0.0.1 port=1", cancel="yes")


def test_clients_and_calls_take_it(tmp_path):
    kc = tmp_path / "kubeconfig"
    kc.write_text(json.dumps(KUBECONFIG))
    tiers = tmp_path / "tiers.json"
    tiers.write_text(json.dumps({"tiers": {"small": {
        "pod_security": "restricted", "quota": {"pods": "10"},
        "limits": {"default": {"cpu": "500m"}}, "connection_limit": 5}}}))
    with eqops.CancelToken() as t:
        with aws.Client(region="eu-west-1", endpoint_url="http://127.0.0.1:9", max_retries=-1,
                        cancel=t) as c:
            assert c.region == "eu-west-1"
        with pytest.raises(eqops.InvalidArgument) as e:
            pg.Cluster("host=x password=hunter2 =", cancel=t)
        assert e.value.field == "conninfo"
        with k8s.Client(str(kc), max_retries=-1, cancel=t) as k:
            with pytest.raises(eqops.InvalidArgument) as e:
                k.apply_manifest("", cancel=t)
            with pytest.raises(eqops.NotFound):
                k.apply_path(tmp_path / "missing", cancel=t)
            with pytest.raises(eqops.InvalidArgument) as e:
                k.watch("v1", "ConfigMap", lambda *a: True, idle_timeout=-1, cancel=t)
            assert e.value.field == "opts.idle_timeout_ms"
        with tenant.Env(tiers, kubeconfig=kc) as env:
            for op in (env.plan, env.drift, env.reconcile):
                with pytest.raises(eqops.InvalidArgument):
                    op("{}", cancel=t)
            with pytest.raises(eqops.InvalidArgument):
                env.apply("{}", cancel=t)
            with pytest.raises(eqops.InvalidArgument):
                env.destroy("{}", "x", cancel=t)
            with pytest.raises(eqops.Error):
                env.fleet("plan", tmp_path / "none", cancel=t)
        s = slo.SloSet.parse(SLO)
        t.trigger()
        # a live report from an address nothing listens on: refused or cancelled, never a hang
        with pytest.raises(eqops.Error):
            s.report(prometheus_url="http://127.0.0.1:9", timeout_ms=2000, cancel=t)


def hanging_server():
    """A loopback TCP server that accepts connections and never answers; (port, close)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    held = []
    stop = threading.Event()

    def accept():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()

    def close():
        stop.set()
        t.join()
        for c in held:
            c.close()
        srv.close()
    return srv.getsockname()[1], close


def test_a_stuck_report_stops_when_the_token_is_triggered():
    """A live report whose Prometheus never answers (timeout 60 s) raises eqops.Canceled soon
    after another thread triggers the token; reset, the token no longer stops a call (which then
    ends at its own timeout)."""
    port, close = hanging_server()
    s = slo.SloSet.parse(SLO)
    try:
        with eqops.CancelToken() as t:
            timer = threading.Timer(0.5, t.trigger)
            timer.start()
            t0 = time.monotonic()
            with pytest.raises(eqops.Canceled) as e:
                s.report(prometheus_url="http://127.0.0.1:%d" % port, timeout_ms=60000,
                         cancel=t)
            took = time.monotonic() - t0
            timer.join()
            assert "cancelled" in str(e.value)
            assert took < 30, "stopped by the token, not by the 60 s timeout"
            t.reset()
            with pytest.raises(eqops.Error) as e:  # a short timeout: not cancelled now
                s.report(prometheus_url="http://127.0.0.1:%d" % port, timeout_ms=300, cancel=t)
            assert not isinstance(e.value, eqops.Canceled)
    finally:
        close()
