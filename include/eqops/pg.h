/*
 * eqops/pg.h - one PostgreSQL database per client: tenant roles and databases cloned from a
 * template, migrations across the fleet, drift detection.
 *
 * The library connects as an admin role with CREATEDB and CREATEROLE; it never needs a
 * superuser (the shape of a managed Postgres master user). Every step is idempotent: running
 * an operation again after a failure or a crash finishes it.
 *
 * Names. A tenant name is 2 to 40 characters: lowercase letters, digits and '-', starting
 * with a letter, not ending with '-', no "--", and not an SQL reserved word. Its database and
 * role are both named <prefix><name> with '-' written as '_' ("tenant_acme_power"). Every
 * identifier and literal reaches SQL escaped by libpq.
 *
 * Objects. The cluster gets a template database (default eqops_template) kept at the latest
 * schema version, and a control database (default eqops_control) for fleet-wide locks. A
 * tenant is a LOGIN role with a random password sent only as a SCRAM verifier, and a database
 * owned by the admin role, cloned from the template, with CONNECT revoked from PUBLIC and
 * granted to the tenant role, read/write privileges for the tenant role on the tables, a
 * connection limit on the role (not the database: that one would lock the admin out too),
 * per-database settings, and a JSON comment that is the tenant registry. Objects with a
 * tenant's name that eqops did not make are refused (EQOPS_EEXISTS), never taken over.
 *
 * Connections follow failovers: multi-host conninfo is used with target_session_attrs=
 * read-write (added when absent); a lost connection, an admin shutdown or a read-only server
 * is reconnected and the step retried, serialization failures and deadlocks are retried, lock
 * timeouts and busy templates are retried after a backoff; all bounded and logged without
 * secrets. Errors carry the SQLSTATE in err->reason.
 */
#ifndef EQOPS_PG_H
#define EQOPS_PG_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A connection to the cluster as the admin role (one thread at a time). */
typedef struct eqops_pg eqops_pg;

typedef struct eqops_pg_options {
    unsigned version;          /* EQOPS_PG_OPTIONS_VERSION */
    long connect_timeout_ms;   /* per connection attempt and host; default 10000 (whole
                                * seconds: libpq's unit, rounded up) */
    long statement_timeout_ms; /* admin statements; default 60000 */
    long lock_timeout_ms;      /* per statement; default 5000 */
    int max_retries;           /* re-runs of a step after a transient failure; default 4 */
    const char *control_db;    /* default "eqops_control" */
    const char *template_db;   /* default "eqops_template" */
    const char *db_prefix;     /* default "tenant_" (letters, digits, '_'; at most 20) */
    long failover_wait_ms;     /* how long connecting keeps trying while no server takes writes
                                * (a failover, a restart): default 30000; -1 = one attempt only;
                                * at most 3600000 */
    /* Cancellation (NULL: none), client-wide: every connect, query and retry wait of this
     * handle: checked between steps, in transfers and queries, and in retry waits; once triggered
     * the call returns EQOPS_ECANCELED. */
    eqops_cancel *cancel;
} eqops_pg_options;

#define EQOPS_PG_OPTIONS_VERSION 1
#define EQOPS_PG_OPTIONS_INIT                                                                      \
    {                                                                                              \
        EQOPS_PG_OPTIONS_VERSION, 0, 0, 0, 0, NULL, NULL, NULL, 0, NULL                            \
    }
/* Zero `opts` and set its version (EQOPS_PG_OPTIONS_VERSION or an older one the
 * caller was written for): 0, or EQOPS_EINVAL (opts NULL, version 0 or newer than this
 * library). */
EQOPS_API int eqops_pg_options_init(eqops_pg_options *opts, unsigned version);

/*
 * Connect with a libpq conninfo string or URI ("host=a,b port=5432 dbname=postgres
 * user=admin password=..." or "postgresql://..."). `*out` is new (eqops_pg_free). A URI
 * whose password holds an unencoded '@' or '/' is refused (EQOPS_EINVAL, field "conninfo",
 * the text not repeated). With several hosts and a read-write or primary target, a server's
 * "database does not exist" is checked with the primary (only its answer is final); connecting
 * keeps trying for failover_wait_ms while no server takes writes. Every session starts with
 * eqops's own settings (startup options: formats, time zone, no idle timeouts, ...), so a
 * tenant database's settings do not change eqops's work there (docs/pg.md). Returns 0,
 * EQOPS_EINVAL (bad conninfo or option), EQOPS_EAUTH, EQOPS_EUNAVAILABLE or EQOPS_ETIMEOUT.
 */
EQOPS_API int eqops_pg_new(eqops_pg **out, const char *conninfo, const eqops_pg_options *opts,
                           eqops_error *err);
/* Close the connection and release the handle. NULL-safe. */
EQOPS_API void eqops_pg_free(eqops_pg *pg);

/* Check a tenant name against the rule above. Returns 0 or EQOPS_EINVAL saying why. */
EQOPS_API int eqops_pg_tenant_name_check(const char *name, eqops_error *err);

/* ---- tenants -------------------------------------------------------------------------- */

/* Facts about one tenant; strings are borrowed from it. */
typedef struct eqops_pg_tenant eqops_pg_tenant;

EQOPS_API const char *eqops_pg_tenant_name(const eqops_pg_tenant *t);
EQOPS_API const char *eqops_pg_tenant_database(const eqops_pg_tenant *t);
EQOPS_API const char *eqops_pg_tenant_role(const eqops_pg_tenant *t);
/* The password, only when this call set it (create of a new role, rotate); else NULL. */
EQOPS_API const char *eqops_pg_tenant_password(const eqops_pg_tenant *t);
/* A libpq conninfo for the tenant (host, port, dbname, user, and password when known). */
EQOPS_API const char *eqops_pg_tenant_conninfo(const eqops_pg_tenant *t);
/* Schema version (the highest applied migration), -1 when unknown. */
EQOPS_API int64_t eqops_pg_tenant_schema_version(const eqops_pg_tenant *t);
/* Database size in bytes, -1 when unknown. */
EQOPS_API int64_t eqops_pg_tenant_size(const eqops_pg_tenant *t);
/* "ready", or "creating" when a create has not finished. */
EQOPS_API const char *eqops_pg_tenant_state(const eqops_pg_tenant *t);
/* 1 when this call created the database (0 when it existed). */
EQOPS_API int eqops_pg_tenant_created(const eqops_pg_tenant *t);
/* Release; the password is wiped. NULL-safe. */
EQOPS_API void eqops_pg_tenant_free(eqops_pg_tenant *t);

typedef struct eqops_pg_tenant_options {
    unsigned version;            /* EQOPS_PG_TENANT_OPTIONS_VERSION */
    int connection_limit;        /* the role's (the database has none); default 20; -1 = none */
    const char *const *settings; /* NULL-terminated "name=value": ALTER DATABASE ... SET */
    const char *password;        /* use this password instead of a new random one */
    int rotate_existing;         /* role exists and no password given: set a new one */
    const char *migrations_dir;  /* to build the template (or the database) when missing */
} eqops_pg_tenant_options;

#define EQOPS_PG_TENANT_OPTIONS_VERSION 1
#define EQOPS_PG_TENANT_OPTIONS_INIT                                                               \
    {                                                                                              \
        EQOPS_PG_TENANT_OPTIONS_VERSION, 0, NULL, NULL, 0, NULL                                    \
    }
/* Zero `opts` and set its version (EQOPS_PG_TENANT_OPTIONS_VERSION or an older one the
 * caller was written for): 0, or EQOPS_EINVAL (opts NULL, version 0 or newer than this
 * library). */
EQOPS_API int eqops_pg_tenant_options_init(eqops_pg_tenant_options *opts, unsigned version);

/*
 * Create a tenant, or finish or converge one (idempotent). The password of an existing role
 * is kept unless `password` or `rotate_existing` says otherwise, so a re-run never changes a
 * password a running workload uses. Returns 0, EQOPS_EINVAL (name, option), EQOPS_EBUSY (the
 * tenant is being changed by someone else), EQOPS_EFORBIDDEN, EQOPS_EUNAVAILABLE.
 */
EQOPS_API int eqops_pg_tenant_create(eqops_pg_tenant **out, eqops_pg *pg, const char *name,
                                     const eqops_pg_tenant_options *opts, eqops_error *err);

/* A tenant's facts with its schema version and size. EQOPS_ENOTFOUND if there is none. */
EQOPS_API int eqops_pg_tenant_show(eqops_pg_tenant **out, eqops_pg *pg, const char *name,
                                   eqops_error *err);

/* Set a new random password (returned in `*out`). EQOPS_ENOTFOUND if there is no tenant. */
EQOPS_API int eqops_pg_tenant_rotate(eqops_pg_tenant **out, eqops_pg *pg, const char *name,
                                     eqops_error *err);

/*
 * Drop a tenant's database (with its sessions) and role. `confirm` must equal `name`.
 * Dropping a tenant that is already gone succeeds. Returns 0, EQOPS_EINVAL (no confirmation),
 * EQOPS_EFORBIDDEN, EQOPS_EBUSY.
 */
EQOPS_API int eqops_pg_tenant_drop(eqops_pg *pg, const char *name, const char *confirm,
                                   eqops_error *err);

/*
 * Every tenant in the registry as JSON: [{"name", "database", "role", "state", "created",
 * "size", "schema_version"}], with schema versions read from each database when
 * `with_versions` (one connection per tenant). `*out` is new: eqops_free().
 */
EQOPS_API int eqops_pg_tenant_list(char **out, eqops_pg *pg, int with_versions, eqops_error *err);

/* ---- migrations ------------------------------------------------------------------------- *
 *
 * A migrations directory holds V<version>__<description>.sql files: version a positive
 * integer (leading zeros allowed, unique), description letters, digits, '_' and '-'. Each runs
 * in its own transaction with lock_timeout and statement_timeout, recorded with its SHA-256 in
 * eqops.schema_history in the same transaction, so a failure leaves the database exactly at
 * its previous version. A file whose first line is "-- eqops:no-transaction" runs outside a
 * transaction (for CREATE INDEX CONCURRENTLY); it must be one statement and idempotent.
 */

/* Bring the template database to the latest version (creating it from template0). */
EQOPS_API int eqops_pg_template_ensure(eqops_pg *pg, const char *migrations_dir, eqops_error *err);

/* Called from the calling thread as databases finish; non-zero stops starting new ones. */
typedef int (*eqops_pg_progress_fn)(const char *database, const char *status, size_t done,
                                    size_t total, void *payload);

typedef struct eqops_pg_migrate_options {
    unsigned version;           /* EQOPS_PG_MIGRATE_OPTIONS_VERSION */
    const char *migrations_dir; /* required */
    int concurrency;            /* databases at once; default 4, at most 64 */
    int canary;                 /* migrate this many tenants first, then the rest */
    int continue_on_error;      /* keep going when a database fails (not in the canary) */
    int dry_run;                /* plan only: what would be applied where */
    int skip_template;          /* leave the template alone */
    const char *const *tenants; /* NULL-terminated names; NULL = every tenant */
    long lock_wait_ms;          /* waiting for a database's migration lock; default 30000 */
    long lock_timeout_ms;       /* per migration; default 5000 */
    long statement_timeout_ms;  /* per migration; default 0 = none */
    eqops_pg_progress_fn progress;
    void *payload;
    /* Cancellation (NULL: none) of this run, across every database (instead of the handle's):
     * checked between steps, in transfers and queries, and in retry waits; once triggered the call
     * returns EQOPS_ECANCELED. */
    eqops_cancel *cancel;
} eqops_pg_migrate_options;

#define EQOPS_PG_MIGRATE_OPTIONS_VERSION 1
#define EQOPS_PG_MIGRATE_OPTIONS_INIT                                                              \
    {                                                                                              \
        EQOPS_PG_MIGRATE_OPTIONS_VERSION, NULL, 0, 0, 0, 0, 0, NULL, 0, 0, 0, 0, NULL, NULL        \
    }
/* Zero `opts` and set its version (EQOPS_PG_MIGRATE_OPTIONS_VERSION or an older one the
 * caller was written for): 0, or EQOPS_EINVAL (opts NULL, version 0 or newer than this
 * library). */
EQOPS_API int eqops_pg_migrate_options_init(eqops_pg_migrate_options *opts, unsigned version);

/*
 * Migrate the template and the tenants (or plan it), under a fleet-wide lock in the control
 * database. The template goes first (created when missing); when it fails no tenant is
 * touched. Then the canary tenants, one failure stopping the run; then the rest, a failure
 * stopping new starts unless continue_on_error. A migration that fails leaves its database
 * at the version before it (an edited, missing or out-of-order migration fails the database
 * before anything runs; a no-transaction file that fails is not retried by itself, and an
 * INVALID index it leaves fails the database). `*out` is new JSON: {"dry_run",
 * "target_version", "databases": [{"database", "tenant", "from", "to", "applied": [versions],
 * "status": "ok"|"failed"|"skipped"|"planned", "ms", "error"}], "ok", "failed", "skipped"};
 * `*failed` counts the failed databases. Per-database failures are results, not errors: the
 * call returns 0 when the run itself ran. Returns EQOPS_EINVAL (directory, file names,
 * options, a tenant listed twice), EQOPS_ENOTFOUND (a named tenant, or one without its
 * database yet), EQOPS_EBUSY (another fleet run), EQOPS_EUNAVAILABLE (the fleet lock's
 * connection was lost between stages), EQOPS_ECANCELED (the progress callback stopped it;
 * `*out` has the results so far).
 */
EQOPS_API int eqops_pg_migrate(char **out, size_t *failed, eqops_pg *pg,
                               const eqops_pg_migrate_options *opts, eqops_error *err);

/*
 * Compare a migrations directory with what each database recorded: {"target_version",
 * "databases": [{"database", "tenant", "version", "pending": [versions], "edited": [files],
 * "missing": [versions], "error"}], "problems"}. `database` (a database name) NULL checks the
 * template and every tenant. `*problems` counts edited and missing migrations and databases
 * that could not be read; pending migrations are not problems. Reads only, takes no lock.
 * Returns 0, EQOPS_EINVAL, EQOPS_ENOTFOUND.
 */
EQOPS_API int eqops_pg_validate(char **out, size_t *problems, eqops_pg *pg,
                                const char *migrations_dir, const char *database, eqops_error *err);

/* ---- drift ------------------------------------------------------------------------------- */

/*
 * Catalog fingerprint of a database: a SHA-256 over its tables, columns, types, defaults,
 * constraints, indexes, views, functions, triggers, sequences and extensions, by name (no
 * OIDs; the history table excluded). `*out` is new hex text: eqops_free().
 */
EQOPS_API int eqops_pg_fingerprint(char **out, eqops_pg *pg, const char *database,
                                   eqops_error *err);

/*
 * Compare every tenant (or `tenants`, NULL-terminated) with the template: {"template":
 * fingerprint, "template_objects", "tenants": [{"tenant", "database", "fingerprint", "schema":
 * "same"|"differs"|"unknown", "only_in_template": [...], "only_in_tenant": [...], "changed":
 * [...], "isolation": "ok"|problems}], "drifted"}; the lists name objects ("column
 * public.meters.serial: text not null"), at most 100 each. Isolation problems: PUBLIC or
 * another role can connect, the tenant role cannot, has a privileged attribute or is a member
 * of another role, the database carries settings a tenant database may not have (also listed
 * in "settings": not on the allow-list, or out of bounds). `*drifted` counts tenants whose
 * schema or isolation differs. Returns 0,
 * EQOPS_ENOTFOUND (no template, unknown tenant), EQOPS_EUNAVAILABLE.
 */
EQOPS_API int eqops_pg_drift(char **out, size_t *drifted, eqops_pg *pg, const char *const *tenants,
                             eqops_error *err);

#ifdef __cplusplus
}
#endif

#endif /* EQOPS_PG_H */
