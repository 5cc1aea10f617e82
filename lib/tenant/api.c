/*
 * api.c - the public tenant functions: spec check and render, one tenant's operations run on
 * a worker with progress on the calling thread, status, the fleet over a directory, and the
 * list of tenants found live.
 */
#include "tenant_internal.h"

#include "../k8s/k8s_seam.h"
#include "../pg/pg_seam.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#define MOD "tenant"

static int check_env(eqops_tenant_env *env, eqops_error *err)
{
    return env ? 0 : eqops__err(err, EQOPS_EINVAL, "env must not be NULL");
}

/* A reserved name is refused by everything but destroy, which removes only what is labelled as
 * the tenant's: a tenant made before its name was reserved can still go. */
static int name_allowed(tn_spec *s, eqops_tenant_env *env, tn_op op, eqops_error *err)
{
    int rc = op == TN_DESTROY ? 0 : eqops__tn_name_reserved(env, s->name, err);
    if (rc != 0)
        eqops__tn_spec_free(s);
    return rc;
}

static int parse(tn_spec *s, eqops_tenant_env *env, const char *spec, tn_op op, eqops_error *err)
{
    if (spec == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "spec", "must not be NULL");
    int rc = eqops__tn_spec_parse(s, env->tiers, spec, strlen(spec), "tenant spec", err);
    return rc == 0 ? name_allowed(s, env, op, err) : rc;
}

static int dump(char **out, json_t *doc, eqops_error *err)
{
    *out = doc ? eqops__json_dump(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    return *out ? 0 : eqops__err(err, EQOPS_ENOMEM, "out of memory");
}

EQOPS_API int eqops_tenant_spec_check(char **out, eqops_tenant_env *env, const char *spec,
                                      eqops_error *err)
{
    if (out == NULL)
        return eqops__err(err, EQOPS_EINVAL, "out must not be NULL");
    *out = NULL;
    tn_spec s;
    int rc = check_env(env, err);
    if (rc == 0)
        rc = parse(&s, env, spec, TN_PLAN, err);
    if (rc == 0) {
        rc = dump(out, s.doc, err);
        eqops__tn_spec_free(&s);
    }
    return rc;
}

EQOPS_API int eqops_tenant_render(char **out, eqops_tenant_env *env, const char *spec,
                                  const char *cluster, eqops_error *err)
{
    if (out == NULL)
        return eqops__err(err, EQOPS_EINVAL, "out must not be NULL");
    *out = NULL;
    tn_spec s;
    int rc = check_env(env, err);
    if (rc == 0)
        rc = parse(&s, env, spec, TN_PLAN, err);
    if (rc != 0)
        return rc;
    size_t ci = 0;
    if (cluster) {
        for (ci = 0; ci < s.nclusters && strcmp(s.clusters[ci].name, cluster) != 0; ci++)
            ;
        if (ci == s.nclusters)
            rc = eqops__err_field(err, EQOPS_ENOTFOUND, "cluster",
                                  "\"%.64s\" is not one of the spec's clusters", cluster);
    }
    tn_objects ns = {.n = 0}, argo = {.n = 0};
    json_t *arr = json_array(), *secret = NULL;
    if (rc == 0)
        rc = eqops__tn_render_namespace(&ns, &s, err);
    if (rc == 0 && s.db_enabled)
        rc = eqops__tn_render_secret(&secret, &s, NULL, err);
    if (rc == 0)
        rc = eqops__tn_render_argocd(&argo, &s, env->argocd_ns, err);
    bool ok = arr != NULL;
    for (size_t i = 0; rc == 0 && i < ns.n; i++)
        ok = ok && eqops__jappend(arr, json_incref(ns.v[i].obj));
    if (secret)
        ok = ok && eqops__jappend(arr, json_incref(secret));
    for (size_t i = 0; rc == 0 && i < argo.n; i++)
        ok = ok && eqops__jappend(arr, json_incref(argo.v[i].obj));
    if (rc == 0)
        rc = ok ? dump(out, arr, err) : eqops__err(err, EQOPS_ENOMEM, "out of memory");
    eqops__tn_objects_free(&ns);
    eqops__tn_objects_free(&argo);
    json_decref(secret);
    json_decref(arr);
    eqops__tn_spec_free(&s);
    return rc;
}

/* ---- one tenant on a worker ------------------------------------------------------------------ */

typedef struct job {
    eqops_tenant_env *env;
    tn_run *run;
    tn_spec *specs;
    tn_op op;
    const eqops_tenant_run_options *opts;
    json_t **results;
    int *rcs;
    eqops_error *errs;
} job;

static void job_one(size_t i, void *arg)
{
    job *j = arg;
    if (j->op == TN_STATUS)
        j->rcs[i] = eqops__tn_status(&j->results[i], j->env, j->run, &j->specs[i], &j->errs[i]);
    else
        j->rcs[i] = eqops__tn_tenant(&j->results[i], j->env, j->run, &j->specs[i], j->op, j->opts,
                                     &j->errs[i]);
}

static const size_t run_options_sizes[] = {sizeof(eqops_tenant_run_options)};

EQOPS__OPTS_INIT_FN(eqops_tenant_run_options_init, eqops_tenant_run_options, run_options_sizes)

/* Read the caller's options (NULL: defaults) into `o` and check them. */
static int run_options_read(eqops_tenant_run_options *o, const eqops_tenant_run_options *in,
                            eqops_error *err)
{
    int rc = EQOPS__OPTS_READ(o, in, run_options_sizes, "tenant run options", err);
    if (rc != 0)
        return rc;
    if (o->cluster_parallel < 0 || o->cluster_parallel > TN_MAX_CLUSTERS)
        return eqops__err_field(err, EQOPS_EINVAL, "cluster_parallel",
                                "must be from 0 (all) to 16");
    return 0;
}

static int one(char **out, eqops_tenant_env *env, const char *spec, tn_op op,
               const eqops_tenant_run_options *in, eqops_error *err)
{
    eqops_tenant_run_options oc;
    const eqops_tenant_run_options *opts = &oc;
    if (out == NULL)
        return eqops__err(err, EQOPS_EINVAL, "out must not be NULL");
    *out = NULL;
    tn_spec s;
    int rc = check_env(env, err);
    if (rc == 0)
        rc = run_options_read(&oc, in, err);
    if (rc == 0)
        rc = parse(&s, env, spec, op, err);
    if (rc != 0)
        return rc;
    if (op == TN_DESTROY && (opts->confirm == NULL || strcmp(opts->confirm, s.name) != 0)) {
        rc = eqops__err_field(err, EQOPS_EINVAL, "confirm",
                              "destroying tenant %s needs its name as confirmation", s.name);
        eqops__tn_spec_free(&s);
        return rc;
    }
    tn_run run;
    eqops__tn_run_init(&run, opts);
    json_t *result = NULL;
    int trc = 0;
    eqops_error te = EQOPS_ERROR_INIT;
    job j = {env, &run, &s, op, opts, &result, &trc, &te};
    rc = eqops__tn_run_workers(&run, 1, 1, job_one, &j, err);
    if (rc == 0 && result == NULL && trc == 0 && eqops__tn_run_cancelled(&run))
        rc = eqops__tn_run_stopped(&run, s.name, err); /* before the tenant started */
    else if (rc == 0) {
        rc = trc;
        if (rc != 0)
            eqops__err_move(err, &te);
        if (result && dump(out, result, err) != 0 && rc == 0)
            rc = EQOPS_ENOMEM;
    }
    eqops_error_clear(&te);
    json_decref(result);
    eqops__tn_run_destroy(&run);
    eqops__tn_spec_free(&s);
    return rc;
}

EQOPS_API int eqops_tenant_plan(char **out, eqops_tenant_env *env, const char *spec,
                                const eqops_tenant_run_options *opts, eqops_error *err)
{
    return one(out, env, spec, TN_PLAN, opts, err);
}

EQOPS_API int eqops_tenant_apply(char **out, eqops_tenant_env *env, const char *spec,
                                 const eqops_tenant_run_options *opts, eqops_error *err)
{
    return one(out, env, spec, TN_APPLY, opts, err);
}

EQOPS_API int eqops_tenant_destroy(char **out, eqops_tenant_env *env, const char *spec,
                                   const eqops_tenant_run_options *opts, eqops_error *err)
{
    return one(out, env, spec, TN_DESTROY, opts, err);
}

EQOPS_API int eqops_tenant_reconcile(char **out, eqops_tenant_env *env, const char *spec,
                                     const eqops_tenant_run_options *opts, eqops_error *err)
{
    return one(out, env, spec, TN_RECONCILE, opts, err);
}

EQOPS_API int eqops_tenant_status(char **out, eqops_tenant_env *env, const char *spec,
                                  eqops_error *err)
{
    return one(out, env, spec, TN_STATUS, NULL, err);
}

EQOPS_API int eqops_tenant_drift(char **out, size_t *drifted, eqops_tenant_env *env,
                                 const char *spec, const eqops_tenant_run_options *opts,
                                 eqops_error *err)
{
    if (drifted == NULL)
        return eqops__err(err, EQOPS_EINVAL, "drifted must not be NULL");
    *drifted = 0;
    int rc = one(out, env, spec, TN_DRIFT, opts, err);
    if (rc == 0) {
        json_t *doc = json_loads(*out, 0, NULL);
        *drifted = (size_t)json_integer_value(json_object_get(doc, "changed"));
        json_decref(doc);
    }
    return rc;
}

/* ---- status -----------------------------------------------------------------------------------
 */

static json_t *cluster_status(eqops_tenant_env *env, const tn_spec *s, const tn_cluster *cl,
                              const json_t *actions)
{
    size_t objects = 0, missing = 0, differ = 0;
    size_t i;
    json_t *a;
    json_array_foreach(actions, i, a)
    {
        if (strcmp(json_string_value(json_object_get(a, "cluster")), cl->name) != 0)
            continue;
        const char *act = json_string_value(json_object_get(a, "action"));
        if (strcmp(act, "create") == 0)
            missing++;
        else
            objects++;
        if (strcmp(act, "update") == 0)
            differ++;
    }
    json_t *st = json_pack("{s:s, s:s, s:I, s:I, s:I}", "cluster", cl->name, "namespace", s->name,
                           "objects", (json_int_t)objects, "missing", (json_int_t)missing, "differ",
                           (json_int_t)differ);
    eqops_k8s *k = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    json_t *ns = NULL, *quota = NULL;
    if (st && eqops__tn_k8s_get(env, cl, NULL, &k, &e) == 0) {
        if (eqops__tn_get(&ns, k, "v1", "Namespace", NULL, s->name, &e) == 0) {
            json_t *phase = json_object_get(json_object_get(ns, "status"), "phase");
            eqops__jset(st, "phase", phase ? json_copy(phase) : json_string("Unknown"));
        } else {
            eqops__jset(st, "phase", json_string("Absent"));
        }
        if (eqops__tn_get(&quota, k, "v1", "ResourceQuota", s->name, "tenant-quota", &e) == 0) {
            json_t *qs = json_object_get(quota, "status");
            eqops__jset(st, "quota",
                        json_pack("{s:O?, s:O?}", "hard", json_object_get(qs, "hard"), "used",
                                  json_object_get(qs, "used")));
        }
    } else if (st) {
        eqops__jset(st, "error", json_string(e.message));
    }
    eqops__tn_k8s_put(env, k);
    json_decref(ns);
    json_decref(quota);
    eqops_error_clear(&e);
    return st;
}

int eqops__tn_status(json_t **out, eqops_tenant_env *env, tn_run *run, const tn_spec *s,
                     eqops_error *err)
{
    json_t *plan = NULL;
    int rc = eqops__tn_tenant(&plan, env, run, s, TN_STATUS, NULL, err);
    json_t *actions = json_object_get(plan, "actions");
    json_t *res = json_pack("{s:s, s:s, s:[]}", "tenant", s->name, "tier", s->tier, "clusters");
    size_t present = 0, total = 0, i;
    bool problem = rc != 0;
    json_t *a;
    json_array_foreach(actions, i, a)
    {
        const char *act = json_string_value(json_object_get(a, "action"));
        const char *step = json_string_value(json_object_get(a, "step"));
        if (strcmp(step, "credentials") == 0) {
            if (strcmp(act, "manual") == 0)
                problem = true;
            continue;
        }
        total++;
        if (strcmp(act, "create") != 0)
            present++;
        if (strcmp(act, "none") != 0)
            problem = true;
    }
    for (size_t c = 0; res && c < s->nclusters; c++)
        eqops__jappend(json_object_get(res, "clusters"),
                       cluster_status(env, s, &s->clusters[c], actions));
    if (res && s->db_enabled) {
        eqops_pg *pg = NULL;
        eqops_pg_tenant *t = NULL;
        eqops_error e = EQOPS_ERROR_INIT;
        json_t *db = NULL;
        int prc = eqops__tn_pg_get(env, NULL, &pg, &e);
        if (prc == 0)
            prc = eqops_pg_tenant_show(&t, pg, s->name, &e);
        if (prc == 0) {
            db = json_pack("{s:s, s:s, s:s, s:I, s:I}", "name", eqops_pg_tenant_database(t), "role",
                           eqops_pg_tenant_role(t), "state", eqops_pg_tenant_state(t),
                           "schema_version", (json_int_t)eqops_pg_tenant_schema_version(t), "size",
                           (json_int_t)eqops_pg_tenant_size(t));
        } else {
            db = json_pack("{s:s, s:s}", "state", prc == EQOPS_ENOTFOUND ? "absent" : "unknown",
                           "error", e.message);
        }
        json_array_foreach(actions, i, a)
        {
            if (db && strcmp(json_string_value(json_object_get(a, "step")), "credentials") == 0)
                eqops__jset(db, "login",
                            json_string(strcmp(json_string_value(json_object_get(a, "action")),
                                               "manual") == 0
                                            ? "refused"
                                            : "ok"));
        }
        eqops__jset(res, "database", db);
        eqops_pg_tenant_free(t);
        eqops__tn_pg_put(env, pg, prc != 0 && prc != EQOPS_ENOTFOUND);
        eqops_error_clear(&e);
    }
    const char *health = rc != 0        ? "unknown"
                         : present == 0 ? "absent"
                         : problem      ? "degraded"
                                        : "healthy";
    if (res)
        eqops__jset(res, "health", json_string(health));
    if (res && rc != 0) {
        /* an unreachable region or database is what status reports, not a failed call */
        eqops__jset(res, "error", json_string(err ? err->message : "failed"));
        if (rc != EQOPS_EINVAL && rc != EQOPS_ENOMEM && rc != EQOPS_ECANCELED) {
            eqops_error_clear(err);
            rc = 0;
        }
    }
    json_decref(plan);
    *out = res;
    if (res == NULL && rc == 0)
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    return rc;
}

/* ---- fleet -------------------------------------------------------------------------------- */

static int op_parse(const char *name, tn_op *op, eqops_error *err)
{
    static const char *const names[] = {"plan", "apply", "destroy", "drift", "reconcile", "status"};
    for (int i = 0; name && i < 6; i++)
        if (strcmp(name, names[i]) == 0) {
            *op = (tn_op)i;
            return 0;
        }
    return eqops__err_field(err, EQOPS_EINVAL, "operation",
                            "must be plan, apply, destroy, drift, reconcile or status");
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The spec files of a directory (.json, .yaml, .yml), in the byte order of their names; hidden
 * files and what is not a regular file are passed over. */
static int spec_files(eqops_paths *out, const char *dir, eqops_error *err)
{
    static const char *const exts[] = {".json", ".yaml", ".yml", NULL};
    int rc = eqops__dir_files(out, dir, exts, false, 10000, err);
    if (rc != 0)
        return rc;
    size_t k = 0;
    for (size_t i = 0; i < out->n; i++) {
        const char *base = strrchr(out->v[i], '/');
        struct stat st;
        if (base[1] == '.' || stat(out->v[i], &st) != 0 || !S_ISREG(st.st_mode))
            eqops__free(out->v[i]);
        else
            out->v[k++] = out->v[i];
    }
    out->n = k;
    return 0;
}

/* The same directory, however it is written ("specs", "./specs/"). */
static bool same_dir(const char *a, const char *b)
{
    char ra[PATH_MAX], rb[PATH_MAX];
    if (a == NULL || b == NULL)
        return false;
    if (strcmp(a, b) == 0)
        return true;
    return realpath(a, ra) && realpath(b, rb) && strcmp(ra, rb) == 0;
}

EQOPS_API int eqops_tenant_fleet(char **out, size_t *failed, eqops_tenant_env *env,
                                 const char *operation, const char *dir,
                                 const eqops_tenant_run_options *in, eqops_error *err)
{
    eqops_tenant_run_options oc;
    const eqops_tenant_run_options *opts = &oc;
    if (out == NULL || failed == NULL)
        return eqops__err(err, EQOPS_EINVAL, "out and failed must not be NULL");
    *out = NULL;
    *failed = 0;
    tn_op op = TN_PLAN;
    int rc = check_env(env, err);
    if (rc == 0)
        rc = op_parse(operation, &op, err);
    if (rc == 0)
        rc = run_options_read(&oc, in, err);
    if (rc == 0 && dir == NULL)
        rc = eqops__err_field(err, EQOPS_EINVAL, "dir", "must not be NULL");
    if (rc == 0 && op == TN_DESTROY && !same_dir(opts->confirm, dir))
        rc = eqops__err_field(err, EQOPS_EINVAL, "confirm",
                              "destroying every tenant of %s needs the directory as "
                              "confirmation",
                              dir);
    if (rc != 0)
        return rc;
    eqops_paths paths = {0};
    rc = spec_files(&paths, dir, err);
    char **files = paths.v;
    size_t n = paths.n;
    /* the tiers file may sit among the specs */
    tn_spec *specs = rc == 0 ? eqops__calloc(n ? n : 1, sizeof(tn_spec)) : NULL;
    json_t **results = specs ? eqops__calloc(n ? n : 1, sizeof(json_t *)) : NULL;
    int *rcs = results ? eqops__calloc(n ? n : 1, sizeof(int)) : NULL;
    eqops_error *errs = rcs ? eqops__calloc(n ? n : 1, sizeof(eqops_error)) : NULL;
    if (rc == 0 && errs == NULL)
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    /* every spec read and checked before anything is changed */
    size_t parsed = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char *text = NULL;
        size_t len = 0;
        json_t *doc = NULL;
        rc = eqops__read_file(&text, &len, files[i], EQOPS__DOC_MAX_BYTES, err);
        if (rc != 0)
            break;
        /* parsed once: the tiers file test and the spec read the same document */
        rc = eqops__yaml_parse(&doc, text, len, false, "tenant spec", err);
        eqops__free(text);
        if (rc == 0 && json_object_get(doc, "tiers") && json_object_size(doc) == 1) {
            json_decref(doc); /* a tiers file among the specs is not a spec */
            continue;
        }
        if (rc == 0)
            rc = eqops__tn_spec_from_doc(&specs[parsed], env->tiers, doc, "tenant spec", err);
        if (rc == 0)
            rc = name_allowed(&specs[parsed], env, op, err);
        if (rc != 0)
            eqops__err_prefix(err, "%s: ", files[i]);
        else
            parsed++;
        for (size_t k = 0; rc == 0 && k + 1 < parsed; k++) {
            const char *a = specs[k].aws_secret, *b = specs[parsed - 1].aws_secret;
            if (a && b && strcmp(a, b) == 0)
                rc = eqops__err_field(err, EQOPS_EINVAL, "secrets.aws.name",
                                      "%s: AWS secret %s is also tenant %s's", files[i], b,
                                      specs[k].name);
            if (rc == 0 && strcmp(specs[k].name, specs[parsed - 1].name) == 0)
                rc = eqops__err_field(err, EQOPS_EINVAL, "name",
                                      "%s: tenant %s is also in another spec of %s", files[i],
                                      specs[k].name, dir);
        }
    }
    tn_run run;
    eqops__tn_run_init(&run, opts);
    if (rc == 0) {
        job j = {env, &run, specs, op, opts, results, rcs, errs};
        rc = eqops__tn_run_workers(&run, parsed, env->concurrency, job_one, &j, err);
    }
    json_t *doc = rc == 0
                      ? json_pack("{s:s, s:s, s:[]}", "operation", operation, "dir", dir, "tenants")
                      : NULL;
    size_t ok = 0, changed = 0;
    for (size_t i = 0; doc && i < parsed; i++) {
        json_t *r = results[i];
        if (r == NULL)
            r = json_pack("{s:s, s:b, s:s}", "tenant", specs[i].name, "ok", 0, "error",
                          rcs[i] ? errs[i].message : "not run (the run was stopped)");
        bool bad = rcs[i] != 0 || results[i] == NULL;
        if (op == TN_DRIFT && json_integer_value(json_object_get(r, "changed")) > 0)
            bad = true;
        if (op == TN_STATUS && json_is_string(json_object_get(r, "health")) &&
            strcmp(json_string_value(json_object_get(r, "health")), "unknown") == 0)
            bad = true; /* a status that could not be read */
        bad ? (*failed)++ : ok++;
        changed += (size_t)json_integer_value(json_object_get(r, "changed"));
        eqops__jappend(json_object_get(doc, "tenants"), r);
        results[i] = NULL;
    }
    if (doc) {
        bool set = eqops__jset(doc, "ok", json_integer((json_int_t)ok)) &&
                   eqops__jset(doc, "failed", json_integer((json_int_t)*failed)) &&
                   eqops__jset(doc, "changed", json_integer((json_int_t)changed));
        rc = set ? dump(out, doc, err) : eqops__err(err, EQOPS_ENOMEM, "out of memory");
    } else if (rc == 0) {
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
    if (rc == 0 && eqops__tn_run_cancelled(&run))
        rc = eqops__tn_run_stopped(&run, "fleet", err);
    json_decref(doc);
    eqops__tn_run_destroy(&run);
    for (size_t i = 0; i < n; i++) {
        if (results)
            json_decref(results[i]);
        if (errs)
            eqops_error_clear(&errs[i]);
    }
    for (size_t i = 0; i < parsed; i++)
        eqops__tn_spec_free(&specs[i]);
    eqops__paths_free(&paths);
    eqops__free(specs);
    eqops__free(results);
    eqops__free(rcs);
    eqops__free(errs);
    if (rc != 0 && rc != EQOPS_ECANCELED) { /* a stopped run keeps what it did */
        eqops__free(*out);
        *out = NULL;
    }
    return rc;
}

/* ---- list ----------------------------------------------------------------------------------- */

static json_t *entry(json_t *by_name, const char *name)
{
    json_t *e = json_object_get(by_name, name);
    if (e == NULL) {
        e = json_pack("{s:s, s:[]}", "tenant", name, "clusters");
        if (e && json_object_set_new(by_name, name, e) != 0)
            e = NULL;
    }
    return e;
}

EQOPS_API int eqops_tenant_list(char **out, eqops_tenant_env *env, const char *const *contexts,
                                eqops_error *err)
{
    if (out == NULL)
        return eqops__err(err, EQOPS_EINVAL, "out must not be NULL");
    *out = NULL;
    int rc = check_env(env, err);
    json_t *by_name = json_object();
    if (rc == 0 && by_name == NULL)
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    static const char *const current[] = {NULL, NULL};
    const char *const *ctxs = contexts && contexts[0] ? contexts : current;
    for (size_t i = 0; rc == 0 && (i == 0 || ctxs[i]); i++) {
        eqops_k8s *k = NULL;
        json_t *list = NULL;
        eqops_k8s_list_options lo = EQOPS_K8S_LIST_OPTIONS_INIT;
        lo.label_selector = TN_LABEL_TENANT "," TN_LABEL_MANAGED "=" TN_MANAGED_BY;
        rc = eqops__tn_k8s_get_context(env, ctxs[i], NULL, &k, err);
        if (rc == 0)
            rc = eqops__k8s_list_doc(&list, k, "v1", "Namespace", NULL, &lo, err);
        const char *ctx_name = k ? eqops_k8s_context(k) : "";
        size_t j;
        json_t *ns;
        json_array_foreach(json_object_get(list, "items"), j, ns)
        {
            json_t *labels = json_object_get(json_object_get(ns, "metadata"), "labels");
            const char *t = json_string_value(json_object_get(labels, TN_LABEL_TENANT));
            json_t *e = t ? entry(by_name, t) : NULL;
            if (e == NULL)
                continue;
            eqops__jappend(json_object_get(e, "clusters"),
                           json_pack("{s:s, s:O?}", "context", ctx_name, "phase",
                                     json_object_get(json_object_get(ns, "status"), "phase")));
            json_t *tier = json_object_get(labels, TN_LABEL_TIER);
            if (tier)
                eqops__jset(e, "tier", json_copy(tier));
        }
        if (rc != 0)
            eqops__err_prefix(err, "context %s: ", ctxs[i] ? ctxs[i] : "(current)");
        json_decref(list);
        eqops__tn_k8s_put(env, k);
    }
    if (rc == 0 && env->pg_conninfo) {
        eqops_pg *pg = NULL;
        json_t *list = NULL;
        rc = eqops__tn_pg_get(env, NULL, &pg, err);
        if (rc == 0)
            rc = eqops__pg_tenant_list_doc(&list, pg, true, err);
        size_t j;
        json_t *t;
        json_array_foreach(list, j, t)
        {
            json_t *e = entry(by_name, json_string_value(json_object_get(t, "name")));
            if (e)
                eqops__jset(e, "database",
                            json_pack("{s:O?, s:O?, s:O?, s:O?}", "name",
                                      json_object_get(t, "database"), "state",
                                      json_object_get(t, "state"), "schema_version",
                                      json_object_get(t, "schema_version"), "size",
                                      json_object_get(t, "size")));
        }
        json_decref(list);
        eqops__tn_pg_put(env, pg, rc != 0);
    }
    if (rc == 0) {
        json_t *arr = json_array();
        const char **names = eqops__calloc(json_object_size(by_name) + 1, sizeof(char *));
        size_t n = 0;
        const char *k;
        json_t *v;
        json_object_foreach(by_name, k, v)
        {
            if (names)
                names[n++] = k;
        }
        if (names && n > 1)
            qsort(names, n, sizeof(char *), name_cmp);
        bool ok = arr && names;
        for (size_t i = 0; ok && i < n; i++)
            ok = eqops__jappend(arr, json_incref(json_object_get(by_name, names[i])));
        rc = ok ? dump(out, arr, err) : eqops__err(err, EQOPS_ENOMEM, "out of memory");
        eqops__free(names);
        json_decref(arr);
    }
    json_decref(by_name);
    return rc;
}
