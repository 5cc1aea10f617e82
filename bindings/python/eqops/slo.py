"""SLOs: error budgets, burn rates, alert windows, series math and Prometheus rules.

Targets are fractions (0.999). Durations are milliseconds (int), Prometheus strings ("30d")
or datetime.timedelta. Timestamps are milliseconds since the Unix epoch.

Series arrays cross without copying: pass array('q')/array('d'), memoryviews or numpy
int64/float64 arrays; lists are converted (copied) for convenience.

    >>> from eqops import slo
    >>> slo.budget(0.999, bad=1, total=10).burn_rate
    100.0
    >>> rules = slo.SloSet.load("billing-api.json").rules()
"""
import array
import datetime
import json
from dataclasses import dataclass

from . import _cancel
from . import raw as _raw

__all__ = [
    "Budget", "Timeslices", "AlertWindow", "AlertAnalysis", "budget", "time_to_exhaustion",
    "burn_factor", "alert_analyze", "window_fires", "default_windows", "composite", "increase",
    "error_ratios", "burn_rates", "period_budget", "timeslice_budget", "calendar_period",
    "SloSet", "Series", "load_series", "ms",
]


def ms(d):
    """Milliseconds from an int, a Prometheus duration string or a timedelta."""
    if isinstance(d, bool):
        raise TypeError("a duration cannot be a bool")
    if isinstance(d, int):
        return d
    if isinstance(d, str):
        return _raw.eqops_duration_parse(d)
    if isinstance(d, datetime.timedelta):
        return int(d.total_seconds() * 1000)
    raise TypeError("duration: expected milliseconds, a string like '30d' or a timedelta")


@dataclass(frozen=True)
class Budget:
    target: float
    bad: float
    total: float
    allowed_bad: float
    error_ratio: float
    burn_rate: float
    consumed: float
    remaining: float


@dataclass(frozen=True)
class Timeslices:
    slices: int
    good: int
    bad: int
    no_data: int
    sli: float
    allowed_bad: float
    consumed: float
    remaining: float


@dataclass(frozen=True)
class AlertWindow:
    long_ms: int
    short_ms: int
    factor: float
    for_ms: int = 0


@dataclass(frozen=True)
class AlertAnalysis:
    threshold: float
    budget_consumed: float
    exhaustion_ms: int
    fires: bool
    detection_ms: int
    reset_ms: int
    can_fire: bool


def _copy(cls, raw_struct):
    return cls(**{f: getattr(raw_struct, f) for f in cls.__dataclass_fields__})


def budget(target, bad, total, min_events=1):
    """The error budget of a window from event counts."""
    return _copy(Budget, _raw.eqops_bind_slo_budget(target, bad, total, min_events))


def time_to_exhaustion(remaining, burn_rate, period):
    """Milliseconds until the budget is gone at `burn_rate`, or None if it never runs out."""
    left, exhausts = _raw.eqops_bind_slo_exhaustion(remaining, burn_rate, ms(period))
    return left if exhausts else None


def burn_factor(budget_fraction, period, long):
    """Burn rate that spends `budget_fraction` of the period's budget within `long`."""
    return _raw.eqops_bind_slo_burn_factor(budget_fraction, ms(period), ms(long))


def alert_analyze(target, period, window, error_ratio=1.0):
    """Threshold, budget spent, detection and reset times of an AlertWindow (Workbook)."""
    a = _raw.eqops_bind_slo_alert_analyze(target, ms(period), ms(window.long_ms),
                                          ms(window.short_ms), window.factor, ms(window.for_ms),
                                          error_ratio)
    out = _copy(AlertAnalysis, a)
    return AlertAnalysis(**{**out.__dict__, "fires": bool(out.fires),
                            "can_fire": bool(out.can_fire)})


def window_fires(target, window, long_ratio, short_ratio):
    """Whether both windows' error ratios exceed factor x (1 - target)."""
    return _raw.eqops_bind_slo_window_fires(target, ms(window.long_ms), ms(window.short_ms),
                                            window.factor, long_ratio, short_ratio)


def default_windows(period, severity="page"):
    """The default alert windows for an SLO window (Workbook 30d, 28d and 7d tables)."""
    sev = {"page": 0, "ticket": 1}[severity]
    period = ms(period)
    n = _raw.eqops_bind_slo_default_window_count(period, sev)
    return [_copy(AlertWindow, _raw.eqops_bind_slo_default_window(period, sev, i))
            for i in range(n)]


_NODATA = {"ignore": 0, "good": 1, "bad": 2}


def composite(slis, weights, has_data=None, policy="ignore"):
    """Weighted composite SLI; components without data follow `policy` (ignore/good/bad)."""
    flags = array.array("i", [1 if h else 0 for h in has_data]) if has_data is not None \
        else array.array("i")
    return _raw.eqops_bind_slo_composite(_doubles(slis), _doubles(weights), flags,
                                         _NODATA[policy])


def _doubles(a):
    return a if not isinstance(a, (list, tuple)) else array.array("d", a)


def _ints(a):
    return a if not isinstance(a, (list, tuple)) else array.array("q", a)


def _counted(bad, good):
    if (bad is None) == (good is None):
        raise ValueError("give exactly one of bad and good")
    return (_doubles(bad), 1) if bad is not None else (_doubles(good), 0)


def increase(t_ms, values, start, end):
    """increase() over [start, end] as Prometheus computes it; None under two samples."""
    v, defined = _raw.eqops_bind_slo_increase(_ints(t_ms), _doubles(values), start, end)
    return v if defined else None


def _new_out(like, n):
    try:  # numpy in, numpy out
        import numpy
        if isinstance(like, numpy.ndarray):
            return numpy.empty(n, dtype=numpy.float64)
    except ImportError:
        pass
    return array.array("d", bytes(8 * n))


def _series(t_ms, total, bad, good, window, target, min_events, out):
    t = _ints(t_ms)
    counted, is_bad = _counted(bad, good)
    n = len(memoryview(t))
    if out is None:
        out = _new_out(t_ms, n)
    _raw.eqops_bind_slo_window_series(out, t, counted, _doubles(total), is_bad, ms(window),
                                      target, min_events)
    return out


def error_ratios(t_ms, total, bad=None, good=None, window="1h", min_events=1, out=None):
    """Error ratio of the window ending at each sample, O(n), never NaN."""
    return _series(t_ms, total, bad, good, window, 0.0, min_events, out)


def burn_rates(t_ms, total, target, bad=None, good=None, window="1h", min_events=1, out=None):
    """Burn rate of the window ending at each sample, O(n), never NaN."""
    return _series(t_ms, total, bad, good, window, target, min_events, out)


def period_budget(t_ms, total, target, start, end, bad=None, good=None, step=0, min_events=1):
    """The budget of [start, end], summing increases over `step` when given (like rules)."""
    counted, is_bad = _counted(bad, good)
    return _copy(Budget, _raw.eqops_bind_slo_period_budget(
        _ints(t_ms), counted, _doubles(total), is_bad, start, end, ms(step), target,
        min_events))


def timeslice_budget(t_ms, total, target, start, end, slice="1m", slice_target=0.99,
                     bad=None, good=None, ratio_mode=False):
    """Time-slice budgeting of [start, end)."""
    counted, is_bad = _counted(bad, good)
    return _copy(Timeslices, _raw.eqops_bind_slo_timeslice_budget(
        _ints(t_ms), counted, _doubles(total), is_bad, start, end, ms(slice), slice_target,
        target, 1 if ratio_mode else 0))


def calendar_period(unit, timezone="UTC", at_ms=None):
    """(start_ms, end_ms) of the week/month/quarter in `timezone` containing `at_ms`."""
    if at_ms is None:
        at_ms = int(datetime.datetime.now(datetime.timezone.utc).timestamp() * 1000)
    return tuple(_raw.eqops_bind_slo_calendar_period(unit, timezone, at_ms))


class Series:
    """Counter samples read from a CSV or JSON file (see load_series)."""

    def __init__(self, handle):
        self._h = handle
        n = _raw.eqops_bind_slo_series_len(handle)
        self.t_ms = array.array("q", bytes(8 * n))
        counted = array.array("d", bytes(8 * n))
        self.total = array.array("d", bytes(8 * n))
        _raw.eqops_bind_slo_series_copy(handle, self.t_ms, counted, self.total)
        is_bad = _raw.eqops_bind_slo_series_is_bad(handle)
        self.bad = counted if is_bad else None
        self.good = None if is_bad else counted

    def __len__(self):
        return len(self.t_ms)

    def __del__(self):
        if getattr(self, "_h", None) is not None:
            _raw.eqops_slo_series_data_free(self._h)
            self._h = None


def load_series(path):
    """Read counter samples: CSV (timestamp,good|bad,total) or JSON."""
    return Series(_raw.eqops_bind_slo_series_load(str(path)))


_FORMATS = {"auto": 0, "json": 1, "yaml": 2}
_NAMING = {"eqops": 0, "sloth": 1}


class SloSet:
    """A validated SLO spec (eqops JSON/YAML or OpenSLO v1)."""

    def __init__(self, handle):
        self._h = handle

    @classmethod
    def parse(cls, text, format="auto"):
        return cls(_raw.eqops_bind_slo_set_parse(text, _FORMATS[format]))

    @classmethod
    def load(cls, path):
        return cls(_raw.eqops_bind_slo_set_load(str(path)))

    def __del__(self):
        if getattr(self, "_h", None) is not None:
            _raw.eqops_slo_set_free(self._h)
            self._h = None

    def __len__(self):
        return _raw.eqops_slo_set_count(self._h)

    @property
    def ids(self):
        return [_raw.eqops_slo_set_id(self._h, i) for i in range(len(self))]

    def target(self, i):
        return _raw.eqops_slo_set_target(self._h, i)

    def period_ms(self, i):
        return _raw.eqops_slo_set_period_ms(self._h, i)

    def to_dict(self):
        """The normalised spec with every default filled in."""
        return json.loads(_raw.eqops_slo_set_to_json(self._h))

    def rules(self, naming="eqops", interval="1m", step="5m"):
        """Prometheus rule file (YAML text)."""
        return _raw.eqops_bind_slo_rules(self._h, _NAMING[naming], ms(interval), ms(step),
                                         None, 0)

    def rules_test(self, rules_file="rules.yml", naming="eqops", interval="1m", step="5m"):
        """promtool test file for rules() saved as `rules_file`."""
        return _raw.eqops_bind_slo_rules(self._h, _NAMING[naming], ms(interval), ms(step),
                                         rules_file, 1)

    def recorded_series(self, naming="eqops"):
        return _raw.eqops_bind_slo_recorded_series(self._h, _NAMING[naming])

    def report(self, prometheus_url=None, series=None, at_ms=0, ca_file=None,
               bearer_token=None, timeout_ms=0, cancel=None):
        """Current SLI, budget, burn and alerts, live from Prometheus or from a Series.

        A dict (the report's JSON). rep["conditions"] is {"page", "ticket", "nodata"}: a
        burn alert of that severity fires, or an objective has no data. An objective or
        window without data has "no_data": True and None for its numbers ("sli", "budget",
        "error_ratio", ...), never a perfect 100%; "absent" says whether the absent alert
        fires. cancel: an eqops.CancelToken for the Prometheus queries.
        """
        if (prometheus_url is None) == (series is None):
            raise ValueError("give either prometheus_url or series")
        return json.loads(_raw.eqops_bind_slo_report(
            self._h, prometheus_url, series._h if series is not None else None, at_ms, ca_file,
            bearer_token, timeout_ms, _cancel.handle(cancel)))
