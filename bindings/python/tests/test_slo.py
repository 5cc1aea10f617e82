"""The SLO module from Python: budgets, windows, zero-copy series, specs and rules."""
import array
import gc
import json
import os
import threading

import pytest

import eqops
from eqops import slo

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "examples", "slo")
DAY = 86_400_000


def test_budget_and_exhaustion():
    b = slo.budget(0.999, bad=1, total=10)
    assert b.error_ratio == pytest.approx(0.1)
    assert b.burn_rate == pytest.approx(100)
    assert slo.budget(0.999, bad=0, total=0).remaining == 1
    assert slo.time_to_exhaustion(1, 1000, "30d") == 43 * 60_000 + 12_000
    assert slo.time_to_exhaustion(1, 0, "30d") is None
    with pytest.raises(eqops.InvalidArgument) as e:
        slo.budget(99.9, 0, 1)
    assert "did you mean 0.999" in str(e.value)


def test_windows_and_factors():
    page = slo.default_windows("30d", "page")
    assert [w.factor for w in page] == pytest.approx([14.4, 6])
    assert [w.factor for w in slo.default_windows("28d", "ticket")] == pytest.approx(
        [2.8, 0.9333333333333333])
    assert slo.burn_factor(0.02, "30d", "1h") == pytest.approx(14.4)
    a = slo.alert_analyze(0.999, "30d", slo.AlertWindow(3_600_000, 300_000, 14.4), 0.15)
    assert a.fires and a.detection_ms == 345_600 and a.reset_ms == 271_200
    assert slo.window_fires(0.999, page[0], 0.02, 0.02) is True
    assert slo.window_fires(0.999, page[0], 0.02, 0.001) is False
    assert slo.composite([0.999, 0.99], [2, 1]) == pytest.approx((2 * 0.999 + 0.99) / 3)
    assert slo.composite([0.9, 0.5], [1, 1], has_data=[True, False], policy="good") == \
        pytest.approx(0.95)


def make_series(n=2000):
    t = array.array("q", (1_700_000_000_000 + i * 15_000 for i in range(n)))
    total = array.array("d", (float(i * 10) for i in range(n)))
    bad = array.array("d", (float(i // 10) for i in range(n)))
    return t, bad, total


def test_series_zero_copy_and_values():
    t, bad, total = make_series()
    out = array.array("d", bytes(8 * len(t)))
    got = slo.error_ratios(t, total, bad=bad, window="5m", out=out)
    assert got is out  # written in place, no copy
    assert out[-1] == pytest.approx(0.01, rel=1e-9)
    burn = slo.burn_rates(memoryview(t), memoryview(total), 0.99, bad=memoryview(bad),
                          window="5m")
    assert burn[-1] == pytest.approx(1.0, rel=1e-9)
    assert slo.increase(t, total, t[0], t[20]) == pytest.approx(200)
    assert slo.increase(t, total, t[0], t[0]) is None
    b = slo.period_budget(t, total, 0.99, t[0], t[-1], bad=bad)
    assert b.burn_rate == pytest.approx(bad[-1] / total[-1] / 0.01, rel=1e-12)
    ts = slo.timeslice_budget(t, total, 0.9, t[0], t[0] + 60 * 60_000, slice="1m",
                              slice_target=0.95, bad=bad)
    assert ts.slices == 60 and ts.bad == 0


def test_series_numpy():
    np = pytest.importorskip("numpy")
    t, bad, total = make_series()
    t, bad, total = (np.frombuffer(x, dtype=d) for x, d in
                     ((t, np.int64), (bad, np.float64), (total, np.float64)))
    out = slo.error_ratios(t, total, bad=bad, window="5m")
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    assert out[-1] == pytest.approx(0.01, rel=1e-9)
    assert np.isfinite(out).all()


def test_series_errors():
    t, bad, total = make_series(10)
    with pytest.raises(TypeError, match="float64"):
        slo.error_ratios(t, array.array("f", [0] * 10), bad=bad)
    with pytest.raises(eqops.InvalidArgument, match="lengths must match"):
        slo.error_ratios(t, total[:5], bad=bad)
    with pytest.raises(ValueError, match="exactly one"):
        slo.error_ratios(t, total)
    with pytest.raises(TypeError, match="writable"):
        slo.error_ratios(t, total, bad=bad, out=bytes(80))
    backwards = array.array("q", reversed(t))
    with pytest.raises(eqops.InvalidArgument, match="increase strictly"):
        slo.error_ratios(backwards, total, bad=bad)


def test_series_release_the_gil():
    t, bad, total = make_series(200_000)
    results = []

    def work():
        results.append(slo.error_ratios(t, total, bad=bad, window="1h")[-1])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(set(results)) == 1


def test_specs_rules_and_report(tmp_path):
    s = slo.SloSet.load(os.path.join(EXAMPLES, "billing-api.json"))
    assert len(s) == 3
    assert s.ids[0] == "billing-api-requests-availability"
    assert s.target(0) == 0.999 and s.period_ms(0) == 30 * DAY
    assert s.to_dict()["slos"][0]["objectives"][0]["target"] == 99.9
    rules = s.rules()
    assert "eqops_slo:error_budget_remaining:ratio" in rules and "0.0144" in rules
    assert "slo:sli_error:ratio_rate5m" in s.rules(naming="sloth")
    assert "rule_files" in s.rules_test()
    assert s.recorded_series() == 9
    y = slo.SloSet.load(os.path.join(EXAMPLES, "billing-api.yaml"))
    assert y.to_dict() == s.to_dict()
    with pytest.raises(eqops.InvalidArgument) as e:
        slo.SloSet.parse('{"service": "s", "slos": [{"name": "a", "target": 100}]}')
    assert e.value.field == "slos[0].sli"
    # offline report from a series file
    t, _, total = make_series(3000)
    bad = array.array("d", (float(i // 20) for i in range(3000)))  # 0.5%: half the budget
    p = tmp_path / "series.csv"
    p.write_text("timestamp,bad,total\n" + "".join(
        "%d,%d,%d\n" % (t[i] // 1000, bad[i], total[i]) for i in range(len(t))))
    series = slo.load_series(p)
    assert len(series) == 3000 and series.good is None
    one = slo.SloSet.parse(json.dumps({"service": "s", "slos": [{
        "name": "a", "window": "7d", "target": 99,
        "sli": {"events": {"bad": "sum(rate(e[{{.window}}]))",
                           "total": "sum(rate(t[{{.window}}]))"}}}]}))
    rep = one.report(series=series)
    obj = rep["objectives"][0]
    assert obj["budget"]["burn_rate"] == pytest.approx(0.5, rel=1e-2)
    assert all(not a["firing"] for a in obj["alerts"])
    assert slo.calendar_period("month", "Europe/Berlin", 1795773600000) == (
        1793487600000, 1796079600000)


def test_report_says_when_there_is_no_data(tmp_path):
    """Nothing measured in the window is no data, not a perfect SLI (issue 13.9)."""
    p = tmp_path / "series.csv"
    p.write_text("timestamp,bad,total\n" + "".join(
        "%d,%d,%d\n" % (1_767_312_000 + 60 * i, 5 * i, 10 * i) for i in range(120)))
    series = slo.load_series(p)
    spec = slo.SloSet.parse(json.dumps({"service": "s", "slos": [{
        "name": "a", "window": "1d", "target": 99,
        "alerting": {"page": {"windows": [{"long": "1h", "short": "5m", "factor": 10}]},
                     "ticket": False},
        "sli": {"events": {"bad": "sum(rate(e[{{.window}}]))",
                           "total": "sum(rate(t[{{.window}}]))"}}}]}))
    live = spec.report(series=series)
    assert live["conditions"] == {"page": True, "ticket": False, "nodata": False}
    obj = live["objectives"][0]
    assert obj["no_data"] is False and obj["sli"] == pytest.approx(0.5)
    assert obj["absent"] == {"for": "15m", "firing": False}
    # three days after the last sample the 1d window holds nothing
    rep = spec.report(series=series, at_ms=1_767_312_000_000 + 3 * DAY)
    assert rep["conditions"] == {"page": False, "ticket": False, "nodata": True}
    obj = rep["objectives"][0]
    assert obj["no_data"] is True
    assert obj["sli"] is None and obj["budget"] is None and obj["exhaustion"] is None
    assert all(b["no_data"] and b["burn_rate"] is None for b in obj["burn"])
    assert [(a["firing"], a["no_data"]) for a in obj["alerts"]] == [(False, True)]
    assert obj["absent"] == {"for": "15m", "firing": True}


def test_no_leaks_in_loops():
    t, bad, total = make_series(100)
    for _ in range(3000):
        slo.error_ratios(t, total, bad=bad)
        slo.SloSet.load(os.path.join(EXAMPLES, "openslo.yaml"))
        try:
            slo.budget(2, 0, 0)
        except eqops.InvalidArgument:
            pass
    gc.collect()
