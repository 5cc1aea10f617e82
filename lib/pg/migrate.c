/*
 * migrate.c - versioned migration files, the per-database history table and applying pending
 * migrations to one database: locked with a deadline, one transaction per migration.
 */
#include "pg_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>

#define MOD                "pg"
#define MIGRATION_MAX_SIZE (16u * 1024 * 1024)
#define MIGRATIONS_MAX     10000
#define NO_TXN_MARK        "-- eqops:no-transaction"

/* ---- files ------------------------------------------------------------------------------- */

void eqops__pg_migrations_free(pg_migrations *ms)
{
    if (ms == NULL)
        return;
    for (size_t i = 0; i < ms->n; i++) {
        eqops__free(ms->m[i].description);
        eqops__free(ms->m[i].file);
        eqops__free(ms->m[i].sql);
    }
    eqops__free(ms->m);
    ms->m = NULL;
    ms->n = 0;
}

int64_t eqops__pg_migrations_target(const pg_migrations *ms)
{
    return ms->n ? ms->m[ms->n - 1].version : 0;
}

static int cmp_version(const void *a, const void *b)
{
    const pg_migration *x = a, *y = b;
    return x->version < y->version ? -1 : x->version > y->version;
}

/* Parse "V<digits>__<description>.sql". 0, 1 (not a .sql file: ignored) or EQOPS_EINVAL. */
static int parse_name(const char *name, int64_t *version, const char **desc, size_t *desc_len,
                      eqops_error *err)
{
    size_t n = strlen(name);
    if (n < 4 || strcmp(name + n - 4, ".sql") != 0)
        return 1;
    const char *rule = "must be named V<version>__<description>.sql (version a positive "
                       "integer, description letters, digits, '_' and '-')";
    if (name[0] != 'V')
        return eqops__err_field(err, EQOPS_EINVAL, name, "%s", rule);
    const char *p = name + 1;
    int64_t v = 0;
    size_t digits = 0;
    while (*p >= '0' && *p <= '9') {
        if (v > (INT64_MAX - 9) / 10)
            return eqops__err_field(err, EQOPS_EINVAL, name, "version is too large");
        v = v * 10 + (*p - '0');
        p++;
        digits++;
    }
    if (digits == 0 || v <= 0 || p[0] != '_' || p[1] != '_')
        return eqops__err_field(err, EQOPS_EINVAL, name, "%s", rule);
    p += 2;
    const char *end = name + n - 4;
    if (p >= end)
        return eqops__err_field(err, EQOPS_EINVAL, name, "%s", rule);
    for (const char *q = p; q < end; q++) {
        char ch = *q;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-'))
            return eqops__err_field(err, EQOPS_EINVAL, name, "%s", rule);
    }
    *version = v;
    *desc = p;
    *desc_len = (size_t)(end - p);
    return 0;
}

static void sha256_hex(const char *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
        out[0] = '\0';
        return;
    }
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

static int load_one(pg_migration *m, const char *dir, const char *name, int64_t version,
                    const char *desc, size_t desc_len, eqops_error *err)
{
    eqops_buf path = EQOPS_BUF_INIT;
    eqops__buf_printf(&path, "%s/%s", dir, name);
    if (eqops__buf_ok(&path) != 0)
        return eqops__err(err, EQOPS_ENOMEM, "migrations: out of memory");
    size_t len = 0;
    int rc = eqops__read_file(&m->sql, &len, eqops__buf_cstr(&path), MIGRATION_MAX_SIZE, err);
    eqops__buf_free(&path);
    if (rc != 0)
        return rc;
    m->version = version;
    m->file = eqops__strdup(name);
    m->description = eqops__strndup(desc, desc_len);
    if (!m->file || !m->description)
        return eqops__err(err, EQOPS_ENOMEM, "migrations: out of memory");
    if (memchr(m->sql, '\0', len) != NULL)
        return eqops__err_field(err, EQOPS_EINVAL, name, "contains a NUL byte");
    sha256_hex(m->sql, len, m->checksum);
    if (m->checksum[0] == '\0')
        return eqops__err(err, EQOPS_EINTERNAL, "%s: SHA-256 failed", name);
    size_t mark = strlen(NO_TXN_MARK);
    m->no_transaction = strncmp(m->sql, NO_TXN_MARK, mark) == 0 &&
                        (m->sql[mark] == '\n' || m->sql[mark] == '\r' || m->sql[mark] == '\0');
    return 0;
}

int eqops__pg_migrations_load(pg_migrations *out, const char *dir, eqops_error *err)
{
    out->m = NULL;
    out->n = 0;
    if (dir == NULL || *dir == '\0')
        return eqops__err_field(err, EQOPS_EINVAL, "migrations_dir", "is required");
    static const char *const exts[] = {".sql", NULL};
    eqops_paths files = {0};
    eqops_error le = EQOPS_ERROR_INIT;
    int rc = eqops__dir_files(&files, dir, exts, false, MIGRATIONS_MAX, &le);
    if (rc != 0) {
        eqops__err_field(err, rc, "migrations_dir", "%s", le.message);
        eqops_error_clear(&le);
        return rc;
    }
    size_t cap = 0;
    for (size_t i = 0; rc == 0 && i < files.n; i++) {
        const char *name = strrchr(files.v[i], '/') + 1;
        if (name[0] == '.')
            continue;
        int64_t version = 0;
        const char *desc = NULL;
        size_t desc_len = 0;
        int pr = parse_name(name, &version, &desc, &desc_len, err);
        if (pr == 1)
            continue; /* README, notes: not migrations */
        if (pr != 0) {
            rc = pr;
            break;
        }
        if (out->n == cap) {
            size_t ncap = cap ? cap * 2 : 32;
            pg_migration *nm = eqops__realloc(out->m, ncap * sizeof(*nm));
            if (nm == NULL) {
                rc = eqops__err(err, EQOPS_ENOMEM, "migrations: out of memory");
                break;
            }
            out->m = nm;
            cap = ncap;
        }
        pg_migration *m = &out->m[out->n++];
        memset(m, 0, sizeof(*m));
        rc = load_one(m, dir, name, version, desc, desc_len, err);
    }
    eqops__paths_free(&files);
    if (rc == 0 && out->n > 1) {
        qsort(out->m, out->n, sizeof(out->m[0]), cmp_version);
        for (size_t i = 1; i < out->n; i++)
            if (out->m[i].version == out->m[i - 1].version) {
                rc = eqops__err_field(err, EQOPS_EINVAL, out->m[i].file,
                                      "version %" PRId64 " is also used by %s", out->m[i].version,
                                      out->m[i - 1].file);
                break;
            }
    }
    if (rc != 0)
        eqops__pg_migrations_free(out);
    return rc;
}

static const pg_migration *find_version(const pg_migrations *ms, int64_t v)
{
    pg_migration key = {.version = v};
    if (ms->n == 0)
        return NULL;
    return bsearch(&key, ms->m, ms->n, sizeof(ms->m[0]), cmp_version);
}

/* ---- results ------------------------------------------------------------------------------ */

int eqops__pg_result_init(pg_db_result *r, const char *database, const char *tenant)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->database, sizeof(r->database), "%s", database);
    snprintf(r->tenant, sizeof(r->tenant), "%s", tenant ? tenant : "");
    r->from = r->to = -1;
    r->status = "skipped";
    r->applied = json_array();
    r->pending = json_array();
    r->edited = json_array();
    r->missing = json_array();
    return r->applied && r->pending && r->edited && r->missing ? 0 : EQOPS_ENOMEM;
}

void eqops__pg_result_free(pg_db_result *r)
{
    json_decref(r->applied);
    json_decref(r->pending);
    json_decref(r->edited);
    json_decref(r->missing);
    r->applied = r->pending = r->edited = r->missing = NULL;
}

/* ---- history -------------------------------------------------------------------------------- */

static const char history_ddl[] = "CREATE SCHEMA IF NOT EXISTS eqops; "
                                  "CREATE TABLE IF NOT EXISTS eqops.schema_history ("
                                  " version bigint PRIMARY KEY,"
                                  " description text NOT NULL,"
                                  " checksum text NOT NULL,"
                                  " transactional boolean NOT NULL,"
                                  " execution_ms integer NOT NULL,"
                                  " applied_by text NOT NULL DEFAULT current_user,"
                                  " applied_at timestamptz NOT NULL DEFAULT now())";

int eqops__pg_schema_version(PGconn *c, int64_t *out, eqops_error *err)
{
    PGresult *r = NULL;
    *out = -1;
    int rc =
        eqops__pg_exec(c, "schema version",
                       "SELECT to_regclass('eqops.schema_history') IS NOT NULL", 0, NULL, &r, err);
    if (rc != 0)
        return rc;
    bool have = PQntuples(r) == 1 && !strcmp(PQgetvalue(r, 0, 0), "t");
    PQclear(r);
    if (!have)
        return 0;
    rc = eqops__pg_exec(c, "schema version",
                        "SELECT coalesce(max(version), 0) FROM eqops.schema_history", 0, NULL, &r,
                        err);
    if (rc == 0 && PQntuples(r) == 1)
        *out = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return rc;
}

static bool append_version(json_t *arr, int64_t v)
{
    return eqops__jappend(arr, json_integer(v));
}

/* Compare the history with the files; fills r's lists and from/to. */
static int compare_history(PGconn *c, const pg_migrations *ms, pg_db_result *r, char *problem,
                           size_t problem_len, eqops_error *err)
{
    PGresult *res = NULL;
    int rc =
        eqops__pg_exec(c, "read history", "SELECT to_regclass('eqops.schema_history') IS NOT NULL",
                       0, NULL, &res, err);
    if (rc != 0)
        return rc;
    bool have = PQntuples(res) == 1 && !strcmp(PQgetvalue(res, 0, 0), "t");
    PQclear(res);
    res = NULL;
    if (have &&
        (rc = eqops__pg_exec(c, "read history",
                             "SELECT version, checksum FROM eqops.schema_history ORDER BY version",
                             0, NULL, &res, err)) != 0)
        return rc;
    int rows = res ? PQntuples(res) : 0;
    int64_t max_applied = 0;
    bool ok = true;
    problem[0] = '\0';
    for (int i = 0; i < rows; i++) {
        int64_t v = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        const char *sum = PQgetvalue(res, i, 1);
        if (v > max_applied)
            max_applied = v;
        const pg_migration *m = find_version(ms, v);
        if (m == NULL) {
            ok = ok && append_version(r->missing, v);
            if (!problem[0])
                snprintf(problem, problem_len,
                         "version %" PRId64 " was applied but has no file in the directory", v);
        } else if (strcmp(m->checksum, sum) != 0) {
            ok = ok && eqops__jappend(r->edited, json_string(m->file));
            if (!problem[0])
                snprintf(problem, problem_len,
                         "%s was edited after it was applied (recorded sha256 %.12s..., file "
                         "%.12s...): add a new migration instead",
                         m->file, sum, m->checksum);
        }
    }
    for (size_t i = 0; i < ms->n; i++) {
        bool applied = false;
        for (int k = 0; k < rows && !applied; k++)
            applied = strtoll(PQgetvalue(res, k, 0), NULL, 10) == ms->m[i].version;
        if (applied)
            continue;
        ok = ok && append_version(r->pending, ms->m[i].version);
        if (ms->m[i].version < max_applied && !problem[0])
            snprintf(problem, problem_len,
                     "%s is pending but the later version %" PRId64 " is applied (out of order)",
                     ms->m[i].file, max_applied);
    }
    PQclear(res);
    r->from = r->to = max_applied;
    if (!ok)
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    return 0;
}

/* ---- applying ------------------------------------------------------------------------------ */

/* Any index left INVALID by a failed CREATE INDEX CONCURRENTLY (IF NOT EXISTS would then skip
 * it for good). */
static int invalid_indexes(PGconn *c, const pg_migration *m, eqops_error *err)
{
    PGresult *r = NULL;
    int rc = eqops__pg_exec(c, m->file,
                            "SELECT string_agg(format('%I.%I', n.nspname, ic.relname), ', ') "
                            "FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid "
                            "JOIN pg_namespace n ON n.oid = ic.relnamespace "
                            "WHERE NOT i.indisvalid",
                            0, NULL, &r, err);
    if (rc == 0 && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
        rc = eqops__err(err, EQOPS_EINVAL,
                        "%s: invalid index %s (a failed concurrent build): drop it, then run "
                        "again",
                        m->file, PQgetvalue(r, 0, 0));
    PQclear(r);
    return rc;
}

static int apply_one(PGconn *c, const pg_migration *m, const pg_migrate_cfg *cfg, eqops_error *err)
{
    /* a clean session for each migration: settings an earlier file changed are undone (back
     * to eqops's startup options, not to the database's settings) */
    int rc = eqops__pg_exec(c, m->file, "RESET ALL", 0, NULL, NULL, err);
    char prelude[160];
    snprintf(prelude, sizeof(prelude), "%sSET %slock_timeout = %ld; SET %sstatement_timeout = %ld",
             m->no_transaction ? "" : "BEGIN; ", m->no_transaction ? "" : "LOCAL ",
             cfg->lock_timeout_ms, m->no_transaction ? "" : "LOCAL ", cfg->statement_timeout_ms);
    if (rc == 0)
        rc = eqops__pg_exec(c, m->file, prelude, 0, NULL, NULL, err);
    if (rc != 0)
        return rc;
    int64_t t0 = eqops__mono_ms();
    rc = eqops__pg_exec(c, m->file, m->sql, 0, NULL, NULL, err);
    if (rc != 0 && m->no_transaction && err != NULL)
        err->reason[0] = '\0'; /* it may have done part of its work: never retried by itself */
    if (rc != 0)
        return rc;
    if (m->no_transaction) {
        /* back to the admin timeouts for the bookkeeping */
        if ((rc = eqops__pg_exec(c, m->file, "RESET ALL", 0, NULL, NULL, err)) != 0 ||
            (rc = invalid_indexes(c, m, err)) != 0)
            return rc;
    } else if (PQtransactionStatus(c) != PQTRANS_INTRANS) {
        return eqops__err(err, EQOPS_EINVAL,
                          "%s: the file ended the migration's transaction (COMMIT or ROLLBACK "
                          "inside it); remove it, or mark the file '" NO_TXN_MARK "'",
                          m->file);
    }
    char version[24], ms_text[24];
    snprintf(version, sizeof(version), "%" PRId64, m->version);
    snprintf(ms_text, sizeof(ms_text), "%" PRId64, eqops__mono_ms() - t0);
    const char *params[] = {version, m->description, m->checksum,
                            m->no_transaction ? "false" : "true", ms_text};
    rc = eqops__pg_exec(c, m->file,
                        "INSERT INTO eqops.schema_history (version, description, checksum, "
                        "transactional, execution_ms) VALUES ($1, $2, $3, $4, $5)",
                        5, params, NULL, err);
    if (rc == 0 && !m->no_transaction)
        rc = eqops__pg_exec(c, m->file, "COMMIT", 0, NULL, NULL, err);
    if (rc == 0)
        eqops__log(EQOPS_LOG_INFO, MOD, "applied %s (%s ms)", m->file, ms_text);
    return rc;
}

static int migrate_once(eqops_pg *pg, PGconn *c, const pg_migrations *ms, const pg_migrate_cfg *cfg,
                        pg_db_result *r, bool first_attempt, eqops_error *err)
{
    int rc = 0;
    bool locked = false;
    if (cfg->mode == PG_MODE_APPLY) {
        if ((rc = eqops__pg_session_settings_check(c, r->database, err)) != 0 ||
            (rc = eqops__pg_try_lock(c, PG_LOCK_MIGRATE, false, cfg->lock_wait_ms, "migration lock",
                                     err)) != 0)
            return rc;
        locked = true;
        rc = eqops__pg_exec(c, "create history table", history_ddl, 0, NULL, NULL, err);
    }
    /* what is pending is read again on each attempt; what was applied adds up */
    int64_t from = r->from;
    if (cfg->mode != PG_MODE_APPLY)
        json_array_clear(r->applied);
    json_array_clear(r->pending);
    json_array_clear(r->edited);
    json_array_clear(r->missing);
    char problem[224];
    if (rc == 0)
        rc = compare_history(c, ms, r, problem, sizeof(problem), err);
    if (!first_attempt)
        r->from = from;
    if (rc == 0 && cfg->mode != PG_MODE_INSPECT && problem[0])
        rc = eqops__err(err, EQOPS_EINVAL, "%s", problem);
    for (size_t i = 0; rc == 0 && cfg->mode != PG_MODE_INSPECT && i < json_array_size(r->pending);
         i++) {
        int64_t v = json_integer_value(json_array_get(r->pending, i));
        const pg_migration *m = find_version(ms, v);
        if (cfg->mode == PG_MODE_APPLY)
            rc = apply_one(c, m, cfg, err);
        if (rc == 0) {
            if (!append_version(r->applied, v))
                rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
            r->to = v;
        }
    }
    /* the tenant role's privileges on what the migrations made (new schemas, and tables the
     * default privileges do not cover); idempotent, so also after a retry */
    if (rc == 0 && cfg->mode == PG_MODE_APPLY && r->tenant[0])
        rc = eqops__pg_tenant_grants(c, r->database, err);
    if (locked && PQstatus(c) == CONNECTION_OK) {
        if (PQtransactionStatus(c) != PQTRANS_IDLE)
            PQclear(PQexec(c, "ROLLBACK"));
        eqops__pg_unlock(c, PG_LOCK_MIGRATE, false);
    }
    return rc;
}

int eqops__pg_migrate_db(eqops_pg *pg, const char *db, const pg_migrations *ms,
                         const pg_migrate_cfg *cfg, pg_db_result *r)
{
    eqops_error e = EQOPS_ERROR_INIT;
    int64_t t0 = eqops__mono_ms();
    int rc = 0;
    for (int attempt = 0;; attempt++) {
        PGconn *c = NULL;
        rc = eqops__pg_connect_db(pg, &c, db, &e);
        if (rc != 0)
            break; /* connect_db retried already */
        rc = migrate_once(pg, c, ms, cfg, r, attempt == 0, &e);
        PQfinish(c);
        if (rc == 0 || !eqops__pg_transient(&e) || attempt >= pg->max_retries)
            break;
        eqops__log(EQOPS_LOG_WARN, MOD, "%s: %s [%s]; retrying (attempt %d of %d)", db, e.message,
                   e.reason, attempt + 1, pg->max_retries);
        if (eqops__pg_retry_wait(pg, PG_BACKOFF_BASE_MS, PG_BACKOFF_CAP_MS, attempt + 1, 0) < 0) {
            rc = eqops__err(&e, EQOPS_ECANCELED, "%s: cancelled", db);
            break;
        }
    }
    r->rc = rc;
    r->ms = eqops__mono_ms() - t0;
    if (rc != 0) {
        snprintf(r->error, sizeof(r->error), "%s", e.message);
        r->status = "failed";
        eqops__log(EQOPS_LOG_ERROR, MOD, "%s: %s", db, e.message);
    } else {
        r->status = cfg->mode == PG_MODE_PLAN ? "planned" : "ok";
    }
    eqops_error_clear(&e);
    return rc;
}

/* ---- the template -----------------------------------------------------------------------------
 */

typedef struct template_ctx {
    eqops_pg *pg;
    bool created;
} template_ctx;

static int template_step(PGconn *c, void *arg, eqops_error *err)
{
    template_ctx *t = arg;
    const char *params[] = {t->pg->template_db};
    PGresult *r = NULL;
    int rc = eqops__pg_exec(c, "find template",
                            "SELECT shobj_description(oid, 'pg_database'), "
                            "datdba = (SELECT oid FROM pg_roles WHERE rolname = current_user) "
                            "AND NOT datallowconn FROM pg_database WHERE datname = $1",
                            1, params, &r, err);
    if (rc != 0)
        return rc;
    bool exists = PQntuples(r) == 1;
    bool commented = exists && !PQgetisnull(r, 0, 0);
    bool ours = commented && strstr(PQgetvalue(r, 0, 0), "\"eqops\":\"template\"") != NULL;
    /* created by us (ALLOW_CONNECTIONS false until registered), stopped before the comment */
    bool adopt = exists && !commented && !strcmp(PQgetvalue(r, 0, 1), "t");
    PQclear(r);
    if (ours)
        return 0;
    if (exists && !adopt && !t->created)
        return eqops__err(err, EQOPS_EEXISTS,
                          "database %s exists and is not an eqops template (it has another "
                          "comment or owner); choose another template_db",
                          t->pg->template_db);
    eqops_buf sql = EQOPS_BUF_INIT;
    if (!exists) {
        eqops__buf_puts(&sql, "CREATE DATABASE ");
        eqops__pg_ident(&sql, c, t->pg->template_db);
        eqops__buf_puts(&sql, " TEMPLATE template0 STRATEGY WAL_LOG ALLOW_CONNECTIONS false");
        rc = eqops__buf_ok(&sql)
                 ? EQOPS_ENOMEM
                 : eqops__pg_exec(c, "create template", eqops__buf_cstr(&sql), 0, NULL, NULL, err);
        if (rc != 0 && rc != EQOPS_EEXISTS) {
            eqops__buf_free(&sql);
            return rc == EQOPS_ENOMEM ? eqops__err(err, rc, "out of memory") : rc;
        }
        t->created = true;
    }
    eqops__buf_truncate(&sql, 0);
    eqops__buf_puts(&sql, "BEGIN; REVOKE ALL ON DATABASE ");
    eqops__pg_ident(&sql, c, t->pg->template_db);
    eqops__buf_puts(&sql, " FROM PUBLIC; COMMENT ON DATABASE ");
    eqops__pg_ident(&sql, c, t->pg->template_db);
    eqops__buf_puts(&sql, " IS '{\"eqops\":\"template\"}'; ALTER DATABASE ");
    eqops__pg_ident(&sql, c, t->pg->template_db);
    eqops__buf_puts(&sql, " WITH ALLOW_CONNECTIONS true; COMMIT");
    rc = eqops__buf_ok(&sql)
             ? eqops__err(err, EQOPS_ENOMEM, "out of memory")
             : eqops__pg_exec(c, "isolate template", eqops__buf_cstr(&sql), 0, NULL, NULL, err);
    eqops__buf_free(&sql);
    return rc;
}

int eqops__pg_template_create(eqops_pg *pg, bool *created, eqops_error *err)
{
    template_ctx t = {pg, false};
    int rc = eqops__pg_run(pg, &pg->conn, NULL, "template", template_step, &t, err);
    if (created)
        *created = t.created;
    if (rc == 0 && t.created)
        eqops__log(EQOPS_LOG_INFO, MOD, "created the template database %s", pg->template_db);
    return rc;
}

int eqops_pg_template_ensure(eqops_pg *pg, const char *migrations_dir, eqops_error *err)
{
    eqops_error_clear(err);
    if (pg == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "pg", "must not be NULL");
    pg_migrations ms;
    int rc = eqops__pg_migrations_load(&ms, migrations_dir, err);
    if (rc != 0)
        return rc;
    PGconn *lock = NULL;
    rc = eqops__pg_lock_open(pg, &lock, PG_LOCK_TEMPLATE, false, PG_LOCK_WAIT_MS, "template lock",
                             err);
    if (rc == 0)
        rc = eqops__pg_template_create(pg, NULL, err);
    if (rc == 0) {
        pg_migrate_cfg cfg = {PG_MODE_APPLY, PG_LOCK_WAIT_MS, pg->lock_timeout_ms, 0};
        pg_db_result r;
        if (eqops__pg_result_init(&r, pg->template_db, NULL) != 0)
            rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
        else if (eqops__pg_migrate_db(pg, pg->template_db, &ms, &cfg, &r) != 0)
            rc = eqops__err(err, r.rc, "template %s: %s", pg->template_db, r.error);
        eqops__pg_result_free(&r);
    }
    PQfinish(lock);
    eqops__pg_migrations_free(&ms);
    return rc;
}
