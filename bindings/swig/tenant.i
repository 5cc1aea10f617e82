/*
 * tenant.i - the tenant module for the bindings (included by eqops.i).
 *
 * The env comes back as an owned pointer (eqops_bind_tenant_env_new). Options structs get flat
 * forms (eqops_bind_tenant_*), "" standing for "not given", and the context list and the
 * reserved names cross as one newline-separated string each (neither can hold a newline). The operations of one
 * tenant (plan, apply, destroy, drift, reconcile: eqops_bind_tenant_run, by name) and of a
 * fleet take a progress callback, which each language supplies (Python: raw.i; Go: the
 * exported eqopsGoTenantProgress). Drift and the fleet also return their count (drifted
 * actions; failed tenants) after the JSON.
 */

%{
#include <eqops/tenant.h>
#include <stdlib.h>

static eqops_tenant_run_options eqops_bind_tenant_ropts(const char *confirm, int rotate_password,
                                                        int cluster_parallel,
                                                        eqops_tenant_progress_fn progress,
                                                        void *payload, eqops_cancel *cancel)
{
    eqops_tenant_run_options o;
    eqops_tenant_run_options_init(&o, EQOPS_TENANT_RUN_OPTIONS_VERSION);
    o.cancel = cancel;
    o.confirm = eqops_bind_opt(confirm);
    o.rotate_password = rotate_password;
    o.cluster_parallel = cluster_parallel;
    o.progress = progress;
    o.payload = payload;
    return o;
}

/* operation: "plan", "apply", "destroy", "drift", "reconcile"; *n: drift's count, else 0 */
static int eqops_bind_tenant_run_fn(char **out, size_t *n, eqops_tenant_env *env,
                                    const char *operation, const char *spec, const char *confirm,
                                    int rotate_password, int cluster_parallel,
                                    eqops_tenant_progress_fn progress, void *payload,
                                    eqops_cancel *cancel, eqops_error *err)
{
    eqops_tenant_run_options o = eqops_bind_tenant_ropts(confirm, rotate_password,
                                                         cluster_parallel, progress, payload, cancel);
    *n = 0;
    if (operation != NULL && !strcmp(operation, "plan"))
        return eqops_tenant_plan(out, env, spec, &o, err);
    if (operation != NULL && !strcmp(operation, "apply"))
        return eqops_tenant_apply(out, env, spec, &o, err);
    if (operation != NULL && !strcmp(operation, "destroy"))
        return eqops_tenant_destroy(out, env, spec, &o, err);
    if (operation != NULL && !strcmp(operation, "drift"))
        return eqops_tenant_drift(out, n, env, spec, &o, err);
    if (operation != NULL && !strcmp(operation, "reconcile"))
        return eqops_tenant_reconcile(out, env, spec, &o, err);
    if (err != NULL) {
        eqops_error_clear(err);
        err->code = EQOPS_EINVAL;
        snprintf(err->message, sizeof(err->message),
                 "operation: must be plan, apply, destroy, drift or reconcile");
        snprintf(err->field, sizeof(err->field), "operation");
    }
    return EQOPS_EINVAL;
}

static int eqops_bind_tenant_fleet_fn(char **out, size_t *n, eqops_tenant_env *env,
                                      const char *operation, const char *dir,
                                      const char *confirm, int rotate_password,
                                      int cluster_parallel, eqops_tenant_progress_fn progress,
                                      void *payload, eqops_cancel *cancel, eqops_error *err)
{
    eqops_tenant_run_options o = eqops_bind_tenant_ropts(confirm, rotate_password,
                                                         cluster_parallel, progress, payload, cancel);
    return eqops_tenant_fleet(out, n, env, operation, dir, &o, err);
}
%}

%ignore eqops_tenant_env_options;
%ignore eqops_tenant_run_options;
%ignore eqops_tenant_progress_fn;
%ignore eqops_tenant_env_new;
%ignore eqops_tenant_render;
%ignore eqops_tenant_plan;
%ignore eqops_tenant_apply;
%ignore eqops_tenant_destroy;
%ignore eqops_tenant_drift;
%ignore eqops_tenant_reconcile;
%ignore eqops_tenant_list;
%ignore eqops_tenant_fleet;

/* the counts of drift and the fleet: an integer after the JSON (slo.i's size_t *n) */
%apply size_t *n { size_t *drifted, size_t *failed };

%include "eqops/tenant.h"

%inline %{
/* "" = not given; the numbers 0 = the defaults of eqops/tenant.h; reserved_names:
 * newline-separated */
eqops_tenant_env *eqops_bind_tenant_env_new(const char *tiers_file, const char *kubeconfig,
                                            const char *pg_conninfo, const char *migrations_dir,
                                            const char *argocd_namespace,
                                            const char *field_manager, const char *aws_profile,
                                            int concurrency, long lock_wait_ms,
                                            long delete_wait_ms, long request_timeout_ms,
                                            const char *pg_db_prefix,
                                            const char *pg_template_db,
                                            const char *pg_control_db,
                                            const char *reserved_names, eqops_error *perr)
{
    int oom;
    const char **reserved = eqops_bind_lines(reserved_names, &oom);
    if (oom) {
        eqops_bind_oom(perr);
        return NULL;
    }
    eqops_tenant_env_options o;
    eqops_tenant_env_options_init(&o, EQOPS_TENANT_ENV_OPTIONS_VERSION);
    o.tiers_file = eqops_bind_opt(tiers_file);
    o.kubeconfig = eqops_bind_opt(kubeconfig);
    o.pg_conninfo = eqops_bind_opt(pg_conninfo);
    o.migrations_dir = eqops_bind_opt(migrations_dir);
    o.argocd_namespace = eqops_bind_opt(argocd_namespace);
    o.field_manager = eqops_bind_opt(field_manager);
    o.aws_profile = eqops_bind_opt(aws_profile);
    o.concurrency = concurrency;
    o.lock_wait_ms = lock_wait_ms;
    o.delete_wait_ms = delete_wait_ms;
    o.request_timeout_ms = request_timeout_ms;
    o.pg_db_prefix = eqops_bind_opt(pg_db_prefix);
    o.pg_template_db = eqops_bind_opt(pg_template_db);
    o.pg_control_db = eqops_bind_opt(pg_control_db);
    o.reserved_names = reserved;
    eqops_tenant_env *env = NULL;
    eqops_tenant_env_new(&env, &o, perr);
    free(reserved);
    return env;
}

/* cluster "" = the spec's first */
int eqops_bind_tenant_render(char **out, eqops_tenant_env *env, const char *spec,
                             const char *cluster, eqops_error *err)
{
    return eqops_tenant_render(out, env, spec, eqops_bind_opt(cluster), err);
}

/* contexts: newline-separated, "" = the current context */
int eqops_bind_tenant_list(char **out, eqops_tenant_env *env, const char *contexts,
                           eqops_error *err)
{
    int oom;
    const char **list = eqops_bind_lines(contexts, &oom);
    if (oom)
        return eqops_bind_oom(err);
    int rc = eqops_tenant_list(out, env, list, err);
    free(list);
    return rc;
}
%}

#ifdef SWIGGO
%{
/* exported by package eqops (tenant.go): calls the Go progress function registered as `id` */
extern int eqopsGoTenantProgress(char *tenant, char *cluster, char *step, char *status,
                                 size_t done, size_t total, uintptr_t id);

static int eqops_go_tenant_progress(const char *tenant, const char *cluster, const char *step,
                                    const char *status, size_t done, size_t total, void *payload)
{
    return eqopsGoTenantProgress((char *)tenant, (char *)cluster, (char *)step, (char *)status,
                                 done, total, (uintptr_t)payload);
}
%}
%inline %{
/* progress_id 0: no progress callback */
int eqops_bind_tenant_run(char **out, size_t *drifted, eqops_tenant_env *env,
                          const char *operation, const char *spec, const char *confirm,
                          int rotate_password, int cluster_parallel, unsigned long progress_id,
                          eqops_cancel *cancel, eqops_error *err)
{
    return eqops_bind_tenant_run_fn(out, drifted, env, operation, spec, confirm, rotate_password,
                                    cluster_parallel,
                                    progress_id ? eqops_go_tenant_progress : NULL,
                                    (void *)(uintptr_t)progress_id, cancel, err);
}

int eqops_bind_tenant_fleet(char **out, size_t *failed, eqops_tenant_env *env,
                            const char *operation, const char *dir, const char *confirm,
                            int rotate_password, int cluster_parallel, unsigned long progress_id,
                            eqops_cancel *cancel, eqops_error *err)
{
    return eqops_bind_tenant_fleet_fn(out, failed, env, operation, dir, confirm, rotate_password,
                                      cluster_parallel,
                                      progress_id ? eqops_go_tenant_progress : NULL,
                                      (void *)(uintptr_t)progress_id, cancel, err);
}
%}
#endif
