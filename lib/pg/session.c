/*
 * session.c - the admin conninfo (parsed once; values wiped on close) and the settings every
 * eqops session starts with, so that a tenant database's own settings (ALTER DATABASE ... SET)
 * never change what eqops's migrations write there or how eqops reads and compares it.
 *
 * The settings are startup options ("options=-c name=value ..."): they take precedence over a
 * database's and a role's settings, and RESET ALL and DISCARD ALL go back to them, not to the
 * database's. The conninfo's own options come after eqops's, so an operator can still set
 * anything for eqops's sessions on purpose.
 */
#include "pg_internal.h"

#include <stdio.h>
#include <stdlib.h>

/* ---- conninfo ------------------------------------------------------------------------------ */

static int add_param(eqops_pg *pg, int *n, const char *kw, const char *val)
{
    if (*n >= PG_MAX_PARAMS)
        return EQOPS_EINVAL;
    pg->keywords[*n] = eqops__strdup(kw);
    pg->values[*n] = eqops__strdup(val);
    if (!pg->keywords[*n] || !pg->values[*n]) {
        eqops__free(pg->keywords[*n]);
        eqops__secret_free(pg->values[*n]);
        pg->keywords[*n] = pg->values[*n] = NULL;
        return EQOPS_ENOMEM;
    }
    (*n)++;
    return 0;
}

static bool is_uri(const char *s)
{
    return strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0;
}

/* libpq takes a URI's user:password up to the first '@' or '/': a password holding '@', '/'
 * or ':' unencoded ends up, in part, in the host, port, database or a parameter, and from
 * there in libpq's messages ("could not translate host name "S3cr3t@db1""). Such a URI always
 * leaves an '@' outside the user and the password; the user may hold one (%40, as in
 * "name@server"). */
static const char *uri_misparsed(const PQconninfoOption *opts)
{
    for (const PQconninfoOption *o = opts; o->keyword; o++)
        if (o->val && strchr(o->val, '@') && strcmp(o->keyword, "password") != 0 &&
            strcmp(o->keyword, "user") != 0)
            return o->keyword;
    return NULL;
}

static void wipe_options(PQconninfoOption *opts)
{
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (o->val)
            eqops__wipe(o->val, strlen(o->val));
    PQconninfoFree(opts);
}

/* Whether the host list (the conninfo's, else PGHOST's) names more than one server. */
static bool several_hosts(const eqops_pg *pg)
{
    const char *h = eqops__pg_param(pg, "host"), *a = eqops__pg_param(pg, "hostaddr");
    if (h == NULL && a == NULL) {
        h = getenv("PGHOST");
        a = getenv("PGHOSTADDR");
    }
    return (h && strchr(h, ',')) || (a && strchr(a, ','));
}

int eqops__pg_conninfo_parse(eqops_pg *pg, const char *conninfo, long connect_timeout,
                             eqops_error *err)
{
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &msg);
    if (opts == NULL) {
        bool oom = msg == NULL;
        /* libpq's message may quote parts of the string, which can hold a password */
        PQfreemem(msg);
        return oom ? eqops__err(err, EQOPS_ENOMEM, "conninfo: out of memory")
                   : eqops__err_field(err, EQOPS_EINVAL, "conninfo",
                                      "not a valid libpq connection string or URI (the text "
                                      "is not repeated here: it may hold a password)");
    }
    const char *bad = is_uri(conninfo) ? uri_misparsed(opts) : NULL;
    if (bad != NULL) {
        int rc = eqops__err_field(err, EQOPS_EINVAL, "conninfo",
                                  "the URI's %s holds an '@': a password holding '@' or '/' "
                                  "must be percent-encoded (%%40, %%2F, %%3A), or use "
                                  "keywords (password=...) or PGPASSWORD; the text is not "
                                  "repeated here: it may hold a password",
                                  bad);
        wipe_options(opts);
        return rc;
    }
    int n = 0, rc = 0;
    bool have_timeout = false, have_app = false, have_tsa = false, have_db = false,
         have_keepalive = false;
    const char *user_options = "";
    for (PQconninfoOption *o = opts; o->keyword && rc == 0; o++) {
        if (o->val == NULL || o->val[0] == '\0')
            continue;
        if (!strcmp(o->keyword, "options")) {
            user_options = o->val; /* put back after eqops's own (see eqops__pg_pins_set) */
            continue;
        }
        if (!strcmp(o->keyword, "connect_timeout"))
            have_timeout = true;
        else if (!strcmp(o->keyword, "application_name"))
            have_app = true;
        else if (!strcmp(o->keyword, "target_session_attrs"))
            have_tsa = true;
        else if (!strcmp(o->keyword, "dbname"))
            have_db = true;
        else if (!strncmp(o->keyword, "keepalives", 10))
            have_keepalive = true;
        rc = add_param(pg, &n, o->keyword, o->val);
    }
    if (rc == 0 && (pg->user_options = eqops__strdup(user_options)) == NULL)
        rc = EQOPS_ENOMEM;
    /* wipe the parsed values (the password is among them) before libpq frees them */
    wipe_options(opts);
    char num[32];
    snprintf(num, sizeof(num), "%ld", connect_timeout);
    if (rc == 0 && !have_timeout)
        rc = add_param(pg, &n, "connect_timeout", num);
    if (rc == 0 && !have_app)
        rc = add_param(pg, &n, "application_name", "eqops");
    if (rc == 0 && !have_tsa)
        rc = add_param(pg, &n, "target_session_attrs", "read-write");
    if (rc == 0 && !have_db)
        rc = add_param(pg, &n, "dbname", "postgres");
    /* notice a dead peer (failover, cut network) within a minute, not the kernel's 2 hours:
     * the lock connections must not outlive their locks unnoticed */
    if (rc == 0 && !have_keepalive) {
        rc = add_param(pg, &n, "keepalives_idle", "30");
        if (rc == 0)
            rc = add_param(pg, &n, "keepalives_interval", "10");
        if (rc == 0)
            rc = add_param(pg, &n, "keepalives_count", "3");
    }
    if (rc == 0)
        rc = add_param(pg, &n, "options", pg->user_options); /* eqops__pg_pins_set fills it */
    if (rc == EQOPS_EINVAL)
        return eqops__err_field(err, rc, "conninfo", "more than %d parameters", PG_MAX_PARAMS);
    if (rc != 0)
        return eqops__err(err, rc, "conninfo: out of memory");
    for (int i = 0; i < n; i++) {
        if (!strcmp(pg->keywords[i], "dbname"))
            pg->dbname_index = i;
        else if (!strcmp(pg->keywords[i], "options"))
            pg->options_index = i;
    }
    /* only the primary's answer about a database is final (eqops__pg_connect_db) */
    const char *tsa = eqops__pg_param(pg, "target_session_attrs");
    pg->find_primary =
        several_hosts(pg) && tsa && (!strcmp(tsa, "read-write") || !strcmp(tsa, "primary"));
    return 0;
}

const char *eqops__pg_param(const eqops_pg *pg, const char *keyword)
{
    for (int i = 0; pg->keywords[i]; i++)
        if (!strcmp(pg->keywords[i], keyword))
            return pg->values[i];
    return NULL;
}

/* ---- the session settings --------------------------------------------------------------- */

/* The same for every eqops session in every database: how dates, times, intervals, floats and
 * byte strings are written and read (a migration's '03/04/2024' is the 4th of March
 * everywhere, and the catalog comparison renders defaults alike), no idle timeout that ends a
 * migration between two statements, no read-only or serializable default, the checks on. */
static const char *const fixed_pins[][2] = {
    {"DateStyle", "ISO, MDY"},
    {"IntervalStyle", "postgres"},
    {"TimeZone", "UTC"},
    {"extra_float_digits", "1"},
    {"bytea_output", "hex"},
    {"idle_session_timeout", "0"},
    {"idle_in_transaction_session_timeout", "0"},
    {"default_transaction_read_only", "off"},
    {"default_transaction_isolation", "read committed"},
    {"default_transaction_deferrable", "off"},
    {"standard_conforming_strings", "on"},
    {"check_function_bodies", "on"},
    {"row_security", "on"},
    {"client_min_messages", "warning"},
};

/* The maintenance session's values (the cluster's, or the admin role's own), the same then in
 * every database: who the session runs as (a database's "SET role" would run eqops's
 * migrations as another role; an admin role's own "ALTER ROLE ... SET role" still holds),
 * locale-dependent formatting, the search path of a migration's unqualified names, the memory
 * of sorts and index builds. */
static const char *const cluster_pins[] = {
    "role",
    "lc_monetary",
    "lc_numeric",
    "lc_time",
    "search_path",
    "work_mem",
    "maintenance_work_mem",
    "temp_buffers",
    "hash_mem_multiplier",
};

/* One "-c name=value" with the server's escaping of startup options (a backslash before a
 * space or a backslash). */
static void pin(eqops_buf *b, const char *name, const char *value)
{
    eqops__buf_printf(b, "%s-c %s=", b->len ? " " : "", name);
    for (const char *p = value; *p; p++) {
        if (*p == ' ' || *p == '\\' || *p == '\t')
            eqops__buf_putc(b, '\\');
        eqops__buf_putc(b, *p);
    }
}

int eqops__pg_pins_set(eqops_pg *pg, PGconn *maint, eqops_error *err)
{
    eqops_buf b = EQOPS_BUF_INIT;
    for (size_t i = 0; i < EQOPS__ARRAY_LEN(fixed_pins); i++)
        pin(&b, fixed_pins[i][0], fixed_pins[i][1]);
    char num[32];
    snprintf(num, sizeof(num), "%ld", pg->statement_timeout_ms);
    pin(&b, "statement_timeout", num);
    snprintf(num, sizeof(num), "%ld", pg->lock_timeout_ms);
    pin(&b, "lock_timeout", num);
    if (maint != NULL) {
        eqops_buf q = EQOPS_BUF_INIT;
        eqops__buf_puts(&q, "SELECT name, current_setting(name) FROM unnest(ARRAY[");
        for (size_t i = 0; i < EQOPS__ARRAY_LEN(cluster_pins); i++)
            eqops__buf_printf(&q, "%s'%s'", i ? ", " : "", cluster_pins[i]);
        eqops__buf_puts(&q, "]) AS name");
        PGresult *r = NULL;
        int rc = eqops__buf_ok(&q) ? eqops__err(err, EQOPS_ENOMEM, "out of memory")
                                   : eqops__pg_exec(maint, "session settings", eqops__buf_cstr(&q),
                                                    0, NULL, &r, err);
        eqops__buf_free(&q);
        if (rc != 0) {
            eqops__buf_free(&b);
            return rc;
        }
        for (int i = 0; i < PQntuples(r); i++)
            pin(&b, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
        PQclear(r);
    }
    if (pg->user_options[0]) /* the operator's, last: they win */
        eqops__buf_printf(&b, " %s", pg->user_options);
    if (eqops__buf_ok(&b)) {
        eqops__buf_free(&b);
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
    char *text = eqops__buf_detach(&b);
    if (text == NULL)
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    eqops__secret_free(pg->values[pg->options_index]);
    pg->values[pg->options_index] = text;
    return 0;
}
