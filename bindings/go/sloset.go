package eqops

import (
	"encoding/json"
	"runtime"
	"time"

	"eqops/internal/raw"
)

// SLOSet is a validated SLO spec (eqops JSON or YAML, or OpenSLO v1). Close it when done;
// a finalizer closes it otherwise. Do not use one SLOSet from two goroutines at once.
type SLOSet struct {
	h raw.Struct_SS_eqops_slo_set
}

func newSLOSet(h raw.Struct_SS_eqops_slo_set) *SLOSet {
	s := &SLOSet{h}
	runtime.SetFinalizer(s, (*SLOSet).Close)
	return s
}

// Spec formats for ParseSLOSet.
const (
	FormatAuto = 0
	FormatJSON = 1
	FormatYAML = 2
)

// ParseSLOSet reads and validates a spec.
func ParseSLOSet(text string, format int) (*SLOSet, error) {
	var h raw.Struct_SS_eqops_slo_set
	if err := call(func(e raw.Eqops_error) int {
		h = raw.Eqops_bind_slo_set_parse(text, format, e)
		return e.GetCode()
	}); err != nil {
		return nil, err
	}
	return newSLOSet(h), nil
}

// LoadSLOSet reads and validates a spec file (.json, .yaml, .yml).
func LoadSLOSet(path string) (*SLOSet, error) {
	var h raw.Struct_SS_eqops_slo_set
	if err := call(func(e raw.Eqops_error) int {
		h = raw.Eqops_bind_slo_set_load(path, e)
		return e.GetCode()
	}); err != nil {
		return nil, err
	}
	return newSLOSet(h), nil
}

// Close releases the set.
func (s *SLOSet) Close() {
	if s != nil && s.h != nil {
		raw.Eqops_slo_set_free(s.h)
		s.h = nil
	}
}

// Len is the number of objectives (an SLO with two objectives counts twice).
func (s *SLOSet) Len() int { return int(raw.Eqops_slo_set_count(s.h)) }

// ID of objective i ("<service>-<slo>[-<objective>]").
func (s *SLOSet) ID(i int) string { return raw.Eqops_slo_set_id(s.h, int64(i)) }

// Target of objective i as a fraction.
func (s *SLOSet) Target(i int) float64 { return raw.Eqops_slo_set_target(s.h, int64(i)) }

// Period of objective i's SLO window.
func (s *SLOSet) Period(i int) time.Duration {
	return msDur(raw.Eqops_slo_set_period_ms(s.h, int64(i)))
}

// JSON is the normalised spec with every default filled in.
func (s *SLOSet) JSON() (string, error) {
	var out string
	err := call(func(e raw.Eqops_error) int { return raw.Eqops_slo_set_to_json(&out, s.h, e) })
	return out, err
}

// RulesOptions shape the generated Prometheus rules.
type RulesOptions struct {
	Sloth     bool          // also record Sloth's series names
	Interval  time.Duration // alert evaluation interval (default 1m)
	Step      time.Duration // interval of the recorded increases (default 5m)
	RulesFile string        // for RulesTest: the rules file the test loads (default rules.yml)
}

func (o RulesOptions) naming() int {
	if o.Sloth {
		return 1
	}
	return 0
}

func (s *SLOSet) rules(o RulesOptions, test int) (string, error) {
	var out string
	err := call(func(e raw.Eqops_error) int {
		return raw.Eqops_bind_slo_rules(&out, s.h, o.naming(), o.Interval.Milliseconds(),
			o.Step.Milliseconds(), o.RulesFile, test, e)
	})
	return out, err
}

// Rules is the Prometheus rule file (YAML) for every SLO of the set.
func (s *SLOSet) Rules(o RulesOptions) (string, error) { return s.rules(o, 0) }

// RulesTest is a promtool test file proving the rules' alerts.
func (s *SLOSet) RulesTest(o RulesOptions) (string, error) { return s.rules(o, 1) }

// RecordedSeries is how many series the rules record for the whole set.
func (s *SLOSet) RecordedSeries(o RulesOptions) int {
	return int(raw.Eqops_bind_slo_recorded_series(s.h, o.naming()))
}

// ReportOptions say where the report reads from: a Prometheus URL, or samples.
type ReportOptions struct {
	PrometheusURL string
	Series        *Series
	At            time.Time // zero: now (live) or the last sample
	CAFile        string
	BearerToken   string
	Timeout       time.Duration
	// Cancel, when set, is checked by the Prometheus queries of the report (between steps, in transfers and
	// queries, and in retry waits); once triggered the call returns an *Error with
	// CodeCanceled. It must stay open while used.
	Cancel *CancelToken
}

// Report is the current state of every objective as JSON (decoded into a map).
// rep["conditions"] holds "page", "ticket" and "nodata": a burn alert of that severity
// fires, or an objective has no data. An objective or window without data has "no_data":
// true and nil for its numbers ("sli", "budget", "error_ratio", ...), never a perfect 100%;
// "absent" says whether the absent alert fires.
func (s *SLOSet) Report(o ReportOptions) (map[string]any, error) {
	var at int64
	if !o.At.IsZero() {
		at = o.At.UnixMilli()
	}
	var out string
	var err error
	if o.Series != nil {
		counted, isBad, cerr := o.Series.counted()
		if cerr != nil {
			return nil, cerr
		}
		err = call(func(e raw.Eqops_error) int {
			return raw.Eqops_bind_slo_report_series(&out, s.h, o.Series.TimestampsMs, counted,
				o.Series.Total, isBad, at, e)
		})
	} else {
		var none raw.Struct_SS_eqops_slo_series_data
		token, terr := cancelHandle(o.Cancel, "Cancel")
		defer runtime.KeepAlive(o.Cancel) // C uses it until the call returns
		if terr != nil {
			return nil, terr
		}
		err = call(func(e raw.Eqops_error) int {
			return raw.Eqops_bind_slo_report(&out, s.h, o.PrometheusURL, none, at, o.CAFile,
				o.BearerToken, o.Timeout.Milliseconds(), token, e)
		})
	}
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		return nil, err
	}
	return m, nil
}
