package eqops

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// The PG service tests need scripts/testenv's Postgres (EQOPS_TEST_PG_ADMIN_DSN); they skip
// without it, unless EQOPS_TEST_REQUIRE_SERVICES=1 (the integration tier) makes that a failure.
func pgCluster(t *testing.T) *PGCluster {
	t.Helper()
	dsn := os.Getenv("EQOPS_TEST_PG_ADMIN_DSN")
	if dsn == "" {
		if os.Getenv("EQOPS_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("EQOPS_TEST_PG_ADMIN_DSN is not set: scripts/testenv up postgres")
		}
		t.Skip("no test Postgres: scripts/testenv up postgres; eval \"$(scripts/testenv env)\"")
	}
	c, err := ConnectPG(dsn, PGOptions{DBPrefix: "gt_", TemplateDB: "gtpl", ControlDB: "gctl"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func examplesMigrations(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "examples", "pg", "migrations")
}

func TestCheckTenantName(t *testing.T) {
	if err := CheckTenantName("acme-power"); err != nil {
		t.Fatal(err)
	}
	err := CheckTenantName("acme'; drop")
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrInvalid) || e.Field != "name" {
		t.Fatalf("%v", err)
	}
}

func TestConnectPGErrors(t *testing.T) {
	_, err := ConnectPG("host=x password=hunter2 =", PGOptions{})
	if !errors.Is(err, ErrInvalid) || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("%v", err)
	}
	_, err = ConnectPG("host=127.0.0.1 port=1 connect_timeout=1", PGOptions{FailoverWait: -1})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("%v", err)
	}
}

func TestServicePGTenants(t *testing.T) {
	c := pgCluster(t)
	dir := examplesMigrations(t)
	if err := c.EnsureTemplate(dir); err != nil {
		t.Fatal(err)
	}
	ten, err := c.CreateTenant("go-one", TenantOptions{Settings: map[string]string{"statement_timeout": "5s"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.DropTenant("go-one", "go-one")
	if !ten.Created || ten.Database != "gt_go_one" || ten.SchemaVersion != 4 || len(ten.Password) != 43 {
		t.Fatalf("%+v", ten)
	}
	if s := fmt.Sprintf("%v %+v", ten, *ten); strings.Contains(s, ten.Password) {
		t.Fatalf("printing a tenant shows its password: %s", s)
	}
	again, err := c.CreateTenant("go-one", TenantOptions{})
	if err != nil || again.Created || again.Password != "" {
		t.Fatalf("%+v %v", again, err)
	}
	shown, err := c.Tenant("go-one")
	if err != nil || shown.State != "ready" || shown.Size <= 0 {
		t.Fatalf("%+v %v", shown, err)
	}
	if _, err := c.Tenant("go-none"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("%v", err)
	}
	rot, err := c.RotatePassword("go-one")
	if err != nil || rot.Password == "" || rot.Password == ten.Password {
		t.Fatalf("%+v %v", rot, err)
	}
	list, err := c.Tenants(true)
	if err != nil || len(list) != 1 || list[0].Name != "go-one" || *list[0].SchemaVersion != 4 {
		t.Fatalf("%+v %v", list, err)
	}
	if err := c.DropTenant("go-one", "nope"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("%v", err)
	}
}

func TestServicePGMigrateAndDrift(t *testing.T) {
	c := pgCluster(t)
	dir := examplesMigrations(t)
	for _, n := range []string{"go-a", "go-b", "go-c"} {
		if _, err := c.CreateTenant(n, TenantOptions{MigrationsDir: dir}); err != nil {
			t.Fatal(err)
		}
		defer c.DropTenant(n, n)
	}
	var seen []string
	res, err := c.Migrate(MigrateOptions{MigrationsDir: dir, DryRun: true,
		Progress: func(db, status string, done, total int) bool {
			seen = append(seen, fmt.Sprintf("%s:%s:%d/%d", db, status, done, total))
			return false
		}})
	if err != nil || !res.DryRun || res.TargetVersion != 4 || res.OK != 4 || len(seen) != 4 {
		t.Fatalf("%+v %v %v", res, err, seen)
	}
	if seen[3] != "gt_go_c:planned:4/4" && !strings.HasSuffix(seen[3], ":planned:4/4") {
		t.Fatalf("%v", seen)
	}
	// a callback that stops: ErrCanceled with the results so far
	res, err = c.Migrate(MigrateOptions{MigrationsDir: dir, Concurrency: 1,
		Progress: func(string, string, int, int) bool { return true }})
	if !errors.Is(err, ErrCanceled) || res == nil || res.Skipped == 0 {
		t.Fatalf("%+v %v", res, err)
	}
	v, err := c.Validate(dir, "")
	if err != nil || v.Problems != 0 || len(v.Databases) != 4 {
		t.Fatalf("%+v %v", v, err)
	}
	d, err := c.Drift()
	if err != nil || d.Drifted != 0 || len(d.Tenants) != 3 || d.Tenants[0].Isolation != "ok" {
		t.Fatalf("%+v %v", d, err)
	}
	fp, err := c.Fingerprint("gt_go_a")
	if err != nil || fp != d.Template {
		t.Fatalf("%s %v", fp, err)
	}
	if _, err := c.Drift("go-nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("%v", err)
	}
}
