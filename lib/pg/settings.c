/*
 * settings.c - the settings a tenant database may have (ALTER DATABASE ... SET): the allow-list
 * with its value bounds, checked before a create changes anything, and the check of what a
 * database already carries (drift; databases made by older versions, hand-made settings).
 */
#include "pg_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

/*
 * The settings a tenant database may have, sorted for bsearch. Each is one a session may set
 * for itself (context "user"), so a per-database default gives a tenant nothing it could not
 * take anyway, and none changes who a session runs as (role, session_authorization), loads
 * code (*_preload_libraries, dynamic_library_path), weakens a check (row_security,
 * session_replication_role, check_function_bodies) or changes how eqops's own sessions in the
 * database behave: search_path (eqops runs the migrations in the database with unqualified
 * names), default_transaction_* (read-only would stop migrations), client_encoding,
 * standard_conforming_strings, password_encryption. Those on the list that would change
 * eqops's sessions (formats, locale, timeouts, memory) are overridden there by its startup
 * options (session.c). Superuser-only settings (lc_messages, log_*, temp_file_limit,
 * deadlock_timeout) and custom "prefix.name" ones (only a superuser may set those per
 * database) are left out too. docs/pg.md lists them.
 */
static const char *const tenant_settings[] = {
    "application_name",
    "bytea_output",
    "client_min_messages",
    "datestyle",
    "default_statistics_target",
    "effective_cache_size",
    "effective_io_concurrency",
    "extra_float_digits",
    "hash_mem_multiplier",
    "idle_in_transaction_session_timeout",
    "idle_session_timeout",
    "intervalstyle",
    "jit",
    "lc_monetary",
    "lc_numeric",
    "lc_time",
    "lock_timeout",
    "maintenance_work_mem",
    "max_parallel_workers_per_gather",
    "random_page_cost",
    "seq_page_cost",
    "statement_timeout",
    "temp_buffers",
    "timezone",
    "work_mem",
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

bool eqops__pg_settings_sorted(void)
{
    return eqops__pg_sorted(tenant_settings, EQOPS__ARRAY_LEN(tenant_settings));
}

int eqops__pg_setting_check(const char *name, const char *field, eqops_error *err)
{
    const char *key = name;
    if (name && bsearch(&key, tenant_settings, EQOPS__ARRAY_LEN(tenant_settings),
                        sizeof(tenant_settings[0]), cmp_str) != NULL)
        return 0;
    return eqops__err_field(err, EQOPS_EINVAL, field,
                            "\"%.63s\" is not a setting a tenant database may have (only "
                            "timeouts, memory, locale, format and planner settings; docs/pg.md "
                            "lists them)",
                            name ? name : "");
}

/* ---- value bounds ------------------------------------------------------------------------- */

/* Memory a session of the tenant may take per sort, hash, index build or temporary table:
 * the server allows up to 2 TB; a database default that high lets one query exhaust the
 * host. `unit` is what a bare number counts (PostgreSQL's unit of the setting). */
static const struct {
    const char *name;
    double unit, min, max;
    const char *min_text, *max_text;
} bounds[] = {
    {"work_mem", 1024, 64.0 * 1024, 1024.0 * 1024 * 1024, "64kB", "1GB"},
    {"maintenance_work_mem", 1024, 1024.0 * 1024, 4.0 * 1024 * 1024 * 1024, "1MB", "4GB"},
    {"temp_buffers", 8192, 800.0 * 1024, 1024.0 * 1024 * 1024, "800kB", "1GB"},
    {"hash_mem_multiplier", 0, 1, 8, "1", "8"},
};

/* A size as PostgreSQL writes one: a number (a fraction allowed), optional spaces, and a unit
 * B, kB, MB, GB or TB (case matters, as for the server); a bare number counts `unit` bytes.
 * With unit 0 it is a plain number. false when it is neither. */
static bool size_parse(const char *s, double unit, double *out)
{
    while (*s == ' ')
        s++;
    if (!isdigit((unsigned char)*s) && !(*s == '.' && isdigit((unsigned char)s[1])))
        return false;
    char *end = NULL;
    double v = strtod(s, &end);
    if (end == s || !isfinite(v))
        return false;
    for (const char *p = s; p < end; p++) /* no exponent, hex or sign: digits and a point */
        if (!isdigit((unsigned char)*p) && *p != '.')
            return false;
    while (*end == ' ')
        end++;
    static const struct {
        const char *text;
        double bytes;
    } units[] = {{"B", 1},
                 {"kB", 1024},
                 {"MB", 1024.0 * 1024},
                 {"GB", 1024.0 * 1024 * 1024},
                 {"TB", 1024.0 * 1024 * 1024 * 1024}};
    double mult = unit > 0 ? unit : 1;
    if (*end != '\0') {
        if (unit == 0)
            return false;
        size_t k = strcspn(end, " ");
        bool found = false;
        for (size_t i = 0; i < EQOPS__ARRAY_LEN(units) && !found; i++)
            if (strlen(units[i].text) == k && strncmp(end, units[i].text, k) == 0) {
                mult = units[i].bytes;
                found = true;
            }
        for (end += k; *end == ' '; end++)
            ;
        if (!found || *end != '\0')
            return false;
    }
    *out = v * mult;
    return true;
}

int eqops__pg_setting_value_check(const char *name, const char *value, const char *field,
                                  eqops_error *err)
{
    for (size_t i = 0; i < EQOPS__ARRAY_LEN(bounds); i++) {
        if (strcasecmp(name, bounds[i].name) != 0)
            continue;
        double v = 0;
        if (!size_parse(value, bounds[i].unit, &v))
            return eqops__err_field(err, EQOPS_EINVAL, field, "%s must be %s", bounds[i].name,
                                    bounds[i].unit > 0
                                        ? "a size like 64MB (a number with B, kB, MB, GB or TB)"
                                        : "a number");
        if (v < bounds[i].min || v > bounds[i].max)
            return eqops__err_field(err, EQOPS_EINVAL, field,
                                    "%s must be from %s to %s for a tenant database (docs/pg.md)",
                                    bounds[i].name, bounds[i].min_text, bounds[i].max_text);
    }
    return 0;
}

int eqops__pg_setting_entry_check(const char *s, const char *field, eqops_error *err)
{
    const char *eq = strchr(s, '=');
    if (eq == NULL || eq == s)
        return eqops__err_field(err, EQOPS_EINVAL, field, "must be name=value");
    size_t n = (size_t)(eq - s);
    if (n > 63)
        return eqops__err_field(err, EQOPS_EINVAL, field, "the name is longer than 63 bytes");
    bool part_start = true;
    int dots = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool ok = (ch >= 'a' && ch <= 'z') || ch == '_' || (!part_start && ch >= '0' && ch <= '9');
        if (ch == '.' && !part_start && dots == 0) { /* "prefix.name": refused by the list */
            dots++;
            part_start = true;
            continue;
        }
        if (!ok)
            return eqops__err_field(err, EQOPS_EINVAL, field,
                                    "the name must be a setting name (lowercase letters, digits, "
                                    "'_', one '.' for a custom prefix)");
        part_start = false;
    }
    if (part_start)
        return eqops__err_field(err, EQOPS_EINVAL, field, "the name must not end with '.'");
    char name[64];
    snprintf(name, sizeof(name), "%.*s", (int)n, s);
    int rc = eqops__pg_setting_check(name, field, err);
    if (rc != 0)
        return rc;
    if (strlen(eq + 1) > 1024)
        return eqops__err_field(err, EQOPS_EINVAL, field, "the value is longer than 1024 bytes");
    for (const unsigned char *p = (const unsigned char *)eq + 1; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return eqops__err_field(err, EQOPS_EINVAL, field,
                                    "the value must not contain control characters");
    return eqops__pg_setting_value_check(name, eq + 1, field, err);
}

/* ---- what a database carries ------------------------------------------------------------- */

int eqops__pg_db_settings(PGconn *c, const char *db, json_t **out, eqops_error *err)
{
    *out = NULL;
    const char *params[] = {db};
    PGresult *r = NULL;
    int rc = eqops__pg_exec(c, "database settings",
                            "SELECT unnest(s.setconfig) FROM pg_db_role_setting s JOIN "
                            "pg_database d ON d.oid = s.setdatabase WHERE d.datname = $1 AND "
                            "s.setrole = 0",
                            1, params, &r, err);
    if (rc != 0)
        return rc;
    json_t *o = json_object();
    bool ok = o != NULL;
    for (int i = 0; ok && i < PQntuples(r); i++) {
        const char *item = PQgetvalue(r, i, 0), *eq = strchr(item, '=');
        char name[128];
        snprintf(name, sizeof(name), "%.*s", eq ? (int)(eq - item) : (int)strlen(item), item);
        ok = eqops__jset(o, name, json_string(eq ? eq + 1 : ""));
    }
    PQclear(r);
    if (!ok) {
        json_decref(o);
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
    *out = o;
    return 0;
}

size_t eqops__pg_settings_findings(const json_t *settings, json_t *findings, eqops_buf *names)
{
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)settings, k, v)
    {
        char name[64], line[320];
        snprintf(name, sizeof(name), "%s", k);
        for (char *p = name; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        eqops_error e = EQOPS_ERROR_INIT;
        if (strlen(k) > 63 || eqops__pg_setting_check(name, "setting", NULL) != 0)
            snprintf(line, sizeof(line),
                     "database setting %.63s is not one a tenant database may have", k);
        else if (eqops__pg_setting_value_check(name, json_string_value(v), "database setting",
                                               &e) != 0)
            snprintf(line, sizeof(line), "%s", e.message);
        else
            continue;
        eqops_error_clear(&e);
        if (findings)
            eqops__jappend(findings, json_string(line));
        if (names)
            eqops__buf_printf(names, "%s%.63s", names->len ? ", " : "", k);
        n++;
    }
    return n;
}

int eqops__pg_session_settings_check(PGconn *c, const char *db, eqops_error *err)
{
    PGresult *r = NULL;
    /* what still comes from the database in this session: eqops's startup options override
     * the rest */
    int rc = eqops__pg_exec(c, "database settings",
                            "SELECT name FROM pg_settings WHERE source = 'database' ORDER BY 1", 0,
                            NULL, &r, err);
    if (rc != 0)
        return rc;
    eqops_buf names = EQOPS_BUF_INIT;
    for (int i = 0; i < PQntuples(r); i++) {
        char name[64];
        snprintf(name, sizeof(name), "%s", PQgetvalue(r, i, 0));
        for (char *p = name; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        if (eqops__pg_setting_check(name, "setting", NULL) != 0)
            eqops__buf_printf(&names, "%s%s", names.len ? ", " : "", name);
    }
    PQclear(r);
    if (names.len > 0 || names.oom)
        rc = eqops__err(err, names.oom ? EQOPS_ENOMEM : EQOPS_EFORBIDDEN,
                        "database %s has settings that reach eqops's sessions and that a tenant "
                        "database may not have: %s; nothing was applied (eqops db drift lists "
                        "them; a superuser must ALTER DATABASE %s RESET each)",
                        db, names.oom ? "?" : eqops__buf_cstr(&names), db);
    eqops__buf_free(&names);
    return rc;
}

/* ---- desired and actual ------------------------------------------------------------------ */

typedef struct diff_ctx {
    const char *db, *prefix;
    const char *const *want;
    json_t *fields;
} diff_ctx;

static void diff_add(diff_ctx *x, const char *name, size_t len)
{
    char path[160];
    snprintf(path, sizeof(path), "%s%.*s", x->prefix, (int)(len < 63 ? len : 63), name);
    for (char *p = path + strlen(x->prefix); *p; p++)
        *p = (char)tolower((unsigned char)*p);
    eqops__jappend(x->fields, json_string(path));
}

static int diff_step(PGconn *c, void *arg, eqops_error *err)
{
    diff_ctx *x = arg;
    json_t *have = NULL;
    int rc = eqops__pg_db_settings(c, x->db, &have, err);
    if (rc != 0)
        return rc;
    json_array_clear(x->fields);
    for (size_t i = 0; x->want && x->want[i]; i++) {
        const char *s = x->want[i], *eq = strchr(s, '=');
        size_t n = eq ? (size_t)(eq - s) : strlen(s);
        bool same = false;
        const char *k;
        json_t *v;
        json_object_foreach(have, k, v)
        {
            if (strlen(k) == n && strncasecmp(k, s, n) == 0) {
                same = eq && strcmp(json_string_value(v), eq + 1) == 0;
                json_object_del(have, k); /* seen */
                break;
            }
        }
        if (!same)
            diff_add(x, s, n);
    }
    const char *k;
    json_t *v;
    json_object_foreach(have, k, v) /* on the database, not wanted */
    {
        diff_add(x, k, strlen(k));
    }
    json_decref(have);
    return 0;
}

int eqops__pg_settings_diff(eqops_pg *pg, const char *db, const char *const *want,
                            const char *prefix, json_t *fields, eqops_error *err)
{
    diff_ctx x = {db, prefix, want, fields};
    return eqops__pg_run(pg, &pg->conn, NULL, "database settings", diff_step, &x, err);
}
