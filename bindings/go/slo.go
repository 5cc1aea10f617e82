package eqops

import (
	"time"

	"eqops/internal/raw"
)

// Budget is the error budget of a window or period; every field is finite.
type Budget struct {
	Target     float64 // the objective as a fraction, 0.999
	Bad        float64 // bad events counted
	Total      float64 // all events counted
	AllowedBad float64 // (1 - target) * total
	ErrorRatio float64 // bad / max(total, minEvents)
	BurnRate   float64 // errorRatio / (1 - target)
	Consumed   float64 // fraction of the budget used (may exceed 1)
	Remaining  float64 // 1 - consumed (1 without traffic)
}

func budgetOf(b raw.Eqops_slo_budget) Budget {
	return Budget{b.GetTarget(), b.GetBad(), b.GetTotal(), b.GetAllowed_bad(), b.GetError_ratio(),
		b.GetBurn_rate(), b.GetConsumed(), b.GetRemaining()}
}

// SLOBudget computes the budget of a window from event counts (minEvents 0 means 1).
func SLOBudget(target, bad, total, minEvents float64) (Budget, error) {
	out := raw.NewEqops_slo_budget()
	defer raw.DeleteEqops_slo_budget(out)
	err := call(func(e raw.Eqops_error) int {
		return raw.Eqops_bind_slo_budget(out, target, bad, total, minEvents, e)
	})
	if err != nil {
		return Budget{}, err
	}
	return budgetOf(out), nil
}

// TimeToExhaustion is how long the remaining budget lasts at burnRate; ok is false when it
// never runs out.
func TimeToExhaustion(remaining, burnRate float64, period time.Duration) (d time.Duration, ok bool, err error) {
	ms, flag := []int64{0}, []int{0}
	err = call(func(e raw.Eqops_error) int {
		return raw.Eqops_bind_slo_exhaustion(ms, flag, remaining, burnRate, period.Milliseconds(), e)
	})
	return time.Duration(ms[0]) * time.Millisecond, flag[0] != 0, err
}

// BurnFactor is the burn rate that spends budgetFraction of the period's budget within long.
func BurnFactor(budgetFraction float64, period, long time.Duration) (float64, error) {
	out := []float64{0}
	err := call(func(e raw.Eqops_error) int {
		return raw.Eqops_bind_slo_burn_factor(out, budgetFraction, period.Milliseconds(),
			long.Milliseconds(), e)
	})
	return out[0], err
}

// AlertWindow is one window pair of a multi-window, multi-burn-rate alert.
type AlertWindow struct {
	Long, Short time.Duration
	Factor      float64
	For         time.Duration
}

// AlertAnalysis says what an alert window means for an SLO (SRE Workbook formulas).
type AlertAnalysis struct {
	Threshold      float64       // error ratio that fires
	BudgetConsumed float64       // budget fraction spent when it fires
	Exhaustion     time.Duration // how long a full budget lasts at the factor
	Fires          bool          // the scenario's error ratio exceeds the threshold
	Detection      time.Duration // until it fires, from a clean start, plus For
	Reset          time.Duration // until it stops after the errors stop
	CanFire        bool          // false when even a full outage stays below the threshold
}

func msDur(ms int64) time.Duration { return time.Duration(ms) * time.Millisecond }

// AnalyzeAlert analyses w for an SLO of target over period at errorRatio (1 = full outage).
func AnalyzeAlert(target float64, period time.Duration, w AlertWindow, errorRatio float64) (AlertAnalysis, error) {
	out := raw.NewEqops_slo_alert_analysis()
	defer raw.DeleteEqops_slo_alert_analysis(out)
	err := call(func(e raw.Eqops_error) int {
		return raw.Eqops_bind_slo_alert_analyze(out, target, period.Milliseconds(),
			w.Long.Milliseconds(), w.Short.Milliseconds(), w.Factor, w.For.Milliseconds(), errorRatio, e)
	})
	if err != nil {
		return AlertAnalysis{}, err
	}
	return AlertAnalysis{out.GetThreshold(), out.GetBudget_consumed(), msDur(out.GetExhaustion_ms()),
		out.GetFires() != 0, msDur(out.GetDetection_ms()), msDur(out.GetReset_ms()),
		out.GetCan_fire() != 0}, nil
}

// WindowFires reports whether both window error ratios exceed factor x (1 - target).
func WindowFires(target float64, w AlertWindow, longRatio, shortRatio float64) (bool, error) {
	flag := []int{0}
	err := call(func(e raw.Eqops_error) int {
		return raw.Eqops_bind_slo_window_fires(flag, target, w.Long.Milliseconds(),
			w.Short.Milliseconds(), w.Factor, longRatio, shortRatio, e)
	})
	return flag[0] != 0, err
}

// Severity of an alert policy.
type Severity int

// Page and Ticket are the two alert severities.
const (
	Page   Severity = 0
	Ticket Severity = 1
)

// DefaultWindows are the default alert windows of a severity for an SLO window (the SRE
// Workbook's 30-day table, the 28-day and 7-day tables, scaled for other periods).
func DefaultWindows(period time.Duration, severity Severity) ([]AlertWindow, error) {
	n := []uint64{0}
	if err := call(func(e raw.Eqops_error) int {
		return raw.Eqops_bind_slo_default_window_count(n, period.Milliseconds(), int(severity), e)
	}); err != nil {
		return nil, err
	}
	w := raw.NewEqops_slo_alert_window()
	defer raw.DeleteEqops_slo_alert_window(w)
	out := make([]AlertWindow, 0, n[0])
	for i := uint64(0); i < n[0]; i++ {
		if err := call(func(e raw.Eqops_error) int {
			return raw.Eqops_bind_slo_default_window(w, period.Milliseconds(), int(severity), int64(i), e)
		}); err != nil {
			return nil, err
		}
		out = append(out, AlertWindow{msDur(w.GetLong_ms()), msDur(w.GetShort_ms()), w.GetFactor(),
			msDur(w.GetFor_ms())})
	}
	return out, nil
}

// NoData is the policy for composite components without data.
type NoData int

// No-data policies: drop the component, count it as fully good, or as fully bad.
const (
	NoDataIgnore NoData = 0
	NoDataGood   NoData = 1
	NoDataBad    NoData = 2
)

// Composite is the weighted mean of component SLIs; hasData may be nil (all have data).
func Composite(slis, weights []float64, hasData []bool, policy NoData) (float64, error) {
	flags := make([]int32, len(hasData))
	for i, h := range hasData {
		if h {
			flags[i] = 1
		}
	}
	out := []float64{0}
	err := call(func(e raw.Eqops_error) int {
		return raw.Eqops_bind_slo_composite(out, slis, weights, flags, int(policy), e)
	})
	return out[0], err
}

// Series is counter samples: timestamps in Unix milliseconds (strictly increasing) with the
// cumulative counts of bad (or good) events and of all events. The slices are passed to C
// without copying.
type Series struct {
	TimestampsMs []int64
	Bad          []float64 // bad-events counter, or nil when Good is set
	Good         []float64 // good-events counter, or nil when Bad is set
	Total        []float64
}

func (s Series) counted() ([]float64, int, error) {
	if (s.Bad == nil) == (s.Good == nil) {
		return nil, 0, &Error{Code: CodeInvalid, Field: "series", Message: "series: give exactly one of Bad and Good"}
	}
	if s.Bad != nil {
		return s.Bad, 1, nil
	}
	return s.Good, 0, nil
}

// Increase of a counter over [startMs, endMs] exactly as Prometheus computes increase();
// ok is false under two samples in the range.
func Increase(tMs []int64, values []float64, startMs, endMs int64) (v float64, ok bool, err error) {
	out, flag := []float64{0}, []int{0}
	err = call(func(e raw.Eqops_error) int {
		return raw.Eqops_bind_slo_increase(out, flag, tMs, values, startMs, endMs, e)
	})
	return out[0], flag[0] != 0, err
}

func windowSeries(s Series, window time.Duration, target, minEvents float64, out []float64) ([]float64, error) {
	counted, isBad, err := s.counted()
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = make([]float64, len(s.TimestampsMs))
	}
	err = call(func(e raw.Eqops_error) int {
		return raw.Eqops_bind_slo_window_series(out, s.TimestampsMs, counted, s.Total, isBad,
			window.Milliseconds(), target, minEvents, e)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ErrorRatios is the error ratio of the window ending at each sample, O(n), never NaN.
// out may be nil or a slice of len(s.TimestampsMs) to fill.
func ErrorRatios(s Series, window time.Duration, minEvents float64, out []float64) ([]float64, error) {
	return windowSeries(s, window, 0, minEvents, out)
}

// BurnRates is the burn rate of the window ending at each sample, O(n), never NaN.
func BurnRates(s Series, window time.Duration, target, minEvents float64, out []float64) ([]float64, error) {
	return windowSeries(s, window, target, minEvents, out)
}

// PeriodBudget is the budget of [startMs, endMs], summing increases over step when step > 0
// (as the generated recording rules do).
func PeriodBudget(s Series, startMs, endMs int64, step time.Duration, target, minEvents float64) (Budget, error) {
	counted, isBad, err := s.counted()
	if err != nil {
		return Budget{}, err
	}
	out := raw.NewEqops_slo_budget()
	defer raw.DeleteEqops_slo_budget(out)
	err = call(func(e raw.Eqops_error) int {
		return raw.Eqops_bind_slo_period_budget(out, s.TimestampsMs, counted, s.Total, isBad, startMs,
			endMs, step.Milliseconds(), target, minEvents, e)
	})
	if err != nil {
		return Budget{}, err
	}
	return budgetOf(out), nil
}

// Timeslices is a time-slice budget.
type Timeslices struct {
	Slices, Good, Bad, NoData       int64
	SLI, AllowedBad, Consumed, Left float64
}

// TimesliceBudget cuts [startMs, endMs) into slices; ratioMode is OpenSLO RatioTimeslices.
func TimesliceBudget(s Series, startMs, endMs int64, slice time.Duration, sliceTarget, target float64, ratioMode bool) (Timeslices, error) {
	counted, isBad, err := s.counted()
	if err != nil {
		return Timeslices{}, err
	}
	out := raw.NewEqops_slo_timeslices()
	defer raw.DeleteEqops_slo_timeslices(out)
	mode := 0
	if ratioMode {
		mode = 1
	}
	err = call(func(e raw.Eqops_error) int {
		return raw.Eqops_bind_slo_timeslice_budget(out, s.TimestampsMs, counted, s.Total, isBad, startMs,
			endMs, slice.Milliseconds(), sliceTarget, target, mode, e)
	})
	if err != nil {
		return Timeslices{}, err
	}
	return Timeslices{out.GetSlices(), out.GetGood(), out.GetBad(), out.GetNo_data(), out.GetSli(),
		out.GetAllowed_bad(), out.GetConsumed(), out.GetRemaining()}, nil
}

// CalendarPeriod is the week, month or quarter in an IANA time zone containing at.
func CalendarPeriod(unit, timezone string, at time.Time) (start, end time.Time, err error) {
	s, e2 := []int64{0}, []int64{0}
	err = call(func(e raw.Eqops_error) int {
		return raw.Eqops_bind_slo_calendar_period(s, e2, unit, timezone, at.UnixMilli(), e)
	})
	return time.UnixMilli(s[0]).UTC(), time.UnixMilli(e2[0]).UTC(), err
}

// LoadSeries reads counter samples from a CSV (timestamp,good|bad,total) or JSON file.
func LoadSeries(path string) (Series, error) {
	var h raw.Struct_SS_eqops_slo_series_data
	if err := call(func(e raw.Eqops_error) int {
		h = raw.Eqops_bind_slo_series_load(path, e)
		return int(e.GetCode())
	}); err != nil {
		return Series{}, err
	}
	defer raw.Eqops_slo_series_data_free(h)
	n := raw.Eqops_bind_slo_series_len(h)
	s := Series{TimestampsMs: make([]int64, n), Total: make([]float64, n)}
	counted := make([]float64, n)
	if err := call(func(e raw.Eqops_error) int {
		return raw.Eqops_bind_slo_series_copy(h, s.TimestampsMs, counted, s.Total, e)
	}); err != nil {
		return Series{}, err
	}
	if raw.Eqops_bind_slo_series_is_bad(h) != 0 {
		s.Bad = counted
	} else {
		s.Good = counted
	}
	return s, nil
}
