package eqops

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"eqops/internal/raw"
)

// TenantEnvOptions configure a TenantEnv; zero values take the defaults of eqops/tenant.h.
type TenantEnvOptions struct {
	TiersFile        string // JSON or YAML; required for everything but List
	Kubeconfig       string // one path; default KUBECONFIG's list, else ~/.kube/config
	PGConninfo       string // the Postgres admin connection; required for database.enabled
	MigrationsDir    string // the template schema (see PGCluster); optional
	ArgoCDNamespace  string // default "argocd"
	FieldManager     string // server-side apply; default "eqops-tenant"
	AWSProfile       string // EKS clusters and Secrets Manager; default the chain's
	Concurrency      int    // tenants at once in Fleet; default 4, at most 32
	LockWaitMs       int64  // waiting for another apply of the same tenant; default 120000
	DeleteWaitMs     int64  // Destroy: waiting for namespaces to go; default 120000
	RequestTimeoutMs int64  // per Kubernetes request; default 30000
	PGDBPrefix       string // PGOptions.DBPrefix; default "tenant_"
	PGTemplateDB     string // default "eqops_template"
	PGControlDB      string // default "eqops_control" (also holds the tenant locks)
	// ReservedNames are more names no tenant may have: a name, or a prefix ending in "*"
	// ("team-*"). They add to the built-in ones (kube-*, default, the Argo CD namespace,
	// argocd, monitoring, ...: eqops/tenant.h), never replace them. Every operation but
	// Destroy refuses a reserved name (ErrInvalid, Field "name").
	ReservedNames []string
}

// TenantEnv holds the connections tenant operations use: kubeconfig, the Postgres admin
// connection, AWS and the tiers. Its methods may be called from several goroutines (they take
// turns; an operation holds the env while it runs). Close it when done; a finalizer closes it
// otherwise.
type TenantEnv struct {
	owned[raw.Struct_SS_eqops_tenant_env]
}

// NewTenantEnv reads and checks the tiers file; it connects to nothing yet. A bad option or
// tiers file is ErrInvalid naming the field.
func NewTenantEnv(o TenantEnvOptions) (*TenantEnv, error) {
	for i, name := range o.ReservedNames {
		if name == "" { // the C side would not see it: the indexes of its errors would shift
			field := fmt.Sprintf("reserved_names[%d]", i)
			return nil, &Error{Code: CodeInvalid, Field: field, Message: field + ": must not be empty"}
		}
	}
	reserved, err := lines(o.ReservedNames, "reserved_names")
	if err != nil {
		return nil, err
	}
	var h raw.Struct_SS_eqops_tenant_env
	if err := call(func(e raw.Eqops_error) int {
		h = raw.Eqops_bind_tenant_env_new(o.TiersFile, o.Kubeconfig, o.PGConninfo,
			o.MigrationsDir, o.ArgoCDNamespace, o.FieldManager, o.AWSProfile, o.Concurrency,
			o.LockWaitMs, o.DeleteWaitMs, o.RequestTimeoutMs, o.PGDBPrefix, o.PGTemplateDB,
			o.PGControlDB, reserved, e)
		return e.GetCode()
	}); err != nil {
		return nil, err
	}
	env := &TenantEnv{}
	env.set(h)
	runtime.SetFinalizer(env, (*TenantEnv).Close)
	return env, nil
}

// Close releases the env and its connections.
func (env *TenantEnv) Close() {
	if env == nil {
		return
	}
	env.release(raw.Eqops_tenant_env_free)
}

func (env *TenantEnv) str(fn func(out *string, h raw.Struct_SS_eqops_tenant_env, e raw.Eqops_error) int) (string, error) {
	var out string
	err := env.use("env", "tenant: the env is closed", func(h raw.Struct_SS_eqops_tenant_env) error {
		return call(func(e raw.Eqops_error) int { return fn(&out, h, e) })
	})
	return out, err
}

// Check checks a spec (JSON or YAML text) and returns it with every default filled in, as
// JSON. Makes no request. A bad spec is ErrInvalid whose Field names the field at fault.
func (env *TenantEnv) Check(spec string) (string, error) {
	return env.str(func(out *string, h raw.Struct_SS_eqops_tenant_env, e raw.Eqops_error) int {
		return raw.Eqops_tenant_spec_check(out, h, spec, e)
	})
}

// Render returns the Kubernetes objects of a spec for one of its clusters ("": the first) as
// a JSON array in apply order, without the credentials Secret's data. Makes no request.
func (env *TenantEnv) Render(spec, cluster string) (string, error) {
	return env.str(func(out *string, h raw.Struct_SS_eqops_tenant_env, e raw.Eqops_error) int {
		return raw.Eqops_bind_tenant_render(out, h, spec, cluster, e)
	})
}

// TenantRunOptions shape a tenant operation; nil or zero values take the defaults.
type TenantRunOptions struct {
	Confirm         string // Destroy: the tenant's name (Fleet: the directory as given)
	RotatePassword  bool   // Apply: set and store a new database password
	ClusterParallel int    // clusters of a tenant at once; 0 = all, 1 = one by one
	// Progress is called on the calling goroutine as steps start and end: cluster is the
	// spec's cluster name ("" for Postgres and AWS), step the object ("namespace", "quota",
	// ..., "database"), status "start", then "create", "update", "delete", "none" or
	// "failed"; done and total count the tenant's steps. Returning true stops the operation
	// before its next step (the call then returns ErrCanceled), as in MigrateOptions. A
	// panic in it stops the operation and is raised again by the call. It must not use the
	// env it runs under.
	Progress func(tenant, cluster, step, status string, done, total int) bool
	// Cancel, when set, is checked by the operation and every client it borrows from the env meanwhile (between steps, in transfers and
	// queries, and in retry waits); once triggered the call returns an *Error with
	// CodeCanceled. It must stay open while used.
	Cancel *CancelToken
}

type tenantProgressFn = func(tenant, cluster, step, status string, done, total int) bool

// a registered progress callback, and the panic it raised (re-raised once the C call returned)
type tenantProgressCall struct {
	fn       tenantProgressFn
	panicked any
}

var (
	tenantProgressFns sync.Map // uint64 -> *tenantProgressCall
	tenantProgressSeq atomic.Uint64
)

// run calls one of the flat run functions with o's options and its progress callback
// registered; it returns the JSON (also with an error, when the operation got that far) and
// the count drift and the fleet return.
func (env *TenantEnv) run(o *TenantRunOptions, fn func(out *string, n []uint64, h raw.Struct_SS_eqops_tenant_env,
	confirm string, rotate, parallel int, id uint64, token raw.Struct_SS_eqops_cancel,
	e raw.Eqops_error) int) (string, int, error) {
	var ro TenantRunOptions
	if o != nil {
		ro = *o
	}
	token, err := cancelHandle(ro.Cancel, "Cancel")
	defer runtime.KeepAlive(ro.Cancel) // C uses it until the call returns
	if err != nil {
		return "", 0, err
	}
	var id uint64
	var pc *tenantProgressCall
	if ro.Progress != nil {
		id = tenantProgressSeq.Add(1)
		pc = &tenantProgressCall{fn: ro.Progress}
		tenantProgressFns.Store(id, pc)
		defer tenantProgressFns.Delete(id)
		defer func() {
			if pc.panicked != nil {
				panic(pc.panicked)
			}
		}()
	}
	n := []uint64{0}
	out, err := env.str(func(out *string, h raw.Struct_SS_eqops_tenant_env, e raw.Eqops_error) int {
		return fn(out, n, h, ro.Confirm, b2i(ro.RotatePassword), ro.ClusterParallel, id, token, e)
	})
	return out, int(n[0]), err
}

func (env *TenantEnv) one(operation, spec string, o *TenantRunOptions) (string, int, error) {
	return env.run(o, func(out *string, n []uint64, h raw.Struct_SS_eqops_tenant_env,
		confirm string, rotate, parallel int, id uint64, token raw.Struct_SS_eqops_cancel,
		e raw.Eqops_error) int {
		return raw.Eqops_bind_tenant_run(out, n, h, operation, spec, confirm, rotate, parallel, id,
			token, e)
	})
}

// Plan returns what Apply would do (JSON): every object with its action and the fields that
// differ. Reads only.
func (env *TenantEnv) Plan(spec string, o *TenantRunOptions) (string, error) {
	out, _, err := env.one("plan", spec, o)
	return out, err
}

// Apply creates or converges everything; a second apply reports "changed": 0. When a step
// fails the JSON is returned with the error: its actions say what was done.
func (env *TenantEnv) Apply(spec string, o *TenantRunOptions) (string, error) {
	out, _, err := env.one("apply", spec, o)
	return out, err
}

// Destroy removes the tenant everywhere (the database is dropped); o.Confirm must be the
// tenant's name (ErrInvalid, Field "confirm", before any request). What is already gone is
// skipped, so a destroy can be repeated.
func (env *TenantEnv) Destroy(spec string, o *TenantRunOptions) (string, error) {
	out, _, err := env.one("destroy", spec, o)
	return out, err
}

// Drift returns where the live state differs from the spec (JSON) and the number of drifted
// actions. Reads only.
func (env *TenantEnv) Drift(spec string, o *TenantRunOptions) (string, int, error) {
	return env.one("drift", spec, o)
}

// Reconcile puts the drift back: Apply, then the tenant database's pending migrations. A
// schema edited by hand is reported ("manual"), not changed.
func (env *TenantEnv) Reconcile(spec string, o *TenantRunOptions) (string, error) {
	out, _, err := env.one("reconcile", spec, o)
	return out, err
}

// Status returns the tenant as it is (JSON): its health ("healthy", "degraded", "absent"),
// its clusters and its database.
func (env *TenantEnv) Status(spec string) (string, error) {
	return env.str(func(out *string, h raw.Struct_SS_eqops_tenant_env, e raw.Eqops_error) int {
		return raw.Eqops_tenant_status(out, h, spec, e)
	})
}

// List returns every tenant found by its namespace labels in the kubeconfig contexts (none:
// the current context) and in Postgres, as a JSON array sorted by name.
func (env *TenantEnv) List(contexts []string) (string, error) {
	joined, err := lines(contexts, "contexts")
	if err != nil {
		return "", err
	}
	return env.str(func(out *string, h raw.Struct_SS_eqops_tenant_env, e raw.Eqops_error) int {
		return raw.Eqops_bind_tenant_list(out, h, joined, e)
	})
}

// Fleet runs an operation ("plan", "apply", "destroy", "drift", "reconcile", "status") over
// every spec in dir, Concurrency tenants at once. Every spec is checked, and duplicate names
// refused, before anything changes. It returns the JSON and the number of tenants whose
// operation failed (drift: that drifted). Destroy needs o.Confirm == dir.
func (env *TenantEnv) Fleet(op, dir string, o *TenantRunOptions) (string, int, error) {
	return env.run(o, func(out *string, n []uint64, h raw.Struct_SS_eqops_tenant_env,
		confirm string, rotate, parallel int, id uint64, token raw.Struct_SS_eqops_cancel,
		e raw.Eqops_error) int {
		return raw.Eqops_bind_tenant_fleet(out, n, h, op, dir, confirm, rotate, parallel, id,
			token, e)
	})
}

// deliverTenantProgress runs on the calling thread inside the C call: a panic must not unwind
// through C, so it is caught, the operation stopped, and the panic raised again by the call.
func deliverTenantProgress(tenant, cluster, step, status string, done, total int, id uint64) (stop bool) {
	v, ok := tenantProgressFns.Load(id)
	if !ok {
		return false
	}
	pc := v.(*tenantProgressCall)
	if pc.panicked != nil {
		return true
	}
	defer func() {
		if p := recover(); p != nil {
			pc.panicked = p
			stop = true
		}
	}()
	return pc.fn(tenant, cluster, step, status, done, total)
}
