"""The SLO series math agrees with a real Prometheus.

Counter series with resets, a gap, a stretch without traffic and irregular sample times are
loaded into the test environment's Prometheus; the same increase() and ratio queries run
through its HTTP API must match the library's offline results to 1e-9 relative, and the live
report must match the offline one. A misspelled metric is reported as no data, by the
library and by `eqops slo report --fail-on`.
"""
import array
import json
import math
import os
import random
import shutil
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


def requests_spec(metric):
    return {"service": "it", "slos": [{
        "name": "requests", "window": "1d", "target": 99,
        "alerting": {"page": {"windows": [{"long": "1h", "short": "5m", "factor": 2}]},
                     "ticket": {"windows": [{"long": "6h", "short": "30m", "factor": 1}]}},
        "sli": {"events": {
            "bad": 'sum(rate(%s{kind="bad"}[{{.window}}]))' % metric,
            "total": 'sum(rate(%s{kind="total"}[{{.window}}]))' % metric}}}]}


def test_misspelled_metric_is_no_data(prom):
    """Issue 13.9: no samples is no data, not a perfect SLI with nothing burning."""
    url, t, _, _ = prom
    at = t[-1]
    good = slo.SloSet.parse(json.dumps(requests_spec("eqops_slo_it_requests_total")))
    rep = good.report(prometheus_url=url, at_ms=at)
    obj = rep["objectives"][0]
    assert obj["no_data"] is False and obj["sli"] is not None
    assert obj["absent"] == {"for": "15m", "firing": False}
    assert rep["conditions"]["nodata"] is False
    typo = slo.SloSet.parse(json.dumps(requests_spec("eqops_slo_it_reqeusts_total")))
    rep = typo.report(prometheus_url=url, at_ms=at)
    assert rep["conditions"] == {"page": False, "ticket": False, "nodata": True}
    obj = rep["objectives"][0]
    assert obj["no_data"] is True
    assert obj["sli"] is None and obj["budget"] is None and obj["exhaustion"] is None
    assert [b["no_data"] for b in obj["burn"]] == [True] * 4
    assert all(b["error_ratio"] is None and b["burn_rate"] is None for b in obj["burn"])
    assert [(a["firing"], a["no_data"]) for a in obj["alerts"]] == [(False, True)] * 2
    assert obj["absent"] == {"for": "15m", "firing": True}


def test_gap_and_quiet_stretch_live_and_offline(prom):
    """A scrape gap empties the short window (no data); flat counters are data (no traffic),
    and the live report says the same as the offline one."""
    url, t, bad, total = prom
    spec = slo.SloSet.parse(json.dumps(requests_spec("eqops_slo_it_requests_total")))
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), "eqops-it-gap-%d.json" % os.getpid())
    with open(path, "w") as f:
        json.dump({"timestamp": [x / 1000 for x in t], "bad": list(bad), "total": list(total)}, f)
    try:
        series = slo.load_series(path)
        for minute, short_has_data in ((109, False), (279, True)):
            at = T0 + minute * 60_000
            live = spec.report(prometheus_url=url, at_ms=at)["objectives"][0]
            offline = spec.report(series=series, at_ms=at)["objectives"][0]
            for o in (live, offline):
                assert o["no_data"] is False and o["absent"]["firing"] is False
                windows = {b["window"]: b for b in o["burn"]}
                assert windows["5m"]["no_data"] is (not short_has_data), (minute, o["burn"])
                assert windows["1h"]["no_data"] is False
            assert [b["no_data"] for b in live["burn"]] == [b["no_data"] for b in offline["burn"]]
            quiet = {b["window"]: b for b in live["burn"]}["5m"]
            if minute == 279:  # flat counters: no traffic, nothing failed
                assert quiet["error_ratio"] == 0
    finally:
        os.unlink(path)


def cli():
    path = os.environ.get("EQOPS_CLI") or shutil.which("eqops")
    if not path or not os.path.exists(path):
        pytest.skip("EQOPS_CLI is not set and eqops is not on PATH")
    return path


def test_cli_fail_on_nodata(prom, tmp_path):
    url, t, _, _ = prom
    at = "%d.%03d" % (t[-1] // 1000, t[-1] % 1000)
    results = {}
    for name, metric in (("good", "eqops_slo_it_requests_total"),
                         ("typo", "eqops_slo_it_reqeusts_total")):
        spec = tmp_path / (name + ".json")
        spec.write_text(json.dumps(requests_spec(metric)))
        base = [cli(), "slo", "report", str(spec), "--prometheus", url, "--at", at]
        results[name] = [subprocess.run(base + extra, capture_output=True, text=True,
                                        timeout=120)
                         for extra in ([], ["--fail-on", "nodata"],
                                       ["-o", "json", "--fail-on", "page,ticket,nodata"])]
    plain, nodata, js = results["typo"]
    assert plain.returncode == 0, plain.stderr
    assert "NO DATA" in plain.stdout and "SLI 100" not in plain.stdout
    assert "absent 15m: FIRING" in plain.stdout and "budget not burning" not in plain.stdout
    assert nodata.returncode == 1 and "--fail-on: nodata holds" in nodata.stderr
    assert js.returncode == 1
    assert json.loads(js.stdout)["conditions"] == {"page": False, "ticket": False,
                                                   "nodata": True}
    plain, nodata, js = results["good"]
    assert plain.returncode == 0 and "NO DATA" not in plain.stdout, plain.stdout
    assert nodata.returncode == 0, nodata.stderr
    conds = json.loads(js.stdout)["conditions"]
    assert conds["nodata"] is False
    assert js.returncode == (1 if conds["page"] or conds["ticket"] else 0)
