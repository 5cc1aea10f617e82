package eqops

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const tenantTiers = `{"tiers": {"small": {"pod_security": "restricted",
"quota": {"pods": "10", "requests.cpu": "2"}, "limits": {"default": {"cpu": "500m"}},
"connection_limit": 5}}}`

const tenantSpec = `{"name": "acme-power", "tier": "small",
"clusters": [{"name": "eu-west", "context": "nope"}]}`

// a spec whose one cluster's API server refuses connections (see offlineTenantEnv)
const unreachableSpec = `{"name": "acme-power", "tier": "small", "database": {"enabled": false},
"clusters": [{"name": "eu-west", "context": "down"}]}`

func writeFile(t *testing.T, path, text string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// tenantEnv is an env with the small tier and a kubeconfig whose only context ("down") points
// at a port nothing listens on, so no test depends on the machine's kubeconfig.
func offlineTenantEnv(t *testing.T) (*TenantEnv, string) {
	t.Helper()
	dir := t.TempDir()
	tiers := writeFile(t, filepath.Join(dir, "tiers.json"), tenantTiers)
	kc := writeFile(t, filepath.Join(dir, "kubeconfig"), `{
"clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
"users": [{"name": "u", "user": {"token": "secret-token"}}],
"contexts": [{"name": "down", "context": {"cluster": "c", "user": "u"}}],
"current-context": "down"}`)
	env, err := NewTenantEnv(TenantEnvOptions{TiersFile: tiers, Kubeconfig: kc, RequestTimeoutMs: 500})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	return env, dir
}

// wantField checks that err is an *Error with code `code` naming `field`.
func wantField(t *testing.T, err error, sentinel error, field string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, sentinel) || e.Field != field {
		t.Fatalf("want %v naming %q, got %v (field %q)", sentinel, field, err, fieldOf(err))
	}
}

func fieldOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

func TestTenantCheckAndRender(t *testing.T) {
	env, _ := offlineTenantEnv(t)
	out, err := env.Check(tenantSpec)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Name     string `json:"name"`
		Database struct {
			Enabled         bool `json:"enabled"`
			ConnectionLimit int  `json:"connection_limit"`
		} `json:"database"`
		Secrets struct {
			Kubernetes struct {
				Name string `json:"name"`
			} `json:"kubernetes"`
		} `json:"secrets"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Name != "acme-power" || !doc.Database.Enabled || doc.Database.ConnectionLimit != 5 ||
		doc.Secrets.Kubernetes.Name != "db-credentials" {
		t.Fatalf("defaults: %s", out)
	}
	yaml := "name: acme-power\ntier: small\nclusters:\n  - {name: eu-west, context: nope}\n"
	if again, err := env.Check(yaml); err != nil || again != out {
		t.Fatalf("YAML spec: %v\n%s", err, again)
	}

	text, err := env.Render(tenantSpec, "")
	if err != nil {
		t.Fatal(err)
	}
	var objs []Object
	if err := json.Unmarshal([]byte(text), &objs); err != nil || len(objs) < 5 {
		t.Fatalf("render: %v %s", err, text)
	}
	if objs[0]["kind"] != "Namespace" {
		t.Fatalf("first object %v", objs[0]["kind"])
	}
	kinds := map[string]bool{}
	for _, o := range objs {
		kinds[o["kind"].(string)] = true
		labels := o["metadata"].(map[string]any)["labels"].(map[string]any)
		if labels["eqops.io/tenant"] != "acme-power" {
			t.Fatalf("%v without the tenant label: %v", o["kind"], labels)
		}
		if o["kind"] == "Secret" && (o["data"] != nil || o["stringData"] != nil) {
			t.Fatalf("the rendered Secret has data: %v", o)
		}
	}
	for _, k := range []string{"ResourceQuota", "LimitRange", "NetworkPolicy", "ServiceAccount"} {
		if !kinds[k] {
			t.Fatalf("no %s in %v", k, kinds)
		}
	}
	if same, err := env.Render(tenantSpec, "eu-west"); err != nil || same != text {
		t.Fatalf("render eu-west: %v", err)
	}
	_, err = env.Render(tenantSpec, "other")
	wantField(t, err, ErrNotFound, "cluster")
}

func TestTenantHostileNames(t *testing.T) {
	env, _ := offlineTenantEnv(t)
	for _, name := range []string{"../etc", "Robert'); DROP", "a", strings.Repeat("x", 41), "select", "",
		"acme power", "acme\nx"} {
		b, _ := json.Marshal(map[string]any{"name": name, "tier": "small",
			"clusters": []any{map[string]any{"name": "eu-west", "context": "nope"}}})
		spec := string(b)
		wantNameRefused(t, env, spec)
		_, err := env.Destroy(spec, &TenantRunOptions{Confirm: name})
		wantField(t, err, ErrInvalid, "name")
	}
}

// wantNameRefused checks that every operation but Destroy refuses spec's name (ErrInvalid,
// Field "name").
func wantNameRefused(t *testing.T, env *TenantEnv, spec string) {
	t.Helper()
	_, err := env.Check(spec)
	wantField(t, err, ErrInvalid, "name")
	_, err = env.Render(spec, "")
	wantField(t, err, ErrInvalid, "name")
	_, err = env.Plan(spec, nil)
	wantField(t, err, ErrInvalid, "name")
	_, err = env.Apply(spec, nil)
	wantField(t, err, ErrInvalid, "name")
	_, err = env.Reconcile(spec, nil)
	wantField(t, err, ErrInvalid, "name")
	_, _, err = env.Drift(spec, nil)
	wantField(t, err, ErrInvalid, "name")
	_, err = env.Status(spec)
	wantField(t, err, ErrInvalid, "name")
}

func TestTenantBadSpecs(t *testing.T) {
	env, _ := offlineTenantEnv(t)
	for _, c := range []struct{ spec, field string }{
		{`{"name": "acme-power", "tier": "huge", "clusters": [{"name": "eu-west", "context": "x"}]}`, "tier"},
		{`{"name": "acme-power", "tier": "small", "clusters": [{"name": "eu-west", "context": "x",
			"eks": {"cluster": "c", "region": "eu-west-1"}}]}`, "clusters[0]"},
		{`{"name": "acme-power", "tier": "small", "clusters": [{"name": "eu-west"}]}`, "clusters[0]"},
		{`{"name": "acme-power", "tier": "small", "clusters": [{"name": "eu-west",
			"eks": {"cluster": "c", "region": "mars"}}]}`, "clusters[0].eks.region"},
		{`{"name": "acme-power", "tier": "small", "clusters": [{"name": "EU", "context": "x"}]}`, "clusters[0].name"},
		{`{"name": "acme-power", "tier": "small", "clusters": []}`, "clusters"},
	} {
		_, err := env.Check(c.spec)
		wantField(t, err, ErrInvalid, c.field)
	}
	if _, err := env.Check("name: ["); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad YAML: %v", err)
	}
}

func TestTenantEnvErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := NewTenantEnv(TenantEnvOptions{TiersFile: filepath.Join(dir, "missing")}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing tiers file: %v", err)
	}
	bad := writeFile(t, filepath.Join(dir, "bad.json"), `{"tiers": {"small": {"pod_security": "none"}}}`)
	_, err := NewTenantEnv(TenantEnvOptions{TiersFile: bad})
	wantField(t, err, ErrInvalid, "tiers.small.pod_security")
	_, err = NewTenantEnv(TenantEnvOptions{Concurrency: 33})
	wantField(t, err, ErrInvalid, "concurrency")
	if _, err := NewTenantEnv(TenantEnvOptions{LockWaitMs: -1}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("negative wait: %v", err)
	}
	noTiers, err := NewTenantEnv(TenantEnvOptions{}) // enough for List, not for a spec
	if err != nil {
		t.Fatal(err)
	}
	_, err = noTiers.Check(tenantSpec)
	wantField(t, err, ErrInvalid, "tier")
	noTiers.Close()
	noTiers.Close()
	_, err = noTiers.Check(tenantSpec)
	wantField(t, err, ErrInvalid, "env")
	_, _, err = noTiers.Fleet("plan", dir, nil)
	wantField(t, err, ErrInvalid, "env")
	var nilEnv *TenantEnv
	nilEnv.Close()
}

func specNamed(t *testing.T, name string, extra map[string]any) string {
	t.Helper()
	spec := map[string]any{"name": name, "tier": "small", "database": map[string]any{"enabled": false},
		"clusters": []any{map[string]any{"name": "eu-west", "context": "nope"}}}
	for k, v := range extra {
		spec[k] = v
	}
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestTenantReservedNames(t *testing.T) {
	builtin, dir := offlineTenantEnv(t)
	tiers, kc := filepath.Join(dir, "tiers.json"), filepath.Join(dir, "kubeconfig")
	for _, name := range []string{"argocd", "kube-system", "kube-x", "monitoring", "cert-manager"} {
		_, err := builtin.Check(specNamed(t, name, nil))
		wantField(t, err, ErrInvalid, "name")
		if !strings.Contains(err.Error(), "is reserved") {
			t.Fatalf("%s: %v", name, err)
		}
	}
	env, err := NewTenantEnv(TenantEnvOptions{TiersFile: tiers, Kubeconfig: kc, ArgoCDNamespace: "gitops",
		ReservedNames: []string{"billing", "team-*"}})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	for _, name := range []string{"gitops", "billing", "team-red", "argocd", "kube-public"} {
		spec := specNamed(t, name, nil)
		wantNameRefused(t, env, spec)
		// destroy takes it, and goes on to the cluster ("nope" is no context)
		_, err := env.Destroy(spec, &TenantRunOptions{Confirm: name})
		wantField(t, err, ErrNotFound, "clusters[0].context")
	}
	if _, err := env.Check(specNamed(t, "billing-east", nil)); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]string{{"ok", "Bad"}, {"ok", "a*b"}, {"ok", strings.Repeat("x", 64)},
		{"ok", "a\nb"}, {"ok", ""}} {
		_, err := NewTenantEnv(TenantEnvOptions{TiersFile: tiers, ReservedNames: bad})
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("%q: %v", bad, err)
		}
		if bad[1] != "a\nb" {
			wantField(t, err, ErrInvalid, "reserved_names[1]")
		}
	}
}

func TestTenantDatabaseSettingsAllowList(t *testing.T) {
	env, _ := offlineTenantEnv(t)
	for _, name := range []string{"role", "session_authorization", "search_path", "local_preload_libraries"} {
		_, err := env.Check(specNamed(t, "acme-power", map[string]any{
			"database": map[string]any{"settings": map[string]any{name: "x"}}}))
		wantField(t, err, ErrInvalid, "database.settings."+name)
		if !strings.Contains(err.Error(), "not a setting a tenant database may have") {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if _, err := env.Check(specNamed(t, "acme-power", map[string]any{
		"database": map[string]any{"settings": map[string]any{"statement_timeout": "30s"}}})); err != nil {
		t.Fatal(err)
	}
	out, err := env.Render(specNamed(t, "acme-power", map[string]any{
		"argocd": map[string]any{"repo": "https://git.example.com/a.git", "path": "deploy"}}), "")
	if err != nil {
		t.Fatal(err)
	}
	var objs []struct {
		Kind string
		Spec struct {
			NamespaceResourceBlacklist []struct{ Group, Kind string }
		}
	}
	if err := json.Unmarshal([]byte(out), &objs); err != nil {
		t.Fatal(err)
	}
	// Argo CD's own kinds only: "*" would also deny Rollouts, Workflows and Events kinds
	var denied []string
	for _, o := range objs {
		for _, gk := range o.Spec.NamespaceResourceBlacklist {
			if o.Kind == "AppProject" && gk.Group == "argoproj.io" {
				denied = append(denied, gk.Kind)
			}
		}
	}
	if strings.Join(denied, " ") != "Application ApplicationSet AppProject" {
		t.Fatalf("the AppProject denies %v of argoproj.io, not Argo CD's kinds: %s", denied, out)
	}
}

func TestTenantRefusalsBeforeAnyRequest(t *testing.T) {
	env, _ := offlineTenantEnv(t)
	// the context "nope" does not exist: anything past the check would fail otherwise
	for _, o := range []*TenantRunOptions{nil, {}, {Confirm: "acme"}, {Confirm: "ACME-POWER"}} {
		_, err := env.Destroy(tenantSpec, o)
		wantField(t, err, ErrInvalid, "confirm")
	}
	noDB := strings.Replace(tenantSpec, `"tier"`, `"database": {"enabled": false}, "tier"`, 1)
	_, err := env.Destroy(noDB, &TenantRunOptions{Confirm: "acme-power"})
	wantField(t, err, ErrNotFound, "clusters[0].context")
	_, err = env.Plan(noDB, nil)
	wantField(t, err, ErrNotFound, "clusters[0].context")
	_, err = env.Apply(tenantSpec, nil) // a database without PGConninfo
	wantField(t, err, ErrInvalid, "pg_conninfo")
	_, err = env.Apply(noDB, &TenantRunOptions{ClusterParallel: 17})
	wantField(t, err, ErrInvalid, "cluster_parallel")
	if _, err := env.List([]string{"a\nb"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("context with a newline: %v", err)
	}
}

func TestTenantUnreachableCluster(t *testing.T) {
	env, _ := offlineTenantEnv(t)
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrUnavailable) || strings.Contains(err.Error(), "secret-token") {
			t.Fatalf("%s: %v", what, err)
		}
	}
	_, err := env.Plan(unreachableSpec, nil)
	check("plan", err)
	_, err = env.Apply(unreachableSpec, &TenantRunOptions{RotatePassword: true, ClusterParallel: 1})
	check("apply", err)
	out, n, err := env.Drift(unreachableSpec, nil)
	check("drift", err)
	if n != 0 || !strings.Contains(out, `"ok": false`) {
		t.Fatalf("drift after a failure: %d %s", n, out)
	}
	_, err = env.Reconcile(unreachableSpec, nil)
	check("reconcile", err)
	// status reports a region it cannot reach instead of failing
	st, err := env.Status(unreachableSpec)
	if err != nil || !strings.Contains(st, `"health": "unknown"`) || strings.Contains(st, "secret-token") {
		t.Fatalf("status: %v %s", err, st)
	}
	_, err = env.List(nil)
	check("list", err)
	_, err = env.List([]string{"down"})
	check("list down", err)
	if _, err := env.List([]string{"nope"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("list nope: %v", err)
	}
}

func TestTenantProgress(t *testing.T) {
	env, dir := offlineTenantEnv(t)
	type event struct {
		tenant, cluster, step, status string
		done, total                   int
	}
	var seen []event
	out, err := env.Plan(unreachableSpec, &TenantRunOptions{
		Progress: func(tenant, cluster, step, status string, done, total int) bool {
			seen = append(seen, event{tenant, cluster, step, status, done, total})
			return false
		}})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(out, `"actions"`) {
		t.Fatalf("plan: %v %s", err, out)
	}
	if len(seen) < 2 || seen[0] != (event{"acme-power", "eu-west", "namespace", "start", 0, seen[0].total}) ||
		seen[len(seen)-1].status != "failed" || seen[len(seen)-1].done != 1 {
		t.Fatalf("events %+v", seen)
	}
	calls := 0
	_, err = env.Plan(unreachableSpec, &TenantRunOptions{
		Progress: func(string, string, string, string, int, int) bool { calls++; return true }})
	if calls < 1 || !(errors.Is(err, ErrCanceled) || errors.Is(err, ErrUnavailable)) {
		t.Fatalf("stopped: %d calls, %v", calls, err)
	}
	writeFile(t, filepath.Join(dir, "tenants.json"), unreachableSpec)
	func() { // a panic in the callback comes back out of the call, and the env still works
		defer func() {
			if p := recover(); p != "from the callback" {
				t.Fatalf("recovered %v", p)
			}
		}()
		_, _, _ = env.Fleet("plan", dir, &TenantRunOptions{
			Progress: func(string, string, string, string, int, int) bool { panic("from the callback") }})
	}()
	if _, err := env.Check(tenantSpec); err != nil {
		t.Fatal(err)
	}
}

func TestTenantFleet(t *testing.T) {
	env, base := offlineTenantEnv(t)
	dir := filepath.Join(base, "specs")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	out, failed, err := env.Fleet("plan", dir, nil)
	if err != nil || failed != 0 || !strings.Contains(out, `"tenants": []`) {
		t.Fatalf("empty directory: %v %d %s", err, failed, out)
	}
	writeFile(t, filepath.Join(dir, "tiers.json"), tenantTiers) // not a spec: skipped
	writeFile(t, filepath.Join(dir, "a.json"), unreachableSpec)
	writeFile(t, filepath.Join(dir, "b.yaml"), "name: other\ntier: small\ndatabase: {enabled: false}\n"+
		"clusters: [{name: eu, context: down}]\n")
	out, failed, err = env.Fleet("status", dir, nil)
	var doc struct {
		Operation string `json:"operation"`
		Failed    int    `json:"failed"`
		Tenants   []struct {
			Tenant string `json:"tenant"`
		} `json:"tenants"`
	}
	if err != nil || failed != 2 || json.Unmarshal([]byte(out), &doc) != nil || doc.Failed != 2 ||
		doc.Operation != "status" || len(doc.Tenants) != 2 {
		t.Fatalf("status: %v %d %s", err, failed, out)
	}
	if _, failed, err = env.Fleet("drift", dir, &TenantRunOptions{ClusterParallel: 1}); err != nil || failed != 2 {
		t.Fatalf("drift: %v %d", err, failed)
	}
	// the same tenant twice: refused before anything is done
	dup := writeFile(t, filepath.Join(dir, "c.json"), unreachableSpec)
	_, _, err = env.Fleet("apply", dir, nil)
	wantField(t, err, ErrInvalid, "name")
	if !strings.Contains(err.Error(), "acme-power") {
		t.Fatalf("duplicate: %v", err)
	}
	os.Remove(dup)
	_, _, err = env.Fleet("destroy", dir, nil)
	wantField(t, err, ErrInvalid, "confirm")
	_, _, err = env.Fleet("destroy", dir, &TenantRunOptions{Confirm: "elsewhere"})
	wantField(t, err, ErrInvalid, "confirm")
	_, _, err = env.Fleet("explode", dir, nil)
	wantField(t, err, ErrInvalid, "operation")
	writeFile(t, filepath.Join(dir, "d.json"), strings.Replace(unreachableSpec, "acme-power", "x", 1))
	_, _, err = env.Fleet("plan", dir, nil)
	wantField(t, err, ErrInvalid, "name")
	if _, _, err := env.Fleet("plan", filepath.Join(base, "missing"), nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing directory: %v", err)
	}
}

// The tenant service tests need scripts/testenv's Postgres and both control planes; they skip
// without them, unless EQOPS_TEST_REQUIRE_SERVICES=1 (the integration tier) makes that a
// failure.
func tenantServiceEnv(t *testing.T) *TenantEnv {
	t.Helper()
	var missing []string
	vars := map[string]string{}
	for _, v := range []string{"EQOPS_TEST_PG_ADMIN_DSN", "EQOPS_TEST_K8S_CONTEXT_KUBECONFIG",
		"EQOPS_TEST_K8S2_CONTEXT_KUBECONFIG"} {
		if vars[v] = os.Getenv(v); vars[v] == "" {
			missing = append(missing, v)
		}
	}
	if len(missing) > 0 {
		if os.Getenv("EQOPS_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatalf("%s not set: scripts/testenv up postgres k8s k8s2", strings.Join(missing, ", "))
		}
		t.Skip("no test services: scripts/testenv up postgres k8s k8s2; eval \"$(scripts/testenv env)\"")
	}
	tiers := writeFile(t, filepath.Join(t.TempDir(), "tiers.json"), tenantTiers)
	// two files: a KUBECONFIG list, as kubectl takes it (the Kubeconfig option names one file)
	t.Setenv("KUBECONFIG", vars["EQOPS_TEST_K8S_CONTEXT_KUBECONFIG"]+":"+vars["EQOPS_TEST_K8S2_CONTEXT_KUBECONFIG"])
	env, err := NewTenantEnv(TenantEnvOptions{TiersFile: tiers,
		PGConninfo:    vars["EQOPS_TEST_PG_ADMIN_DSN"],
		MigrationsDir: examplesMigrations(t), DeleteWaitMs: 90000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	return env
}

type tenantResult struct {
	Tenant  string `json:"tenant"`
	OK      bool   `json:"ok"`
	Changed int    `json:"changed"`
	Actions []struct {
		Cluster string `json:"cluster"`
		Step    string `json:"step"`
		Action  string `json:"action"`
		Status  string `json:"status"`
	} `json:"actions"`
}

func tenantHealth(t *testing.T, env *TenantEnv, spec string) string {
	t.Helper()
	out, err := env.Status(spec)
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	var st struct {
		Health string `json:"health"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	return st.Health
}

func TestServiceTenantLifecycle(t *testing.T) {
	env := tenantServiceEnv(t)
	const name = "go-svc-tenant"
	spec := fmt.Sprintf(`{"name": %q, "tier": "small", "labels": {"team": "go"},
"clusters": [{"name": "r0", "context": "eqops-k8s"}, {"name": "r1", "context": "eqops-k8s2"}]}`, name)
	destroy := func() (string, error) { return env.Destroy(spec, &TenantRunOptions{Confirm: name}) }
	defer destroy() // also after a failure

	lastDone, events, backwards := 0, 0, false
	progress := func(tenant, cluster, step, status string, done, total int) bool {
		if tenant != name || done > total {
			t.Errorf("event %s %s %s %s %d/%d", tenant, cluster, step, status, done, total)
		}
		if done < lastDone {
			backwards = true
		}
		lastDone = done
		events++
		return false
	}
	out, err := env.Apply(spec, &TenantRunOptions{Progress: progress})
	var res tenantResult
	if err != nil || json.Unmarshal([]byte(out), &res) != nil || !res.OK || res.Changed == 0 {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	clusters := map[string]bool{}
	for _, a := range res.Actions {
		clusters[a.Cluster] = true
		if a.Status != "done" {
			t.Fatalf("action %+v", a)
		}
	}
	if !clusters["r0"] || !clusters["r1"] || !clusters[""] { // both clusters and the database
		t.Fatalf("clusters %v", clusters)
	}
	if events < len(res.Actions) || backwards || lastDone != len(res.Actions) {
		t.Fatalf("progress: %d events for %d actions, backwards %v, last %d", events,
			len(res.Actions), backwards, lastDone)
	}
	if h := tenantHealth(t, env, spec); h != "healthy" {
		t.Fatalf("health after apply: %s", h)
	}

	out, err = env.Apply(spec, nil)
	if err != nil || json.Unmarshal([]byte(out), &res) != nil || res.Changed != 0 {
		t.Fatalf("second apply: %v\n%s", err, out)
	}
	if out, err = env.Plan(spec, nil); err != nil || !strings.Contains(out, `"changed": 0`) {
		t.Fatalf("plan: %v\n%s", err, out)
	}
	out, n, err := env.Drift(spec, nil)
	if err != nil || n != 0 {
		t.Fatalf("drift: %d %v\n%s", n, err, out)
	}
	list, err := env.List([]string{"eqops-k8s", "eqops-k8s2"})
	if err != nil || !strings.Contains(list, `"tenant": "`+name+`"`) {
		t.Fatalf("list: %v\n%s", err, list)
	}

	if _, err := env.Destroy(spec, &TenantRunOptions{Confirm: "nope"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("destroy without confirmation: %v", err)
	}
	if h := tenantHealth(t, env, spec); h != "healthy" {
		t.Fatalf("health after a refused destroy: %s", h)
	}
	if out, err = destroy(); err != nil {
		t.Fatalf("destroy: %v\n%s", err, out)
	}
	if h := tenantHealth(t, env, spec); h != "absent" {
		t.Fatalf("health after destroy: %s", h)
	}
	if out, err = destroy(); err != nil { // again: everything is already gone
		t.Fatalf("second destroy: %v\n%s", err, out)
	}
}

// A fleet apply cancelled from another goroutine mid-way (inside a request or a statement of
// some tenant) returns ErrCanceled; the next run finishes the job: nothing left to plan and
// every tenant healthy.
func TestServiceTenantFleetCancelled(t *testing.T) {
	env := tenantServiceEnv(t)
	dir := filepath.Join(t.TempDir(), "fleet")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"go-cx-a", "go-cx-b", "go-cx-c"} {
		writeFile(t, filepath.Join(dir, name+".json"), fmt.Sprintf(`{"name": %q, "tier": "small",
"clusters": [{"name": "r0", "context": "eqops-k8s"}, {"name": "r1", "context": "eqops-k8s2"}]}`, name))
	}
	defer env.Fleet("destroy", dir, &TenantRunOptions{Confirm: dir}) // also after a failure
	token, err := NewCancelToken()
	if err != nil {
		t.Fatal(err)
	}
	defer token.Close()
	midWay := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-midWay
		token.Trigger()
	}()
	events := 0
	progress := func(tenant, cluster, step, status string, d, total int) bool {
		if events++; events == 25 {
			close(midWay)
		}
		return false
	}
	_, _, err = env.Fleet("apply", dir, &TenantRunOptions{Progress: progress, Cancel: token})
	if events < 25 {
		close(midWay)
	}
	<-done
	if !errors.Is(err, ErrCanceled) {
		t.Fatalf("cancelled fleet apply: %v (after %d events)", err, events)
	}
	var plan struct {
		Changed int `json:"changed"`
	}
	out, _, err := env.Fleet("plan", dir, nil)
	if err != nil || json.Unmarshal([]byte(out), &plan) != nil || plan.Changed == 0 {
		t.Fatalf("plan after the cancel: stopped mid-way, something is left to do: %v\n%s", err, out)
	}
	if out, failed, err := env.Fleet("apply", dir, nil); err != nil || failed != 0 {
		t.Fatalf("the next apply: %v %d\n%s", err, failed, out)
	}
	if out, _, err = env.Fleet("plan", dir, nil); err != nil || json.Unmarshal([]byte(out), &plan) != nil ||
		plan.Changed != 0 {
		t.Fatalf("plan after the next apply: %v\n%s", err, out)
	}
	out, failed, err := env.Fleet("status", dir, nil)
	if err != nil || failed != 0 || strings.Count(out, `"health": "healthy"`) != 3 {
		t.Fatalf("status: %v %d\n%s", err, failed, out)
	}
}
