"""The SLO series math agrees with a real Prometheus.

Counter series with resets, a gap, a stretch without traffic and irregular sample times are
loaded into the test environment's Prometheus; the same increase() and ratio queries run
through its HTTP API must match the library's offline results to 1e-9 relative, and the live
report must match the offline one.
"""
import array
import json
import math
import os
import random
import subprocess
import urllib.parse
import urllib.request

import pytest

from conftest import need_env

slo = pytest.importorskip("eqops.slo", reason="the Python binding is installed by the python tier")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
T0 = 1_767_312_000_000  # 2026-01-02T00:00:00Z
HOURS = 6


def make_series(seed=7):
    rnd = random.Random(seed)
    t, bad, total = [], [], []
    now, b, n = T0, 0.0, 0.0
    while now < T0 + HOURS * 3_600_000:
        minute = (now - T0) // 60_000
        if 100 <= minute < 110:  # a scrape gap: no samples at all
            now += 15_000
            continue
        if minute == 200 and (not t or (t[-1] - T0) // 60_000 != 200):  # both counters reset
            b, n = 0.0, 0.0
        if not 250 <= minute < 280:  # a stretch without traffic: flat counters
            step = rnd.randint(50, 150)
            n += step
            b += rnd.choice([0, 0, 0, 1, 2]) if minute < 300 else step * 0.2
        t.append(now)
        bad.append(b)
        total.append(n)
        now += 15_000 + rnd.randint(-1500, 1500)  # irregular sample times
    return array.array("q", t), array.array("d", bad), array.array("d", total)


def openmetrics(t, bad, total):
    lines = ["# TYPE eqops_slo_it_requests counter"]
    for kind, values in (("bad", bad), ("total", total)):
        for ts, v in zip(t, values):
            lines.append('eqops_slo_it_requests_total{kind="%s"} %s %d.%03d' % (
                kind, repr(v), ts // 1000, ts % 1000))
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def prom(tmp_path_factory):
    url, = need_env("EQOPS_TEST_PROMETHEUS_URL")
    t, bad, total = make_series()
    path = tmp_path_factory.mktemp("om") / "series.om"
    path.write_text(openmetrics(t, bad, total))
    subprocess.run([os.path.join(ROOT, "scripts", "testenv"), "prom-load", str(path)],
                   check=True, capture_output=True, timeout=120)
    return url, t, bad, total


def query(url, expr, at_ms):
    q = urllib.parse.urlencode({"query": expr, "time": "%d.%03d" % (at_ms // 1000,
                                                                    at_ms % 1000)})
    with urllib.request.urlopen(url + "/api/v1/query?" + q, timeout=30) as r:
        body = json.load(r)
    assert body["status"] == "success", body
    res = body["data"]["result"]
    return float(res[0]["value"][1]) if res else None


def close(a, b):
    return abs(a - b) <= 1e-9 * max(1.0, abs(b))


def test_increase_matches_prometheus(prom):
    url, t, bad, total = prom
    rnd = random.Random(1)
    # evaluation times: sample times, between samples, across the reset, the gap and the quiet
    times = [t[i] for i in rnd.sample(range(len(t)), 60)] + \
            [t[i] + 7_321 for i in rnd.sample(range(len(t) - 1), 60)] + \
            [T0 + m * 60_000 for m in (104, 112, 199, 201, 205, 251, 279, 281, 300, 301)]
    checked = 0
    for window in ("5m", "1h"):
        w = slo.ms(window)
        for at in times:
            for kind, values in (("bad", bad), ("total", total)):
                want = query(url, 'increase(eqops_slo_it_requests_total{kind="%s"}[%s])' % (
                    kind, window), at)
                got = slo.increase(t, values, at - w, at)
                if want is None:
                    assert got is None, (kind, window, at, got)
                else:
                    assert got is not None and close(got, want), (kind, window, at, got, want)
                    checked += 1
    assert checked > 400


def test_ratio_series_match_prometheus(prom):
    url, t, bad, total = prom
    compared = quiet = 0
    for window in ("5m", "30m"):
        ratios = slo.error_ratios(t, total, bad=bad, window=window, min_events=1)
        burns = slo.burn_rates(t, total, 0.99, bad=bad, window=window, min_events=1)
        expr = ('increase(eqops_slo_it_requests_total{kind="bad"}[%s]) / ignoring(kind) '
                'increase(eqops_slo_it_requests_total{kind="total"}[%s])') % (window, window)
        total_expr = 'increase(eqops_slo_it_requests_total{kind="total"}[%s])' % window
        for i in range(0, len(t), 17):
            want = query(url, expr, t[i])
            if want is None:
                assert ratios[i] == 0  # fewer than two samples: no evidence, never NaN
            elif math.isnan(want):
                assert ratios[i] == 0  # no traffic: 0/0 in PromQL, 0 by the no-data rule
                assert query(url, total_expr, t[i]) == 0
                quiet += 1
            elif query(url, total_expr, t[i]) >= 1:
                assert close(ratios[i], min(1.0, want)), (window, i, ratios[i], want)
                assert close(burns[i], min(1.0, want) / 0.01)
                compared += 1
            assert math.isfinite(ratios[i]) and math.isfinite(burns[i])
    assert compared > 100 and quiet > 0


def test_live_report_matches_offline(prom):
    url, t, bad, total = prom
    spec = slo.SloSet.parse(json.dumps({"service": "it", "slos": [{
        "name": "requests", "window": "1d", "target": 99,
        "alerting": {"page": {"windows": [{"long": "1h", "short": "5m", "factor": 2}]},
                     "ticket": False},
        "sli": {"events": {
            "bad": 'sum(rate(eqops_slo_it_requests_total{kind="bad"}[{{.window}}]))',
            "total": 'sum(rate(eqops_slo_it_requests_total{kind="total"}[{{.window}}]))'}}}]}))
    at = t[-1]
    live = spec.report(prometheus_url=url, at_ms=at)["objectives"][0]
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), "eqops-it-series-%d.json" % os.getpid())
    with open(path, "w") as f:
        json.dump({"timestamp": [x / 1000 for x in t], "bad": list(bad), "total": list(total)}, f)
    try:
        offline = spec.report(series=slo.load_series(path), at_ms=at)["objectives"][0]
    finally:
        os.unlink(path)
    for key in ("bad", "total", "consumed"):
        assert close(live["budget"][key], offline["budget"][key]), key
    for a, b in zip(live["burn"], offline["burn"]):
        assert a["window"] == b["window"] and close(a["error_ratio"], b["error_ratio"])
    assert [a["firing"] for a in live["alerts"]] == [a["firing"] for a in offline["alerts"]]
