package eqops

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"eqops/internal/raw"
)

func TestVersion(t *testing.T) {
	v := Version()
	if strings.Count(v, ".") != 2 {
		t.Fatalf("version %q", v)
	}
	if VersionNumber() == 0 {
		t.Fatal("version number is 0")
	}
}

func TestCodes(t *testing.T) {
	if CodeNotFound.String() != "EQOPS_ENOTFOUND" {
		t.Fatal(CodeNotFound.String())
	}
	if int(CodeInternal) != raw.EQOPS_CODE_MIN {
		t.Fatalf("Go codes stop at %d, C at %d", CodeInternal, raw.EQOPS_CODE_MIN)
	}
	for c := Code(-1); c >= CodeInternal; c-- {
		if c.String() == "EQOPS_EUNKNOWN" {
			t.Fatalf("code %d has no name", c)
		}
	}
}

func TestDurations(t *testing.T) {
	d, err := ParseDuration("1h30m")
	if err != nil || d != 90*time.Minute {
		t.Fatalf("ParseDuration: %v %v", d, err)
	}
	s, err := FormatDuration(90 * 24 * time.Hour)
	if err != nil || s != "90d" {
		t.Fatalf("FormatDuration: %q %v", s, err)
	}
	s, err = FormatDuration(0)
	if err != nil || s != "0s" {
		t.Fatalf("FormatDuration(0): %q %v", s, err)
	}
}

func TestDurationLimits(t *testing.T) {
	if _, err := ParseDuration("300y"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("300y must not overflow silently: %v", err)
	}
	if _, err := FormatDuration(-500 * time.Microsecond); !errors.Is(err, ErrInvalid) {
		t.Fatalf("negative: %v", err)
	}
	// a string the caller left non-empty is overwritten, never handed to C
	s := "previous"
	if err := call(func(e raw.Eqops_error) int { return raw.Eqops_duration_format(&s, 60000, e) }); err != nil || s != "1m" {
		t.Fatalf("reused string: %q %v", s, err)
	}
}

func TestErrorsAreGoErrors(t *testing.T) {
	_, err := ParseDuration("90 days")
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("want ErrInvalid, got %v", err)
	}
	if errors.Is(err, ErrNotFound) {
		t.Fatal("ErrInvalid must not match ErrNotFound")
	}
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeInvalid || !strings.Contains(e.Message, "duration") {
		t.Fatalf("errors.As: %#v", e)
	}
	if e.Field != "" || !strings.HasPrefix(err.Error(), "eqops: duration:") {
		t.Fatalf("message: %q (field %q)", err.Error(), e.Field)
	}
}

func TestLogHandler(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	SetLogHandler(func(level LogLevel, module, message string) {
		mu.Lock()
		lines = append(lines, level.String()+" "+module+" "+message)
		mu.Unlock()
	}, LogDebug)
	raw.Eqops_cleanup()
	raw.Eqops_init()
	SetLogHandler(nil, LogNone)
	mu.Lock()
	defer mu.Unlock()
	found := false
	for _, l := range lines {
		if strings.HasPrefix(l, "debug core ") && strings.Contains(l, "initialised") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no init line in %q", lines)
	}
}

func TestConcurrentCalls(t *testing.T) {
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				if d, err := ParseDuration("5m"); err != nil || d != 5*time.Minute {
					t.Errorf("got %v %v", d, err)
					return
				}
				if _, err := ParseDuration("bad"); !errors.Is(err, ErrInvalid) {
					t.Errorf("got %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
