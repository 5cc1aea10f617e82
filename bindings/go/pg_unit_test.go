package eqops

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestTenantStringHidesSecrets(t *testing.T) {
	ten := Tenant{Name: "a", Database: "tenant_a", Role: "tenant_a", State: "ready",
		Conninfo: "password='s3cret'", Password: "s3cret"}
	for _, s := range []string{fmt.Sprint(ten), fmt.Sprintf("%v %+v %#v %s", ten, ten, ten, &ten)} {
		if strings.Contains(s, "s3cret") {
			t.Fatalf("secret printed: %s", s)
		}
	}
}

func TestClosedPGCluster(t *testing.T) {
	c := &PGCluster{}
	if _, err := c.Tenants(false); err == nil {
		t.Fatal("a closed cluster answered")
	}
	c.Close()
}

// FailoverWait reaches eqops_pg_options.failover_wait_ms: negative is one attempt, more than
// an hour is refused naming the field, a short wait is waited before giving up.
func TestPGFailoverWait(t *testing.T) {
	const nobody = "host=127.0.0.1 port=1 connect_timeout=1"
	if _, err := ConnectPG(nobody, PGOptions{FailoverWait: -1}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("one attempt: %v", err)
	}
	var e *Error
	_, err := ConnectPG(nobody, PGOptions{FailoverWait: 2 * time.Hour})
	if !errors.As(err, &e) || e.Code != CodeInvalid || e.Field != "opts.failover_wait_ms" {
		t.Fatalf("2h accepted or wrong error: %v", err)
	}
	start := time.Now()
	if _, err := ConnectPG(nobody, PGOptions{FailoverWait: 1200 * time.Millisecond}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("1.2s wait: %v", err)
	}
	if waited := time.Since(start); waited < time.Second {
		t.Fatalf("gave up after %v of a 1.2s failover wait", waited)
	}
}
