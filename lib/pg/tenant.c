/*
 * tenant.c - a tenant's role and database: create (clone, isolate, grant, register), show,
 * rotate and drop. Every step is idempotent and runs under the tenant's lock in the control
 * database, so a re-run after a crash finishes what was started.
 */
#include "pg_internal.h"

#include <stdio.h>
#include <stdlib.h>

#define MOD "pg"

typedef struct tenant_ctx {
    eqops_pg *pg;
    const char *name;
    char object[64]; /* database and role name */
    const eqops_pg_tenant_options *opts;
    int connection_limit;
    char *password;     /* set by this call (given or generated); wiped */
    bool want_password; /* create a new password for an existing role */
    bool db_created;    /* this call created the database */
    bool from_template; /* cloned from the template */
    bool db_exists, role_exists;
    bool was_ready;      /* the registry said "ready" before this call */
    bool role_raced;     /* CREATE ROLE met a role created meanwhile */
    char created_at[40]; /* from an existing registry comment */
} tenant_ctx;

static int oom(eqops_error *err)
{
    return eqops__err(err, EQOPS_ENOMEM, "out of memory");
}

/* Run `sql` (built in `b`; wiped afterwards, it may hold a verifier) on `c`. */
static int exec_buf(PGconn *c, const char *what, eqops_buf *b, eqops_error *err)
{
    int rc = eqops__buf_ok(b) ? oom(err)
                              : eqops__pg_exec(c, what, eqops__buf_cstr(b), 0, NULL, NULL, err);
    eqops__buf_wipe(b);
    return rc;
}

/* ---- the role -------------------------------------------------------------------------------- */

/* Ensure the password to set is known: the given one or a new random one. */
static int password_ready(tenant_ctx *t, eqops_error *err)
{
    if (t->password)
        return 0;
    if (t->opts->password) {
        t->password = eqops__strdup(t->opts->password);
    } else {
        char pw[48];
        if (eqops__pg_random_password(pw) != 0)
            return eqops__err(err, EQOPS_EINTERNAL, "random password: OpenSSL RAND failed");
        t->password = eqops__strdup(pw);
        eqops__wipe(pw, sizeof(pw));
    }
    return t->password ? 0 : oom(err);
}

/* Append PASSWORD '<SCRAM verifier>' (the cleartext never leaves this process). */
static int put_verifier(eqops_buf *b, PGconn *c, const char *role, const char *password,
                        eqops_error *err)
{
    char *verifier = NULL;
    if (!strncmp(password, "SCRAM-SHA-256$", 14))
        verifier = NULL; /* already a verifier: passed through */
    else if ((verifier = PQencryptPasswordConn(c, password, role, "scram-sha-256")) == NULL)
        return eqops__err(err, EQOPS_EINTERNAL, "SCRAM verifier: %s", PQerrorMessage(c));
    eqops__buf_puts(b, " PASSWORD ");
    int rc = eqops__pg_literal(b, c, verifier ? verifier : password);
    if (verifier) {
        eqops__wipe(verifier, strlen(verifier));
        PQfreemem(verifier);
    }
    return rc ? oom(err) : 0;
}

static int role_step(PGconn *c, void *arg, eqops_error *err)
{
    tenant_ctx *t = arg;
    const char *params[] = {t->object};
    PGresult *r = NULL;
    int rc = eqops__pg_exec(c, "find role",
                            "SELECT shobj_description(oid, 'pg_authid'), rolsuper OR "
                            "rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls, "
                            "(SELECT shobj_description(d.oid, 'pg_database') FROM pg_database d "
                            "WHERE d.datname = $1) FROM pg_roles WHERE rolname = $1",
                            1, params, &r, err);
    if (rc != 0)
        return rc;
    bool exists = PQntuples(r) == 1;
    json_t *db_comment = NULL;
    if (exists && eqops__pg_comment_parse(PQgetisnull(r, 0, 2) ? NULL : PQgetvalue(r, 0, 2),
                                          "tenant", t->name, &db_comment)) {
        const char *state = json_string_value(json_object_get(db_comment, "state"));
        t->was_ready = state && !strcmp(state, "ready");
        json_decref(db_comment);
    }
    /* a create that never finished returned no password to anyone: set a new one */
    if (exists && !t->was_ready && !t->want_password) {
        t->want_password = true;
        eqops__log(EQOPS_LOG_INFO, MOD, "finishing the unfinished create of %s: new password",
                   t->object);
    }
    json_t *comment = NULL;
    bool ours = exists && eqops__pg_comment_parse(PQgetisnull(r, 0, 0) ? NULL : PQgetvalue(r, 0, 0),
                                                  "tenant", t->name, &comment);
    bool privileged = exists && !strcmp(PQgetvalue(r, 0, 1), "t");
    PQclear(r);
    if (comment) {
        const char *created = json_string_value(json_object_get(comment, "created"));
        if (created && !t->created_at[0])
            snprintf(t->created_at, sizeof(t->created_at), "%s", created);
        json_decref(comment);
    }
    if (exists && !ours)
        return eqops__err(err, EQOPS_EEXISTS,
                          "role %s exists and is not an eqops tenant role (no registry "
                          "comment); refusing to take it over",
                          t->object);
    if (privileged)
        return eqops__err(err, EQOPS_EFORBIDDEN,
                          "role %s has SUPERUSER, CREATEROLE, CREATEDB, REPLICATION or "
                          "BYPASSRLS; a tenant role must have none: fix it by hand",
                          t->object);
    t->role_exists = exists;
    eqops_buf b = EQOPS_BUF_INIT;
    /* room for everything up front: a buffer that grew would leave the verifier in freed memory */
    if (eqops__buf_reserve(&b, 4096) != 0)
        return oom(err);
    char *comment_text = eqops__pg_comment_make("tenant", t->name, NULL, t->created_at);
    if (comment_text == NULL)
        return oom(err);
    if (!exists) {
        if ((rc = password_ready(t, err)) != 0) {
            eqops__free(comment_text);
            return rc;
        }
        eqops__buf_puts(&b, "BEGIN; CREATE ROLE ");
        eqops__pg_ident(&b, c, t->object);
        eqops__buf_printf(&b,
                          " LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
                          "NOBYPASSRLS CONNECTION LIMIT %d",
                          t->connection_limit);
        rc = put_verifier(&b, c, t->object, t->password, err);
    } else {
        if (t->want_password && (rc = password_ready(t, err)) == 0) {
            eqops__buf_puts(&b, "BEGIN; ALTER ROLE ");
            eqops__pg_ident(&b, c, t->object);
            eqops__buf_printf(&b, " LOGIN CONNECTION LIMIT %d", t->connection_limit);
            rc = put_verifier(&b, c, t->object, t->password, err);
        } else if (rc == 0) {
            eqops__buf_puts(&b, "BEGIN; ALTER ROLE ");
            eqops__pg_ident(&b, c, t->object);
            eqops__buf_printf(&b, " LOGIN CONNECTION LIMIT %d", t->connection_limit);
        }
    }
    if (rc == 0) {
        eqops__buf_puts(&b, "; COMMENT ON ROLE ");
        eqops__pg_ident(&b, c, t->object);
        eqops__buf_puts(&b, " IS ");
        eqops__pg_literal(&b, c, comment_text);
        /* membership lets the admin end the tenant's sessions (DROP DATABASE ... FORCE) */
        eqops__buf_puts(&b, "; GRANT ");
        eqops__pg_ident(&b, c, t->object);
        eqops__buf_puts(&b, " TO CURRENT_USER; COMMIT");
        rc = exec_buf(c, exists ? "update role" : "create role", &b, err);
    }
    eqops__buf_wipe(&b);
    eqops__free(comment_text);
    if (rc == EQOPS_EEXISTS && !exists && !t->role_raced) { /* created meanwhile: look again */
        PQclear(PQexec(c, "ROLLBACK"));
        t->role_raced = true;
        return role_step(c, arg, err);
    }
    if (rc == 0 && !exists)
        eqops__log(EQOPS_LOG_INFO, MOD, "created role %s", t->object);
    return rc;
}

/* ---- the database ---------------------------------------------------------------------------- */

/* Look the tenant database up: 1 exists and ours, 0 missing, or an error. */
static int find_database(PGconn *c, tenant_ctx *t, eqops_error *err)
{
    const char *params[] = {t->object};
    PGresult *r = NULL;
    int rc = eqops__pg_exec(c, "find database",
                            "SELECT shobj_description(oid, 'pg_database'), datdba = (SELECT oid "
                            "FROM pg_roles WHERE rolname = current_user) AND NOT datallowconn "
                            "FROM pg_database WHERE datname = $1",
                            1, params, &r, err);
    if (rc != 0)
        return rc;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return 0;
    }
    json_t *comment = NULL;
    bool commented = !PQgetisnull(r, 0, 0);
    bool ours = eqops__pg_comment_parse(commented ? PQgetvalue(r, 0, 0) : NULL, "tenant", t->name,
                                        &comment);
    /* created by an earlier run that stopped before registering it: ours, and still closed
     * (clones are made ALLOW_CONNECTIONS false and opened with the registry comment) */
    bool adopt = !commented && !strcmp(PQgetvalue(r, 0, 1), "t");
    PQclear(r);
    if (comment) {
        const char *created = json_string_value(json_object_get(comment, "created"));
        if (created && !t->created_at[0])
            snprintf(t->created_at, sizeof(t->created_at), "%s", created);
        json_decref(comment);
    }
    if (!ours && !adopt)
        return eqops__err(err, EQOPS_EEXISTS,
                          "database %s exists and is not an eqops tenant database (another "
                          "comment or owner); refusing to touch it",
                          t->object);
    return 1;
}

/* Before anything is made: a database of that name that is not ours stops the create. */
static int probe_step(PGconn *c, void *arg, eqops_error *err)
{
    int found = find_database(c, arg, err);
    return found < 0 ? found : 0;
}

static int database_step(PGconn *c, void *arg, eqops_error *err)
{
    tenant_ctx *t = arg;
    int found = find_database(c, t, err);
    if (found < 0)
        return found;
    t->db_exists = found == 1;
    if (t->db_exists)
        return 0;
    const char *params[] = {t->pg->template_db};
    PGresult *r = NULL;
    int rc = eqops__pg_exec(c, "find template", "SELECT 1 FROM pg_database WHERE datname = $1", 1,
                            params, &r, err);
    if (rc != 0)
        return rc;
    t->from_template = PQntuples(r) == 1;
    PQclear(r);
    eqops_buf b = EQOPS_BUF_INIT;
    /* no connections until the isolation step has revoked PUBLIC's CONNECT */
    eqops__buf_puts(&b, "CREATE DATABASE ");
    eqops__pg_ident(&b, c, t->object);
    eqops__buf_puts(&b, " TEMPLATE ");
    eqops__pg_ident(&b, c, t->from_template ? t->pg->template_db : "template0");
    eqops__buf_puts(&b, " STRATEGY WAL_LOG ALLOW_CONNECTIONS false");
    rc = exec_buf(c, "create database", &b, err);
    if (rc == EQOPS_EEXISTS)
        return database_step(c, arg, err);
    if (rc == 0) {
        t->db_created = true;
        eqops__log(EQOPS_LOG_INFO, MOD, "created database %s from %s", t->object,
                   t->from_template ? t->pg->template_db : "template0 (no template)");
    }
    return rc;
}

/* RESET ALL leaves what only a superuser may reset (session_replication_role, log_*, custom
 * settings): a database that keeps such a setting is not finished as a tenant's, and says
 * what a superuser must do. */
static int settings_left(PGconn *c, tenant_ctx *t, eqops_error *err)
{
    json_t *have = NULL;
    eqops_buf names = EQOPS_BUF_INIT;
    int rc = eqops__pg_db_settings(c, t->object, &have, err);
    if (rc == 0 && eqops__pg_settings_findings(have, NULL, &names) > 0)
        rc =
            eqops__err(err, EQOPS_EFORBIDDEN,
                       "database %s keeps settings RESET ALL could not remove (only a "
                       "superuser may): %s; a superuser must ALTER DATABASE %s RESET each",
                       t->object, eqops__buf_ok(&names) ? "?" : eqops__buf_cstr(&names), t->object);
    eqops__buf_free(&names);
    json_decref(have);
    return rc;
}

static int isolate_step(PGconn *c, void *arg, eqops_error *err)
{
    tenant_ctx *t = arg;
    char *comment = eqops__pg_comment_make("tenant", t->name, t->was_ready ? "ready" : "creating",
                                           t->created_at);
    if (comment == NULL)
        return oom(err);
    eqops_buf b = EQOPS_BUF_INIT;
    eqops__buf_puts(&b, "BEGIN; REVOKE ALL ON DATABASE ");
    eqops__pg_ident(&b, c, t->object);
    eqops__buf_puts(&b, " FROM PUBLIC; GRANT CONNECT, TEMPORARY ON DATABASE ");
    eqops__pg_ident(&b, c, t->object);
    eqops__buf_puts(&b, " TO ");
    eqops__pg_ident(&b, c, t->object);
    eqops__buf_puts(&b, "; ALTER DATABASE ");
    eqops__pg_ident(&b, c, t->object);
    /* the role's limit caps the tenant; one on the database would lock the admin out too */
    eqops__buf_puts(&b, " WITH ALLOW_CONNECTIONS true CONNECTION LIMIT -1; ALTER DATABASE ");
    eqops__pg_ident(&b, c, t->object);
    eqops__buf_puts(&b, " RESET ALL");
    for (size_t k = 0; t->opts->settings && t->opts->settings[k]; k++) {
        const char *s = t->opts->settings[k];
        const char *eq = strchr(s, '=');
        char name[64]; /* on the allow-list: no "prefix.name" */
        snprintf(name, sizeof(name), "%.*s", (int)(eq - s), s);
        eqops__buf_puts(&b, "; ALTER DATABASE ");
        eqops__pg_ident(&b, c, t->object);
        eqops__buf_puts(&b, " SET ");
        eqops__pg_ident(&b, c, name);
        eqops__buf_puts(&b, " = ");
        eqops__pg_literal(&b, c, eq + 1);
    }
    eqops__buf_puts(&b, "; COMMENT ON DATABASE ");
    eqops__pg_ident(&b, c, t->object);
    eqops__buf_puts(&b, " IS ");
    eqops__pg_literal(&b, c, comment);
    eqops__buf_puts(&b, "; COMMIT");
    eqops__free(comment);
    int rc = exec_buf(c, "isolate database", &b, err);
    return rc ? rc : settings_left(c, t, err);
}

/* ---- inside the tenant database ------------------------------------------------------------- */

int eqops__pg_tenant_grants(PGconn *c, const char *role, eqops_error *err)
{
    PGresult *r = NULL;
    int rc = eqops__pg_exec(c, "list schemas",
                            "SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_' AND "
                            "nspname NOT IN ('information_schema', 'eqops') ORDER BY 1",
                            0, NULL, &r, err);
    if (rc != 0)
        return rc;
    eqops_buf b = EQOPS_BUF_INIT;
    eqops_buf q = EQOPS_BUF_INIT; /* the quoted role */
    eqops__pg_ident(&q, c, role);
    const char *who = eqops__buf_cstr(&q);
    eqops__buf_puts(&b, "BEGIN");
    for (int i = 0; i < PQntuples(r); i++) {
        eqops_buf s = EQOPS_BUF_INIT;
        eqops__pg_ident(&s, c, PQgetvalue(r, i, 0));
        const char *sch = eqops__buf_cstr(&s);
        eqops__buf_printf(
            &b,
            "; GRANT USAGE ON SCHEMA %s TO %s"
            "; GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %s TO %s"
            "; GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA %s TO %s"
            "; GRANT EXECUTE ON ALL ROUTINES IN SCHEMA %s TO %s"
            "; ALTER DEFAULT PRIVILEGES IN SCHEMA %s GRANT SELECT, INSERT, UPDATE, DELETE ON "
            "TABLES TO %s"
            "; ALTER DEFAULT PRIVILEGES IN SCHEMA %s GRANT USAGE, SELECT, UPDATE ON SEQUENCES "
            "TO %s"
            "; ALTER DEFAULT PRIVILEGES IN SCHEMA %s GRANT EXECUTE ON ROUTINES TO %s",
            sch, who, sch, who, sch, who, sch, who, sch, who, sch, who, sch, who);
        if (s.oom)
            b.oom = true;
        eqops__buf_free(&s);
    }
    PQclear(r);
    /* the application may read its schema version, not change it */
    rc = eqops__pg_exec(c, "find history", "SELECT to_regclass('eqops.schema_history') IS NOT NULL",
                        0, NULL, &r, err);
    if (rc != 0) {
        eqops__buf_free(&b);
        eqops__buf_free(&q);
        return rc;
    }
    if (PQntuples(r) == 1 && !strcmp(PQgetvalue(r, 0, 0), "t"))
        eqops__buf_printf(&b,
                          "; GRANT USAGE ON SCHEMA eqops TO %s"
                          "; GRANT SELECT ON eqops.schema_history TO %s",
                          who, who);
    PQclear(r);
    if (q.oom)
        b.oom = true;
    eqops__buf_puts(&b, "; COMMIT");
    eqops__buf_free(&q);
    return exec_buf(c, "grant tenant privileges", &b, err);
}

typedef struct grants_ctx {
    tenant_ctx *t;
    const pg_migrations *ms;
    int64_t version;
} grants_ctx;

static int grants_step(PGconn *c, void *arg, eqops_error *err)
{
    grants_ctx *g = arg;
    int rc = eqops__pg_tenant_grants(c, g->t->object, err);
    if (rc == 0)
        rc = eqops__pg_schema_version(c, &g->version, err);
    return rc;
}

static int register_step(PGconn *c, void *arg, eqops_error *err)
{
    tenant_ctx *t = arg;
    char *comment = eqops__pg_comment_make("tenant", t->name, "ready", t->created_at);
    if (comment == NULL)
        return oom(err);
    eqops_buf b = EQOPS_BUF_INIT;
    eqops__buf_puts(&b, "COMMENT ON DATABASE ");
    eqops__pg_ident(&b, c, t->object);
    eqops__buf_puts(&b, " IS ");
    eqops__pg_literal(&b, c, comment);
    eqops__free(comment);
    return exec_buf(c, "register tenant", &b, err);
}

static int size_of(eqops_pg *pg, const char *db, int64_t *out)
{
    const char *params[] = {db};
    PGresult *r = NULL;
    *out = -1;
    int rc = eqops__pg_exec(pg->conn, "database size",
                            "SELECT pg_database_size(oid) FROM pg_database WHERE datname = $1 "
                            "AND has_database_privilege(oid, 'CONNECT')",
                            1, params, &r, NULL);
    if (rc == 0 && PQntuples(r) == 1)
        *out = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return rc;
}

/* Common start of the public calls: clears err, checks and clears `out` (when the call has
 * one), checks the name and fills t->object. */
static int tenant_begin(tenant_ctx *t, eqops_pg *pg, const char *name, eqops_pg_tenant **out,
                        bool has_out, eqops_error *err)
{
    eqops_error_clear(err);
    memset(t, 0, sizeof(*t));
    if (has_out && out == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "out", "must not be NULL");
    if (out)
        *out = NULL;
    t->pg = pg;
    t->name = name;
    if (pg == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "pg", "must not be NULL");
    int rc = eqops__pg_name_check(name, "name", err);
    if (rc == 0 && eqops__pg_object_name(pg, name, t->object, sizeof(t->object)) != 0)
        rc = eqops__err_field(err, EQOPS_EINVAL, "name", "too long with the prefix");
    return rc;
}

static int tenant_lock(eqops_pg *pg, PGconn **lock, const char *name, eqops_error *err)
{
    char key[96];
    snprintf(key, sizeof(key), "eqops:tenant:%s", name);
    return eqops__pg_lock_open(pg, lock, key, false, PG_LOCK_WAIT_MS, "tenant lock", err);
}

static const size_t tenant_options_sizes[] = {sizeof(eqops_pg_tenant_options)};

EQOPS__OPTS_INIT_FN(eqops_pg_tenant_options_init, eqops_pg_tenant_options, tenant_options_sizes)

/* Read the caller's options (NULL: defaults) into `o` and check them. */
static int options_read(eqops_pg_tenant_options *o, const eqops_pg_tenant_options *in,
                        eqops_error *err)
{
    int rc = EQOPS__OPTS_READ(o, in, tenant_options_sizes, "pg tenant options", err);
    if (rc != 0)
        return rc;
    if (o->connection_limit < -1 || o->connection_limit > 10000)
        return eqops__err_field(err, EQOPS_EINVAL, "opts.connection_limit",
                                "must be -1 (unlimited), 0 for the default 20, or up to 10000");
    if (o->password) {
        size_t n = strnlen(o->password, 1025);
        if (n < 16 || n > 1024)
            return eqops__err_field(err, EQOPS_EINVAL, "opts.password",
                                    "must be 16 to 1024 bytes (or a SCRAM-SHA-256 verifier)");
    }
    for (size_t k = 0; o->settings && o->settings[k]; k++) {
        char field[32];
        snprintf(field, sizeof(field), "settings[%zu]", k);
        rc = eqops__pg_setting_entry_check(o->settings[k], field, err);
        if (rc != 0)
            return rc;
        if (k >= 100)
            return eqops__err_field(err, EQOPS_EINVAL, "opts.settings", "at most 100");
    }
    return 0;
}

int eqops_pg_tenant_create(eqops_pg_tenant **out, eqops_pg *pg, const char *name,
                           const eqops_pg_tenant_options *opts, eqops_error *err)
{
    eqops_pg_tenant_options oc;
    tenant_ctx t;
    int rc = tenant_begin(&t, pg, name, out, true, err);
    if (rc == 0)
        rc = options_read(&oc, opts, err);
    if (rc != 0)
        return rc;
    t.opts = &oc;
    t.connection_limit = t.opts->connection_limit ? t.opts->connection_limit : 20;
    t.want_password = t.opts->password != NULL || t.opts->rotate_existing;
    pg_migrations ms = {NULL, 0};
    if (t.opts->migrations_dir &&
        (rc = eqops__pg_migrations_load(&ms, t.opts->migrations_dir, err)) != 0)
        return rc;

    PGconn *lock = NULL, *db = NULL;
    rc = tenant_lock(pg, &lock, name, err);
    /* clones wait while a fleet run migrates the template (see fleet.c) */
    if (rc == 0)
        rc =
            eqops__pg_try_lock(lock, PG_LOCK_TEMPLATE, true, PG_LOCK_WAIT_MS, "template lock", err);
    if (rc == 0)
        rc = eqops__pg_run(pg, &pg->conn, NULL, "tenant database", probe_step, &t, err);
    if (rc == 0)
        rc = eqops__pg_run(pg, &pg->conn, NULL, "tenant role", role_step, &t, err);
    if (rc == 0 && (rc = eqops__pg_lock_check(lock, "tenant lock", err)) == 0)
        rc = eqops__pg_run(pg, &pg->conn, NULL, "tenant database", database_step, &t, err);
    if (rc == 0 && (rc = eqops__pg_lock_check(lock, "tenant lock", err)) == 0)
        rc = eqops__pg_run(pg, &pg->conn, NULL, "tenant isolation", isolate_step, &t, err);
    if (rc == 0 && lock != NULL) /* the clone is done: let the fleet have the template */
        eqops__pg_unlock(lock, PG_LOCK_TEMPLATE, true);
    if (rc == 0 && ms.n > 0) {
        /* no template, or a template behind the directory: bring this database up to date */
        pg_migrate_cfg cfg = {PG_MODE_APPLY, PG_LOCK_WAIT_MS, pg->lock_timeout_ms, 0};
        pg_db_result r;
        if (eqops__pg_result_init(&r, t.object, name) != 0)
            rc = oom(err);
        else if (eqops__pg_migrate_db(pg, t.object, &ms, &cfg, &r) != 0)
            rc = eqops__err(err, r.rc, "migrate %s: %s", t.object, r.error);
        eqops__pg_result_free(&r);
    }
    grants_ctx g = {&t, &ms, -1};
    if (rc == 0)
        rc = eqops__pg_run(pg, &db, t.object, "tenant grants", grants_step, &g, err);
    PQfinish(db);
    if (rc == 0 && (rc = eqops__pg_lock_check(lock, "tenant lock", err)) == 0)
        rc = eqops__pg_run(pg, &pg->conn, NULL, "tenant registry", register_step, &t, err);
    PQfinish(lock);
    eqops__pg_migrations_free(&ms);
    eqops_pg_tenant *res = NULL;
    /* a verifier given as the password is not a password: nothing to hand back */
    const char *pw = t.password && strncmp(t.password, "SCRAM-SHA-256$", 14) ? t.password : NULL;
    if (rc == 0 && eqops__pg_tenant_new(pg, name, t.object, pw, &res) != 0)
        rc = oom(err);
    eqops__secret_free(t.password);
    if (rc != 0)
        return rc;
    snprintf(res->database, sizeof(res->database), "%s", t.object);
    snprintf(res->state, sizeof(res->state), "ready");
    res->created = t.db_created;
    res->schema_version = g.version;
    size_of(pg, t.object, &res->size);
    eqops__log(EQOPS_LOG_INFO, MOD, "tenant %s %s (database %s, schema version %lld)", name,
               t.db_created ? "created" : "converged", t.object, (long long)g.version);
    *out = res;
    return 0;
}

/* ---- show, rotate, drop --------------------------------------------------------------------- */

typedef struct show_ctx {
    tenant_ctx *t;
    bool role_ours, db_ours, db_allowconn;
    int64_t size;
    char state[16];
} show_ctx;

static int show_step(PGconn *c, void *arg, eqops_error *err)
{
    show_ctx *s = arg;
    const char *params[] = {s->t->object};
    PGresult *r = NULL;
    int rc = eqops__pg_exec(
        c, "find tenant",
        "SELECT (SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1), "
        "d.comment, d.size, d.datallowconn FROM (SELECT 1) one LEFT JOIN (SELECT "
        "shobj_description(oid, 'pg_database') AS comment, datallowconn, CASE WHEN "
        "has_database_privilege(oid, 'CONNECT') THEN pg_database_size(oid) END AS size FROM "
        "pg_database WHERE datname = $1) d ON true",
        1, params, &r, err);
    if (rc != 0)
        return rc;
    json_t *rc_doc = NULL, *db_doc = NULL;
    s->role_ours = eqops__pg_comment_parse(PQgetisnull(r, 0, 0) ? NULL : PQgetvalue(r, 0, 0),
                                           "tenant", s->t->name, &rc_doc);
    s->db_ours = eqops__pg_comment_parse(PQgetisnull(r, 0, 1) ? NULL : PQgetvalue(r, 0, 1),
                                         "tenant", s->t->name, &db_doc);
    s->size = PQgetisnull(r, 0, 2) ? -1 : strtoll(PQgetvalue(r, 0, 2), NULL, 10);
    s->db_allowconn = !strcmp(PQgetvalue(r, 0, 3), "t");
    const char *state = db_doc ? json_string_value(json_object_get(db_doc, "state")) : NULL;
    snprintf(s->state, sizeof(s->state), "%s",
             state ? state : (s->role_ours ? "creating" : "unknown"));
    if (s->db_ours && !s->db_allowconn)
        snprintf(s->state, sizeof(s->state), "dropping");
    json_decref(rc_doc);
    json_decref(db_doc);
    PQclear(r);
    return 0;
}

int eqops_pg_tenant_show(eqops_pg_tenant **out, eqops_pg *pg, const char *name, eqops_error *err)
{
    tenant_ctx t;
    int rc = tenant_begin(&t, pg, name, out, true, err);
    if (rc != 0)
        return rc;
    show_ctx s = {&t, false, false, false, -1, ""};
    rc = eqops__pg_run(pg, &pg->conn, NULL, "show tenant", show_step, &s, err);
    if (rc != 0)
        return rc;
    if (!s.role_ours && !s.db_ours)
        return eqops__err(err, EQOPS_ENOTFOUND, "no tenant named %s", name);
    eqops_pg_tenant *res = NULL;
    if (eqops__pg_tenant_new(pg, name, t.object, NULL, &res) != 0)
        return oom(err);
    if (s.db_ours)
        snprintf(res->database, sizeof(res->database), "%s", t.object);
    snprintf(res->state, sizeof(res->state), "%s", s.state);
    res->size = s.size;
    if (s.db_ours && s.db_allowconn) {
        PGconn *c = NULL;
        if ((rc = eqops__pg_connect_db(pg, &c, t.object, err)) == 0)
            rc = eqops__pg_schema_version(c, &res->schema_version, err);
        PQfinish(c);
        if (rc != 0) {
            eqops_pg_tenant_free(res);
            return rc;
        }
    }
    *out = res;
    return 0;
}

int eqops_pg_tenant_rotate(eqops_pg_tenant **out, eqops_pg *pg, const char *name, eqops_error *err)
{
    tenant_ctx t;
    int rc = tenant_begin(&t, pg, name, out, true, err);
    if (rc != 0)
        return rc;
    eqops_pg_tenant_options defaults = EQOPS_PG_TENANT_OPTIONS_INIT;
    t.opts = &defaults;
    t.want_password = true;
    show_ctx s = {&t, false, false, false, -1, ""};
    PGconn *lock = NULL;
    rc = tenant_lock(pg, &lock, name, err);
    if (rc == 0)
        rc = eqops__pg_run(pg, &pg->conn, NULL, "show tenant", show_step, &s, err);
    if (rc == 0 && !s.role_ours)
        rc = eqops__err(err, EQOPS_ENOTFOUND, "no tenant role for %s", name);
    /* keep the role's connection limit as it is */
    PGresult *r = NULL;
    const char *params[] = {t.object};
    if (rc == 0 && (rc = eqops__pg_exec(pg->conn, "role limit",
                                        "SELECT rolconnlimit FROM pg_roles WHERE rolname = $1", 1,
                                        params, &r, err)) == 0) {
        t.connection_limit = PQntuples(r) == 1 ? atoi(PQgetvalue(r, 0, 0)) : 20;
        PQclear(r);
    }
    if (rc == 0)
        rc = eqops__pg_run(pg, &pg->conn, NULL, "rotate password", role_step, &t, err);
    PQfinish(lock);
    eqops_pg_tenant *res = NULL;
    if (rc == 0 && eqops__pg_tenant_new(pg, name, t.object, t.password, &res) != 0)
        rc = oom(err);
    eqops__secret_free(t.password);
    if (rc != 0)
        return rc;
    if (s.db_ours)
        snprintf(res->database, sizeof(res->database), "%s", t.object);
    snprintf(res->state, sizeof(res->state), "%s", s.state);
    res->size = s.size;
    eqops__log(EQOPS_LOG_INFO, MOD, "rotated the password of %s", t.object);
    *out = res;
    return 0;
}

static int drop_step(PGconn *c, void *arg, eqops_error *err)
{
    tenant_ctx *t = arg;
    const char *params[] = {t->object};
    PGresult *r = NULL;
    int rc = eqops__pg_exec(c, "find role",
                            "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE "
                            "rolname = $1",
                            1, params, &r, err);
    if (rc != 0)
        return rc;
    bool role_exists = PQntuples(r) == 1;
    json_t *doc = NULL;
    bool role_ours =
        role_exists && eqops__pg_comment_parse(PQgetisnull(r, 0, 0) ? NULL : PQgetvalue(r, 0, 0),
                                               "tenant", t->name, &doc);
    json_decref(doc);
    PQclear(r);
    eqops_error foreign = EQOPS_ERROR_INIT;
    int found = find_database(c, t, &foreign);
    if (found < 0 && found != EQOPS_EEXISTS) {
        if (err)
            *err = foreign;
        else
            eqops_error_clear(&foreign);
        return found;
    }
    eqops_buf b = EQOPS_BUF_INIT;
    if (found == 1) {
        /* no new sessions, then end the open ones with the drop */
        eqops__buf_puts(&b, "BEGIN; ALTER DATABASE ");
        eqops__pg_ident(&b, c, t->object);
        eqops__buf_puts(&b, " WITH ALLOW_CONNECTIONS false; REVOKE ALL ON DATABASE ");
        eqops__pg_ident(&b, c, t->object);
        eqops__buf_puts(&b, " FROM PUBLIC");
        if (role_exists) {
            eqops__buf_puts(&b, ", ");
            eqops__pg_ident(&b, c, t->object);
        }
        eqops__buf_puts(&b, "; COMMIT");
        if ((rc = exec_buf(c, "revoke connect", &b, err)) != 0)
            return rc;
        eqops__buf_puts(&b, "DROP DATABASE IF EXISTS ");
        eqops__pg_ident(&b, c, t->object);
        eqops__buf_puts(&b, " WITH (FORCE)");
        if ((rc = exec_buf(c, "drop database", &b, err)) != 0)
            return rc;
        eqops__log(EQOPS_LOG_INFO, MOD, "dropped database %s", t->object);
    }
    if (role_exists && !role_ours)
        return eqops__err(err, EQOPS_EEXISTS, "role %s is not an eqops tenant role; %s", t->object,
                          found == 1 ? "the database was dropped, the role left alone"
                                     : "left alone");
    if (role_exists) {
        eqops__buf_puts(&b, "DROP ROLE IF EXISTS ");
        eqops__pg_ident(&b, c, t->object);
        if ((rc = exec_buf(c, "drop role", &b, err)) != 0)
            return rc;
        eqops__log(EQOPS_LOG_INFO, MOD, "dropped role %s", t->object);
    }
    if (found == EQOPS_EEXISTS) { /* someone else's database: left alone, and said so */
        if (err) {
            eqops_error_clear(err);
            *err = foreign;
        } else {
            eqops_error_clear(&foreign);
        }
        return EQOPS_EEXISTS;
    }
    return 0;
}

int eqops_pg_tenant_drop(eqops_pg *pg, const char *name, const char *confirm, eqops_error *err)
{
    tenant_ctx t;
    int rc = tenant_begin(&t, pg, name, NULL, false, err);
    if (rc != 0)
        return rc;
    if (confirm == NULL || strcmp(confirm, name) != 0)
        return eqops__err_field(err, EQOPS_EINVAL, "confirm",
                                "must repeat the tenant name to drop %s and its data", name);
    PGconn *lock = NULL;
    rc = tenant_lock(pg, &lock, name, err);
    if (rc == 0)
        rc = eqops__pg_run(pg, &pg->conn, NULL, "drop tenant", drop_step, &t, err);
    PQfinish(lock);
    return rc;
}
