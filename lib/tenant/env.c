/*
 * env.c - the tenant env: options, the tiers file, pools of Kubernetes, Postgres and AWS
 * clients shared by the worker threads; and the run that brings workers' progress events to
 * the calling thread.
 */
#include "tenant_internal.h"

#include "../k8s/k8s_seam.h"
#include "../aws/aws_seam.h"
#include "../pg/pg_seam.h"

#include <stdio.h>
#include <stdlib.h>

#define MOD "tenant"

static char *dup_or(const char *s, const char *dflt)
{
    return eqops__strdup(s ? s : dflt);
}

static const size_t env_options_sizes[] = {sizeof(eqops_tenant_env_options)};

EQOPS__OPTS_INIT_FN(eqops_tenant_env_options_init, eqops_tenant_env_options, env_options_sizes)

int eqops_tenant_env_new(eqops_tenant_env **out, const eqops_tenant_env_options *in,
                         eqops_error *err)
{
    if (out == NULL)
        return eqops__err(err, EQOPS_EINVAL, "out must not be NULL");
    *out = NULL;
    eqops_tenant_env_options oc;
    const eqops_tenant_env_options *opts = &oc;
    if (EQOPS__OPTS_READ(&oc, in, env_options_sizes, "tenant env options", err) != 0)
        return EQOPS_EINVAL;
    if (opts->concurrency < 0 || opts->concurrency > 32)
        return eqops__err_field(err, EQOPS_EINVAL, "concurrency", "must be from 1 to 32 (0 = 4)");
    int rc = opts->argocd_namespace ? eqops__tn_argocd_ns_check(opts->argocd_namespace, err) : 0;
    if (rc != 0)
        return rc;
    if (opts->field_manager &&
        (strlen(opts->field_manager) == 0 || strlen(opts->field_manager) > 128))
        return eqops__err_field(err, EQOPS_EINVAL, "field_manager", "1 to 128 characters");
    if (opts->lock_wait_ms < 0 || opts->delete_wait_ms < 0 || opts->request_timeout_ms < 0)
        return eqops__err(err, EQOPS_EINVAL, "tenant env options: timeouts must not be negative");
    rc = eqops__tn_reserved_check(opts->reserved_names, err);
    if (rc != 0)
        return rc;
    char *text = NULL;
    size_t len = 0;
    json_t *tiers = NULL;
    if (opts->tiers_file) { /* without one, only list works */
        rc = eqops__read_file(&text, &len, opts->tiers_file, EQOPS__DOC_MAX_BYTES, err);
        if (rc == 0)
            rc = eqops__yaml_parse(&tiers, text, len, false, "tiers file", err);
        eqops__free(text);
        if (rc == 0)
            eqops__tn_strip_nulls(tiers); /* a null field is an absent one */
        if (rc == 0)
            rc = eqops__tn_tiers_check(tiers, err);
    }
    if (rc != 0) {
        eqops__err_prefix(err, "%s: ", opts->tiers_file);
        json_decref(tiers);
        return rc;
    }
    eqops_tenant_env *env = eqops__calloc(1, sizeof(*env));
    if (env == NULL) {
        json_decref(tiers);
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
    env->tiers = tiers;
    pthread_mutex_init(&env->mu, NULL);
    pthread_mutex_init(&env->template_mu, NULL);
    env->kubeconfig = opts->kubeconfig ? eqops__strdup(opts->kubeconfig) : NULL;
    env->pg_conninfo = opts->pg_conninfo ? eqops__strdup(opts->pg_conninfo) : NULL;
    env->migrations = opts->migrations_dir ? eqops__strdup(opts->migrations_dir) : NULL;
    env->aws_profile = opts->aws_profile ? eqops__strdup(opts->aws_profile) : NULL;
    env->pg_prefix = opts->pg_db_prefix ? eqops__strdup(opts->pg_db_prefix) : NULL;
    env->pg_template = opts->pg_template_db ? eqops__strdup(opts->pg_template_db) : NULL;
    env->pg_control = opts->pg_control_db ? eqops__strdup(opts->pg_control_db) : NULL;
    env->argocd_ns = dup_or(opts->argocd_namespace, "argocd");
    env->field_manager = dup_or(opts->field_manager, "eqops-tenant");
    env->concurrency = opts->concurrency ? opts->concurrency : 4;
    env->lock_wait_ms = opts->lock_wait_ms ? opts->lock_wait_ms : 120000;
    env->delete_wait_ms = opts->delete_wait_ms ? opts->delete_wait_ms : 120000;
    env->timeout_ms = opts->request_timeout_ms ? opts->request_timeout_ms : 30000;
    if ((opts->kubeconfig && !env->kubeconfig) || (opts->pg_conninfo && !env->pg_conninfo) ||
        (opts->migrations_dir && !env->migrations) || (opts->aws_profile && !env->aws_profile) ||
        (opts->pg_db_prefix && !env->pg_prefix) || (opts->pg_template_db && !env->pg_template) ||
        (opts->pg_control_db && !env->pg_control) || !env->argocd_ns || !env->field_manager) {
        eqops_tenant_env_free(env);
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
    rc = eqops__tn_reserved_copy(env, opts->reserved_names, err);
    if (rc != 0) {
        eqops_tenant_env_free(env);
        return rc;
    }
    *out = env;
    return 0;
}

void eqops_tenant_env_free(eqops_tenant_env *env)
{
    if (env == NULL)
        return;
    for (size_t i = 0; i < env->nk8s; i++) {
        eqops_k8s_free(env->k8s[i].k);
        eqops_aws_free(env->k8s[i].aws);
        eqops__free(env->k8s[i].key);
    }
    for (size_t i = 0; i < env->npg; i++)
        eqops_pg_free(env->pg_idle[i]);
    for (size_t i = 0; i < env->naws; i++) {
        eqops_aws_free(env->aws[i].aws);
        eqops__free(env->aws[i].region);
    }
    eqops__free(env->k8s);
    eqops__free(env->pg_idle);
    eqops__free(env->aws);
    json_decref(env->tiers);
    eqops__free(env->kubeconfig);
    if (env->pg_conninfo)
        eqops__wipe_free(env->pg_conninfo, strlen(env->pg_conninfo));
    eqops__free(env->migrations);
    eqops__free(env->argocd_ns);
    eqops__free(env->field_manager);
    eqops__free(env->aws_profile);
    eqops__free(env->pg_prefix);
    eqops__free(env->pg_template);
    eqops__free(env->pg_control);
    eqops__tn_reserved_free(env);
    pthread_mutex_destroy(&env->mu);
    pthread_mutex_destroy(&env->template_mu);
    eqops__free(env);
}

/* ---- pools ------------------------------------------------------------------------------------
 */

static bool grow(void **v, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return true;
    size_t ncap = *cap ? *cap * 2 : 8;
    void *p = eqops__realloc(*v, ncap * size);
    if (p == NULL)
        return false;
    *v = p;
    *cap = ncap;
    return true;
}

static int aws_new(eqops_tenant_env *env, const char *region, eqops_aws **out, eqops_error *err)
{
    eqops_aws_options o = EQOPS_AWS_OPTIONS_INIT;
    o.region = region;
    o.profile = env->aws_profile;
    return eqops_aws_new(out, &o, err);
}

static int k8s_borrow(eqops_tenant_env *env, const char *key, const char *context, const char *eks,
                      const char *region, const eqops_cancel *cancel, eqops_k8s **out,
                      eqops_error *err)
{
    *out = NULL;
    pthread_mutex_lock(&env->mu);
    for (size_t i = 0; i < env->nk8s; i++)
        if (!env->k8s[i].busy && strcmp(env->k8s[i].key, key) == 0) {
            env->k8s[i].busy = true;
            *out = env->k8s[i].k;
            eqops_aws *aws = env->k8s[i].aws; /* an EKS cluster's: DescribeCluster, tokens */
            pthread_mutex_unlock(&env->mu);
            eqops__k8s_set_cancel(*out, cancel); /* the run's, while it holds the client */
            if (aws)
                eqops__aws_set_cancel(aws, cancel);
            return 0;
        }
    pthread_mutex_unlock(&env->mu);
    /* a new client, made outside the lock (EKS asks the service for the endpoint) */
    eqops_k8s_options o = EQOPS_K8S_OPTIONS_INIT;
    o.kubeconfig = env->kubeconfig;
    o.context = context;
    o.field_manager = env->field_manager;
    o.timeout_ms = env->timeout_ms;
    o.qps = -1; /* the requests of one tenant are few; the server's limits apply */
    o.cancel = (eqops_cancel *)cancel; /* the run's, while it holds the client */
    eqops_k8s *k = NULL;
    eqops_aws *aws = NULL;
    int rc;
    if (eks) {
        rc = aws_new(env, region, &aws, err);
        if (rc == 0) {
            eqops__aws_set_cancel(aws, cancel);
            rc = eqops_k8s_new_eks(&k, aws, eks, &o, err);
        }
    } else {
        rc = eqops_k8s_new(&k, &o, err);
    }
    char *kcopy = rc == 0 ? eqops__strdup(key) : NULL;
    pthread_mutex_lock(&env->mu);
    if (rc == 0 &&
        (kcopy == NULL || !grow((void **)&env->k8s, &env->capk8s, env->nk8s, sizeof(env->k8s[0]))))
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    if (rc == 0) {
        env->k8s[env->nk8s++] = (tn_k8s_slot){kcopy, k, aws, true};
        *out = k;
    }
    pthread_mutex_unlock(&env->mu);
    if (rc != 0) {
        eqops__free(kcopy);
        eqops_k8s_free(k);
        eqops_aws_free(aws);
    }
    return rc;
}

int eqops__tn_k8s_get(eqops_tenant_env *env, const tn_cluster *c, const eqops_cancel *cancel,
                      eqops_k8s **out, eqops_error *err)
{
    char key[400];
    if (c->context) {
        snprintf(key, sizeof(key), "ctx:%s", c->context);
        return k8s_borrow(env, key, c->context, NULL, NULL, cancel, out, err);
    }
    snprintf(key, sizeof(key), "eks:%s/%s", c->eks_region, c->eks_cluster);
    return k8s_borrow(env, key, NULL, c->eks_cluster, c->eks_region, cancel, out, err);
}

int eqops__tn_k8s_get_context(eqops_tenant_env *env, const char *context,
                              const eqops_cancel *cancel, eqops_k8s **out, eqops_error *err)
{
    char key[400];
    snprintf(key, sizeof(key), "ctx:%s", context ? context : "");
    return k8s_borrow(env, key, context, NULL, NULL, cancel, out, err);
}

void eqops__tn_k8s_put(eqops_tenant_env *env, eqops_k8s *k)
{
    if (k == NULL)
        return;
    eqops__k8s_set_cancel(k, NULL); /* pooled without the run's token */
    pthread_mutex_lock(&env->mu);
    for (size_t i = 0; i < env->nk8s; i++)
        if (env->k8s[i].k == k) {
            if (env->k8s[i].aws)
                eqops__aws_set_cancel(env->k8s[i].aws, NULL);
            env->k8s[i].busy = false;
        }
    pthread_mutex_unlock(&env->mu);
}

int eqops__tn_pg_get(eqops_tenant_env *env, const eqops_cancel *cancel, eqops_pg **out,
                     eqops_error *err)
{
    *out = NULL;
    if (env->pg_conninfo == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "pg_conninfo",
                                "the Postgres admin connection is not set");
    pthread_mutex_lock(&env->mu);
    if (env->npg > 0)
        *out = env->pg_idle[--env->npg];
    pthread_mutex_unlock(&env->mu);
    if (*out) {
        eqops__pg_set_cancel(*out, cancel); /* the run's, while it holds the handle */
        return 0;
    }
    eqops_pg_options o = EQOPS_PG_OPTIONS_INIT;
    o.cancel = (eqops_cancel *)cancel;
    o.db_prefix = env->pg_prefix;
    o.template_db = env->pg_template;
    o.control_db = env->pg_control;
    return eqops_pg_new(out, env->pg_conninfo, &o, err);
}

void eqops__tn_pg_put(eqops_tenant_env *env, eqops_pg *pg, bool broken)
{
    if (pg == NULL)
        return;
    eqops__pg_set_cancel(pg, NULL); /* pooled without the run's token */
    pthread_mutex_lock(&env->mu);
    if (!broken && grow((void **)&env->pg_idle, &env->cappg, env->npg, sizeof(eqops_pg *))) {
        env->pg_idle[env->npg++] = pg;
        pg = NULL;
    }
    pthread_mutex_unlock(&env->mu);
    eqops_pg_free(pg);
}

int eqops__tn_aws_get(eqops_tenant_env *env, const char *region, const eqops_cancel *cancel,
                      eqops_aws **out, eqops_error *err)
{
    *out = NULL;
    const char *key = region ? region : "";
    pthread_mutex_lock(&env->mu);
    for (size_t i = 0; i < env->naws; i++)
        if (!env->aws[i].busy && strcmp(env->aws[i].region, key) == 0) {
            env->aws[i].busy = true;
            *out = env->aws[i].aws;
            break;
        }
    pthread_mutex_unlock(&env->mu);
    if (*out) {
        eqops__aws_set_cancel(*out, cancel); /* the run's, while it holds the client */
        return 0;
    }
    eqops_aws *aws = NULL;
    int rc = aws_new(env, region, &aws, err);
    if (rc == 0)
        eqops__aws_set_cancel(aws, cancel);
    char *rcopy = rc == 0 ? eqops__strdup(key) : NULL;
    pthread_mutex_lock(&env->mu);
    if (rc == 0 &&
        (rcopy == NULL || !grow((void **)&env->aws, &env->capaws, env->naws, sizeof(env->aws[0]))))
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    if (rc == 0) {
        env->aws[env->naws].region = rcopy;
        env->aws[env->naws].aws = aws;
        env->aws[env->naws++].busy = true;
        *out = aws;
    }
    pthread_mutex_unlock(&env->mu);
    if (rc != 0) {
        eqops__free(rcopy);
        eqops_aws_free(aws);
    }
    return rc;
}

void eqops__tn_aws_put(eqops_tenant_env *env, eqops_aws *aws)
{
    if (aws == NULL)
        return;
    eqops__aws_set_cancel(aws, NULL); /* pooled without the run's token */
    pthread_mutex_lock(&env->mu);
    for (size_t i = 0; i < env->naws; i++)
        if (env->aws[i].aws == aws)
            env->aws[i].busy = false;
    pthread_mutex_unlock(&env->mu);
}

/* ---- runs ------------------------------------------------------------------------------------ */

void eqops__tn_run_init(tn_run *r, const eqops_tenant_run_options *opts)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
    if (opts) {
        r->fn = opts->progress;
        r->payload = opts->payload;
        r->token = opts->cancel;
    }
}

static void event_free(void *p)
{
    tn_event *e = p;
    if (e == NULL)
        return;
    eqops__free(e->tenant);
    eqops__free(e->cluster);
    eqops__free(e->step);
    eqops__free(e->status);
    eqops__free(e);
}

void eqops__tn_run_destroy(tn_run *r)
{
    pthread_mutex_destroy(&r->mu);
}

void eqops__tn_run_event(tn_run *r, const char *tenant, const char *cluster, const char *step,
                         const char *status, size_t done, size_t total)
{
    if (r == NULL)
        return;
    eqops__log(EQOPS_LOG_DEBUG, MOD, "%s %s %s: %s (%zu/%zu)", tenant, cluster, step, status, done,
               total);
    pthread_mutex_lock(&r->mu);
    eqops__pool *pool = r->cancel ? NULL : r->pool; /* nothing more once asked to stop */
    pthread_mutex_unlock(&r->mu);
    if (r->fn == NULL || pool == NULL)
        return;
    tn_event *e = eqops__calloc(1, sizeof(*e));
    if (e == NULL)
        return;
    *e = (tn_event){eqops__strdup(tenant),
                    eqops__strdup(cluster),
                    eqops__strdup(step),
                    eqops__strdup(status),
                    done,
                    total};
    if (e->tenant && e->cluster && e->step && e->status)
        eqops__pool_post(pool, e); /* taken, also on failure */
    else
        event_free(e);
}

bool eqops__tn_run_cancelled(tn_run *r)
{
    if (r == NULL)
        return false;
    if (eqops_cancel_triggered(r->token))
        return true;
    pthread_mutex_lock(&r->mu);
    bool c = r->cancel;
    pthread_mutex_unlock(&r->mu);
    return c;
}

int eqops__tn_run_stopped(tn_run *r, const char *what, eqops_error *err)
{
    if (eqops_cancel_triggered(r->token))
        return eqops__err(err, EQOPS_ECANCELED, "%s: cancelled", what);
    return eqops__err(err, EQOPS_ECANCELED, "%s: stopped by the progress callback", what);
}

typedef struct workers {
    tn_run *run;
    void (*fn)(size_t i, void *arg);
    void *arg;
} workers;

static void worker_item(eqops__pool *p, size_t i, void *arg)
{
    workers *w = arg;
    pthread_mutex_lock(&w->run->mu);
    w->run->pool = p;
    pthread_mutex_unlock(&w->run->mu);
    w->fn(i, w->arg);
}

/* On the calling thread: the caller's progress callback; non-zero stops the run. */
static int deliver(void *event, void *arg)
{
    tn_run *r = ((workers *)arg)->run;
    const tn_event *e = event;
    int stop = r->fn(e->tenant, e->cluster, e->step, e->status, e->done, e->total, r->payload);
    if (stop) {
        pthread_mutex_lock(&r->mu);
        r->cancel = true;
        pthread_mutex_unlock(&r->mu);
    }
    return stop;
}

int eqops__tn_run_workers(tn_run *r, size_t n, int parallel, void (*fn)(size_t i, void *arg),
                          void *arg, eqops_error *err)
{
    workers w = {r, fn, arg};
    /* tenants run on workers (the pool starts them since there are events to deliver), so
     * that their progress reaches the caller (and the callback's answer the tenant) while
     * they run */
    int concurrency = parallel > 1 ? parallel : 1;
    eqops__pool_job job = {n, concurrency, worker_item, &w, deliver, event_free, r->token};
    eqops_error e = EQOPS_ERROR_INIT;
    int rc = eqops__pool_run(&job, &e);
    pthread_mutex_lock(&r->mu);
    r->pool = NULL;
    pthread_mutex_unlock(&r->mu);
    if (rc == EQOPS_ECANCELED) {
        /* the callback's answer or the token: the callers say which (eqops__tn_run_cancelled) */
        eqops_error_clear(&e);
        return 0;
    }
    return eqops__err_move(err, &e);
}
