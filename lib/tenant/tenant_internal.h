/*
 * tenant_internal.h - the tenant module's shared pieces: the checked spec, the env with its
 * pools of clients, the run that carries progress to the calling thread, and the desired
 * objects.
 */
#ifndef EQOPS_TENANT_INTERNAL_H
#define EQOPS_TENANT_INTERNAL_H

#include "eqops/aws.h"
#include "eqops/k8s.h"
#include "eqops/pg.h"
#include "eqops/tenant.h"

#include "../core/core_internal.h"
#include "../core/json.h"

#include <pthread.h>
#include <stdbool.h>

#define TN_MAX_CLUSTERS        16
#define TN_LABEL_TENANT        "eqops.io/tenant"
#define TN_LABEL_TIER          "eqops.io/tier"
#define TN_LABEL_MANAGED       "app.kubernetes.io/managed-by"
#define TN_MANAGED_BY          "eqops"
#define TN_PSA_ENFORCE         "pod-security.kubernetes.io/enforce"
#define TN_ANNOTATION_ROTATION "eqops.io/rotation"

/* ---- the spec (spec.c) ----------------------------------------------------------------------- */

typedef struct tn_cluster {
    const char *name;        /* the spec's name for it */
    const char *context;     /* kubeconfig context, or NULL */
    const char *eks_cluster; /* or an EKS cluster */
    const char *eks_region;
} tn_cluster;

/* A checked spec; every string is borrowed from `doc` (the normalised spec). */
typedef struct tn_spec {
    json_t *doc;
    const char *name, *tier;
    const json_t *tier_doc; /* the tier, borrowed from the env's tiers */
    tn_cluster clusters[TN_MAX_CLUSTERS];
    size_t nclusters;
    bool db_enabled;
    int connection_limit;
    const char *db_host; /* NULL: the admin connection's */
    int db_port;         /* 0: the admin connection's */
    const char *egress_cidr;
    const char *k8s_secret;
    const char *aws_secret, *aws_region; /* NULL: no AWS secret */
    bool argocd;
    const char *argo_repo, *argo_path, *argo_revision, *argo_server;
} tn_spec;

/* Remove the null members of objects (a field given as null is an absent field). */
void eqops__tn_strip_nulls(json_t *doc);
/* Check the tiers document. */
int eqops__tn_tiers_check(const json_t *tiers, eqops_error *err);
/* Parse and check `text` against `tiers`; fills `*s` (tn_spec_free). */
int eqops__tn_spec_parse(tn_spec *s, const json_t *tiers, const char *text, size_t len,
                         const char *what, eqops_error *err);
/* The same from a parsed document, which it takes (freed with the spec, or on failure). */
int eqops__tn_spec_from_doc(tn_spec *s, const json_t *tiers, json_t *doc, const char *what,
                            eqops_error *err);
void eqops__tn_spec_free(tn_spec *s);

/* A Kubernetes quantity's value ("500m" = 0.5, "2Gi"); false when it is not one. */
bool eqops__tn_quantity(const char *s, long double *out);

/* ---- the env (env.c) ---------------------------------------------------------------------------
 */

typedef struct tn_k8s_slot {
    char *key; /* "ctx:<context>" or "eks:<region>/<cluster>" */
    eqops_k8s *k;
    eqops_aws *aws; /* EKS: the client making its tokens */
    bool busy;
} tn_k8s_slot;

struct eqops_tenant_env {
    json_t *tiers;
    char *kubeconfig, *pg_conninfo, *migrations, *argocd_ns, *field_manager, *aws_profile;
    char *pg_prefix, *pg_template, *pg_control; /* NULL: the pg module's defaults */
    char **reserved; /* the operator's reserved names and prefixes (reserved.c) */
    size_t nreserved;
    int concurrency;
    long lock_wait_ms, delete_wait_ms, timeout_ms;
    pthread_mutex_t mu;
    pthread_mutex_t template_mu; /* one template check at a time */
    bool template_ready;         /* the template was brought up to date by this env */
    tn_k8s_slot *k8s;
    size_t nk8s, capk8s;
    eqops_pg **pg_idle;
    size_t npg, cappg;
    struct tn_aws_slot {
        char *region;
        eqops_aws *aws;
        bool busy;
    } * aws;
    size_t naws, capaws;
};

/* Check the operator's reserved names (EQOPS_EINVAL naming reserved_names[i]); copy checked
 * ones into the env; free them. */
int eqops__tn_reserved_check(const char *const *names, eqops_error *err);
int eqops__tn_reserved_copy(eqops_tenant_env *env, const char *const *names, eqops_error *err);
void eqops__tn_reserved_free(eqops_tenant_env *env);
/* The env's Argo CD namespace: a DNS label, and not one of the built-in reserved names but
 * "argocd" (EQOPS_EINVAL naming argocd_namespace). */
int eqops__tn_argocd_ns_check(const char *ns, eqops_error *err);
/* EQOPS_EINVAL (field "name", saying why) when a tenant may not have this name: the built-in
 * list, the env's Argo CD namespace, the operator's list. Every operation but destroy checks. */
int eqops__tn_name_reserved(const eqops_tenant_env *env, const char *name, eqops_error *err);

/* Borrow a client (made on first use, then pooled); give it back with the matching put. The
 * run's token `cancel` (NULL: none) is the client's while it is borrowed: its requests,
 * statements and waits stop on it (an EKS cluster's AWS client too). */
int eqops__tn_k8s_get(eqops_tenant_env *env, const tn_cluster *c, const eqops_cancel *cancel,
                      eqops_k8s **out, eqops_error *err);
int eqops__tn_k8s_get_context(eqops_tenant_env *env, const char *context,
                              const eqops_cancel *cancel, eqops_k8s **out, eqops_error *err);
void eqops__tn_k8s_put(eqops_tenant_env *env, eqops_k8s *k);
int eqops__tn_pg_get(eqops_tenant_env *env, const eqops_cancel *cancel, eqops_pg **out,
                     eqops_error *err);
/* `broken`: close it instead of pooling it (after a failure). */
void eqops__tn_pg_put(eqops_tenant_env *env, eqops_pg *pg, bool broken);
/* An AWS client of `region` (NULL: the default chain's) from the env's pool, with `cancel` (the
 * run's, may be NULL) as its token until it is put back. */
int eqops__tn_aws_get(eqops_tenant_env *env, const char *region, const eqops_cancel *cancel,
                      eqops_aws **out, eqops_error *err);
void eqops__tn_aws_put(eqops_tenant_env *env, eqops_aws *aws);

/* ---- a run: progress events carried to the calling thread (env.c) ------------------------- */

typedef struct tn_event {
    char *tenant, *cluster, *step, *status;
    size_t done, total;
} tn_event;

typedef struct tn_run {
    pthread_mutex_t mu;
    eqops__pool *pool; /* the workers' pool while they run: events go through it */
    bool cancel;       /* the callback asked to stop */
    eqops_tenant_progress_fn fn;
    void *payload;
    const eqops_cancel *token; /* the run options' token (NULL: none) */
} tn_run;

void eqops__tn_run_init(tn_run *r, const eqops_tenant_run_options *opts);
void eqops__tn_run_destroy(tn_run *r);
/* Queue an event for the calling thread (workers; dropped outside eqops__tn_run_workers). */
void eqops__tn_run_event(tn_run *r, const char *tenant, const char *cluster, const char *step,
                         const char *status, size_t done, size_t total);
/* Whether the run stops: its callback asked to, or its token was triggered. */
bool eqops__tn_run_cancelled(tn_run *r);
/* EQOPS_ECANCELED saying why the run stopped ("<what>: cancelled" for the token). */
int eqops__tn_run_stopped(tn_run *r, const char *what, eqops_error *err);
/* Run fn(i, arg) for i in [0, n) on core's pool, at most `parallel` at once, delivering their
 * events on the calling thread until they all end; the run's token starts no new item. 0 (a
 * stopped run too: eqops__tn_run_cancelled says so) or EQOPS_ENOMEM. */
int eqops__tn_run_workers(tn_run *r, size_t n, int parallel, void (*fn)(size_t i, void *arg),
                          void *arg, eqops_error *err);

/* ---- desired objects (render.c) ------------------------------------------------------------ */

typedef struct tn_object {
    const char *step; /* "namespace", "quota", ... */
    json_t *obj;
} tn_object;

typedef struct tn_objects {
    tn_object v[16];
    size_t n;
} tn_objects;

/* The objects in the tenant's namespace (the namespace first), without the Secret. */
int eqops__tn_render_namespace(tn_objects *out, const tn_spec *s, eqops_error *err);
/* The Argo CD AppProject and Application (none without argocd). */
int eqops__tn_render_argocd(tn_objects *out, const tn_spec *s, const char *argocd_ns,
                            eqops_error *err);
/* The credentials Secret; `creds` {"host","port","dbname","user","password"} (NULL: no data). */
int eqops__tn_render_secret(json_t **out, const tn_spec *s, const json_t *creds, eqops_error *err);
void eqops__tn_objects_free(tn_objects *o);

/* Field paths where `live` differs from `desired` (the fields eqops sets), appended to
 * `fields` (a JSON array). Quantities compare by value. */
int eqops__tn_diff(const json_t *desired, const json_t *live, json_t *fields);

/* ---- one tenant (engine.c: objects and clusters; tenant.c: credentials, database, ops) ---- */

typedef enum tn_op { TN_PLAN, TN_APPLY, TN_DESTROY, TN_DRIFT, TN_RECONCILE, TN_STATUS } tn_op;

/* Whether the operation writes: apply, reconcile and destroy (the others only read). */
static inline bool eqops__tn_mutating(tn_op op)
{
    return op == TN_APPLY || op == TN_RECONCILE || op == TN_DESTROY;
}

typedef enum tn_stage {
    TN_STAGE_NAMESPACE,     /* the namespace, its objects and the credentials Secret */
    TN_STAGE_ARGOCD,        /* AppProject and Application */
    TN_STAGE_DELETE_ARGOCD, /* destroy: Application, AppProject */
    TN_STAGE_DELETE_NS,     /* destroy: the namespace, waiting until it is gone */
    TN_STAGE_SECRET,        /* the credentials Secret again (a rotation done) */
    TN_STAGE_CHECK_NS       /* destroy: every namespace is eqops's, before anything goes */
} tn_stage;

/* One operation on one tenant; workers of its clusters share it. */
typedef struct tn_ctx {
    eqops_tenant_env *env;
    tn_run *run;
    const tn_spec *s;
    tn_op op;
    int parallel;   /* clusters at once */
    bool rotating;  /* a new password goes to the role in this run */
    json_t *secret; /* the desired credentials Secret (secret data), or NULL */
    pthread_mutex_t mu;
    json_t *actions; /* the result's actions */
    size_t done, total, changed;
    int64_t k8s_ms, pg_ms;
    int rc; /* the first failure */
    eqops_error err;
} tn_ctx;

/* One action of a result. */
typedef struct tn_act {
    const char *cluster, *step, *kind, *ns, *name, *action, *error;
    const char *note; /* a finding that is not a failure ("manual": what a person must do) */
    json_t *fields;   /* borrowed; may be NULL */
    json_t *detail;   /* borrowed; may be NULL */
    int64_t ms;
    bool pg; /* counts as Postgres time */
} tn_act;

void eqops__tn_fail(tn_ctx *c, int rc, const eqops_error *e);
bool eqops__tn_stopped(tn_ctx *c);
void eqops__tn_start(tn_ctx *c, const char *cluster, const char *step);
void eqops__tn_act(tn_ctx *c, const tn_act *a);
/* End a step: its time, its error (the operation's first failure), the action recorded and
 * reported, `e` cleared. */
void eqops__tn_step_end(tn_ctx *c, tn_act *a, int64_t t0, int rc, eqops_error *e);
bool eqops__tn_ours(const json_t *live, const char *tenant);
/* json_decref an answer; a Secret's values (passwords) are wiped first. */
void eqops__tn_doc_free(json_t *doc, const char *kind);
int eqops__tn_get(json_t **out, eqops_k8s *k, const char *api, const char *kind, const char *ns,
                  const char *name, eqops_error *err);
int eqops__tn_object(tn_ctx *c, eqops_k8s *k, const char *cluster, const char *step,
                     const json_t *desired, bool take_over);
int eqops__tn_delete(tn_ctx *c, eqops_k8s *k, const char *cluster, const char *step,
                     const char *api, const char *kind, const char *ns, const char *name,
                     bool wait);
/* Run a stage in every cluster (parallel); does nothing once the operation failed. */
void eqops__tn_stage(tn_ctx *c, tn_stage st);

/* Run `op` for one spec: `*out` the result document (set even when it fails). */
int eqops__tn_tenant(json_t **out, eqops_tenant_env *env, tn_run *run, const tn_spec *s, tn_op op,
                     const eqops_tenant_run_options *opts, eqops_error *err);
int eqops__tn_status(json_t **out, eqops_tenant_env *env, tn_run *run, const tn_spec *s,
                     eqops_error *err);

#endif /* EQOPS_TENANT_INTERNAL_H */
