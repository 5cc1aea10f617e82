/*
 * engine.c - the Kubernetes side of one tenant operation: the result's actions and progress,
 * reading, applying and deleting one object, and the stages run in every cluster of the
 * tenant (in parallel). The lock, the credentials, the AWS secret and the database are
 * tenant.c's.
 */
#include "tenant_internal.h"

#include "../k8s/k8s_seam.h"

#include <stdio.h>

#define MOD "tenant"

/* ---- actions ----------------------------------------------------------------------------------
 */

void eqops__tn_fail(tn_ctx *c, int rc, const eqops_error *e)
{
    pthread_mutex_lock(&c->mu);
    if (c->rc == 0) {
        c->rc = rc;
        eqops_error_clear(&c->err);
        c->err = *e;
        c->err.body = NULL;
        c->err.body_len = 0;
    }
    pthread_mutex_unlock(&c->mu);
}

bool eqops__tn_stopped(tn_ctx *c)
{
    pthread_mutex_lock(&c->mu);
    bool failed = c->rc != 0;
    pthread_mutex_unlock(&c->mu);
    return failed || eqops__tn_run_cancelled(c->run);
}

void eqops__tn_start(tn_ctx *c, const char *cluster, const char *step)
{
    /* queued under the lock, so events reach the caller in the order of their counts */
    pthread_mutex_lock(&c->mu);
    eqops__tn_run_event(c->run, c->s->name, cluster, step, "start", c->done, c->total);
    pthread_mutex_unlock(&c->mu);
}

void eqops__tn_act(tn_ctx *c, const tn_act *a)
{
    const char *status = a->error ? "failed"
                         : c->op == TN_PLAN || c->op == TN_DRIFT || c->op == TN_STATUS
                             ? (strcmp(a->action, "none") == 0 ? "done" : "planned")
                             : "done";
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "cluster", a->cluster ? a->cluster : "", "step",
        a->step, "kind", a->kind ? a->kind : "", "namespace", a->ns ? a->ns : "", "name",
        a->name ? a->name : "", "action", a->action, "status", status, "ms", (json_int_t)a->ms);
    if (o && a->fields && json_array_size(a->fields) > 0)
        eqops__jset(o, "fields", json_incref(a->fields));
    if (o && a->error)
        eqops__jset(o, "error", json_string(a->error));
    if (o && a->note)
        eqops__jset(o, "note", json_string(a->note));
    if (o && a->detail)
        eqops__jset(o, "detail", json_incref(a->detail));
    pthread_mutex_lock(&c->mu);
    eqops__jappend(c->actions, o);
    c->done++;
    if (strcmp(a->action, "none") != 0)
        c->changed++;
    if (a->pg)
        c->pg_ms += a->ms;
    else if (a->cluster && a->cluster[0])
        c->k8s_ms += a->ms;
    eqops__tn_run_event(c->run, c->s->name, a->cluster ? a->cluster : "", a->step,
                        a->error ? "failed" : a->action, c->done, c->total);
    pthread_mutex_unlock(&c->mu);
}

void eqops__tn_step_end(tn_ctx *c, tn_act *a, int64_t t0, int rc, eqops_error *e)
{
    a->ms = eqops__mono_ms() - t0;
    if (rc != 0) {
        a->error = e->message;
        eqops__tn_fail(c, rc, e);
    }
    eqops__tn_act(c, a);
    eqops_error_clear(e);
}

/* ---- Kubernetes objects -----------------------------------------------------------------------
 */

static const char *label(const json_t *obj, const char *key)
{
    return json_string_value(
        json_object_get(json_object_get(json_object_get(obj, "metadata"), "labels"), key));
}

bool eqops__tn_ours(const json_t *live, const char *tenant)
{
    const char *t = label(live, TN_LABEL_TENANT), *m = label(live, TN_LABEL_MANAGED);
    return t && m && strcmp(t, tenant) == 0 && strcmp(m, TN_MANAGED_BY) == 0;
}

void eqops__tn_doc_free(json_t *doc, const char *kind)
{
    if (doc && kind && strcmp(kind, "Secret") == 0) {
        static const char *const parts[] = {"data", "stringData"};
        for (size_t i = 0; i < EQOPS__ARRAY_LEN(parts); i++) {
            const char *key;
            json_t *v;
            json_object_foreach(json_object_get(doc, parts[i]), key, v)
            {
                if (json_is_string(v))
                    eqops__wipe((char *)json_string_value(v), json_string_length(v));
            }
        }
    }
    json_decref(doc);
}

int eqops__tn_get(json_t **out, eqops_k8s *k, const char *api, const char *kind, const char *ns,
                  const char *name, eqops_error *err)
{
    return eqops__k8s_get_doc(out, k, api, kind, ns, name, err);
}

static const char *resource_version(const json_t *obj)
{
    const char *rv =
        json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
    return rv ? rv : "";
}

/*
 * The parts of a kind that must equal the spec exactly, not only contain it: what decides
 * who may talk to whom and who may do what. Server-side apply keeps what other managers add
 * (a matchLabels under default-deny's empty podSelector, a peer in an allow rule), so these
 * are put back by replacing them.
 */
static const char *const *strict_parts(const char *kind)
{
    static const char *const netpol[] = {"spec", NULL}, *const role[] = {"rules", NULL},
                             *const binding[] = {"subjects", NULL},
                             *const project[] = {"spec", NULL};
    if (strcmp(kind, "NetworkPolicy") == 0)
        return netpol;
    if (strcmp(kind, "Role") == 0)
        return role;
    if (strcmp(kind, "RoleBinding") == 0)
        return binding;
    if (strcmp(kind, "AppProject") == 0)
        return project;
    return NULL;
}

/* Strict parts that differ, added to `fields`; true when any does. */
static bool strict_differs(const char *kind, const json_t *desired, const json_t *live,
                           json_t *fields)
{
    bool differs = false;
    for (const char *const *p = strict_parts(kind); p && *p; p++) {
        json_t *d = json_object_get(desired, *p), *l = json_object_get(live, *p);
        if (d && !json_equal(d, l)) {
            differs = true;
            size_t i;
            json_t *f;
            bool listed = false;
            json_array_foreach(fields, i, f)
            {
                listed = listed || strncmp(json_string_value(f), *p, strlen(*p)) == 0;
            }
            if (!listed)
                eqops__jappend(fields, json_string(*p));
        }
    }
    return differs;
}

/* Replace the strict parts of `live` with the spec's (PUT, on the version read). */
static int replace_strict(eqops_k8s *k, const char *kind, const json_t *desired, json_t *live,
                          eqops_error *err)
{
    for (const char *const *p = strict_parts(kind); p && *p; p++) {
        json_t *d = json_object_get(desired, *p);
        if (d && !eqops__jset(live, *p, json_deep_copy(d)))
            return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
    json_object_del(json_object_get(live, "metadata"), "managedFields");
    json_t *res = NULL;
    int rc = eqops__k8s_replace_doc(&res, k, live, NULL, err);
    eqops__tn_doc_free(res, kind);
    return rc;
}

/* Server-side apply (forced: the spec wins over hand edits); `*changed` when it wrote. */
static int apply_object(eqops_k8s *k, const char *kind, const json_t *desired, const char *rv,
                        bool *changed, eqops_error *err)
{
    json_t *res = NULL;
    eqops_k8s_write_options w = EQOPS_K8S_WRITE_OPTIONS_INIT;
    w.force = 1;
    int rc = eqops__k8s_apply_doc(&res, k, desired, &w, err);
    if (rc == 0)
        *changed = strcmp(resource_version(res), rv) != 0;
    eqops__tn_doc_free(res, kind);
    return rc;
}

/*
 * Labels this field manager set (by apply or by create) that the spec no longer has, as a
 * merge patch's {"key": null}: server-side apply only removes what it owns by apply, and
 * objects eqops must not take over are created by POST.
 */
static json_t *stale_labels(const json_t *desired, const json_t *live, const char *manager)
{
    json_t *want = json_object_get(json_object_get(desired, "metadata"), "labels");
    json_t *stale = json_object();
    size_t i;
    json_t *mf;
    json_array_foreach(json_object_get(json_object_get(live, "metadata"), "managedFields"), i, mf)
    {
        if (!json_is_string(json_object_get(mf, "manager")) ||
            strcmp(json_string_value(json_object_get(mf, "manager")), manager) != 0)
            continue;
        json_t *owned = json_object_get(
            json_object_get(json_object_get(mf, "fieldsV1"), "f:metadata"), "f:labels");
        const char *key;
        json_t *v;
        json_object_foreach(owned, key, v)
        {
            /* kubernetes.io/metadata.name is the server's, recorded under the creator */
            if (strncmp(key, "f:", 2) == 0 && json_object_get(want, key + 2) == NULL && stale &&
                strncmp(key + 2, "kubernetes.io/", 14) != 0)
                json_object_set_new(stale, key + 2, json_null());
        }
    }
    return stale;
}

/* Create an object eqops must not take over: POST, so one made meanwhile is not adopted. */
static int create_object(eqops_k8s *k, const char *kind, const json_t *desired, eqops_error *err)
{
    json_t *res = NULL;
    int rc = eqops__k8s_create_doc(&res, k, desired, NULL, err);
    if (rc == EQOPS_EEXISTS)
        eqops__err_prefix(err, "%s appeared while eqops was making it: ", kind);
    eqops__tn_doc_free(res, kind);
    return rc;
}

/*
 * Sync one desired object. Reads (plan, drift, status): GET and compare the fields eqops sets
 * (the strict parts exactly). Writes: create what is missing; replace strict parts that
 * differ; then always server-side apply, which also removes what eqops set before and the
 * spec no longer has, and report "update" when the object changed.
 */
int eqops__tn_object(tn_ctx *c, eqops_k8s *k, const char *cluster, const char *step,
                     const json_t *desired, bool take_over)
{
    json_t *md = json_object_get(desired, "metadata");
    tn_act a = {.cluster = cluster,
                .step = step,
                .kind = json_string_value(json_object_get(desired, "kind")),
                .ns = json_string_value(json_object_get(md, "namespace")),
                .name = json_string_value(json_object_get(md, "name")),
                .action = "none"};
    const char *api = json_string_value(json_object_get(desired, "apiVersion"));
    eqops_error e = EQOPS_ERROR_INIT;
    json_t *live = NULL, *fields = json_array();
    int64_t t0 = eqops__mono_ms();
    eqops__tn_start(c, cluster, step);
    int rc = fields ? eqops__tn_get(&live, k, api, a.kind, a.ns, a.name, &e)
                    : eqops__err(&e, EQOPS_ENOMEM, "out of memory");
    bool strict = false;
    json_t *stale = NULL;
    if (rc == EQOPS_ENOTFOUND && strcmp(e.reason, "NotFound") == 0) {
        eqops_error_clear(&e);
        rc = 0;
        a.action = "create";
    } else if (rc == 0 && !take_over && !eqops__tn_ours(live, c->s->name)) {
        rc = eqops__err(&e, EQOPS_EEXISTS,
                        "%s %s%s%s exists and was not made by eqops for tenant %s; not taking "
                        "it over",
                        a.kind, a.ns ? a.ns : "", a.ns ? "/" : "", a.name, c->s->name);
    } else if (rc == 0) {
        eqops__tn_diff(desired, live, fields);
        strict = strict_differs(a.kind, desired, live, fields);
        stale = stale_labels(desired, live, c->env->field_manager);
        const char *key;
        json_t *v;
        json_object_foreach(stale, key, v)
        {
            char path[320];
            snprintf(path, sizeof(path), "metadata.labels.%s", key);
            eqops__jappend(fields, json_string(path));
        }
        if (json_array_size(fields) > 0)
            a.action = "update";
    }
    if (rc == 0 && eqops__tn_mutating(c->op)) {
        bool changed = false;
        bool posted = live == NULL && !take_over;
        if (posted)
            rc = create_object(k, a.kind, desired, &e);
        else if (strict)
            rc = replace_strict(k, a.kind, desired, live, &e);
        /* applied after a create too: the next run's apply then finds nothing to write */
        if (rc == 0)
            rc = apply_object(k, a.kind, desired, live ? resource_version(live) : "", &changed, &e);
        if (rc == 0 && json_object_size(stale) > 0) {
            json_t *patch = json_pack("{s:{s:O}}", "metadata", "labels", stale), *res = NULL;
            rc = patch ? eqops__k8s_patch_doc(&res, k, api, a.kind, a.ns, a.name, patch, NULL, &e)
                       : eqops__err(&e, EQOPS_ENOMEM, "out of memory");
            json_decref(patch);
            eqops__tn_doc_free(res, a.kind);
        }
        if (rc == 0 && changed && strcmp(a.action, "none") == 0)
            a.action = "update"; /* something the comparison does not see, e.g. a removed
                                    label that eqops had set */
    }
    a.fields = fields;
    eqops__tn_step_end(c, &a, t0, rc, &e);
    eqops__tn_doc_free(live, a.kind);
    json_decref(fields);
    json_decref(stale);
    return rc;
}

/* Delete one object when it is there (and ours); the namespace waits until it is gone. */
int eqops__tn_delete(tn_ctx *c, eqops_k8s *k, const char *cluster, const char *step,
                     const char *api, const char *kind, const char *ns, const char *name, bool wait)
{
    tn_act a = {
        .cluster = cluster, .step = step, .kind = kind, .ns = ns, .name = name, .action = "none"};
    eqops_error e = EQOPS_ERROR_INIT;
    json_t *live = NULL;
    int64_t t0 = eqops__mono_ms();
    eqops__tn_start(c, cluster, step);
    int rc = eqops__tn_get(&live, k, api, kind, ns, name, &e);
    if (rc == EQOPS_ENOTFOUND) {
        rc = 0;
    } else if (rc == 0 && !eqops__tn_ours(live, c->s->name)) {
        rc = eqops__err(&e, EQOPS_EEXISTS,
                        "%s %s%s%s was not made by eqops for tenant %s; not deleting it", kind,
                        ns ? ns : "", ns ? "/" : "", name, c->s->name);
    } else if (rc == 0 && !eqops__tn_mutating(c->op)) {
        a.action = "delete"; /* reads: what a write would do */
    } else if (rc == 0) {
        a.action = "delete";
        if (json_object_get(json_object_get(live, "metadata"), "deletionTimestamp") == NULL) {
            eqops_k8s_write_options w = EQOPS_K8S_WRITE_OPTIONS_INIT;
            w.propagation_policy = "Background"; /* Foreground waits for the garbage collector */
            rc = eqops_k8s_delete(NULL, k, api, kind, ns, name, &w, &e);
            if (rc == EQOPS_ENOTFOUND)
                rc = 0;
        }
        int64_t deadline = eqops__mono_ms() + c->env->delete_wait_ms;
        while (rc == 0 && wait) {
            json_t *again = NULL;
            rc = eqops__tn_get(&again, k, api, kind, ns, name, &e);
            json_decref(again);
            if (rc == EQOPS_ENOTFOUND) {
                eqops_error_clear(&e);
                e = (eqops_error)EQOPS_ERROR_INIT;
                rc = 0;
                break;
            }
            if (rc == 0 && eqops__mono_ms() > deadline)
                rc = eqops__err(&e, EQOPS_ETIMEOUT,
                                "%s %s is still terminating after %ld ms (its finalizers are "
                                "not done; destroy again later)",
                                kind, name, c->env->delete_wait_ms);
            if (rc == 0)
                eqops__sleep_ms(250);
        }
    }
    eqops__tn_step_end(c, &a, t0, rc, &e);
    json_decref(live);
    return rc;
}

/* An object eqops made before and the spec no longer asks for (allow-database without
 * egress_cidr, the Argo CD objects without argocd): deleted by writes, "delete" in reads.
 * Nothing is reported when it is not there, or not eqops's. */
static int prune(tn_ctx *c, eqops_k8s *k, const char *cluster, const char *step, const char *api,
                 const char *kind, const char *ns, const char *name)
{
    json_t *live = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    int rc = eqops__tn_get(&live, k, api, kind, ns, name, &e);
    bool ours = rc == 0 && eqops__tn_ours(live, c->s->name);
    json_decref(live);
    eqops_error_clear(&e);
    if (rc != 0 || !ours) /* absent, an unknown kind, not ours, or unread: the next run looks */
        return 0;
    pthread_mutex_lock(&c->mu);
    c->total++;
    pthread_mutex_unlock(&c->mu);
    return eqops__tn_delete(c, k, cluster, step, api, kind, ns, name, true);
}

/* ---- per cluster ------------------------------------------------------------------------------
 */

typedef struct cluster_job {
    tn_ctx *c;
    tn_stage st;
} cluster_job;

/* The Argo CD namespace as it is: 0, EQOPS_ENOTFOUND, or EQOPS_EEXISTS when it is labelled as
 * a tenant's. */
static int argocd_ns_read(tn_ctx *c, eqops_k8s *k, eqops_error *e)
{
    json_t *live = NULL;
    int rc = eqops__tn_get(&live, k, "v1", "Namespace", NULL, c->env->argocd_ns, e);
    const char *owner = rc == 0 ? label(live, TN_LABEL_TENANT) : NULL;
    if (owner)
        rc = eqops__err(e, EQOPS_EEXISTS,
                        "it is labelled as tenant %.64s's namespace (%s), not Argo CD's; the "
                        "AppProject and Application of tenant %s do not go there",
                        owner, TN_LABEL_TENANT, c->s->name);
    json_decref(live);
    return rc;
}

static int argocd_namespace(tn_ctx *c, eqops_k8s *k, const char *cluster)
{
    /* Argo CD's own namespace is not the tenant's: made when missing, never changed; and only
     * where Argo CD's kinds exist, so a cluster without Argo CD is told, not littered. A
     * tenant's namespace is never taken for it: its workload may read the Secrets there and
     * its destroy would delete every tenant's AppProject with it. */
    eqops_error e = EQOPS_ERROR_INIT;
    const char *resource = NULL;
    bool namespaced = false;
    int rc = eqops__k8s_lookup(k, "argoproj.io/v1alpha1", "AppProject", &resource, &namespaced, &e);
    if (rc == EQOPS_ENOTFOUND)
        rc = eqops__err(&e, EQOPS_ENOTFOUND,
                        "Argo CD is not installed (the server has no AppProject kind)");
    if (rc == 0)
        rc = argocd_ns_read(c, k, &e);
    if (rc == EQOPS_ENOTFOUND && eqops__tn_mutating(c->op)) {
        json_t *ns = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
                               "metadata", "name", c->env->argocd_ns);
        json_t *res = NULL;
        rc = ns ? eqops__k8s_create_doc(&res, k, ns, NULL, &e)
                : eqops__err(&e, EQOPS_ENOMEM, "out of memory");
        if (rc == EQOPS_EEXISTS) { /* made meanwhile, by someone else: read it like above */
            eqops_error_clear(&e);
            rc = argocd_ns_read(c, k, &e);
        }
        json_decref(ns);
        json_decref(res);
    } else if (rc == EQOPS_ENOTFOUND) {
        rc = 0;
    }
    if (rc != 0) {
        eqops__err_prefix(&e, "cluster %s: namespace %s: ", cluster, c->env->argocd_ns);
        eqops__tn_fail(c, rc, &e);
    }
    eqops_error_clear(&e);
    return rc;
}

static void cluster_run(size_t i, void *arg)
{
    cluster_job *j = arg;
    tn_ctx *c = j->c;
    const tn_cluster *cl = &c->s->clusters[i];
    eqops_k8s *k = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    int rc = eqops__tn_k8s_get(c->env, cl, c->run ? c->run->token : NULL, &k, &e);
    if (rc != 0) {
        if (e.field[0]) /* the spec's field, not the kubeconfig's */
            snprintf(e.field, sizeof(e.field), "clusters[%zu].%s", i,
                     cl->context ? "context" : "eks");
        eqops__err_prefix(&e, "cluster %s: ", cl->name);
        eqops__tn_fail(c, rc, &e);
        eqops_error_clear(&e);
        return;
    }
    tn_objects objs = {.n = 0};
    switch (j->st) {
    case TN_STAGE_NAMESPACE:
        rc = eqops__tn_render_namespace(&objs, c->s, &e);
        for (size_t n = 0; rc == 0 && n < objs.n && !eqops__tn_stopped(c); n++)
            rc = eqops__tn_object(c, k, cl->name, objs.v[n].step, objs.v[n].obj,
                                  strcmp(objs.v[n].step, "namespace") != 0);
        if (rc == 0 && c->secret && !eqops__tn_stopped(c))
            rc = eqops__tn_object(c, k, cl->name, "secret", c->secret, true);
        if (rc == 0 && !(c->s->db_enabled && c->s->egress_cidr) && !eqops__tn_stopped(c))
            rc = prune(c, k, cl->name, "netpol-database", "networking.k8s.io/v1", "NetworkPolicy",
                       c->s->name, "allow-database");
        break;
    case TN_STAGE_ARGOCD:
        rc = eqops__tn_render_argocd(&objs, c->s, c->env->argocd_ns, &e);
        if (rc == 0 && objs.n == 0) { /* argocd taken out of the spec */
            rc = prune(c, k, cl->name, "application", "argoproj.io/v1alpha1", "Application",
                       c->env->argocd_ns, c->s->name);
            if (rc == 0)
                rc = prune(c, k, cl->name, "appproject", "argoproj.io/v1alpha1", "AppProject",
                           c->env->argocd_ns, c->s->name);
        }
        if (rc == 0 && objs.n > 0)
            rc = argocd_namespace(c, k, cl->name);
        for (size_t n = 0; rc == 0 && n < objs.n && !eqops__tn_stopped(c); n++)
            rc = eqops__tn_object(c, k, cl->name, objs.v[n].step, objs.v[n].obj, false);
        break;
    case TN_STAGE_DELETE_ARGOCD:
        /* the Application first, so Argo CD stops syncing into the namespace */
        rc = eqops__tn_delete(c, k, cl->name, "application", "argoproj.io/v1alpha1", "Application",
                              c->env->argocd_ns, c->s->name, true);
        if (rc == 0)
            rc = eqops__tn_delete(c, k, cl->name, "appproject", "argoproj.io/v1alpha1",
                                  "AppProject", c->env->argocd_ns, c->s->name, true);
        if (rc == EQOPS_ENOTFOUND) /* no Argo CD kinds on this cluster */
            rc = 0;
        break;
    case TN_STAGE_SECRET:
        if (c->secret)
            rc = eqops__tn_object(c, k, cl->name, "secret", c->secret, true);
        break;
    case TN_STAGE_CHECK_NS: {
        /* destroy deletes nothing until every cluster's namespace is known to be eqops's */
        json_t *live = NULL;
        rc = eqops__tn_get(&live, k, "v1", "Namespace", NULL, c->s->name, &e);
        if (rc == EQOPS_ENOTFOUND) {
            eqops_error_clear(&e);
            rc = 0;
        } else if (rc == 0 && !eqops__tn_ours(live, c->s->name)) {
            rc = eqops__err(&e, EQOPS_EEXISTS,
                            "cluster %s: namespace %s was not made by eqops for tenant %s; "
                            "nothing was deleted",
                            cl->name, c->s->name, c->s->name);
        }
        json_decref(live);
        break;
    }
    case TN_STAGE_DELETE_NS:
        rc = eqops__tn_delete(c, k, cl->name, "namespace", "v1", "Namespace", NULL, c->s->name,
                              true);
        break;
    }
    if (rc != 0 && e.code != 0)
        eqops__tn_fail(c, rc, &e);
    eqops__tn_objects_free(&objs);
    eqops__tn_k8s_put(c->env, k);
    eqops_error_clear(&e);
}

static void cluster_item(eqops__pool *p, size_t i, void *arg)
{
    (void)p;
    cluster_run(i, arg);
}

void eqops__tn_stage(tn_ctx *c, tn_stage st)
{
    if (eqops__tn_stopped(c))
        return;
    cluster_job j = {c, st};
    /* the clusters on core's pool, `parallel` at a time (0: all at once); their progress goes
     * to the run's events, so this pool delivers none */
    size_t n = c->s->nclusters;
    int parallel = c->parallel > 0 && (size_t)c->parallel < n ? c->parallel : (int)n;
    eqops__pool_job job = {
        n, parallel, cluster_item, &j, NULL, NULL, c->run ? c->run->token : NULL};
    eqops_error e = EQOPS_ERROR_INIT;
    int rc = eqops__pool_run(&job, &e);
    if (rc != 0)
        eqops__tn_fail(c, rc, &e); /* the run's token before every cluster started */
    eqops_error_clear(&e);
}
