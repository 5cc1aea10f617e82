/*
 * drift.c - catalog fingerprints (one query per database, names instead of OIDs, hashed
 * client-side after a byte-wise sort), object-level diffs against the template, and the
 * isolation check of each tenant's database ACL and role.
 */
#include "pg_internal.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>

#define DIFF_MAX 100 /* objects listed per category and tenant */

/* One row per object: (kind, identity, definition). Application schemas only; objects that
 * belong to extensions are covered by the extension's row; the history schema is left out. */
static const char fingerprint_sql[] =
    "WITH ns AS (SELECT oid, nspname FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', "
    "'information_schema', 'eqops') AND nspname !~ '^pg_(toast|temp_)'), "
    "ext AS (SELECT classid, objid FROM pg_depend WHERE deptype = 'e') "
    "SELECT 'schema', n.nspname, '' FROM ns n WHERE NOT EXISTS (SELECT 1 FROM ext WHERE "
    "ext.classid = 'pg_namespace'::regclass AND ext.objid = n.oid) "
    "UNION ALL "
    "SELECT CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'v' THEN 'view' "
    "WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence' ELSE 'foreign table' END, "
    "n.nspname || '.' || c.relname, concat_ws(' ', 'kind=' || c.relkind::text, 'persistence=' || "
    "c.relpersistence::text, 'rls=' || c.relrowsecurity, CASE WHEN c.relkind IN ('v', 'm') THEN "
    "'query=' || md5(pg_get_viewdef(c.oid)) END, CASE WHEN c.relkind = 'p' THEN 'partition by "
    "' || pg_get_partkeydef(c.oid) END, CASE WHEN c.relispartition THEN 'bound=' || "
    "pg_get_expr(c.relpartbound, c.oid) END, (SELECT format('seq=%s,%s,%s,%s,%s,%s', "
    "s.seqtypid::regtype, s.seqstart, s.seqincrement, s.seqmax, s.seqmin, s.seqcycle) FROM "
    "pg_sequence s WHERE s.seqrelid = c.oid)) "
    "FROM pg_class c JOIN ns n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'v', "
    "'m', 'S', 'f') AND NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_class'::regclass "
    "AND ext.objid = c.oid) "
    "UNION ALL "
    "SELECT 'column', n.nspname || '.' || c.relname || '.' || a.attname, concat_ws(' ', "
    "format_type(a.atttypid, a.atttypmod), CASE WHEN a.attnotnull THEN 'not null' END, "
    "'default=' || pg_get_expr(d.adbin, d.adrelid), CASE WHEN a.attidentity <> '' THEN "
    "'identity=' || a.attidentity::text END, CASE WHEN a.attgenerated <> '' THEN 'generated=' || "
    "a.attgenerated::text END, CASE WHEN a.attcollation <> t.typcollation THEN 'collate=' || "
    "co.collname END) "
    "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN ns n ON n.oid = "
    "c.relnamespace JOIN pg_type t ON t.oid = a.atttypid LEFT JOIN pg_attrdef d ON d.adrelid "
    "= a.attrelid AND d.adnum = a.attnum LEFT JOIN pg_collation co ON co.oid = a.attcollation "
    "WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND "
    "NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_class'::regclass AND ext.objid = "
    "c.oid) "
    "UNION ALL "
    "SELECT 'constraint', n.nspname || '.' || coalesce(c.relname, ty.typname) || '.' || "
    "con.conname, pg_get_constraintdef(con.oid) FROM pg_constraint con JOIN ns n ON n.oid = "
    "con.connamespace LEFT JOIN pg_class c ON c.oid = con.conrelid LEFT JOIN pg_type ty ON "
    "ty.oid = con.contypid WHERE NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = "
    "'pg_class'::regclass AND ext.objid = con.conrelid) "
    "UNION ALL "
    "SELECT 'index', n.nspname || '.' || ic.relname, pg_get_indexdef(i.indexrelid) FROM "
    "pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN ns n ON n.oid = ic.relnamespace "
    "WHERE NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_class'::regclass AND "
    "ext.objid = i.indrelid) "
    "UNION ALL "
    "SELECT CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' WHEN 'w' THEN "
    "'window function' ELSE 'function' END, n.nspname || '.' || p.proname || '(' || "
    "pg_get_function_identity_arguments(p.oid) || ')', CASE WHEN p.prokind = 'a' THEN '' ELSE "
    "md5(pg_get_functiondef(p.oid)) END FROM pg_proc p JOIN ns n ON n.oid = p.pronamespace "
    "WHERE NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_proc'::regclass AND ext.objid "
    "= p.oid) "
    "UNION ALL "
    "SELECT 'trigger', n.nspname || '.' || c.relname || '.' || tg.tgname, "
    "pg_get_triggerdef(tg.oid) || CASE tg.tgenabled WHEN 'D' THEN ' (disabled)' ELSE '' END "
    "FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN ns n ON n.oid = "
    "c.relnamespace WHERE NOT tg.tgisinternal "
    "UNION ALL "
    "SELECT 'type', n.nspname || '.' || t.typname, concat_ws(' ', 'kind=' || t.typtype::text, CASE "
    "WHEN t.typtype = 'e' THEN (SELECT string_agg(quote_literal(e.enumlabel), ',' ORDER BY "
    "e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid) END, CASE WHEN t.typtype = "
    "'d' THEN format_type(t.typbasetype, t.typtypmod) || CASE WHEN t.typnotnull THEN ' not "
    "null' ELSE '' END || coalesce(' default=' || t.typdefault, '') END, CASE WHEN t.typtype "
    "= 'c' THEN (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), "
    "',' ORDER BY a.attnum) FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 "
    "AND NOT a.attisdropped) END, CASE WHEN t.typtype = 'r' THEN (SELECT "
    "format_type(r.rngsubtype, NULL) FROM pg_range r WHERE r.rngtypid = t.oid) END) "
    "FROM pg_type t JOIN ns n ON n.oid = t.typnamespace WHERE (t.typtype IN ('e', 'd', 'r') OR "
    "(t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')) AND "
    "NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_type'::regclass AND ext.objid = "
    "t.oid) "
    "UNION ALL "
    "SELECT 'extension', e.extname, 'version=' || e.extversion || ' schema=' || n.nspname FROM "
    "pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
    "UNION ALL "
    "SELECT 'policy', n.nspname || '.' || c.relname || '.' || pol.polname, concat_ws(' ', "
    "'cmd=' || pol.polcmd::text, 'permissive=' || pol.polpermissive, 'using=' || "
    "pg_get_expr(pol.polqual, pol.polrelid), 'check=' || pg_get_expr(pol.polwithcheck, "
    "pol.polrelid)) FROM pg_policy pol JOIN pg_class c ON c.oid = pol.polrelid JOIN ns n ON "
    "n.oid = c.relnamespace";

/* One catalog row, pointing into the PGresult. */
typedef struct fp_row {
    const char *kind, *ident, *def;
    size_t def_len;
} fp_row;

/* A fingerprint: the rows sorted byte-wise by (kind, identity) and their SHA-256. */
typedef struct fingerprint {
    PGresult *res;
    fp_row *rows;
    int n;
    char hex[65];
} fingerprint;

static int cmp_rows(const void *a, const void *b)
{
    const fp_row *x = a, *y = b;
    int c = strcmp(x->kind, y->kind);
    return c ? c : strcmp(x->ident, y->ident);
}

static void fingerprint_free(fingerprint *f)
{
    PQclear(f->res);
    eqops__free(f->rows);
    memset(f, 0, sizeof(*f));
}

static int fingerprint_read(PGconn *c, fingerprint *f, eqops_error *err)
{
    memset(f, 0, sizeof(*f));
    int rc = eqops__pg_exec(c, "catalog fingerprint", fingerprint_sql, 0, NULL, &f->res, err);
    if (rc != 0)
        return rc;
    f->n = PQntuples(f->res);
    f->rows = eqops__calloc((size_t)f->n + 1, sizeof(fp_row));
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (f->rows == NULL || md == NULL) {
        EVP_MD_CTX_free(md);
        fingerprint_free(f);
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
    for (int i = 0; i < f->n; i++)
        f->rows[i] = (fp_row){PQgetvalue(f->res, i, 0), PQgetvalue(f->res, i, 1),
                              PQgetvalue(f->res, i, 2), (size_t)PQgetlength(f->res, i, 2)};
    qsort(f->rows, (size_t)f->n, sizeof(fp_row), cmp_rows);
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    for (int i = 0; i < f->n; i++) {
        const fp_row *r = &f->rows[i];
        EVP_DigestUpdate(md, r->kind, strlen(r->kind) + 1); /* with the NUL as separator */
        EVP_DigestUpdate(md, r->ident, strlen(r->ident) + 1);
        EVP_DigestUpdate(md, r->def, r->def_len + 1);
    }
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(md, out, &len);
    EVP_MD_CTX_free(md);
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < 32 && i < len; i++) {
        f->hex[2 * i] = hex[out[i] >> 4];
        f->hex[2 * i + 1] = hex[out[i] & 15];
    }
    f->hex[64] = '\0';
    return 0;
}

typedef struct fp_ctx {
    fingerprint *f;
} fp_ctx;

static int fingerprint_step(PGconn *c, void *arg, eqops_error *err)
{
    fp_ctx *x = arg;
    fingerprint_free(x->f);
    return fingerprint_read(c, x->f, err);
}

static int fingerprint_db(eqops_pg *pg, const char *db, fingerprint *f, eqops_error *err)
{
    PGconn *c = NULL;
    fp_ctx x = {f};
    memset(f, 0, sizeof(*f));
    int rc = eqops__pg_run(pg, &c, db, "catalog fingerprint", fingerprint_step, &x, err);
    PQfinish(c);
    return rc;
}

int eqops_pg_fingerprint(char **out, eqops_pg *pg, const char *database, eqops_error *err)
{
    eqops_error_clear(err);
    if (out == NULL || pg == NULL || database == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, out ? pg ? "database" : "pg" : "out",
                                "must not be NULL");
    *out = NULL;
    fingerprint f;
    int rc = fingerprint_db(pg, database, &f, err);
    if (rc == 0 && (*out = eqops__strdup(f.hex)) == NULL)
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    fingerprint_free(&f);
    return rc;
}

/* ---- diff ------------------------------------------------------------------------------------ */

static json_t *row_text(const fp_row *r)
{
    char line[512];
    snprintf(line, sizeof(line), "%s %s%s%s", r->kind, r->ident, *r->def ? ": " : "", r->def);
    return json_string(line);
}

static void list_add(json_t *list, json_t *item)
{
    if (json_array_size(list) < DIFF_MAX)
        eqops__jappend(list, item);
    else
        json_decref(item);
}

/* Merge the two sorted row lists. */
static void diff(const fingerprint *a, const fingerprint *b, json_t *only_a, json_t *only_b,
                 json_t *changed)
{
    int i = 0, j = 0;
    while (i < a->n || j < b->n) {
        const fp_row *ra = i < a->n ? &a->rows[i] : NULL, *rb = j < b->n ? &b->rows[j] : NULL;
        int c = ra == NULL ? 1 : rb == NULL ? -1 : cmp_rows(ra, rb);
        if (c < 0) {
            list_add(only_a, row_text(ra));
            i++;
        } else if (c > 0) {
            list_add(only_b, row_text(rb));
            j++;
        } else {
            if (strcmp(ra->def, rb->def) != 0) {
                char line[512];
                snprintf(line, sizeof(line), "%s %s: %s -> %s", ra->kind, ra->ident, ra->def,
                         rb->def);
                list_add(changed, json_string(line));
            }
            i++;
            j++;
        }
    }
}

/* ---- isolation --------------------------------------------------------------------------------
 */

static const char isolation_sql[] =
    "SELECT 'PUBLIC can connect' FROM pg_database d, aclexplode(coalesce(d.datacl, "
    "acldefault('d', d.datdba))) a WHERE d.datname = $1 AND a.grantee = 0 AND "
    "a.privilege_type = 'CONNECT' "
    "UNION ALL SELECT 'role ' || quote_ident(pg_get_userbyid(a.grantee)) || ' can connect' "
    "FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a WHERE "
    "d.datname = $1 AND a.grantee NOT IN (0, d.datdba) AND a.privilege_type = 'CONNECT' AND "
    "pg_get_userbyid(a.grantee) <> $1 "
    "UNION ALL SELECT 'the tenant role cannot connect' FROM pg_database d WHERE d.datname = $1 "
    "AND NOT has_database_privilege($1, d.oid, 'CONNECT') AND EXISTS (SELECT 1 FROM pg_roles "
    "WHERE rolname = $1) "
    "UNION ALL SELECT 'the tenant role has ' || concat_ws(', ', CASE WHEN rolsuper THEN "
    "'SUPERUSER' END, CASE WHEN rolcreaterole THEN 'CREATEROLE' END, CASE WHEN rolcreatedb THEN "
    "'CREATEDB' END, CASE WHEN rolreplication THEN 'REPLICATION' END, CASE WHEN rolbypassrls "
    "THEN 'BYPASSRLS' END) FROM pg_roles WHERE rolname = $1 AND (rolsuper OR rolcreaterole OR "
    "rolcreatedb OR rolreplication OR rolbypassrls) "
    "UNION ALL SELECT 'the tenant role is a member of ' || quote_ident(pg_get_userbyid(m.roleid)) "
    "FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = $1 "
    "UNION ALL SELECT 'the tenant role does not exist' WHERE NOT EXISTS (SELECT 1 FROM pg_roles "
    "WHERE rolname = $1) "
    "ORDER BY 1";

/* ---- the drift run -----------------------------------------------------------------------------
 */

typedef struct drift_ctx {
    fingerprint tmpl;
    json_t **reports; /* one per tenant */
} drift_ctx;

static void drift_work(pg_pool_job *job, size_t i)
{
    drift_ctx *d = job->ctx;
    pg_db_result *r = &job->results[i];
    eqops_error e = EQOPS_ERROR_INIT;
    json_t *o = json_object();
    json_t *only_t = json_array(), *only_x = json_array(), *changed = json_array();
    fingerprint f;
    int64_t t0 = eqops__mono_ms();
    int rc = fingerprint_db(job->pg, r->database, &f, &e);
    eqops__jset(o, "tenant", json_string(r->tenant));
    eqops__jset(o, "database", json_string(r->database));
    if (rc == 0) {
        diff(&d->tmpl, &f, only_t, only_x, changed);
        bool same = !strcmp(f.hex, d->tmpl.hex);
        eqops__jset(o, "fingerprint", json_string(f.hex));
        eqops__jset(o, "schema", json_string(same ? "same" : "differs"));
        fingerprint_free(&f);
    } else {
        eqops__jset(o, "fingerprint", json_null());
        eqops__jset(o, "schema", json_string("unknown"));
        eqops__jset(o, "error", json_string(e.message));
    }
    eqops__jset(o, "only_in_template", only_t);
    eqops__jset(o, "only_in_tenant", only_x);
    eqops__jset(o, "changed", changed);
    r->rc = rc;
    r->status = rc ? "failed" : "ok";
    r->ms = eqops__mono_ms() - t0;
    snprintf(r->error, sizeof(r->error), "%s", rc ? e.message : "");
    eqops_error_clear(&e);
    d->reports[i] = o;
}

static int isolation_step(PGconn *c, void *arg, eqops_error *err)
{
    json_t *report = arg;
    const char *params[] = {json_string_value(json_object_get(report, "database"))};
    PGresult *r = NULL;
    int rc = eqops__pg_exec(c, "isolation check", isolation_sql, 1, params, &r, err);
    if (rc != 0)
        return rc;
    eqops_buf b = EQOPS_BUF_INIT;
    for (int i = 0; i < PQntuples(r); i++) {
        if (i)
            eqops__buf_puts(&b, "; ");
        eqops__buf_puts(&b, PQgetvalue(r, i, 0));
    }
    PQclear(r);
    /* settings the database carries that a tenant database may not have (made by hand, or
     * by an eqops before the allow-list): they reach every session there, eqops's too */
    json_t *have = NULL, *findings = json_array();
    rc = findings ? eqops__pg_db_settings(c, params[0], &have, err)
                  : eqops__err(err, EQOPS_ENOMEM, "out of memory");
    if (rc == 0) {
        eqops__pg_settings_findings(have, findings, NULL);
        for (size_t i = 0; i < json_array_size(findings); i++)
            eqops__buf_printf(&b, "%s%s", b.len ? "; " : "",
                              json_string_value(json_array_get(findings, i)));
    }
    json_decref(have);
    bool ok = rc == 0 && eqops__jset(report, "isolation", json_string(b.len ? b.data : "ok")) &&
              eqops__jset(report, "settings", json_incref(findings));
    json_decref(findings);
    eqops__buf_free(&b);
    if (rc != 0)
        return rc;
    return ok && !b.oom ? 0 : eqops__err(err, EQOPS_ENOMEM, "out of memory");
}

int eqops__pg_drift_doc(json_t **out, size_t *drifted, eqops_pg *pg, const char *const *tenants,
                        eqops_error *err)
{
    *out = NULL;
    if (drifted)
        *drifted = 0;
    drift_ctx d;
    memset(&d, 0, sizeof(d));
    int rc = 0;
    if (!eqops__pg_template_exists(pg, err, &rc))
        return rc ? rc
                  : eqops__err(err, EQOPS_ENOTFOUND,
                               "no template database %s to compare with (eqops db migrate "
                               "creates it)",
                               pg->template_db);
    if ((rc = fingerprint_db(pg, pg->template_db, &d.tmpl, err)) != 0)
        return rc;
    pg_targets t = {NULL, 0, false};
    rc = eqops__pg_targets_make(pg, false, tenants, &t, err);
    if (rc == 0 && (d.reports = eqops__calloc(t.n + 1, sizeof(json_t *))) == NULL)
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    pg_pool_job job = {drift_work, &d, pg, NULL, NULL, t.r, t.n, 4, false, NULL, NULL, 0, t.n};
    if (rc == 0)
        rc = eqops__pg_pool_run(&job, err);
    size_t n = 0;
    json_t *list = json_array();
    for (size_t i = 0; rc == 0 && i < t.n; i++) {
        json_t *rep = d.reports[i];
        d.reports[i] = NULL;
        if (rep == NULL || (rc = eqops__pg_run(pg, &pg->conn, NULL, "isolation check",
                                               isolation_step, rep, err)) != 0) {
            json_decref(rep);
            rc = rc ? rc : eqops__err(err, EQOPS_ENOMEM, "out of memory");
            break;
        }
        const char *schema = json_string_value(json_object_get(rep, "schema"));
        const char *iso = json_string_value(json_object_get(rep, "isolation"));
        n += (schema && strcmp(schema, "same")) || (iso && strcmp(iso, "ok"));
        eqops__jappend(list, rep);
    }
    if (rc == 0) {
        json_t *doc = json_object();
        eqops__jset(doc, "template", json_string(d.tmpl.hex));
        eqops__jset(doc, "template_objects", json_integer(d.tmpl.n));
        eqops__jset(doc, "tenants", json_incref(list));
        if (!eqops__jset(doc, "drifted", json_integer((json_int_t)n)) ||
            json_array_size(list) != t.n) {
            json_decref(doc);
            doc = NULL;
            rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
        }
        *out = doc;
        if (drifted && doc)
            *drifted = n;
    }
    json_decref(list);
    for (size_t i = 0; d.reports && i < t.n; i++)
        json_decref(d.reports[i]);
    eqops__free(d.reports);
    fingerprint_free(&d.tmpl);
    eqops__pg_targets_free(&t);
    return rc;
}

int eqops_pg_drift(char **out, size_t *drifted, eqops_pg *pg, const char *const *tenants,
                   eqops_error *err)
{
    eqops_error_clear(err);
    if (out == NULL || pg == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, out ? "pg" : "out", "must not be NULL");
    *out = NULL;
    if (drifted)
        *drifted = 0;
    json_t *doc = NULL;
    int rc = eqops__pg_drift_doc(&doc, drifted, pg, tenants, err);
    if (rc == 0 && (*out = eqops__json_dump(doc, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL) {
        if (drifted)
            *drifted = 0;
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
    json_decref(doc);
    return rc;
}
