package eqops

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const day = 24 * time.Hour

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*(1+math.Abs(b)) }

func TestSLOBudgetAndExhaustion(t *testing.T) {
	b, err := SLOBudget(0.999, 1, 10, 1)
	if err != nil || !near(b.BurnRate, 100) || !near(b.ErrorRatio, 0.1) {
		t.Fatalf("%+v %v", b, err)
	}
	d, ok, err := TimeToExhaustion(1, 1000, 30*day)
	if err != nil || !ok || d != 43*time.Minute+12*time.Second {
		t.Fatalf("%v %v %v", d, ok, err)
	}
	if _, ok, _ := TimeToExhaustion(1, 0, 30*day); ok {
		t.Fatal("a budget that does not burn never runs out")
	}
	if _, err := SLOBudget(99.9, 0, 1, 1); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "0.999") {
		t.Fatalf("%v", err)
	}
}

func TestSLOWindows(t *testing.T) {
	page, err := DefaultWindows(30*day, Page)
	if err != nil || len(page) != 2 || !near(page[0].Factor, 14.4) || page[0].Short != 5*time.Minute {
		t.Fatalf("%+v %v", page, err)
	}
	ticket, _ := DefaultWindows(28*day, Ticket)
	if !near(ticket[1].Factor, 0.9333333333333333) {
		t.Fatalf("%+v", ticket)
	}
	f, err := BurnFactor(0.02, 30*day, time.Hour)
	if err != nil || !near(f, 14.4) {
		t.Fatal(f, err)
	}
	a, err := AnalyzeAlert(0.999, 30*day, AlertWindow{time.Hour, 5 * time.Minute, 14.4, 0}, 0.15)
	if err != nil || !a.Fires || a.Detection != 345600*time.Millisecond || a.Reset != 271200*time.Millisecond {
		t.Fatalf("%+v %v", a, err)
	}
	fires, err := WindowFires(0.999, page[0], 0.02, 0.001)
	if err != nil || fires {
		t.Fatal("a recovered short window resets the alert")
	}
	c, err := Composite([]float64{0.9, 0.5}, []float64{1, 1}, []bool{true, false}, NoDataGood)
	if err != nil || !near(c, 0.95) {
		t.Fatal(c, err)
	}
	if _, err := Composite([]float64{0.9}, []float64{1, 2}, nil, NoDataIgnore); !errors.Is(err, ErrInvalid) {
		t.Fatal(err)
	}
}

func series(n int) Series {
	s := Series{make([]int64, n), make([]float64, n), nil, make([]float64, n)}
	for i := 0; i < n; i++ {
		s.TimestampsMs[i] = 1_700_000_000_000 + int64(i)*15_000
		s.Total[i] = float64(i * 10)
		s.Bad[i] = float64(i / 10)
	}
	return s
}

func TestSLOSeries(t *testing.T) {
	s := series(2000)
	out := make([]float64, 2000)
	got, err := ErrorRatios(s, 5*time.Minute, 1, out)
	if err != nil || &got[0] != &out[0] {
		t.Fatalf("filled in place: %v", err)
	}
	if math.Abs(out[1999]-0.01) > 1e-9 {
		t.Fatal(out[1999])
	}
	burn, err := BurnRates(s, 5*time.Minute, 0.99, 1, nil)
	if err != nil || math.Abs(burn[1999]-1) > 1e-9 {
		t.Fatal(burn[1999], err)
	}
	for _, v := range burn {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatal("never NaN or Inf")
		}
	}
	inc, ok, err := Increase(s.TimestampsMs, s.Total, s.TimestampsMs[0], s.TimestampsMs[20])
	if err != nil || !ok || !near(inc, 200) {
		t.Fatal(inc, ok, err)
	}
	b, err := PeriodBudget(s, s.TimestampsMs[0], s.TimestampsMs[1999], 0, 0.99, 1)
	if err != nil || !near(b.BurnRate, s.Bad[1999]/s.Total[1999]/0.01) {
		t.Fatalf("%+v %v", b, err)
	}
	ts, err := TimesliceBudget(s, s.TimestampsMs[0], s.TimestampsMs[0]+3600_000, time.Minute, 0.95, 0.9, false)
	if err != nil || ts.Slices != 60 || ts.Bad != 0 {
		t.Fatalf("%+v %v", ts, err)
	}
	short := s
	short.Total = s.Total[:10]
	if _, err := ErrorRatios(short, time.Minute, 1, nil); !errors.Is(err, ErrInvalid) {
		t.Fatal(err)
	}
	if _, err := ErrorRatios(Series{TimestampsMs: s.TimestampsMs, Total: s.Total}, time.Minute, 1, nil); !errors.Is(err, ErrInvalid) {
		t.Fatal(err)
	}
	start, end, err := CalendarPeriod("month", "Europe/Berlin", time.UnixMilli(1795773600000))
	if err != nil || start.UnixMilli() != 1793487600000 || end.UnixMilli() != 1796079600000 {
		t.Fatal(start, end, err)
	}
	if _, _, err := CalendarPeriod("month", "Mars/Base", time.Now()); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
}

func TestSLOSetRulesReport(t *testing.T) {
	set, err := LoadSLOSet(filepath.Join("..", "..", "examples", "slo", "billing-api.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	if set.Len() != 3 || set.ID(0) != "billing-api-requests-availability" || set.Target(1) != 0.99 || set.Period(0) != 30*day {
		t.Fatalf("%d %s", set.Len(), set.ID(0))
	}
	rules, err := set.Rules(RulesOptions{})
	if err != nil || !strings.Contains(rules, "> 0.0144") {
		t.Fatal(err)
	}
	sloth, _ := set.Rules(RulesOptions{Sloth: true})
	if !strings.Contains(sloth, "slo:sli_error:ratio_rate5m") || set.RecordedSeries(RulesOptions{}) != 9 {
		t.Fatal("sloth names")
	}
	test, err := set.RulesTest(RulesOptions{RulesFile: "r.yml"})
	if err != nil || !strings.Contains(test, "- r.yml") {
		t.Fatal(err)
	}
	js, err := set.JSON()
	if err != nil || !strings.Contains(js, `"target": 99.9`) {
		t.Fatal(err)
	}
	_, err = ParseSLOSet(`{"service": "s", "slos": [{"name": "a", "target": 100}]}`, FormatJSON)
	var e *Error
	if !errors.As(err, &e) || e.Field != "slos[0].sli" {
		t.Fatalf("%#v", err)
	}
	one, err := ParseSLOSet(`{"service": "s", "slos": [{"name": "a", "window": "7d", "target": 99,
	  "sli": {"events": {"bad": "sum(rate(e[{{.window}}]))", "total": "sum(rate(t[{{.window}}]))"}}}]}`, FormatAuto)
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	s := series(3000)
	for i := range s.Bad {
		s.Bad[i] = float64(i / 20)
	}
	rep, err := one.Report(ReportOptions{Series: &s})
	if err != nil {
		t.Fatal(err)
	}
	obj := rep["objectives"].([]any)[0].(map[string]any)
	burn := obj["budget"].(map[string]any)["burn_rate"].(float64)
	if math.Abs(burn-0.5) > 0.01 {
		t.Fatal(burn)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "s.csv")
	os.WriteFile(p, []byte("timestamp,good,total\n1,1,1\n2,3,4\n"), 0o600)
	loaded, err := LoadSeries(p)
	if err != nil || len(loaded.Good) != 2 || loaded.Bad != nil || loaded.TimestampsMs[1] != 2000 {
		t.Fatalf("%+v %v", loaded, err)
	}
	if _, err := LoadSeries(filepath.Join(dir, "missing.csv")); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
}

// Nothing measured in the window is no data, not a perfect SLI (issue 13.9).
func TestSLOReportNoData(t *testing.T) {
	set, err := ParseSLOSet(`{"service": "s", "slos": [{"name": "a", "window": "1d", "target": 99,
	  "alerting": {"page": {"windows": [{"long": "1h", "short": "5m", "factor": 10}]}, "ticket": false},
	  "sli": {"events": {"bad": "sum(rate(e[{{.window}}]))", "total": "sum(rate(t[{{.window}}]))"}}}]}`, FormatJSON)
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	s := series(120)
	for i := range s.Bad {
		s.Bad[i] = s.Total[i] / 2
	}
	rep, err := set.Report(ReportOptions{Series: &s})
	if err != nil {
		t.Fatal(err)
	}
	conds := rep["conditions"].(map[string]any)
	if conds["page"] != true || conds["ticket"] != false || conds["nodata"] != false {
		t.Fatalf("with data: %v", conds)
	}
	last := time.UnixMilli(s.TimestampsMs[len(s.TimestampsMs)-1])
	rep, err = set.Report(ReportOptions{Series: &s, At: last.Add(3 * day)})
	if err != nil {
		t.Fatal(err)
	}
	conds = rep["conditions"].(map[string]any)
	if conds["page"] != false || conds["nodata"] != true {
		t.Fatalf("without data: %v", conds)
	}
	obj := rep["objectives"].([]any)[0].(map[string]any)
	if obj["no_data"] != true || obj["sli"] != nil || obj["budget"] != nil || obj["exhaustion"] != nil {
		t.Fatalf("%v", obj)
	}
	for _, b := range obj["burn"].([]any) {
		if b.(map[string]any)["no_data"] != true || b.(map[string]any)["burn_rate"] != nil {
			t.Fatalf("%v", b)
		}
	}
	alert := obj["alerts"].([]any)[0].(map[string]any)
	absent := obj["absent"].(map[string]any)
	if alert["firing"] != false || alert["no_data"] != true || absent["firing"] != true || absent["for"] != "15m" {
		t.Fatalf("%v %v", alert, absent)
	}
}
