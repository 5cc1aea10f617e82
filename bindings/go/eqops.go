// Package eqops is the Go binding of libeqops, the core library of the SRE platform:
// tenant provisioning, SLO math, Kubernetes, AWS and Postgres-per-client management.
//
// Functions return (T, error); errors are *Error values that work with errors.Is and the
// Err* sentinels:
//
//	d, err := eqops.ParseDuration("30d")
//	if errors.Is(err, eqops.ErrInvalid) { ... }
//
// The library is found with pkg-config (package eqops), and initialised when this package is
// loaded. It is safe to call from many goroutines; a handle must not be used by two
// goroutines at the same time.
package eqops

import (
	"fmt"
	"math"
	"time"

	"eqops/internal/raw"
)

func init() {
	if rc := raw.Eqops_init(); rc != 0 {
		panic(fmt.Sprintf("eqops: libeqops failed to initialise: %s", raw.Eqops_strerror(rc)))
	}
}

// Version is the version of the libeqops library in use ("MAJOR.MINOR.PATCH").
func Version() string { return raw.Eqops_version() }

// VersionNumber is the library version as one comparable number (0xMMmmpp).
func VersionNumber() uint { return raw.Eqops_version_number() }

// ParseDuration reads a Prometheus duration ("30d", "1h30m", "500ms").
func ParseDuration(text string) (time.Duration, error) {
	out := []int64{0}
	err := call(func(e raw.Eqops_error) int { return raw.Eqops_duration_parse(out, text, e) })
	if err != nil {
		return 0, err
	}
	if out[0] > math.MaxInt64/int64(time.Millisecond) {
		return 0, &Error{Code: CodeInvalid, Field: "text",
			Message: fmt.Sprintf("duration: %q is longer than a time.Duration can hold (about 292 years)", text)}
	}
	return time.Duration(out[0]) * time.Millisecond, nil
}

// FormatDuration writes the shortest Prometheus duration for d, at millisecond precision
// ("90d", "1h30m").
func FormatDuration(d time.Duration) (string, error) {
	if d < 0 {
		return "", &Error{Code: CodeInvalid, Field: "d", Message: "duration: a duration cannot be negative"}
	}
	var s string
	err := call(func(e raw.Eqops_error) int {
		return raw.Eqops_duration_format(&s, d.Milliseconds(), e)
	})
	return s, err
}
