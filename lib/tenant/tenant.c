/*
 * tenant.c - one tenant's operations in order: the lock, the credentials (read back from
 * where they are stored, never silently replaced), the clusters, the AWS secret, the
 * database, Argo CD; the database checks of drift and reconcile; the public entry points.
 */
#include "tenant_internal.h"

#include "../aws/aws_seam.h"
#include "../pg/pg_seam.h"

#include <stdio.h>

#define MOD "tenant"

static const char *op_name(tn_op op)
{
    static const char *const names[] = {"plan", "apply", "destroy", "drift", "reconcile", "status"};
    return names[op];
}

/* The run's token (NULL: none), for the clients the operation borrows. */
static const eqops_cancel *run_token(const tn_ctx *c)
{
    return c->run ? c->run->token : NULL;
}

/* ---- credentials -------------------------------------------------------------------------- */

#define PW_MAX       128
#define PW_FOUND_MAX (TN_MAX_CLUSTERS + 1)

typedef struct creds {
    char dbname[80], user[80], host[256], port[16];
    char found[PW_FOUND_MAX][PW_MAX]; /* distinct stored passwords */
    size_t nfound;
    char password[PW_MAX]; /* the one to store and use ("" unknown) */
    char pending[PW_MAX];  /* a Secret's password marked as a rotation not finished */
    bool need_set;         /* give it to the role */
    bool pg_exists, pg_ready;
} creds;

static void creds_wipe(creds *cr)
{
    eqops__wipe(cr, sizeof(*cr));
}

static void found_add(creds *cr, const char *pw, size_t len)
{
    if (len == 0 || len >= PW_MAX)
        return;
    for (size_t i = 0; i < cr->nfound; i++)
        if (strlen(cr->found[i]) == len && memcmp(cr->found[i], pw, len) == 0)
            return;
    if (cr->nfound < PW_FOUND_MAX) {
        memcpy(cr->found[cr->nfound], pw, len);
        cr->found[cr->nfound++][len] = '\0';
    }
}

/* The password in a cluster's credentials Secret, when there is one. */
static int read_k8s_secret(tn_ctx *c, const tn_cluster *cl, creds *cr, eqops_error *err)
{
    eqops_k8s *k = NULL;
    json_t *live = NULL;
    int rc = eqops__tn_k8s_get(c->env, cl, run_token(c), &k, err);
    if (rc == 0)
        rc = eqops__tn_get(&live, k, "v1", "Secret", c->s->name, c->s->k8s_secret, err);
    eqops__tn_k8s_put(c->env, k);
    if (rc == EQOPS_ENOTFOUND && strcmp(err->reason, "NotFound") == 0) { /* no Secret yet */
        eqops_error_clear(err);
        return 0;
    }
    if (rc != 0) {
        eqops__err_prefix(err, "cluster %s: ", cl->name);
        return rc;
    }
    const char *b64 = json_string_value(json_object_get(json_object_get(live, "data"), "password"));
    const char *rotation = json_string_value(json_object_get(
        json_object_get(json_object_get(live, "metadata"), "annotations"), TN_ANNOTATION_ROTATION));
    if (b64 != NULL && eqops__tn_ours(live, c->s->name)) {
        eqops_buf b = EQOPS_BUF_INIT;
        if (eqops__base64_decode(&b, b64, strlen(b64), "password", NULL) == 0 && b.data) {
            found_add(cr, b.data, b.len);
            if (rotation && strcmp(rotation, "pending") == 0 && b.len < PW_MAX) {
                memcpy(cr->pending, b.data, b.len);
                cr->pending[b.len] = '\0';
            }
        }
        eqops__buf_wipe(&b);
    }
    eqops__tn_doc_free(live, "Secret"); /* it held the password too */
    return 0;
}

static json_t *aws_value(const creds *cr)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "engine", "postgres", "host", cr->host,
                     "port", cr->port, "dbname", cr->dbname, "username", cr->user, "password",
                     cr->password);
}

/* The description eqops gives the secrets it makes: how it knows them again. */
static void aws_description(const tn_ctx *c, char *out, size_t len)
{
    snprintf(out, len, "database credentials of eqops tenant %s", c->s->name);
}

/* Whether the AWS secret exists (*exists), refusing one that eqops did not make for this
 * tenant (EQOPS_EEXISTS): it is never overwritten or deleted. */
static int aws_owned(tn_ctx *c, eqops_aws *aws, bool *exists, eqops_error *err)
{
    json_t *doc = NULL;
    char want[128];
    *exists = false;
    int rc = eqops__aws_secret_describe_doc(&doc, aws, c->s->aws_secret, err);
    if (rc == EQOPS_ENOTFOUND) {
        eqops_error_clear(err);
        return 0;
    }
    if (rc != 0)
        return rc;
    const char *d = json_string_value(json_object_get(doc, "Description"));
    aws_description(c, want, sizeof(want));
    *exists = true;
    if (d == NULL || strcmp(d, want) != 0)
        rc = eqops__err(err, EQOPS_EEXISTS,
                        "AWS secret %s exists and was not made by eqops for tenant %s; not "
                        "taking it over",
                        c->s->aws_secret, c->s->name);
    json_decref(doc);
    return rc;
}

static int read_aws_secret(tn_ctx *c, creds *cr, json_t **stored, eqops_error *err)
{
    *stored = NULL;
    eqops_aws *aws = NULL;
    char *value = NULL;
    bool exists = false;
    int rc = eqops__tn_aws_get(c->env, c->s->aws_region, run_token(c), &aws, err);
    if (rc == 0)
        rc = aws_owned(c, aws, &exists, err);
    if (rc == 0 && !exists)
        rc = EQOPS_ENOTFOUND;
    else if (rc == 0)
        rc = eqops_aws_secret_get(&value, aws, c->s->aws_secret, NULL, err);
    if (aws)
        eqops__tn_aws_put(c->env, aws);
    if (rc == EQOPS_ENOTFOUND) {
        eqops_error_clear(err);
        return 0;
    }
    if (rc != 0) {
        if (rc != EQOPS_EEXISTS)
            eqops__err_prefix(err, "AWS secret %s: ", c->s->aws_secret);
        return rc;
    }
    json_t *doc = json_loads(value, 0, NULL);
    if (doc == NULL) /* ours, but not what eqops writes: replaced by the next apply */
        doc = json_object();
    const char *pw = json_string_value(json_object_get(doc, "password"));
    if (pw)
        found_add(cr, pw, strlen(pw));
    eqops_free_secret(value);
    *stored = doc;
    return 0;
}

/* Decide the password: the stored one, a new one when nobody has one yet, or a refusal. */
static int credentials(tn_ctx *c, eqops_pg *pg, creds *cr, json_t **aws_stored, bool rotate)
{
    tn_act a = {.cluster = "",
                .step = "credentials",
                .kind = "Credentials",
                .name = c->s->k8s_secret,
                .action = "none",
                .pg = true};
    eqops_error e = EQOPS_ERROR_INIT;
    int64_t t0 = eqops__mono_ms();
    eqops__tn_start(c, "", "credentials");
    eqops_pg_tenant *t = NULL;
    int rc = eqops__pg_object_name(pg, c->s->name, cr->dbname, sizeof(cr->dbname));
    memcpy(cr->user, cr->dbname, sizeof(cr->user));
    /* the admin conninfo's first server, unless database.host/port name a service in front
     * of them */
    eqops__pg_endpoint(pg, cr->host, cr->port);
    if (c->s->db_host)
        snprintf(cr->host, sizeof(cr->host), "%s", c->s->db_host);
    if (c->s->db_port)
        snprintf(cr->port, sizeof(cr->port), "%d", c->s->db_port);
    if (rc != 0)
        rc = eqops__err(&e, EQOPS_EINVAL, "tenant %s: no database name", c->s->name);
    if (rc == 0) {
        rc = eqops_pg_tenant_show(&t, pg, c->s->name, &e);
        if (rc == 0) {
            cr->pg_exists = true;
            cr->pg_ready = strcmp(eqops_pg_tenant_state(t), "ready") == 0;
        } else if (rc == EQOPS_ENOTFOUND) {
            eqops_error_clear(&e);
            rc = 0;
        }
    }
    for (size_t i = 0; rc == 0 && i < c->s->nclusters; i++)
        rc = read_k8s_secret(c, &c->s->clusters[i], cr, &e);
    if (rc == 0 && c->s->aws_secret)
        rc = read_aws_secret(c, cr, aws_stored, &e);
    bool mut = eqops__tn_mutating(c->op);
    if (rc == 0 && rotate) {
        c->rotating = true;
        a.action = "update";
        if (mut)
            rc = eqops__pg_random_password(cr->password) ? EQOPS_ENOMEM : 0;
        cr->need_set = true;
    } else if (rc == 0 && !cr->pg_ready) {
        /* no role yet, or a create that did not finish: the stored password if any (a run
         * killed after storing it), else a new one; stored before the role gets it */
        if (cr->nfound > 0)
            memcpy(cr->password, cr->found[0], PW_MAX);
        else if (mut)
            rc = eqops__pg_random_password(cr->password) ? EQOPS_ENOMEM : 0;
        a.action = cr->nfound > 0 ? "none" : "create";
        cr->need_set = true;
    } else if (rc == 0) {
        /* the role is in use: keep its password, which must be one of the stored ones */
        int last = EQOPS_EAUTH;
        for (size_t i = 0; i < cr->nfound && last != 0; i++) {
            eqops_error_clear(&e);
            last = eqops__pg_login_check(pg, cr->dbname, cr->user, cr->found[i], &e);
            if (last == 0)
                memcpy(cr->password, cr->found[i], PW_MAX);
            else if (last != EQOPS_EAUTH)
                break;
        }
        if (last == 0) {
            eqops_error_clear(&e);
        } else if (last != EQOPS_EAUTH) {
            rc = last;
        } else if (cr->pending[0] && mut) {
            /* a rotation was asked for and stored, then stopped before the role got it:
             * finish it (the stored password is the one workloads will read) */
            eqops_error_clear(&e);
            memcpy(cr->password, cr->pending, PW_MAX);
            cr->need_set = true;
            c->rotating = true;
            a.action = "update";
        } else {
            eqops_error_clear(&e);
            a.action = "manual";
            rc = eqops__err(&e, EQOPS_ECONFLICT,
                            cr->nfound ? "tenant %s: the stored database password no longer "
                                         "opens the database; apply with rotate_password to "
                                         "set and store a new one"
                                       : "tenant %s: the database role exists but no "
                                         "destination holds its password; apply with "
                                         "rotate_password to set and store a new one",
                            c->s->name);
        }
    }
    if (rc == EQOPS_ENOMEM && e.code == 0)
        eqops__err(&e, rc, "out of memory");
    a.ms = eqops__mono_ms() - t0;
    if (rc != 0 && (mut || rc != EQOPS_ECONFLICT)) {
        a.error = e.message; /* writes stop on a password problem */
        eqops__tn_fail(c, rc, &e);
    } else if (rc != 0) {
        a.note = e.message; /* reads report it as drift */
        rc = 0;
    }
    eqops__tn_act(c, &a);
    eqops_pg_tenant_free(t);
    eqops_error_clear(&e);
    return rc;
}

static int secret_object(tn_ctx *c, const creds *cr)
{
    eqops_error e = EQOPS_ERROR_INIT;
    json_t *data = NULL;
    if (cr->password[0])
        data = json_pack("{s:s, s:s, s:s, s:s, s:s}", "host", cr->host, "port", cr->port, "dbname",
                         cr->dbname, "user", cr->user, "password", cr->password);
    int rc = eqops__tn_render_secret(&c->secret, c->s, data, &e);
    /* a rotation is marked on the Secret until the role has the new password, so a run
     * stopped in between is finished by the next one */
    if (rc == 0 && c->rotating &&
        !eqops__jset(json_object_get(c->secret, "metadata"), "annotations",
                     json_pack("{s:s}", TN_ANNOTATION_ROTATION, "pending")))
        rc = eqops__err(&e, EQOPS_ENOMEM, "out of memory");
    if (data) {
        json_t *pw = json_object_get(data, "password");
        eqops__wipe((char *)json_string_value(pw), strlen(json_string_value(pw)));
    }
    json_decref(data);
    if (rc != 0)
        eqops__tn_fail(c, rc, &e);
    eqops_error_clear(&e);
    return rc;
}

static void secret_object_free(tn_ctx *c)
{
    json_t *data = json_object_get(c->secret, "data");
    const char *k;
    json_t *v;
    json_object_foreach(data, k, v)
    {
        eqops__wipe((char *)json_string_value(v), strlen(json_string_value(v)));
    }
    json_decref(c->secret);
    c->secret = NULL;
}

/* ---- AWS secret, database ---------------------------------------------------------------------
 */

static void aws_step(tn_ctx *c, const creds *cr, const json_t *stored)
{
    if (c->s->aws_secret == NULL || eqops__tn_stopped(c))
        return;
    tn_act a = {.cluster = "",
                .step = "aws-secret",
                .kind = "SecretsManager",
                .name = c->s->aws_secret,
                .action = "none"};
    eqops_error e = EQOPS_ERROR_INIT;
    int64_t t0 = eqops__mono_ms();
    eqops__tn_start(c, "", a.step);
    json_t *want = cr->password[0] ? aws_value(cr) : NULL;
    int rc = 0;
    if (stored == NULL)
        a.action = "create";
    else if (want == NULL || !json_equal(want, (json_t *)stored))
        a.action = "update";
    if (eqops__tn_mutating(c->op) && strcmp(a.action, "none") != 0) {
        eqops_aws *aws = NULL;
        char description[128];
        aws_description(c, description, sizeof(description));
        char *text = want ? eqops__json_dump(want, 0) : NULL, *res = NULL;
        rc = text ? eqops__tn_aws_get(c->env, c->s->aws_region, run_token(c), &aws, &e)
                  : eqops__err(&e, EQOPS_ENOMEM, "out of memory");
        if (rc == 0 && stored == NULL)
            rc = eqops_aws_secret_create(&res, aws, c->s->aws_secret, text, description, &e);
        if (rc == EQOPS_EEXISTS) { /* made meanwhile: only ours is written over */
            bool exists = false;
            eqops_error_clear(&e);
            rc = aws_owned(c, aws, &exists, &e);
        }
        if (rc == 0 && (stored != NULL || res == NULL)) {
            eqops__free(res);
            res = NULL;
            rc = eqops_aws_secret_put(&res, aws, c->s->aws_secret, text, &e);
        }
        if (aws)
            eqops__tn_aws_put(c->env, aws);
        if (text)
            eqops__wipe_free(text, strlen(text));
        eqops__free(res);
    }
    if (want) {
        json_t *pw = json_object_get(want, "password");
        eqops__wipe((char *)json_string_value(pw), strlen(json_string_value(pw)));
    }
    json_decref(want);
    eqops__tn_step_end(c, &a, t0, rc, &e);
}

static void database_step(tn_ctx *c, eqops_pg *pg, const creds *cr)
{
    if (eqops__tn_stopped(c))
        return;
    tn_act a = {.cluster = "",
                .step = "database",
                .kind = "PostgresDatabase",
                .name = cr->dbname,
                .action = "none",
                .pg = true};
    eqops_error e = EQOPS_ERROR_INIT;
    int64_t t0 = eqops__mono_ms();
    eqops__tn_start(c, "", a.step);
    if (!cr->pg_ready)
        a.action = "create";
    else if (cr->need_set)
        a.action = "update";
    int rc = 0;
    const char *settings[40] = {NULL};
    char buf[33][1100];
    size_t n = 0;
    const char *k;
    json_t *v, *fields = json_array();
    json_object_foreach(json_object_get(json_object_get(c->s->doc, "database"), "settings"), k, v)
    {
        if (n >= 32 || rc != 0)
            break;
        if (json_is_string(v))
            snprintf(buf[n], sizeof(buf[n]), "%s=%s", k, json_string_value(v));
        else if (json_is_boolean(v))
            snprintf(buf[n], sizeof(buf[n]), "%s=%s", k, json_is_true(v) ? "on" : "off");
        else if (json_is_integer(v))
            snprintf(buf[n], sizeof(buf[n]), "%s=%lld", k, (long long)json_integer_value(v));
        else
            snprintf(buf[n], sizeof(buf[n]), "%s=%g", k, json_number_value(v));
        char field[96];
        snprintf(field, sizeof(field), "database.settings.%s", k);
        rc = eqops__pg_setting_value_check(k, strchr(buf[n], '=') + 1, field, &e);
        settings[n] = buf[n];
        n++;
    }
    /* what the database carries and the spec does not say (or says otherwise), hand-made
     * settings and refused ones too: apply puts the spec's in their place */
    if (rc == 0 && cr->pg_ready)
        rc = fields ? eqops__pg_settings_diff(pg, cr->dbname, settings, "database.settings.",
                                              fields, &e)
                    : eqops__err(&e, EQOPS_ENOMEM, "out of memory");
    if (rc == 0 && json_array_size(fields) > 0 && !strcmp(a.action, "none"))
        a.action = "update";
    a.fields = fields;
    if (rc == 0 && eqops__tn_mutating(c->op)) {
        /* the template first (once per env), so the database is a fast clone of it */
        pthread_mutex_lock(&c->env->template_mu);
        if (c->env->migrations && !c->env->template_ready) {
            rc = eqops_pg_template_ensure(pg, c->env->migrations, &e);
            c->env->template_ready = rc == 0;
        }
        pthread_mutex_unlock(&c->env->template_mu);
        eqops_pg_tenant_options o = EQOPS_PG_TENANT_OPTIONS_INIT;
        o.connection_limit = c->s->connection_limit;
        o.settings = n ? settings : NULL;
        o.password = cr->need_set ? cr->password : NULL;
        o.migrations_dir = c->env->migrations;
        eqops_pg_tenant *t = NULL;
        if (rc == 0)
            rc = eqops_pg_tenant_create(&t, pg, c->s->name, &o, &e);
        eqops_pg_tenant_free(t);
    }
    eqops__tn_step_end(c, &a, t0, rc, &e);
    json_decref(fields);
}

/* Whether a drift report finds nothing but database settings (the database step shows them
 * and apply replaces them: not a person's decision). */
static bool settings_only(const json_t *rep)
{
    const char *schema = json_string_value(json_object_get(rep, "schema"));
    const char *iso = json_string_value(json_object_get(rep, "isolation"));
    json_t *settings = json_object_get(rep, "settings");
    if (!schema || strcmp(schema, "same") != 0 || !iso || json_array_size(settings) == 0)
        return false;
    eqops_buf b = EQOPS_BUF_INIT;
    for (size_t i = 0; i < json_array_size(settings); i++)
        eqops__buf_printf(&b, "%s%s", i ? "; " : "",
                          json_string_value(json_array_get(settings, i)));
    bool only = !eqops__buf_ok(&b) && strcmp(eqops__buf_cstr(&b), iso) == 0;
    eqops__buf_free(&b);
    return only;
}

/* Drift and reconcile: pending migrations and a schema that differs from the template. */
static void schema_step(tn_ctx *c, eqops_pg *pg, const creds *cr)
{
    if (eqops__tn_stopped(c) || !cr->pg_ready)
        return;
    tn_act a = {.cluster = "",
                .step = "schema",
                .kind = "PostgresSchema",
                .name = cr->dbname,
                .action = "none",
                .pg = true};
    eqops_error e = EQOPS_ERROR_INIT;
    int64_t t0 = eqops__mono_ms();
    eqops__tn_start(c, "", a.step);
    json_t *pending = NULL, *detail = NULL;
    char *out = NULL;
    int rc = 0;
    if (c->env->migrations) {
        eqops__pg_schema sc;
        rc = eqops__pg_schema_inspect(&sc, pg, c->env->migrations, cr->dbname, &e);
        if (rc == 0 && json_array_size(sc.pending) > 0) {
            a.action = "update";
            pending = json_incref(sc.pending);
        }
        if (rc == 0 && (sc.nedited > 0 || sc.nmissing > 0))
            a.action = "manual";
        eqops__pg_schema_free(&sc);
    }
    if (pending == NULL && (pending = json_array()) == NULL && rc == 0)
        rc = eqops__err(&e, EQOPS_ENOMEM, "out of memory");
    if (rc == 0 && strcmp(a.action, "update") == 0 && c->op == TN_RECONCILE) {
        eqops_pg_migrate_options mo = EQOPS_PG_MIGRATE_OPTIONS_INIT;
        const char *tenants[] = {c->s->name, NULL};
        size_t failed = 0;
        mo.migrations_dir = c->env->migrations;
        mo.tenants = tenants;
        /* the template too: the tenant is compared with it afterwards */
        rc = eqops_pg_template_ensure(pg, c->env->migrations, &e);
        if (rc == 0)
            rc = eqops_pg_migrate(&out, &failed, pg, &mo, &e);
        if (rc == 0 && failed > 0)
            rc = eqops__err(&e, EQOPS_EUNAVAILABLE, "tenant %s: the migration failed: %s",
                            c->s->name, out ? out : "");
        eqops__free(out);
        out = NULL;
    }
    if (rc == 0 && strcmp(a.action, "none") == 0) {
        /* up to date, yet different from the template: edited by hand */
        const char *tenants[] = {c->s->name, NULL};
        size_t drifted = 0;
        json_t *doc = NULL;
        int drc = eqops__pg_drift_doc(&doc, &drifted, pg, tenants, &e);
        json_t *rep = json_array_get(json_object_get(doc, "tenants"), 0);
        if (drc == 0 && drifted > 0 && rep != NULL && !settings_only(rep)) {
            a.action = "manual";
            detail = json_incref(rep);
            a.note = "the schema or isolation differs from the template beyond pending "
                     "migrations: a person must decide";
        }
        json_decref(doc);
        if (drc == EQOPS_ECANCELED)
            rc = drc; /* not checked: never reported as "none" */
        else if (drc != 0)
            eqops_error_clear(&e); /* no template yet: nothing to compare with */
    }
    a.fields = pending;
    a.detail = detail;
    eqops__tn_step_end(c, &a, t0, rc, &e); /* "manual" is a finding, not a failure of the run */
    json_decref(pending);
    json_decref(detail);
}

static void aws_delete_step(tn_ctx *c)
{
    if (c->s->aws_secret == NULL || eqops__tn_stopped(c))
        return;
    tn_act a = {.cluster = "",
                .step = "aws-secret",
                .kind = "SecretsManager",
                .name = c->s->aws_secret,
                .action = "none"};
    eqops_error e = EQOPS_ERROR_INIT;
    int64_t t0 = eqops__mono_ms();
    eqops__tn_start(c, "", a.step);
    eqops_aws *aws = NULL;
    bool exists = false;
    int rc = eqops__tn_aws_get(c->env, c->s->aws_region, run_token(c), &aws, &e);
    if (rc == 0)
        rc = aws_owned(c, aws, &exists, &e);
    if (rc == 0 && exists) {
        a.action = "delete";
        rc = eqops_aws_secret_delete(aws, c->s->aws_secret, 1, &e);
    }
    if (aws)
        eqops__tn_aws_put(c->env, aws);
    eqops__tn_step_end(c, &a, t0, rc, &e);
}

static void database_drop_step(tn_ctx *c, eqops_pg *pg)
{
    if (eqops__tn_stopped(c))
        return;
    char db[80] = "";
    eqops__pg_object_name(pg, c->s->name, db, sizeof(db));
    tn_act a = {.cluster = "",
                .step = "database",
                .kind = "PostgresDatabase",
                .name = db,
                .action = "none",
                .pg = true};
    eqops_error e = EQOPS_ERROR_INIT;
    int64_t t0 = eqops__mono_ms();
    eqops__tn_start(c, "", a.step);
    eqops_pg_tenant *t = NULL;
    int rc = eqops_pg_tenant_show(&t, pg, c->s->name, &e);
    eqops_pg_tenant_free(t);
    if (rc == EQOPS_ENOTFOUND) {
        eqops_error_clear(&e);
        rc = 0;
    } else if (rc == 0) {
        a.action = "delete";
        rc = eqops_pg_tenant_drop(pg, c->s->name, c->s->name, &e);
    }
    eqops__tn_step_end(c, &a, t0, rc, &e);
}

/* ---- one tenant ----------------------------------------------------------------------------- */

/* Whether the operation may go on: not failed or stopped, and (writes) the lock still held. */
static bool lock_held(tn_ctx *c, eqops__pg_lock *lock)
{
    if (eqops__tn_stopped(c))
        return false;
    eqops_error e = EQOPS_ERROR_INIT;
    int rc = eqops__pg_lock_held(lock, "tenant lock", &e);
    if (rc != 0)
        eqops__tn_fail(c, rc, &e);
    eqops_error_clear(&e);
    return rc == 0;
}

/* Destroy: the AWS secret is eqops's (or absent) before anything is deleted. */
static void aws_check(tn_ctx *c)
{
    if (c->s->aws_secret == NULL || eqops__tn_stopped(c))
        return;
    eqops_aws *aws = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    bool exists = false;
    int rc = eqops__tn_aws_get(c->env, c->s->aws_region, run_token(c), &aws, &e);
    if (rc == 0)
        rc = aws_owned(c, aws, &exists, &e);
    if (aws)
        eqops__tn_aws_put(c->env, aws);
    if (rc != 0) {
        eqops__err_prefix(&e, "nothing was deleted: ");
        eqops__tn_fail(c, rc, &e);
    }
    eqops_error_clear(&e);
}

/* The steps the operation reports, under the same conditions as in eqops__tn_tenant. */
static size_t count_steps(const tn_spec *s, tn_op op)
{
    size_t argo = s->argocd ? 2 : 0;
    if (op == TN_DESTROY) /* argo, namespace per cluster; the AWS secret; the database */
        return (1 + argo) * s->nclusters + (s->aws_secret ? 1 : 0) + (s->db_enabled ? 1 : 0);
    size_t per_cluster = 9 + argo + (s->db_enabled ? 1 + (s->egress_cidr ? 1 : 0) : 0);
    size_t rest = 0;
    if (s->db_enabled) /* credentials, database, the AWS secret, the schema */
        rest = 2 + (s->aws_secret ? 1 : 0) + (op == TN_DRIFT || op == TN_RECONCILE ? 1 : 0);
    return per_cluster * s->nclusters + rest;
}

int eqops__tn_tenant(json_t **out, eqops_tenant_env *env, tn_run *run, const tn_spec *s, tn_op op,
                     const eqops_tenant_run_options *opts, eqops_error *err)
{
    *out = NULL;
    tn_ctx c;
    memset(&c, 0, sizeof(c));
    c.env = env;
    c.run = run;
    c.s = s;
    c.op = op;
    c.parallel = opts ? opts->cluster_parallel : 0;
    c.total = count_steps(s, op);
    c.actions = json_array();
    c.err = (eqops_error)EQOPS_ERROR_INIT;
    pthread_mutex_init(&c.mu, NULL);
    int64_t t0 = eqops__mono_ms();
    eqops_pg *pg = NULL;
    eqops__pg_lock *lock = NULL;
    creds *cr = eqops__calloc(1, sizeof(*cr));
    json_t *aws_stored = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    int rc = c.actions && cr ? 0 : eqops__err(&e, EQOPS_ENOMEM, "out of memory");
    bool use_pg = s->db_enabled || (eqops__tn_mutating(op) && env->pg_conninfo);
    if (rc == 0 && use_pg)
        rc = eqops__tn_pg_get(env, run ? run->token : NULL, &pg, &e);
    if (rc == 0 && pg && eqops__tn_mutating(op)) {
        /* one apply or destroy of a tenant at a time, across processes; the lock goes with
         * the session, so a killed run never leaves it behind */
        char key[96];
        snprintf(key, sizeof(key), "eqops:tenant-apply:%s", s->name);
        int64_t l0 = eqops__mono_ms();
        rc = eqops__pg_lock_acquire(&lock, pg, key, env->lock_wait_ms, "tenant", &e);
        c.pg_ms += eqops__mono_ms() - l0;
    }
    if (rc != 0)
        eqops__tn_fail(&c, rc, &e);
    if (op == TN_DESTROY) {
        /* everything is known to be eqops's before anything is deleted */
        eqops__tn_stage(&c, TN_STAGE_CHECK_NS);
        aws_check(&c);
        if (s->argocd && lock_held(&c, lock))
            eqops__tn_stage(&c, TN_STAGE_DELETE_ARGOCD);
        if (lock_held(&c, lock))
            eqops__tn_stage(&c, TN_STAGE_DELETE_NS);
        if (lock_held(&c, lock))
            aws_delete_step(&c);
        if (s->db_enabled && lock_held(&c, lock))
            database_drop_step(&c, pg);
    } else {
        if (s->db_enabled && !eqops__tn_stopped(&c)) {
            bool rotate = opts && opts->rotate_password;
            if (credentials(&c, pg, cr, &aws_stored, rotate) == 0)
                secret_object(&c, cr);
        }
        /* writes go on only while the tenant's lock is still held (a lost connection
         * releases it: another apply may be running now) */
        if (lock_held(&c, lock))
            eqops__tn_stage(&c, TN_STAGE_NAMESPACE);
        if (s->db_enabled) {
            if (lock_held(&c, lock))
                aws_step(&c, cr, aws_stored);
            if (lock_held(&c, lock))
                database_step(&c, pg, cr);
            if (c.rotating && eqops__tn_mutating(op) && lock_held(&c, lock)) {
                /* the role has it now: the mark comes off (server-side apply drops it) */
                json_object_del(json_object_get(c.secret, "metadata"), "annotations");
                c.total += s->nclusters;
                eqops__tn_stage(&c, TN_STAGE_SECRET);
            }
            if (op == TN_DRIFT || op == TN_RECONCILE)
                schema_step(&c, pg, cr);
        }
        if (lock_held(&c, lock)) /* without argocd: removes what an earlier spec had */
            eqops__tn_stage(&c, TN_STAGE_ARGOCD);
    }
    eqops__pg_lock_release(lock);
    eqops__tn_pg_put(env, pg, c.rc != 0);
    if (c.rc == 0 && eqops__tn_run_cancelled(run))
        c.rc = eqops__tn_run_stopped(run, s->name, &c.err);
    json_t *res =
        json_pack("{s:s, s:s, s:b, s:I, s:o, s:I, s:I, s:I}", "tenant", s->name, "operation",
                  op_name(op), "ok", c.rc == 0, "changed", (json_int_t)c.changed, "actions",
                  json_incref(c.actions), "ms", (json_int_t)(eqops__mono_ms() - t0), "k8s_ms",
                  (json_int_t)c.k8s_ms, "pg_ms", (json_int_t)c.pg_ms);
    if (res && c.rc != 0)
        eqops__jset(res, "error", json_string(c.err.message));
    rc = c.rc;
    if (rc != 0)
        eqops__err_move(err, &c.err);
    if (res == NULL && rc == 0)
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    *out = res;
    if (c.secret)
        secret_object_free(&c);
    json_t *pw = json_object_get(aws_stored, "password");
    if (pw)
        eqops__wipe((char *)json_string_value(pw), strlen(json_string_value(pw)));
    json_decref(aws_stored);
    if (cr) {
        creds_wipe(cr);
        eqops__free(cr);
    }
    json_decref(c.actions);
    eqops_error_clear(&c.err);
    eqops_error_clear(&e);
    pthread_mutex_destroy(&c.mu);
    return rc;
}
