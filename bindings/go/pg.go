package eqops

import (
	"encoding/json"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"eqops/internal/raw"
)

// PGOptions tune a PGCluster connection; zero values take the defaults of eqops/pg.h.
type PGOptions struct {
	ConnectTimeout   time.Duration // per attempt (default 10s)
	StatementTimeout time.Duration // admin statements (default 60s)
	LockTimeout      time.Duration // per statement (default 5s)
	MaxRetries       int           // after a transient failure (default 4)
	ControlDB        string        // default "eqops_control"
	TemplateDB       string        // default "eqops_template"
	DBPrefix         string        // default "tenant_"
	// FailoverWait is how long connecting keeps trying while no server takes writes (a
	// failover, a restart): 0 = 30s; negative = one attempt only; at most an hour.
	FailoverWait time.Duration
	// Cancel, when set, is checked by every connect, query and retry wait of the cluster handle (between steps, in transfers and
	// queries, and in retry waits); once triggered the call returns an *Error with
	// CodeCanceled. It must stay open while used.
	Cancel *CancelToken
}

// PGCluster is an admin connection to a PostgreSQL cluster that holds one database and role
// per tenant. Its methods may be called from several goroutines (they take turns). Close it
// when done; a finalizer closes it otherwise.
type PGCluster struct {
	owned[raw.Struct_SS_eqops_pg]
	cancel *CancelToken // the options' token, kept alive
}

// ConnectPG connects with a libpq conninfo string or URI as a role with CREATEDB and
// CREATEROLE. Multi-host conninfo follows failovers (target_session_attrs=read-write is
// added when absent). Keep the password in PGPASSWORD or ~/.pgpass rather than in conninfo.
func ConnectPG(conninfo string, o PGOptions) (*PGCluster, error) {
	token, err := cancelHandle(o.Cancel, "Cancel")
	if err != nil {
		return nil, err
	}
	var h raw.Struct_SS_eqops_pg
	if err := call(func(e raw.Eqops_error) int {
		h = raw.Eqops_bind_pg_new(conninfo, o.ConnectTimeout.Milliseconds(),
			o.StatementTimeout.Milliseconds(), o.LockTimeout.Milliseconds(), o.MaxRetries,
			o.ControlDB, o.TemplateDB, o.DBPrefix, failoverWaitMs(o.FailoverWait), token, e)
		return e.GetCode()
	}); err != nil {
		return nil, err
	}
	c := &PGCluster{cancel: o.Cancel}
	c.set(h)
	runtime.SetFinalizer(c, (*PGCluster).Close)
	return c, nil
}

// failoverWaitMs maps PGOptions.FailoverWait onto eqops_pg_options.failover_wait_ms.
func failoverWaitMs(d time.Duration) int64 {
	switch {
	case d == 0:
		return 0
	case d < 0:
		return -1
	case d < time.Millisecond:
		return 1
	}
	return d.Milliseconds()
}

// Close closes the connection.
func (c *PGCluster) Close() {
	if c == nil {
		return
	}
	c.release(raw.Eqops_pg_free)
}

// with runs fn holding the cluster, or fails when it is closed.
func (c *PGCluster) with(fn func(h raw.Struct_SS_eqops_pg) error) error {
	return c.use("cluster", "pg: the cluster is closed", fn)
}

// CheckTenantName reports (as ErrInvalid) why a name breaks the tenant name rule: 2 to 40
// of a-z, 0-9 and '-', starting with a letter, no "--", not ending in '-', no reserved word.
func CheckTenantName(name string) error {
	return call(func(e raw.Eqops_error) int { return raw.Eqops_pg_tenant_name_check(name, e) })
}

// Tenant is what the library knows of a tenant. Password and Conninfo are secrets: String
// leaves them out, so printing a Tenant does not leak them.
type Tenant struct {
	Name          string
	Database      string // "" while a create has not finished
	Role          string
	State         string // "ready", "creating", "dropping"
	Created       bool   // this call created the database
	SchemaVersion int64  // -1 when unknown
	Size          int64  // bytes, -1 when unknown
	Conninfo      string // libpq conninfo for the tenant (with the password when known)
	Password      string // only when this call set it
}

// String describes the tenant without its secrets.
func (t Tenant) String() string {
	return fmt.Sprintf("tenant %s (database %s, role %s, state %s, schema version %d)",
		t.Name, t.Database, t.Role, t.State, t.SchemaVersion)
}

// GoString is String for %#v, which would otherwise print the secret fields.
func (t Tenant) GoString() string { return "eqops." + t.String() }

func takeTenant(h raw.Struct_SS_eqops_pg_tenant) *Tenant {
	defer raw.Eqops_pg_tenant_free(h)
	return &Tenant{
		Name:          raw.Eqops_pg_tenant_name(h),
		Database:      raw.Eqops_pg_tenant_database(h),
		Role:          raw.Eqops_pg_tenant_role(h),
		State:         raw.Eqops_pg_tenant_state(h),
		Created:       raw.Eqops_pg_tenant_created(h) != 0,
		SchemaVersion: raw.Eqops_pg_tenant_schema_version(h),
		Size:          raw.Eqops_pg_tenant_size(h),
		Conninfo:      raw.Eqops_pg_tenant_conninfo(h),
		Password:      raw.Eqops_pg_tenant_password(h),
	}
}

// TenantOptions shape a tenant create.
type TenantOptions struct {
	ConnectionLimit int               // database and role; 0 = 20, -1 = unlimited
	Settings        map[string]string // ALTER DATABASE ... SET name = value
	Password        string            // instead of a new random one
	RotateExisting  bool              // a new password for an existing role
	MigrationsDir   string            // bring the database up to date (needed without a template)
}

func lines(items []string, what string) (string, error) {
	for _, s := range items {
		if strings.ContainsRune(s, '\n') {
			return "", &Error{Code: CodeInvalid, Field: what, Message: what + ": must not contain newlines"}
		}
	}
	return strings.Join(items, "\n"), nil
}

// CreateTenant creates a tenant's role and database (cloned from the template), or finishes
// or converges them: it is idempotent. An existing role keeps its password unless Password
// or RotateExisting says otherwise.
func (c *PGCluster) CreateTenant(name string, o TenantOptions) (*Tenant, error) {
	settings := make([]string, 0, len(o.Settings))
	for k, v := range o.Settings {
		settings = append(settings, k+"="+v)
	}
	sort.Strings(settings)
	joined, err := lines(settings, "settings")
	if err != nil {
		return nil, err
	}
	rotate := 0
	if o.RotateExisting {
		rotate = 1
	}
	var t *Tenant
	return t, c.with(func(h raw.Struct_SS_eqops_pg) error {
		return call(func(e raw.Eqops_error) int {
			th := raw.Eqops_bind_pg_tenant_create(h, name, o.ConnectionLimit, joined, o.Password,
				rotate, o.MigrationsDir, e)
			if th != nil {
				t = takeTenant(th)
			}
			return e.GetCode()
		})
	})
}

func (c *PGCluster) tenantCall(fn func(h raw.Struct_SS_eqops_pg, e raw.Eqops_error) raw.Struct_SS_eqops_pg_tenant) (*Tenant, error) {
	var t *Tenant
	return t, c.with(func(h raw.Struct_SS_eqops_pg) error {
		return call(func(e raw.Eqops_error) int {
			if th := fn(h, e); th != nil {
				t = takeTenant(th)
			}
			return e.GetCode()
		})
	})
}

// Tenant returns a tenant's facts with its schema version and size (ErrNotFound if none).
func (c *PGCluster) Tenant(name string) (*Tenant, error) {
	return c.tenantCall(func(h raw.Struct_SS_eqops_pg, e raw.Eqops_error) raw.Struct_SS_eqops_pg_tenant {
		return raw.Eqops_bind_pg_tenant_show(h, name, e)
	})
}

// RotatePassword sets a new random password; the returned Tenant carries it, once.
func (c *PGCluster) RotatePassword(name string) (*Tenant, error) {
	return c.tenantCall(func(h raw.Struct_SS_eqops_pg, e raw.Eqops_error) raw.Struct_SS_eqops_pg_tenant {
		return raw.Eqops_bind_pg_tenant_rotate(h, name, e)
	})
}

// DropTenant drops the tenant's database (ending its sessions) and role. confirm must equal
// name. Dropping a tenant that is gone succeeds.
func (c *PGCluster) DropTenant(name, confirm string) error {
	return c.with(func(h raw.Struct_SS_eqops_pg) error {
		return call(func(e raw.Eqops_error) int { return raw.Eqops_pg_tenant_drop(h, name, confirm, e) })
	})
}

// TenantInfo is one entry of the tenant registry.
type TenantInfo struct {
	Name          string  `json:"name"`
	Database      *string `json:"database"`
	Role          string  `json:"role"`
	State         string  `json:"state"`
	Created       *string `json:"created"`
	Size          int64   `json:"size"`
	SchemaVersion *int64  `json:"schema_version"`
}

// jsonCall runs a library function that returns JSON and decodes it into v.
func (c *PGCluster) jsonCall(v any, fn func(h raw.Struct_SS_eqops_pg, out *string, e raw.Eqops_error) int) error {
	var out string
	err := c.with(func(h raw.Struct_SS_eqops_pg) error {
		return call(func(e raw.Eqops_error) int { return fn(h, &out, e) })
	})
	if out == "" { // failed before there were results
		return err
	}
	if jerr := json.Unmarshal([]byte(out), v); jerr != nil {
		return &Error{Code: CodeProtocol, Message: "pg: unreadable result: " + jerr.Error()}
	}
	return err
}

// Tenants lists the registry, reading each database's schema version when withVersions.
func (c *PGCluster) Tenants(withVersions bool) ([]TenantInfo, error) {
	var list []TenantInfo
	v := 0
	if withVersions {
		v = 1
	}
	return list, c.jsonCall(&list, func(h raw.Struct_SS_eqops_pg, out *string, e raw.Eqops_error) int {
		return raw.Eqops_pg_tenant_list(out, h, v, e)
	})
}

// EnsureTemplate creates the template database when missing and migrates it to the latest
// version of dir.
func (c *PGCluster) EnsureTemplate(dir string) error {
	return c.with(func(h raw.Struct_SS_eqops_pg) error {
		return call(func(e raw.Eqops_error) int { return raw.Eqops_pg_template_ensure(h, dir, e) })
	})
}

// MigrateOptions shape a fleet migration.
type MigrateOptions struct {
	MigrationsDir    string   // required
	Concurrency      int      // databases at once (default 4)
	Canary           int      // tenants migrated first; one failure stops the run
	ContinueOnError  bool     // keep going after a failure (not in the canary stage)
	DryRun           bool     // plan only
	SkipTemplate     bool     // leave the template alone
	Tenants          []string // only these tenants
	LockWait         time.Duration
	LockTimeout      time.Duration
	StatementTimeout time.Duration
	// Progress is called on the calling goroutine as databases finish; true stops new starts
	// (the call then returns ErrCanceled with the results so far).
	Progress func(database, status string, done, total int) bool
	// Cancel, when set, is checked by the run, across every database (instead of the cluster's token) (between steps, in transfers and
	// queries, and in retry waits); once triggered the call returns an *Error with
	// CodeCanceled. It must stay open while used.
	Cancel *CancelToken
}

// MigrateDB is the outcome for one database.
type MigrateDB struct {
	Database string  `json:"database"`
	Tenant   *string `json:"tenant"`
	From     *int64  `json:"from"`
	To       *int64  `json:"to"`
	Applied  []int64 `json:"applied"`
	Status   string  `json:"status"` // ok, failed, skipped, planned
	Ms       int64   `json:"ms"`
	Error    *string `json:"error"`
}

// MigrateResult is the outcome of a fleet migration.
type MigrateResult struct {
	DryRun        bool        `json:"dry_run"`
	TargetVersion int64       `json:"target_version"`
	Databases     []MigrateDB `json:"databases"`
	OK            int         `json:"ok"`
	Failed        int         `json:"failed"`
	Skipped       int         `json:"skipped"`
}

type progressFn = func(database, status string, done, total int) bool

var (
	progressFns sync.Map // uint64 -> progressFn
	progressSeq atomic.Uint64
)

// Migrate migrates the template and the tenants under a fleet-wide lock. Per-database
// failures are in the result (Failed > 0), not the error.
func (c *PGCluster) Migrate(o MigrateOptions) (*MigrateResult, error) {
	tenants, err := lines(o.Tenants, "tenants")
	if err != nil {
		return nil, err
	}
	token, err := cancelHandle(o.Cancel, "Cancel")
	defer runtime.KeepAlive(o.Cancel) // C uses it until the call returns
	if err != nil {
		return nil, err
	}
	var id uint64
	if o.Progress != nil {
		id = progressSeq.Add(1)
		progressFns.Store(id, o.Progress)
		defer progressFns.Delete(id)
	}
	b := func(v bool) int {
		if v {
			return 1
		}
		return 0
	}
	res := &MigrateResult{}
	err = c.jsonCall(res, func(h raw.Struct_SS_eqops_pg, out *string, e raw.Eqops_error) int {
		return raw.Eqops_bind_pg_migrate(out, h, o.MigrationsDir, o.Concurrency, o.Canary,
			b(o.ContinueOnError), b(o.DryRun), b(o.SkipTemplate), tenants,
			o.LockWait.Milliseconds(), o.LockTimeout.Milliseconds(),
			o.StatementTimeout.Milliseconds(), id, token, e)
	})
	if err != nil && res.Databases == nil {
		return nil, err
	}
	return res, err
}

// ValidateDB compares one database's history with the migrations directory.
type ValidateDB struct {
	Database string   `json:"database"`
	Tenant   *string  `json:"tenant"`
	Version  *int64   `json:"version"`
	Pending  []int64  `json:"pending"`
	Edited   []string `json:"edited"`
	Missing  []int64  `json:"missing"`
	Error    *string  `json:"error"`
}

// ValidateResult lists pending, edited and missing migrations per database.
type ValidateResult struct {
	TargetVersion int64        `json:"target_version"`
	Databases     []ValidateDB `json:"databases"`
	Problems      int          `json:"problems"`
}

// Validate compares dir with the template and every tenant (or one database); reads only.
func (c *PGCluster) Validate(dir, database string) (*ValidateResult, error) {
	res := &ValidateResult{}
	if err := c.jsonCall(res, func(h raw.Struct_SS_eqops_pg, out *string, e raw.Eqops_error) int {
		return raw.Eqops_bind_pg_validate(out, h, dir, database, e)
	}); err != nil {
		return nil, err
	}
	return res, nil
}

// Fingerprint is the catalog fingerprint (hex SHA-256) of a database.
func (c *PGCluster) Fingerprint(database string) (string, error) {
	var out string
	err := c.with(func(h raw.Struct_SS_eqops_pg) error {
		return call(func(e raw.Eqops_error) int { return raw.Eqops_pg_fingerprint(&out, h, database, e) })
	})
	return out, err
}

// DriftTenant compares one tenant with the template.
type DriftTenant struct {
	Tenant         string   `json:"tenant"`
	Database       string   `json:"database"`
	Fingerprint    *string  `json:"fingerprint"`
	Schema         string   `json:"schema"` // same, differs, unknown
	OnlyInTemplate []string `json:"only_in_template"`
	OnlyInTenant   []string `json:"only_in_tenant"`
	Changed        []string `json:"changed"`
	Isolation      string   `json:"isolation"` // "ok" or the problems
	Error          string   `json:"error"`
}

// DriftResult lists the tenants that differ from the template.
type DriftResult struct {
	Template        string        `json:"template"`
	TemplateObjects int           `json:"template_objects"`
	Tenants         []DriftTenant `json:"tenants"`
	Drifted         int           `json:"drifted"`
}

// Drift compares every tenant (or the named ones) with the template.
func (c *PGCluster) Drift(tenants ...string) (*DriftResult, error) {
	joined, err := lines(tenants, "tenants")
	if err != nil {
		return nil, err
	}
	res := &DriftResult{}
	if err := c.jsonCall(res, func(h raw.Struct_SS_eqops_pg, out *string, e raw.Eqops_error) int {
		return raw.Eqops_bind_pg_drift(out, h, joined, e)
	}); err != nil {
		return nil, err
	}
	return res, nil
}
