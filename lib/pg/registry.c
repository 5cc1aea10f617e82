/*
 * registry.c - the tenant registry: JSON comments on each tenant's database and role, read
 * back for list, show and the fleet operations; the tenant object handed to callers.
 */
#include "pg_internal.h"

#include <stdio.h>
#include <stdlib.h>

/* ---- comments ------------------------------------------------------------------------------ */

int eqops__pg_comment_parse(const char *text, const char *kind, const char *name, json_t **out)
{
    *out = NULL;
    if (text == NULL || text[0] != '{')
        return 0;
    json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    if (doc == NULL || !json_is_object(doc))
        goto not_ours;
    const char *k = json_string_value(json_object_get(doc, "eqops"));
    const char *n = json_string_value(json_object_get(doc, "name"));
    if (k == NULL || strcmp(k, kind) != 0 || (name != NULL && (n == NULL || strcmp(n, name))))
        goto not_ours;
    *out = doc;
    return 1;
not_ours:
    json_decref(doc);
    return 0;
}

char *eqops__pg_comment_make(const char *kind, const char *name, const char *state,
                             const char *created)
{
    char now[32];
    eqops__time_format_rfc3339(eqops__now_ms(), now);
    json_t *doc = json_object();
    eqops__jset(doc, "eqops", json_string(kind));
    eqops__jset(doc, "name", json_string(name));
    if (state)
        eqops__jset(doc, "state", json_string(state));
    eqops__jset(doc, "created", json_string(created && *created ? created : now));
    eqops__jset(doc, "updated", json_string(now));
    char *text = doc && json_object_size(doc) == (state ? 5u : 4u)
                     ? eqops__json_dump(doc, JSON_COMPACT | JSON_SORT_KEYS)
                     : NULL;
    json_decref(doc);
    return text;
}

/* ---- the registry -------------------------------------------------------------------------- */

static int cmp_name(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    return strcmp(json_string_value(json_object_get(x, "name")),
                  json_string_value(json_object_get(y, "name")));
}

typedef struct registry_ctx {
    eqops_pg *pg;
    json_t *out;
} registry_ctx;

static int registry_step(PGconn *conn, void *arg, eqops_error *err)
{
    registry_ctx *ctx = arg;
    eqops_pg *pg = ctx->pg;
    const char *params[] = {pg->prefix};
    PGresult *dbs = NULL, *roles = NULL;
    int rc = eqops__pg_exec(
        conn, "list tenant databases",
        "SELECT d.datname, shobj_description(d.oid, 'pg_database'), "
        "CASE WHEN has_database_privilege(d.oid, 'CONNECT') THEN pg_database_size(d.oid) END "
        "FROM pg_database d WHERE left(d.datname, length($1)) = $1 ORDER BY d.datname",
        1, params, &dbs, err);
    if (rc == 0)
        rc = eqops__pg_exec(conn, "list tenant roles",
                            "SELECT r.rolname, shobj_description(r.oid, 'pg_authid') "
                            "FROM pg_roles r WHERE left(r.rolname, length($1)) = $1",
                            1, params, &roles, err);
    json_t *found = json_object(); /* tenant name -> entry */
    if (rc == 0 && found == NULL)
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    for (int i = 0; rc == 0 && i < PQntuples(dbs); i++) {
        char name[48];
        json_t *c = NULL;
        if (!eqops__pg_tenant_from_object(pg, PQgetvalue(dbs, i, 0), name, sizeof(name)) ||
            !eqops__pg_comment_parse(PQgetisnull(dbs, i, 1) ? NULL : PQgetvalue(dbs, i, 1),
                                     "tenant", name, &c))
            continue;
        json_t *e = json_object();
        eqops__jset(e, "name", json_string(name));
        eqops__jset(e, "database", json_string(PQgetvalue(dbs, i, 0)));
        eqops__jset(e, "role", json_string(PQgetvalue(dbs, i, 0)));
        const char *state = json_string_value(json_object_get(c, "state"));
        eqops__jset(e, "state", json_string(state ? state : "unknown"));
        const char *created = json_string_value(json_object_get(c, "created"));
        eqops__jset(e, "created", created ? json_string(created) : json_null());
        eqops__jset(e, "size",
                    PQgetisnull(dbs, i, 2)
                        ? json_integer(-1)
                        : json_integer(strtoll(PQgetvalue(dbs, i, 2), NULL, 10)));
        json_decref(c);
        if (e == NULL || json_object_size(e) != 6 || json_object_set_new(found, name, e) != 0)
            rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
    /* a role without its database: a create that has not finished */
    for (int i = 0; rc == 0 && i < PQntuples(roles); i++) {
        char name[48];
        json_t *c = NULL;
        if (!eqops__pg_tenant_from_object(pg, PQgetvalue(roles, i, 0), name, sizeof(name)) ||
            json_object_get(found, name) != NULL ||
            !eqops__pg_comment_parse(PQgetisnull(roles, i, 1) ? NULL : PQgetvalue(roles, i, 1),
                                     "tenant", name, &c))
            continue;
        json_t *e = json_object();
        eqops__jset(e, "name", json_string(name));
        eqops__jset(e, "database", json_null());
        eqops__jset(e, "role", json_string(PQgetvalue(roles, i, 0)));
        eqops__jset(e, "state", json_string("creating"));
        const char *created = json_string_value(json_object_get(c, "created"));
        eqops__jset(e, "created", created ? json_string(created) : json_null());
        eqops__jset(e, "size", json_integer(-1));
        json_decref(c);
        if (e == NULL || json_object_size(e) != 6 || json_object_set_new(found, name, e) != 0)
            rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
    PQclear(dbs);
    PQclear(roles);
    json_t *list = rc == 0 ? json_array() : NULL;
    size_t n = json_object_size(found);
    json_t **items = rc == 0 && n ? eqops__calloc(n, sizeof(*items)) : NULL;
    if (rc == 0 && (list == NULL || (n && items == NULL)))
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    if (rc == 0) {
        const char *key;
        json_t *value;
        size_t k = 0;
        json_object_foreach(found, key, value) items[k++] = value;
        if (n > 1)
            qsort(items, n, sizeof(*items), cmp_name);
        for (size_t i = 0; i < n && rc == 0; i++)
            if (json_array_append(list, items[i]) != 0)
                rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
    eqops__free(items);
    json_decref(found);
    if (rc != 0) {
        json_decref(list);
        return rc;
    }
    ctx->out = list;
    return 0;
}

int eqops__pg_registry(eqops_pg *pg, json_t **out, eqops_error *err)
{
    registry_ctx ctx = {pg, NULL};
    int rc = eqops__pg_run(pg, &pg->conn, NULL, "tenant registry", registry_step, &ctx, err);
    *out = rc == 0 ? ctx.out : NULL;
    return rc;
}

int eqops__pg_registry_select(json_t *registry, const char *const *names, json_t **out,
                              eqops_error *err)
{
    *out = NULL;
    if (names == NULL) {
        *out = json_incref(registry);
        return 0;
    }
    json_t *sel = json_array();
    if (sel == NULL)
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    for (size_t k = 0; names[k]; k++) {
        char field[32];
        snprintf(field, sizeof(field), "tenants[%zu]", k);
        int rc = eqops__pg_name_check(names[k], field, err);
        if (rc != 0) {
            json_decref(sel);
            return rc;
        }
        json_t *hit = NULL, *e;
        size_t i;
        json_array_foreach(registry, i, e)
        {
            if (!strcmp(json_string_value(json_object_get(e, "name")), names[k]))
                hit = e;
        }
        for (size_t j = 0; j < k && rc == 0; j++)
            if (!strcmp(names[j], names[k]))
                rc = eqops__err_field(err, EQOPS_EINVAL, field, "%s is listed twice", names[k]);
        if (rc == 0 && hit == NULL)
            rc = eqops__err_field(err, EQOPS_ENOTFOUND, field, "no tenant named %s", names[k]);
        if (rc == 0 && !json_is_string(json_object_get(hit, "database")))
            rc = eqops__err_field(err, EQOPS_ENOTFOUND, field,
                                  "tenant %s has no database yet (a create that did not "
                                  "finish): run create again",
                                  names[k]);
        if (rc != 0) {
            json_decref(sel);
            return rc;
        }
        if (json_array_append(sel, hit) != 0) {
            json_decref(sel);
            return eqops__err(err, EQOPS_ENOMEM, "out of memory");
        }
    }
    *out = sel;
    return 0;
}

int eqops__pg_tenant_list_doc(json_t **out, eqops_pg *pg, bool with_versions, eqops_error *err)
{
    *out = NULL;
    json_t *reg = NULL;
    int rc = eqops__pg_registry(pg, &reg, err);
    if (rc != 0)
        return rc;
    size_t i;
    json_t *e;
    json_array_foreach(reg, i, e)
    {
        const char *db = json_string_value(json_object_get(e, "database"));
        int64_t v = -1;
        if (with_versions && db != NULL) {
            PGconn *c = NULL;
            eqops_error ignore = EQOPS_ERROR_INIT;
            if (eqops__pg_connect_db(pg, &c, db, &ignore) == 0)
                eqops__pg_schema_version(c, &v, &ignore);
            eqops_error_clear(&ignore);
            PQfinish(c);
        }
        if (!eqops__jset(e, "schema_version", v >= 0 ? json_integer(v) : json_null()))
            rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
    if (rc == 0)
        *out = reg;
    else
        json_decref(reg);
    return rc;
}

int eqops_pg_tenant_list(char **out, eqops_pg *pg, int with_versions, eqops_error *err)
{
    eqops_error_clear(err);
    if (out == NULL || pg == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, out ? "pg" : "out", "must not be NULL");
    *out = NULL;
    json_t *reg = NULL;
    int rc = eqops__pg_tenant_list_doc(&reg, pg, with_versions != 0, err);
    if (rc == 0 && (*out = eqops__json_dump(reg, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL)
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    json_decref(reg);
    return rc;
}

/* ---- the tenant object ------------------------------------------------------------------------
 */

const char *eqops_pg_tenant_name(const eqops_pg_tenant *t)
{
    return t ? t->name : NULL;
}

const char *eqops_pg_tenant_database(const eqops_pg_tenant *t)
{
    return t && t->database[0] ? t->database : NULL;
}

const char *eqops_pg_tenant_role(const eqops_pg_tenant *t)
{
    return t ? t->role : NULL;
}

const char *eqops_pg_tenant_password(const eqops_pg_tenant *t)
{
    return t ? t->password : NULL;
}

const char *eqops_pg_tenant_conninfo(const eqops_pg_tenant *t)
{
    return t ? t->conninfo : NULL;
}

int64_t eqops_pg_tenant_schema_version(const eqops_pg_tenant *t)
{
    return t ? t->schema_version : -1;
}

int64_t eqops_pg_tenant_size(const eqops_pg_tenant *t)
{
    return t ? t->size : -1;
}

const char *eqops_pg_tenant_state(const eqops_pg_tenant *t)
{
    return t ? t->state : NULL;
}

int eqops_pg_tenant_created(const eqops_pg_tenant *t)
{
    return t ? t->created : 0;
}

void eqops_pg_tenant_free(eqops_pg_tenant *t)
{
    if (t == NULL)
        return;
    eqops__secret_free(t->password);
    eqops__secret_free(t->conninfo);
    eqops__free(t);
}

/* conninfo value quoting: single quotes, with \ and ' escaped */
static void conninfo_put(eqops_buf *b, const char *key, const char *value)
{
    if (value == NULL || *value == '\0')
        return;
    if (b->len)
        eqops__buf_putc(b, ' ');
    eqops__buf_printf(b, "%s='", key);
    for (const char *p = value; *p; p++) {
        if (*p == '\\' || *p == '\'')
            eqops__buf_putc(b, '\\');
        eqops__buf_putc(b, *p);
    }
    eqops__buf_putc(b, '\'');
}

int eqops__pg_tenant_new(eqops_pg *pg, const char *name, const char *object, const char *password,
                         eqops_pg_tenant **out)
{
    *out = NULL;
    eqops_pg_tenant *t = eqops__calloc(1, sizeof(*t));
    if (t == NULL)
        return EQOPS_ENOMEM;
    snprintf(t->name, sizeof(t->name), "%s", name);
    snprintf(t->role, sizeof(t->role), "%s", object);
    snprintf(t->state, sizeof(t->state), "unknown");
    t->schema_version = t->size = -1;
    /* what a client needs: where (all hosts, for failover), TLS settings, who */
    static const char *const keep[] = {"host",
                                       "hostaddr",
                                       "port",
                                       "sslmode",
                                       "sslrootcert",
                                       "sslcrl",
                                       "target_session_attrs",
                                       "connect_timeout",
                                       NULL};
    eqops_buf b = EQOPS_BUF_INIT;
    /* room for everything up front: a buffer that grew would leave the password in freed
     * memory (values are at most doubled by quoting) */
    size_t need = 64 + 4 * strlen(object) + (password ? 2 * strlen(password) + 16 : 0);
    for (size_t i = 0; keep[i]; i++) {
        const char *v = eqops__pg_param(pg, keep[i]);
        need += strlen(keep[i]) + 4 + (v ? 2 * strlen(v) : 0);
    }
    if (eqops__buf_reserve(&b, need) != 0) {
        eqops_pg_tenant_free(t);
        return EQOPS_ENOMEM;
    }
    for (size_t i = 0; keep[i]; i++)
        conninfo_put(&b, keep[i], eqops__pg_param(pg, keep[i]));
    conninfo_put(&b, "dbname", object);
    conninfo_put(&b, "user", object);
    if (password) {
        conninfo_put(&b, "password", password);
        t->password = eqops__strdup(password);
    }
    t->conninfo = eqops__buf_ok(&b) == 0 ? eqops__strndup(b.data, b.len) : NULL;
    eqops__buf_wipe(&b);
    if (t->conninfo == NULL || (password && t->password == NULL)) {
        eqops_pg_tenant_free(t);
        return EQOPS_ENOMEM;
    }
    *out = t;
    return 0;
}
