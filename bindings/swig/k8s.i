/*
 * k8s.i - the Kubernetes module for the bindings (included by eqops.i).
 *
 * Options structs get flat forms (eqops_bind_k8s_*), "" standing for "not given" and lists
 * crossing as newline-separated strings. The watch takes an event callback, which each
 * language supplies (Python: raw.i; Go: the exported eqopsGoK8sEvent).
 */

%{
#include <eqops/k8s.h>

static void eqops_bind_k8s_opts(eqops_k8s_options *o, const char *kubeconfig,
                                const char *context, int in_cluster, const char *ns, double qps,
                                int burst, long timeout_ms, int max_retries,
                                long exec_timeout_ms, const char *field_manager,
                                const char *impersonate_user, const char **groups,
                                eqops_cancel *cancel)
{
    eqops_k8s_options_init(o, EQOPS_K8S_OPTIONS_VERSION);
    o->cancel = cancel;
    o->kubeconfig = eqops_bind_opt(kubeconfig);
    o->context = eqops_bind_opt(context);
    o->in_cluster = in_cluster;
    o->ns = eqops_bind_opt(ns);
    o->qps = qps;
    o->burst = burst;
    o->timeout_ms = timeout_ms;
    o->max_retries = max_retries;
    o->exec_timeout_ms = exec_timeout_ms;
    o->field_manager = eqops_bind_opt(field_manager);
    o->impersonate_user = eqops_bind_opt(impersonate_user);
    o->impersonate_groups = groups;
}

static eqops_k8s_write_options eqops_bind_k8s_wopts(int dry_run, int force,
                                                    const char *field_manager,
                                                    const char *propagation_policy,
                                                    const char *resource_version,
                                                    const char *uid, int concurrency,
                                                    eqops_cancel *cancel)
{
    eqops_k8s_write_options o;
    eqops_k8s_write_options_init(&o, EQOPS_K8S_WRITE_OPTIONS_VERSION);
    o.cancel = cancel;
    o.dry_run = dry_run;
    o.force = force;
    o.field_manager = eqops_bind_opt(field_manager);
    o.propagation_policy = eqops_bind_opt(propagation_policy);
    o.resource_version = eqops_bind_opt(resource_version);
    o.uid = eqops_bind_opt(uid);
    o.concurrency = concurrency;
    return o;
}

static int eqops_bind_k8s_watch_fn(eqops_k8s *k, const char *api_version, const char *kind,
                                   const char *ns, const char *label_selector,
                                   const char *field_selector, int all_namespaces,
                                   const char *resource_version, int bookmarks,
                                   long idle_timeout_ms, long duration_ms, eqops_k8s_event_fn fn,
                                   void *payload, eqops_cancel *cancel, eqops_error *err)
{
    eqops_k8s_watch_options o;
    eqops_k8s_watch_options_init(&o, EQOPS_K8S_WATCH_OPTIONS_VERSION);
    o.cancel = cancel;
    o.label_selector = eqops_bind_opt(label_selector);
    o.field_selector = eqops_bind_opt(field_selector);
    o.all_namespaces = all_namespaces;
    o.resource_version = eqops_bind_opt(resource_version);
    o.bookmarks = bookmarks;
    o.idle_timeout_ms = idle_timeout_ms;
    o.duration_ms = duration_ms;
    return eqops_k8s_watch(k, api_version, kind, eqops_bind_opt(ns), &o, fn, payload, err);
}
%}

%ignore eqops_k8s_options;
%ignore eqops_k8s_list_options;
%ignore eqops_k8s_write_options;
%ignore eqops_k8s_watch_options;
%ignore eqops_k8s_event_fn;
%ignore eqops_k8s_new;
%ignore eqops_k8s_new_eks;
%ignore eqops_k8s_list;
%ignore eqops_k8s_pager_new;
%ignore eqops_k8s_create;
%ignore eqops_k8s_replace;
%ignore eqops_k8s_patch;
%ignore eqops_k8s_apply;
%ignore eqops_k8s_apply_manifest;
%ignore eqops_k8s_apply_path;
%ignore eqops_k8s_delete;
%ignore eqops_k8s_watch;

%include "eqops/k8s.h"

%inline %{
/* impersonate_groups: newline-separated */
eqops_k8s *eqops_bind_k8s_new(const char *kubeconfig, const char *context, int in_cluster,
                              const char *ns, double qps, int burst, long timeout_ms,
                              int max_retries, long exec_timeout_ms, const char *field_manager,
                              const char *impersonate_user, const char *impersonate_groups,
                              eqops_cancel *cancel, eqops_error *perr)
{
    int oom;
    const char **groups = eqops_bind_lines(impersonate_groups, &oom);
    if (oom) {
        eqops_bind_oom(perr);
        return NULL;
    }
    eqops_k8s_options o;
    eqops_bind_k8s_opts(&o, kubeconfig, context, in_cluster, ns, qps, burst, timeout_ms,
                        max_retries, exec_timeout_ms, field_manager, impersonate_user, groups,
                        cancel);
    eqops_k8s *k = NULL;
    eqops_k8s_new(&k, &o, perr);
    free(groups);
    return k;
}

eqops_k8s *eqops_bind_k8s_new_eks(eqops_aws *aws, const char *cluster, const char *ns,
                                  double qps, int burst, long timeout_ms, int max_retries,
                                  const char *field_manager, eqops_cancel *cancel,
                                  eqops_error *perr)
{
    eqops_k8s_options o;
    eqops_bind_k8s_opts(&o, NULL, NULL, 0, ns, qps, burst, timeout_ms, max_retries, 0,
                        field_manager, NULL, NULL, cancel);
    eqops_k8s *k = NULL;
    eqops_k8s_new_eks(&k, aws, cluster, &o, perr);
    return k;
}

int eqops_bind_k8s_list(char **out, eqops_k8s *k, const char *api_version, const char *kind,
                        const char *ns, const char *label_selector, const char *field_selector,
                        long limit, int all_namespaces, eqops_error *err)
{
    eqops_k8s_list_options o;
    eqops_k8s_list_options_init(&o, EQOPS_K8S_LIST_OPTIONS_VERSION);
    o.label_selector = eqops_bind_opt(label_selector);
    o.field_selector = eqops_bind_opt(field_selector);
    o.limit = limit;
    o.all_namespaces = all_namespaces;
    return eqops_k8s_list(out, k, api_version, kind, eqops_bind_opt(ns), &o, err);
}

eqops_k8s_pager *eqops_bind_k8s_pager_new(eqops_k8s *k, const char *api_version,
                                          const char *kind, const char *ns,
                                          const char *label_selector,
                                          const char *field_selector, long limit,
                                          int all_namespaces, eqops_error *perr)
{
    eqops_k8s_list_options o;
    eqops_k8s_list_options_init(&o, EQOPS_K8S_LIST_OPTIONS_VERSION);
    o.label_selector = eqops_bind_opt(label_selector);
    o.field_selector = eqops_bind_opt(field_selector);
    o.limit = limit;
    o.all_namespaces = all_namespaces;
    eqops_k8s_pager *p = NULL;
    eqops_k8s_pager_new(&p, k, api_version, kind, eqops_bind_opt(ns), &o, perr);
    return p;
}

/* verb: "create", "replace", "apply", "apply_manifest" */
int eqops_bind_k8s_write(char **out, eqops_k8s *k, const char *verb, const char *object,
                         int dry_run, int force, const char *field_manager, int concurrency,
                         eqops_cancel *cancel, eqops_error *err)
{
    eqops_k8s_write_options o = eqops_bind_k8s_wopts(dry_run, force, field_manager, NULL, NULL,
                                                     NULL, concurrency, cancel);
    if (!strcmp(verb, "create"))
        return eqops_k8s_create(out, k, object, &o, err);
    if (!strcmp(verb, "replace"))
        return eqops_k8s_replace(out, k, object, &o, err);
    if (!strcmp(verb, "apply"))
        return eqops_k8s_apply(out, k, object, &o, err);
    if (!strcmp(verb, "apply_manifest"))
        return eqops_k8s_apply_manifest(out, k, object, &o, err);
    if (err != NULL) {
        eqops_error_clear(err);
        err->code = EQOPS_EINVAL;
        snprintf(err->message, sizeof(err->message), "unknown verb");
    }
    return EQOPS_EINVAL;
}

int eqops_bind_k8s_apply_path(char **out, eqops_k8s *k, const char *path, int recursive,
                              int dry_run, int force, const char *field_manager,
                              int concurrency, eqops_cancel *cancel, eqops_error *err)
{
    eqops_k8s_write_options o = eqops_bind_k8s_wopts(dry_run, force, field_manager, NULL, NULL,
                                                     NULL, concurrency, cancel);
    return eqops_k8s_apply_path(out, k, path, recursive, &o, err);
}

int eqops_bind_k8s_patch(char **out, eqops_k8s *k, const char *api_version, const char *kind,
                         const char *ns, const char *name, const char *merge_patch, int dry_run,
                         const char *field_manager, eqops_cancel *cancel, eqops_error *err)
{
    eqops_k8s_write_options o =
        eqops_bind_k8s_wopts(dry_run, 0, field_manager, NULL, NULL, NULL, 0, cancel);
    return eqops_k8s_patch(out, k, api_version, kind, eqops_bind_opt(ns), name, merge_patch, &o,
                           err);
}

int eqops_bind_k8s_delete(char **out, eqops_k8s *k, const char *api_version, const char *kind,
                          const char *ns, const char *name, int dry_run,
                          const char *propagation_policy, const char *resource_version,
                          const char *uid, eqops_cancel *cancel, eqops_error *err)
{
    eqops_k8s_write_options o = eqops_bind_k8s_wopts(dry_run, 0, NULL, propagation_policy,
                                                     resource_version, uid, 0, cancel);
    return eqops_k8s_delete(out, k, api_version, kind, eqops_bind_opt(ns), name, &o, err);
}
%}

#ifdef SWIGGO
%{
/* exported by package eqops (k8s.go): calls the Go event function registered as `id` */
extern int eqopsGoK8sEvent(char *type, char *object, uintptr_t id);

static int eqops_go_k8s_event(const char *type, const char *object, void *payload)
{
    return eqopsGoK8sEvent((char *)type, (char *)object, (uintptr_t)payload);
}
%}
%inline %{
/* event_id 0 is never registered */
int eqops_bind_k8s_watch(eqops_k8s *k, const char *api_version, const char *kind,
                         const char *ns, const char *label_selector,
                         const char *field_selector, int all_namespaces,
                         const char *resource_version, int bookmarks, long idle_timeout_ms,
                         long duration_ms, unsigned long event_id, eqops_cancel *cancel,
                         eqops_error *err)
{
    return eqops_bind_k8s_watch_fn(k, api_version, kind, ns, label_selector, field_selector,
                                   all_namespaces, resource_version, bookmarks, idle_timeout_ms,
                                   duration_ms, eqops_go_k8s_event, (void *)(uintptr_t)event_id,
                                   cancel, err);
}
%}
#endif
