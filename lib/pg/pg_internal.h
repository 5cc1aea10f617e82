/*
 * pg_internal.h - connections with retries, SQL helpers and names shared by the pg module.
 */
#ifndef EQOPS_PG_INTERNAL_H
#define EQOPS_PG_INTERNAL_H

#include "pg_seam.h"

#include <libpq-fe.h>
#include <string.h>

#define PG_MAX_PARAMS 32

struct eqops_pg {
    /* the admin conninfo as keyword/value pairs (values wiped on close), NULL-terminated */
    char *keywords[PG_MAX_PARAMS + 1];
    char *values[PG_MAX_PARAMS + 1];
    int dbname_index;   /* where dbname is, to connect to other databases */
    int options_index;  /* where "options" is: eqops's session settings, then the conninfo's */
    char *user_options; /* the conninfo's own "options" ("" when none) */
    PGconn *conn;       /* the maintenance connection (the conninfo's database) */
    char *maintenance_db;
    char *control_db, *template_db, *prefix;
    long statement_timeout_ms, lock_timeout_ms;
    long failover_wait_ms; /* how long connecting retries transient failures; 0 = no retry */
    int max_retries;
    const eqops_cancel *cancel; /* the options' token: every connect, query and retry wait */
    bool find_primary;  /* several hosts and a read-write target: see eqops__pg_connect_db */
    bool control_ready; /* the control database was checked by this handle */
};

/* ---- the conninfo and the session settings (session.c) --------------------------------- */

/*
 * Parse the admin conninfo into pg->keywords/values, adding what eqops needs when absent
 * (connect_timeout, application_name, target_session_attrs=read-write, dbname=postgres,
 * keepalives, options). A URI whose host, port, database or parameters hold an '@' is refused:
 * libpq would have taken part of a password with an '@', '/' or ':' for a host name and put it
 * in every error message. Messages never repeat the conninfo's text.
 */
int eqops__pg_conninfo_parse(eqops_pg *pg, const char *conninfo, long connect_timeout,
                             eqops_error *err);

/*
 * The startup options of every eqops session ("-c name=value ..."), then the conninfo's own:
 * fixed formats (DateStyle, IntervalStyle, TimeZone, extra_float_digits, bytea_output, ...),
 * no idle timeouts, the admin timeouts, and, when `maint` (the maintenance connection) is
 * given, its locale, search_path and memory settings. Startup options win over a database's
 * settings and survive RESET ALL and DISCARD ALL. 0 or EQOPS_ENOMEM / the query's error.
 */
int eqops__pg_pins_set(eqops_pg *pg, PGconn *maint, eqops_error *err);

/* ---- tenant database settings (settings.c) ------------------------------------------------ */

/* Check one "name=value" setting of a tenant (the name on the allow-list, the value within its
 * bounds); `field` names it in the message ("settings[0]"). */
int eqops__pg_setting_entry_check(const char *s, const char *field, eqops_error *err);

/* The database's own settings (ALTER DATABASE ... SET, for every role), as a new JSON object
 * {name: value} (the server's spelling of the names, e.g. "DateStyle"). */
int eqops__pg_db_settings(PGconn *c, const char *db, json_t **out, eqops_error *err);

/* Fail (EQOPS_EFORBIDDEN, naming them) when settings of the database that a tenant database
 * may not have still reach the session `c` (connected to `db`) past eqops's startup options:
 * the superuser-only ones (session_replication_role, ...). Migrations do not run there. */
int eqops__pg_session_settings_check(PGconn *c, const char *db, eqops_error *err);

/* Count the settings of `settings` (as from eqops__pg_db_settings) that a tenant database may
 * not have (not on the allow-list, or out of bounds), appending a line about each to
 * `findings` (a JSON array; may be NULL) and its name to `names` ("a, b"; may be NULL). The
 * values of settings that are not on the allow-list are not repeated: they may be anything. */
size_t eqops__pg_settings_findings(const json_t *settings, json_t *findings, eqops_buf *names);

/* One step of work on a connection; must be idempotent (it may run again). */
typedef int (*eqops__pg_step)(PGconn *c, void *ctx, eqops_error *err);

/*
 * Run `step` on `*conn` (connected to `db`, or to the maintenance database when `db` is NULL
 * and conn is &pg->conn), reconnecting and retrying after transient failures (see pg.h).
 * `what` names the step in logs and messages. Returns the step's result.
 */
int eqops__pg_run(eqops_pg *pg, PGconn **conn, const char *db, const char *what,
                  eqops__pg_step step, void *ctx, eqops_error *err);

/*
 * One attempt to connect with these keywords/values (NULL-terminated): PQconnectStartParams
 * and PQconnectPoll waiting on the socket and pg's token, connect_timeout for each server.
 * On failure `err` holds the one classification of connection failures (conn.c; err->reason
 * the SQLSTATE), `*password_used` whether the server asked for the password (it did before
 * refusing it, and before any refusal that comes after authentication), `*transient` whether
 * another attempt may succeed.
 */
int eqops__pg_connect_params(PGconn **out, eqops_pg *pg, const char *const *keys,
                             const char *const *values, bool *password_used, bool *transient,
                             eqops_error *err);

/* Wait until `sock` is ready to read (or write), `cancel` is triggered or `deadline`
 * (eqops__mono_ms time; 0: none) passes: 1 ready (or no socket: libpq reports it), 0 the
 * deadline, EQOPS_ECANCELED. */
int eqops__pg_sock_wait(int sock, bool write, const eqops_cancel *cancel, int64_t deadline);

/* A new connection to `db`, with retries. The caller PQfinish()es it. */
int eqops__pg_connect_db(eqops_pg *pg, PGconn **out, const char *db, eqops_error *err);

/*
 * Run one statement with parameters ($1...); `*res` (may be NULL) receives the result of a
 * query, else it is cleared. On failure err is filled with the message and the SQLSTATE in
 * err->reason, and the code mapped from the SQLSTATE is returned.
 */
int eqops__pg_exec(PGconn *c, const char *what, const char *sql, int nparams,
                   const char *const *params, PGresult **res, eqops_error *err);

/* Escaped identifier / literal appended to a buffer (libpq's escaping). 0 or EQOPS_ENOMEM. */
int eqops__pg_ident(eqops_buf *b, PGconn *c, const char *name);
int eqops__pg_literal(eqops_buf *b, PGconn *c, const char *text);

/* The tenant name rule (pg.h); `field` names the input in the message. */
int eqops__pg_name_check(const char *name, const char *field, eqops_error *err);
/* The tenant name back from an object name; false when it is not one of ours. */
bool eqops__pg_tenant_from_object(const eqops_pg *pg, const char *object, char *out,
                                  size_t out_len);
/* Tests: the tables of names (reserved words, tenant settings) are sorted (bsearch needs it). */
bool eqops__pg_reserved_sorted(void);
bool eqops__pg_settings_sorted(void);
/* Whether `v` is strictly ascending (strcmp). */
bool eqops__pg_sorted(const char *const *v, size_t n);

/* The maintenance database name and the host/port of the conninfo (borrowed). */
const char *eqops__pg_param(const eqops_pg *pg, const char *keyword);

/* Map a SQLSTATE to an EQOPS_E* code. */
int eqops__pg_sqlstate_code(const char *sqlstate);

/*
 * Take a session advisory lock (exclusive or shared) keyed by hashtextextended(key), polling
 * pg_try_advisory_lock until `wait_ms` passes: then EQOPS_EBUSY naming the holder's pid.
 */
int eqops__pg_try_lock(PGconn *c, const char *key, bool shared, long wait_ms, const char *what,
                       eqops_error *err);
int eqops__pg_unlock(PGconn *c, const char *key, bool shared);

/* Fail (EQOPS_EUNAVAILABLE) when the connection holding a lock is gone. NULL passes. */
int eqops__pg_lock_check(PGconn *lock, const char *what, eqops_error *err);

/* What a new session of handle `pg` needs beyond its startup options: server notices to the
 * debug log; the handle as the connection's libpq instance data, so that eqops__pg_exec
 * stops on its token (PQcancel). */
void eqops__pg_session_setup(PGconn *c, eqops_pg *pg);

/* Where the primary is now: a connection to the maintenance database through the conninfo's
 * host list (libpq passes over servers that take no writes). `host` gets PQhost, `addr`
 * PQhostaddr, `port` PQport. 0, or the connection's error (`*transient` when worth retrying). */
int eqops__pg_find_primary(eqops_pg *pg, char host[256], char addr[64], char port[16],
                           bool *transient, eqops_error *err);

/* Make sure the control database exists (once per handle). */
int eqops__pg_control_ensure(eqops_pg *pg, eqops_error *err);

/* A new connection to the control database holding the lock `key` (see try_lock). */
int eqops__pg_lock_open(eqops_pg *pg, PGconn **out, const char *key, bool shared, long wait_ms,
                        const char *what, eqops_error *err);

/* Lock keys: fleet-wide runs, the template (shared while cloning), one tenant. */
#define PG_LOCK_FLEET    "eqops:fleet"
#define PG_LOCK_TEMPLATE "eqops:template"
#define PG_LOCK_MIGRATE  "eqops:migrate" /* per database, in that database */
#define PG_LOCK_WAIT_MS  30000L

/* True when the error (err->reason holds the SQLSTATE) is worth retrying after a reconnect or
 * a backoff. */
bool eqops__pg_transient(const eqops_error *err);
/* The pg module's one retry wait, core's backoff (full jitter) with the handle's token: before
 * retry `retry` (1, 2, ...) a random time up to min(cap_ms, base_ms * 2^(retry-1)), cut to
 * end at `deadline` (eqops__mono_ms time; 0: none) so one more attempt happens there. The
 * wait, or -1 when the token was triggered meanwhile. `pg` may be NULL (no token). */
#define PG_BACKOFF_BASE_MS 200
#define PG_BACKOFF_CAP_MS  6400
int64_t eqops__pg_retry_wait(const eqops_pg *pg, int64_t base_ms, int64_t cap_ms, int retry,
                             int64_t deadline);

/* ---- migrations (migrate.c), used by tenant create and the fleet ------------------------ */

typedef struct pg_migration {
    int64_t version;
    char *description;
    char *file; /* the file name, for messages */
    char *sql;
    char checksum[65]; /* hex SHA-256 of the file */
    bool no_transaction;
} pg_migration;

typedef struct pg_migrations {
    pg_migration *m; /* sorted by version */
    size_t n;
} pg_migrations;

/* Read a migrations directory (see pg.h). EQOPS_EINVAL names the offending file. */
int eqops__pg_migrations_load(pg_migrations *out, const char *dir, eqops_error *err);
void eqops__pg_migrations_free(pg_migrations *m);
/* The highest version, 0 for an empty directory. */
int64_t eqops__pg_migrations_target(const pg_migrations *m);

typedef enum pg_mode {
    PG_MODE_APPLY,   /* lock, apply the pending migrations */
    PG_MODE_PLAN,    /* lock-free read: what would be applied */
    PG_MODE_INSPECT, /* lock-free read: pending, edited and missing migrations */
} pg_mode;

typedef struct pg_migrate_cfg {
    pg_mode mode;
    long lock_wait_ms, lock_timeout_ms, statement_timeout_ms;
} pg_migrate_cfg;

/* Per-database outcome of a migration run. */
typedef struct pg_db_result {
    char database[64];
    char tenant[48]; /* "" for the template */
    int64_t from, to;
    json_t *applied;                    /* versions applied (planned in PG_MODE_PLAN) */
    json_t *pending, *edited, *missing; /* PG_MODE_INSPECT */
    const char *status;                 /* "ok", "failed", "skipped", "planned" */
    int rc;
    char error[256];
    int64_t ms;
} pg_db_result;

/* Initialise / release a result. */
int eqops__pg_result_init(pg_db_result *r, const char *database, const char *tenant);
void eqops__pg_result_free(pg_db_result *r);

/*
 * Migrate (or plan or inspect) one database on a connection of its own, retrying transient
 * failures from the start (the history is read again, so nothing is applied twice). Fills
 * `r` (r->rc, r->error); returns r->rc.
 */
int eqops__pg_migrate_db(eqops_pg *pg, const char *db, const pg_migrations *ms,
                         const pg_migrate_cfg *cfg, pg_db_result *r);

/* Highest applied version of a database on `c` (0 when none, -1 without a history table). */
int eqops__pg_schema_version(PGconn *c, int64_t *out, eqops_error *err);

/* Create the template database from template0 when it is missing (comment, isolation). */
int eqops__pg_template_create(eqops_pg *pg, bool *created, eqops_error *err);

/* ---- registry (tenant.c) ------------------------------------------------------------------ */

/*
 * The tenants of the registry, sorted by name: [{"name", "database", "role", "state",
 * "created", "size"}] (`*out` new). A role without its database is listed with state
 * "creating".
 */
int eqops__pg_registry(eqops_pg *pg, json_t **out, eqops_error *err);

/* Select `names` (NULL-terminated; NULL = all) from the registry; unknown names are an error. */
int eqops__pg_registry_select(json_t *registry, const char *const *names, json_t **out,
                              eqops_error *err);

/* Parse a registry comment: 1 with `*out` (new) when it is JSON with "eqops": kind and (when
 * `name` is given) "name": name; else 0. */
int eqops__pg_comment_parse(const char *text, const char *kind, const char *name, json_t **out);
/* A registry comment (new text, eqops__free); `created` NULL means now. NULL on ENOMEM. */
char *eqops__pg_comment_make(const char *kind, const char *name, const char *state,
                             const char *created);

struct eqops_pg_tenant {
    char name[48], role[64], database[64], state[16];
    char *password; /* secret: wiped on free */
    char *conninfo; /* holds the password when known: wiped on free */
    int64_t schema_version, size;
    int created;
};

/* A tenant object with its conninfo (password may be NULL). EQOPS_ENOMEM. */
int eqops__pg_tenant_new(eqops_pg *pg, const char *name, const char *object, const char *password,
                         eqops_pg_tenant **out);

/* Grant the tenant role its privileges inside its database (on `c`, connected to it): usage
 * of every application schema, DML on tables, sequences, routines, default privileges for
 * future objects, and read access to the schema history. One transaction. */
int eqops__pg_tenant_grants(PGconn *c, const char *role, eqops_error *err);

/* ---- worker pool (fleet.c) ------------------------------------------------------------------ */

typedef struct pg_pool_job pg_pool_job;
struct pg_pool_job {
    /* the work for results[i]; NULL = eqops__pg_migrate_db with ms and cfg */
    void (*work)(pg_pool_job *job, size_t i);
    void *ctx;
    eqops_pg *pg;
    const pg_migrations *ms;
    const pg_migrate_cfg *cfg;
    pg_db_result *results;
    size_t n;
    int concurrency;
    bool stop_on_error;
    eqops_pg_progress_fn progress;
    void *payload;
    size_t done_before, total; /* for progress counts across stages */
};

/* The databases of a fleet operation: results[0] is the template (when asked), then the
 * tenants of `names` (NULL = all) that have a database. */
typedef struct pg_targets {
    pg_db_result *r;
    size_t n;
    bool have_template;
} pg_targets;
int eqops__pg_targets_make(eqops_pg *pg, bool with_template, const char *const *names,
                           pg_targets *out, eqops_error *err);
void eqops__pg_targets_free(pg_targets *t);
/* Whether the template database exists (on the admin connection). */
bool eqops__pg_template_exists(eqops_pg *pg, eqops_error *err, int *rc);

/* Run migrate_db over results[0..n) with bounded concurrency; progress from this thread.
 * Returns 0, or EQOPS_ECANCELED when the callback asked to stop. */
int eqops__pg_pool_run(pg_pool_job *job, eqops_error *err);

#endif /* EQOPS_PG_INTERNAL_H */
