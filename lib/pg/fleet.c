/*
 * fleet.c - migrations across the template and every tenant database from one process:
 * a fleet-wide lock in the control database, canary stage, bounded concurrency with worker
 * threads, progress reported from the calling thread, per-database results; validate.
 */
#include "pg_internal.h"

#include <stdio.h>

#define MOD "pg"

/* ---- the fleet on core's pool ------------------------------------------------------------- */

typedef struct fleet_run {
    pg_pool_job *job;
    size_t reported;
} fleet_run;

static void fleet_item(eqops__pool *p, size_t i, void *arg)
{
    pg_pool_job *job = ((fleet_run *)arg)->job;
    pg_db_result *r = &job->results[i];
    if (job->work)
        job->work(job, i);
    else
        eqops__pg_migrate_db(job->pg, r->database, job->ms, job->cfg, r);
    if (r->rc != 0 && job->stop_on_error)
        eqops__pool_stop(p);
    size_t *done = eqops__malloc(sizeof(*done));
    if (done != NULL) {
        *done = i;
        eqops__pool_post(p, done);
    }
}

/* On the calling thread: the progress callback, in completion order. */
static int fleet_deliver(void *event, void *arg)
{
    fleet_run *run = arg;
    pg_pool_job *job = run->job;
    const pg_db_result *r = &job->results[*(size_t *)event];
    run->reported++;
    return job->progress ? job->progress(r->database, r->status, job->done_before + run->reported,
                                         job->total, job->payload)
                         : 0;
}

int eqops__pg_pool_run(pg_pool_job *job, eqops_error *err)
{
    if (job->n == 0)
        return 0;
    fleet_run run = {job, 0};
    /* the handle's token: the call's own (eqops_pg_migrate sets it for its duration) */
    eqops__pool_job pj = {job->n,        job->concurrency, fleet_item,     &run,
                          fleet_deliver, eqops__free,      job->pg->cancel};
    return eqops__pool_run(&pj, err);
}

/* ---- results as JSON ----------------------------------------------------------------------- */

static json_t *result_json(const pg_db_result *r, pg_mode mode)
{
    json_t *o = json_object();
    eqops__jset(o, "database", json_string(r->database));
    eqops__jset(o, "tenant", r->tenant[0] ? json_string(r->tenant) : json_null());
    if (mode == PG_MODE_INSPECT) {
        eqops__jset(o, "version", r->from >= 0 ? json_integer(r->from) : json_null());
        eqops__jset(o, "pending", json_incref(r->pending));
        eqops__jset(o, "edited", json_incref(r->edited));
        eqops__jset(o, "missing", json_incref(r->missing));
    } else {
        eqops__jset(o, "from", r->from >= 0 ? json_integer(r->from) : json_null());
        eqops__jset(o, "to", r->to >= 0 ? json_integer(r->to) : json_null());
        eqops__jset(o, "applied", json_incref(r->applied));
        eqops__jset(o, "status", json_string(r->status));
        eqops__jset(o, "ms", json_integer(r->ms));
    }
    eqops__jset(o, "error", r->rc ? json_string(r->error) : json_null());
    return o;
}

/* ---- shared set-up -------------------------------------------------------------------------- */

void eqops__pg_targets_free(pg_targets *t)
{
    for (size_t i = 0; i < t->n; i++)
        eqops__pg_result_free(&t->r[i]);
    eqops__free(t->r);
    t->r = NULL;
    t->n = 0;
}

/* results[0] is the template (when `with_template`), then the selected tenants. */
int eqops__pg_targets_make(eqops_pg *pg, bool with_template, const char *const *names,
                           pg_targets *out, eqops_error *err)
{
    memset(out, 0, sizeof(*out));
    json_t *reg = NULL, *sel = NULL;
    int rc = eqops__pg_registry(pg, &reg, err);
    if (rc == 0)
        rc = eqops__pg_registry_select(reg, names, &sel, err);
    json_decref(reg);
    if (rc != 0)
        return rc;
    size_t n = json_array_size(sel) + (with_template ? 1 : 0);
    out->r = eqops__calloc(n ? n : 1, sizeof(pg_db_result));
    if (out->r == NULL) {
        json_decref(sel);
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
    if (with_template) {
        out->have_template = true;
        if (eqops__pg_result_init(&out->r[out->n++], pg->template_db, NULL) != 0)
            rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
    size_t i;
    json_t *e;
    json_array_foreach(sel, i, e)
    {
        const char *db = json_string_value(json_object_get(e, "database"));
        const char *name = json_string_value(json_object_get(e, "name"));
        if (db == NULL || rc != 0)
            continue; /* a create that has not finished has no database yet */
        if (eqops__pg_result_init(&out->r[out->n++], db, name) != 0)
            rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
    json_decref(sel);
    if (rc != 0)
        eqops__pg_targets_free(out);
    return rc;
}

typedef struct exists_ctx {
    const char *db;
    bool exists;
} exists_ctx;

static int exists_step(PGconn *c, void *arg, eqops_error *err)
{
    exists_ctx *x = arg;
    const char *params[] = {x->db};
    PGresult *r = NULL;
    int rc = eqops__pg_exec(c, "find database", "SELECT 1 FROM pg_database WHERE datname = $1", 1,
                            params, &r, err);
    x->exists = rc == 0 && PQntuples(r) == 1;
    PQclear(r);
    return rc;
}

bool eqops__pg_template_exists(eqops_pg *pg, eqops_error *err, int *rc)
{
    exists_ctx x = {pg->template_db, false};
    *rc = eqops__pg_run(pg, &pg->conn, NULL, "find template", exists_step, &x, err);
    return *rc == 0 && x.exists;
}

/* ---- migrate ------------------------------------------------------------------------------- */

static const size_t migrate_options_sizes[] = {sizeof(eqops_pg_migrate_options)};

EQOPS__OPTS_INIT_FN(eqops_pg_migrate_options_init, eqops_pg_migrate_options, migrate_options_sizes)

/* Read the caller's options (NULL: defaults) into `o` and check them. */
static int migrate_opts_read(eqops_pg_migrate_options *o, const eqops_pg_migrate_options *in,
                             eqops_error *err)
{
    int rc = EQOPS__OPTS_READ(o, in, migrate_options_sizes, "pg migrate options", err);
    if (rc != 0)
        return rc;
    if (o->migrations_dir == NULL || *o->migrations_dir == '\0')
        return eqops__err_field(err, EQOPS_EINVAL, "opts.migrations_dir", "is required");
    if (o->concurrency < 0 || o->concurrency > 64)
        return eqops__err_field(err, EQOPS_EINVAL, "opts.concurrency", "must be 0 (4) to 64");
    if (o->canary < 0)
        return eqops__err_field(err, EQOPS_EINVAL, "opts.canary", "must be >= 0");
    if (o->lock_wait_ms < 0 || o->lock_timeout_ms < 0 || o->statement_timeout_ms < 0)
        return eqops__err_field(err, EQOPS_EINVAL, "opts", "timeouts must be >= 0");
    return 0;
}

int eqops_pg_migrate(char **out, size_t *failed, eqops_pg *pg, const eqops_pg_migrate_options *in,
                     eqops_error *err)
{
    eqops_error_clear(err);
    if (out == NULL || pg == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, out ? "pg" : "out", "must not be NULL");
    *out = NULL;
    if (failed)
        *failed = 0;
    eqops_pg_migrate_options oc;
    const eqops_pg_migrate_options *opts = &oc;
    int rc = migrate_opts_read(&oc, in, err);
    if (rc != 0)
        return rc;
    pg_migrations ms;
    if ((rc = eqops__pg_migrations_load(&ms, opts->migrations_dir, err)) != 0)
        return rc;
    /* the call's token, when given, is the handle's for its duration: every connect, statement
     * (PQcancel), lock wait and retry wait of the run stops on it */
    const eqops_cancel *handle_cancel = pg->cancel;
    if (opts->cancel)
        pg->cancel = opts->cancel;
    pg_migrate_cfg cfg = {opts->dry_run ? PG_MODE_PLAN : PG_MODE_APPLY,
                          opts->lock_wait_ms ? opts->lock_wait_ms : PG_LOCK_WAIT_MS,
                          opts->lock_timeout_ms ? opts->lock_timeout_ms : 5000,
                          opts->statement_timeout_ms};
    PGconn *lock = NULL;
    pg_targets t = {NULL, 0, false};
    if (!opts->dry_run) {
        rc = eqops__pg_lock_open(pg, &lock, PG_LOCK_FLEET, false, cfg.lock_wait_ms,
                                 "fleet lock (another migration run?)", err);
        /* new tenants clone the template under a shared lock: wait for them, block new ones */
        if (rc == 0)
            rc = eqops__pg_try_lock(lock, PG_LOCK_TEMPLATE, false, cfg.lock_wait_ms,
                                    "template lock", err);
    }
    bool have_template = false;
    if (rc == 0 && !opts->skip_template) {
        have_template = eqops__pg_template_exists(pg, err, &rc);
        if (rc == 0 && !have_template && !opts->dry_run)
            rc = eqops__pg_template_create(pg, &have_template, err);
        have_template = have_template || (rc == 0 && opts->dry_run);
    }
    /* the registry is read under the template lock: every tenant cloned before is listed,
     * every tenant cloned after gets the migrated template */
    if (rc == 0)
        rc = eqops__pg_targets_make(pg, have_template, opts->tenants, &t, err);
    size_t total = t.n, done = 0;
    bool stopped = false;
    if (rc == 0 && t.have_template) {
        pg_db_result *tr = &t.r[0];
        if (opts->dry_run && !eqops__pg_template_exists(pg, NULL, &rc)) {
            rc = 0; /* would be created: everything is pending */
            tr->from = 0;
            tr->status = "planned";
            for (size_t i = 0; i < ms.n; i++)
                eqops__jappend(tr->applied, json_integer(ms.m[i].version));
            tr->to = eqops__pg_migrations_target(&ms);
        } else {
            eqops__pg_migrate_db(pg, tr->database, &ms, &cfg, tr);
        }
        done++;
        if (opts->progress &&
            opts->progress(tr->database, tr->status, done, total, opts->payload)) {
            stopped = true;
            rc = eqops__err(err, EQOPS_ECANCELED, "stopped by the progress callback");
        }
        if (tr->rc != 0)
            stopped = true; /* tenants are not touched when the template fails */
    }
    if (lock != NULL)
        eqops__pg_unlock(lock, PG_LOCK_TEMPLATE, false);
    size_t first = t.have_template ? 1 : 0, ntenants = t.n - first;
    size_t canary = (size_t)opts->canary < ntenants ? (size_t)opts->canary : ntenants;
    pg_pool_job job = {NULL,
                       NULL,
                       pg,
                       &ms,
                       &cfg,
                       t.r ? t.r + first : NULL,
                       canary,
                       opts->concurrency ? opts->concurrency : 4,
                       true,
                       opts->progress,
                       opts->payload,
                       done,
                       total};
    if (rc == 0 && !stopped && (rc = eqops__pg_lock_check(lock, "fleet lock", err)) == 0 &&
        canary > 0) {
        eqops__log(EQOPS_LOG_INFO, MOD, "canary stage: %zu tenant(s)", canary);
        rc = eqops__pg_pool_run(&job, err);
        for (size_t i = 0; i < canary; i++)
            stopped = stopped || t.r[first + i].rc != 0;
        done += canary;
    }
    if (rc == 0 && !stopped && (rc = eqops__pg_lock_check(lock, "fleet lock", err)) == 0 &&
        ntenants > canary) {
        job.results = t.r ? t.r + first + canary : NULL;
        job.n = ntenants - canary;
        job.stop_on_error = !opts->continue_on_error;
        job.done_before = done;
        rc = eqops__pg_pool_run(&job, err);
    }
    PQfinish(lock);
    /* a database stopped by the token failed with EQOPS_ECANCELED, and nothing starts after
     * it: the run was cancelled (the next one finishes the job; nothing is applied twice) */
    if ((rc == 0 || rc == EQOPS_ECANCELED) && eqops_cancel_triggered(pg->cancel)) {
        eqops_error_clear(err);
        rc = eqops__err(err, EQOPS_ECANCELED, "fleet migration: cancelled");
    }
    json_t *doc = NULL;
    if (rc == 0 || rc == EQOPS_ECANCELED) {
        size_t nok = 0, nfailed = 0, nskipped = 0;
        json_t *dbs = json_array();
        for (size_t i = 0; i < t.n; i++) {
            const char *st = t.r[i].status;
            nok += !strcmp(st, "ok") || !strcmp(st, "planned");
            nfailed += !strcmp(st, "failed");
            nskipped += !strcmp(st, "skipped");
            eqops__jappend(dbs, result_json(&t.r[i], cfg.mode));
        }
        doc = json_object();
        eqops__jset(doc, "dry_run", json_boolean(opts->dry_run));
        eqops__jset(doc, "target_version", json_integer(eqops__pg_migrations_target(&ms)));
        eqops__jset(doc, "databases", dbs);
        eqops__jset(doc, "ok", json_integer((json_int_t)nok));
        eqops__jset(doc, "failed", json_integer((json_int_t)nfailed));
        eqops__jset(doc, "skipped", json_integer((json_int_t)nskipped));
        *out = eqops__json_dump(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
        if (*out == NULL || json_array_size(dbs) != t.n)
            rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
        if (failed)
            *failed = nfailed;
        eqops__log(nfailed ? EQOPS_LOG_WARN : EQOPS_LOG_INFO, MOD,
                   "migration %s: %zu ok, %zu failed, %zu skipped", opts->dry_run ? "plan" : "run",
                   nok, nfailed, nskipped);
    }
    if (rc != 0 && rc != EQOPS_ECANCELED) {
        eqops__free(*out);
        *out = NULL;
    }
    json_decref(doc);
    eqops__pg_targets_free(&t);
    eqops__pg_migrations_free(&ms);
    pg->cancel = handle_cancel;
    return rc;
}

/* ---- validate -------------------------------------------------------------------------------- */

int eqops_pg_validate(char **out, size_t *problems, eqops_pg *pg, const char *migrations_dir,
                      const char *database, eqops_error *err)
{
    eqops_error_clear(err);
    if (out == NULL || pg == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, out ? "pg" : "out", "must not be NULL");
    *out = NULL;
    if (problems)
        *problems = 0;
    pg_migrations ms;
    int rc = eqops__pg_migrations_load(&ms, migrations_dir, err);
    if (rc != 0)
        return rc;
    pg_targets t = {NULL, 0, false};
    bool have_template = eqops__pg_template_exists(pg, err, &rc);
    if (rc == 0)
        rc = eqops__pg_targets_make(pg, have_template, NULL, &t, err);
    if (rc == 0 && database != NULL) { /* keep just that one */
        size_t keep = t.n;
        for (size_t i = 0; i < t.n; i++)
            if (!strcmp(t.r[i].database, database))
                keep = i;
        if (keep == t.n) {
            rc = eqops__err_field(err, EQOPS_ENOTFOUND, "database",
                                  "%s is neither the template nor a tenant database", database);
        } else {
            pg_db_result kept = t.r[keep];
            for (size_t i = 0; i < t.n; i++)
                if (i != keep)
                    eqops__pg_result_free(&t.r[i]);
            t.r[0] = kept;
            t.n = 1;
        }
    }
    pg_migrate_cfg cfg = {PG_MODE_INSPECT, 0, 0, 0};
    pg_pool_job job = {NULL, NULL, pg, &ms, &cfg, t.r, t.n, 4, false, NULL, NULL, 0, t.n};
    if (rc == 0)
        rc = eqops__pg_pool_run(&job, err);
    if (rc == 0) {
        size_t n = 0;
        json_t *dbs = json_array();
        for (size_t i = 0; i < t.n; i++) {
            n +=
                json_array_size(t.r[i].edited) + json_array_size(t.r[i].missing) + (t.r[i].rc != 0);
            eqops__jappend(dbs, result_json(&t.r[i], PG_MODE_INSPECT));
        }
        json_t *doc = json_object();
        eqops__jset(doc, "target_version", json_integer(eqops__pg_migrations_target(&ms)));
        eqops__jset(doc, "databases", dbs);
        eqops__jset(doc, "problems", json_integer((json_int_t)n));
        *out = eqops__json_dump(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
        bool complete = json_array_size(dbs) == t.n;
        json_decref(doc);
        if (*out == NULL || !complete) {
            eqops__free(*out);
            *out = NULL;
            rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
        }
        if (problems)
            *problems = n;
    }
    eqops__pg_targets_free(&t);
    eqops__pg_migrations_free(&ms);
    return rc;
}
