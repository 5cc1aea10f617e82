package eqops

import (
	"fmt"
	"strings"
	"testing"
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
