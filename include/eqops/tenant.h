/*
 * eqops/tenant.h - onboard, change and offboard a client across Kubernetes clusters, Postgres
 * and AWS Secrets Manager in one idempotent, resumable operation.
 *
 * A tenant spec (JSON or YAML; docs/tenant.md has the reference):
 *
 *   name: acme-power                # required; the tenant name rule of eqops/pg.h, and
 *                                   #   not a reserved name (below)
 *   tier: standard                  # required; a tier of the tiers file
 *   clusters:                       # required, 1 to 16
 *     - name: eu-west               # required, unique: [a-z0-9-], 1 to 40 characters
 *       context: prod-eu            # a kubeconfig context, or
 *       eks: {cluster: prod-eu, region: eu-west-1}   # an EKS cluster
 *   database:                       # optional
 *     enabled: true                 # default true
 *     connection_limit: 20          # default: the tier's, else 20
 *     settings: {work_mem: 8MB}     # ALTER DATABASE ... SET; only the settings docs/pg.md
 *                                   #   lists (timeouts, memory, locale, planner)
 *     host: db.internal             # the host written into the credentials (default: the
 *     port: 5432                    #   admin connection's host and port)
 *     egress_cidr: 10.0.0.0/16      # optional: a NetworkPolicy allowing egress there on port
 *   secrets:                        #   (default 5432)
 *     kubernetes: {name: db-credentials}          # default name "db-credentials"
 *     aws: {name: eqops/tenants/acme-power, region: eu-west-1}   # optional
 *   argocd:                         # optional
 *     repo: https://git.example.com/acme.git      # required in argocd
 *     path: deploy/prod                           # required in argocd
 *     revision: main                              # default HEAD
 *     server: https://kubernetes.default.svc      # destination; default that one
 *   labels: {team: grid}            # extra namespace labels: not eqops.io/, managed-by, nor
 *                                   #   kubernetes.io / k8s.io prefixes but app.kubernetes.io/
 *
 * The tiers file: {"tiers": {"<tier>": {"pod_security": "restricted"|"baseline"|"privileged",
 * "quota": {"requests.cpu": "4", ...}, "limits": {"default": {...}, "default_request": {...},
 * "max": {...}, "min": {...}}, "connection_limit": 20}}}. Quantities follow the Kubernetes
 * quantity syntax. Every field is checked before anything is read or changed; an error names
 * the field ("clusters[1].eks.region: ...").
 *
 * What a tenant gets, in every cluster: the namespace <name> labelled eqops.io/tenant,
 * eqops.io/tier, app.kubernetes.io/managed-by=eqops and pod-security.kubernetes.io/enforce; a
 * ResourceQuota and a LimitRange from the tier; NetworkPolicies default-deny, allow-same-
 * namespace, allow-dns (and allow-database with egress_cidr); the ServiceAccount "workload"
 * with the Role and RoleBinding "tenant-workload"; the Secret with the database credentials
 * (host, port, dbname, user, password); with argocd, an AppProject <name> and an Application
 * <name> in the Argo CD namespace whose only destination is the tenant's namespace and which
 * may create no cluster-scoped object, nor the quota, limits, network policies, RBAC or any
 * Argo CD (argoproj.io) object in it. In Postgres: the tenant role and database (eqops/pg.h).
 * In AWS Secrets Manager (optional): the same credentials as a JSON secret.
 *
 * Apply works in this order: the tenant's lock (an advisory lock in the control database, so
 * two applies of one tenant run one after the other), the credentials (read back from where
 * they are stored), the namespace and its objects in every cluster at once, the credentials
 * Secret, the AWS secret, the database and role, then the Argo CD objects. Kubernetes objects
 * go by server-side apply with the field manager "eqops-tenant" (forced: the spec wins). A
 * password is always stored before the role is given it, so a run killed at any point leaves
 * it where the next run finds it; an existing password is never changed unless asked
 * (`rotate_password`); when the role exists and no destination holds its password, apply
 * stops and says so instead of inventing one. Objects with a tenant's name that eqops did not
 * make (a namespace without its labels) are refused, never taken over.
 *
 * Results are JSON (`*out`, new: eqops_free()):
 *   {"tenant", "operation", "ok", "changed", "actions": [{"cluster", "step", "kind",
 *    "namespace", "name", "action": "create"|"update"|"delete"|"none"|"manual",
 *    "status": "planned"|"done"|"failed"|"skipped", "fields": [paths that differ], "error"}],
 *    "database": {...}, "health": ...}
 * `changed` counts the actions that are not "none". Nothing secret is ever in a result.
 */
#ifndef EQOPS_TENANT_H
#define EQOPS_TENANT_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The connections a tenant operation uses: kubeconfig, Postgres admin, AWS, tiers. Handles
 * inside are pooled and used by worker threads; use one env from one calling thread at a
 * time. */
typedef struct eqops_tenant_env eqops_tenant_env;

typedef struct eqops_tenant_env_options {
    unsigned version;             /* EQOPS_TENANT_ENV_OPTIONS_VERSION */
    const char *tiers_file;       /* JSON or YAML; required for everything but list */
    const char *kubeconfig;       /* one path; default KUBECONFIG's list, else ~/.kube/config */
    const char *pg_conninfo;      /* the admin connection; required for database.enabled */
    const char *migrations_dir;   /* the template schema (eqops/pg.h); optional */
    const char *argocd_namespace; /* default "argocd" */
    const char *field_manager;    /* default "eqops-tenant" */
    const char *aws_profile;      /* EKS clusters and Secrets Manager; default the chain's */
    int concurrency;              /* tenants at once in fleet operations; default 4, <= 32 */
    long lock_wait_ms;            /* waiting for another apply of the same tenant; 120000 */
    long delete_wait_ms;          /* destroy: waiting for namespaces to go; default 120000 */
    long request_timeout_ms;      /* per Kubernetes request; default 30000 */
    const char *pg_db_prefix;     /* eqops/pg.h options: default "tenant_" */
    const char *pg_template_db;   /* default "eqops_template" */
    const char *pg_control_db;    /* default "eqops_control" (also holds the tenant locks) */
    const char *const *reserved_names; /* NULL-terminated; more names no tenant may have */
} eqops_tenant_env_options;

#define EQOPS_TENANT_ENV_OPTIONS_VERSION 1
#define EQOPS_TENANT_ENV_OPTIONS_INIT                                                              \
    {                                                                                              \
        EQOPS_TENANT_ENV_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, 0, 0,    \
            NULL, NULL, NULL, NULL                                                                 \
    }
/* Zero `opts` and set its version (EQOPS_TENANT_ENV_OPTIONS_VERSION or an older one the
 * caller was written for): 0, or EQOPS_EINVAL (opts NULL, version 0 or newer than this
 * library). */
EQOPS_API int eqops_tenant_env_options_init(eqops_tenant_env_options *opts, unsigned version);

/*
 * Reserved tenant names. A tenant's namespace is named after it, so a name that is already a
 * namespace with another purpose would hand that namespace to the tenant (its workload may
 * read the Secrets there) and let its destroy delete it. These names are refused (EQOPS_EINVAL,
 * field "name", saying why) by every operation but destroy:
 *   - built in, and never fewer: kube-*, default, the env's argocd_namespace, argocd,
 *     argo-rollouts, monitoring, prometheus, grafana, cert-manager, ingress-nginx, kyverno,
 *     gatekeeper-system, amazon-cloudwatch, aws-observability, amazon-guardduty, karpenter,
 *     external-secrets, external-dns, istio-system, linkerd, flux-system, velero,
 *     calico-system, tigera-operator, eqops-system;
 *   - reserved_names, the operator's additions: each a namespace name
 *     ("billing") or a prefix ending in '*' ("team-*"), 1 to 63 of a-z, 0-9 and '-'; at most
 *     256 (else EQOPS_EINVAL naming "reserved_names[i]"). The strings are copied.
 * Destroy still takes a reserved name, so a tenant made before its name was reserved can be
 * removed; as always it deletes only namespaces labelled as that tenant's.
 * Separately, a namespace labelled as a tenant's is never used as the Argo CD namespace: the
 * Argo CD step of plan and apply fails with EQOPS_EEXISTS instead.
 */

/* A new env. Reads and checks the tiers file; connects to nothing yet. Returns 0,
 * EQOPS_EINVAL (an option, the tiers file, a reserved name: the message names the field),
 * EQOPS_ENOTFOUND (the tiers file). */
EQOPS_API int eqops_tenant_env_new(eqops_tenant_env **out, const eqops_tenant_env_options *opts,
                                   eqops_error *err);
EQOPS_API void eqops_tenant_env_free(eqops_tenant_env *env);

/*
 * Check a spec (JSON or YAML text) against the rules above and the env's tiers. `*out` (new)
 * is the spec with every default filled in, as JSON. Makes no request. Returns 0 or
 * EQOPS_EINVAL naming the field (err->field).
 */
EQOPS_API int eqops_tenant_spec_check(char **out, eqops_tenant_env *env, const char *spec,
                                      eqops_error *err);

/* The Kubernetes objects of a spec for one of its clusters (NULL: the first), as a JSON
 * array in apply order, without the credentials Secret's data. Makes no request. */
EQOPS_API int eqops_tenant_render(char **out, eqops_tenant_env *env, const char *spec,
                                  const char *cluster, eqops_error *err);

/*
 * Progress, called from the calling thread as steps start and end: `cluster` is the spec's
 * cluster name ("" for Postgres and AWS), `step` the object ("namespace", "quota", ...,
 * "database", "aws-secret"), `status` "start", then "create", "update", "delete", "none" or
 * "failed". `done` and `total` count the tenant's steps. Non-zero stops the operation before
 * its next step (EQOPS_ECANCELED).
 */
typedef int (*eqops_tenant_progress_fn)(const char *tenant, const char *cluster, const char *step,
                                        const char *status, size_t done, size_t total,
                                        void *payload);

typedef struct eqops_tenant_run_options {
    unsigned version;     /* EQOPS_TENANT_RUN_OPTIONS_VERSION */
    const char *confirm;  /* destroy: the tenant's name (fleet: the directory as given) */
    int rotate_password;  /* apply: set and store a new database password */
    int cluster_parallel; /* clusters of a tenant at once; default all, 1 = one by one */
    eqops_tenant_progress_fn progress;
    void *payload;
    /* Cancellation (NULL: none) of this run and every client it borrows from the env for its
     * duration: checked between steps, in transfers and queries, and in retry waits; once triggered
     * the call returns EQOPS_ECANCELED. */
    eqops_cancel *cancel;
} eqops_tenant_run_options;

#define EQOPS_TENANT_RUN_OPTIONS_VERSION 1
#define EQOPS_TENANT_RUN_OPTIONS_INIT                                                              \
    {                                                                                              \
        EQOPS_TENANT_RUN_OPTIONS_VERSION, NULL, 0, 0, 0, NULL, NULL                                \
    }
/* Zero `opts` and set its version (EQOPS_TENANT_RUN_OPTIONS_VERSION or an older one the
 * caller was written for): 0, or EQOPS_EINVAL (opts NULL, version 0 or newer than this
 * library). */
EQOPS_API int eqops_tenant_run_options_init(eqops_tenant_run_options *opts, unsigned version);

/*
 * What apply would do: every object with action create, update or none and the fields that
 * differ (status "planned"). Reads only. Returns 0, EQOPS_EINVAL (the spec),
 * EQOPS_EUNAVAILABLE, EQOPS_EFORBIDDEN, EQOPS_EEXISTS (an object eqops did not make).
 */
EQOPS_API int eqops_tenant_plan(char **out, eqops_tenant_env *env, const char *spec,
                                const eqops_tenant_run_options *opts, eqops_error *err);

/*
 * Create or converge everything (see the order above). A second apply changes nothing
 * ("changed": 0). Returns 0 when every step succeeded, else the first step's error with
 * `*out` still set (its actions say what was done); EQOPS_EINVAL, EQOPS_EEXISTS, EQOPS_EBUSY
 * (another apply of the tenant held the lock past lock_wait_ms), EQOPS_ECONFLICT (stored
 * credentials that do not open the database: rotate_password), EQOPS_EUNAVAILABLE,
 * EQOPS_ECANCELED.
 */
EQOPS_API int eqops_tenant_apply(char **out, eqops_tenant_env *env, const char *spec,
                                 const eqops_tenant_run_options *opts, eqops_error *err);

/*
 * Remove the tenant in reverse order: the Argo CD objects, the namespace with everything in
 * it (waiting until it is gone), the AWS secret (at once, no recovery window), the database
 * and role. `confirm` must be the tenant's name. What is already gone is skipped, so a
 * destroy can be repeated. Returns 0, EQOPS_EINVAL (no confirmation), EQOPS_EEXISTS (a
 * namespace eqops did not make), EQOPS_ETIMEOUT (a namespace still terminating).
 */
EQOPS_API int eqops_tenant_destroy(char **out, eqops_tenant_env *env, const char *spec,
                                   const eqops_tenant_run_options *opts, eqops_error *err);

/*
 * Where the live state differs from the spec: the plan's actions that are not "none" (an
 * edited quota, a deleted NetworkPolicy, a Secret whose password no longer opens the
 * database, pending migrations, a schema that differs from the template) in `*out`, with
 * `*drifted` the number of them. Reads only.
 */
EQOPS_API int eqops_tenant_drift(char **out, size_t *drifted, eqops_tenant_env *env,
                                 const char *spec, const eqops_tenant_run_options *opts,
                                 eqops_error *err);

/* Put the drift back: apply, then the pending migrations of the tenant's database. A schema
 * edited by hand is reported ("manual"), not changed. */
EQOPS_API int eqops_tenant_reconcile(char **out, eqops_tenant_env *env, const char *spec,
                                     const eqops_tenant_run_options *opts, eqops_error *err);

/*
 * The tenant as it is: {"tenant", "health": "healthy"|"degraded"|"absent"|"unknown",
 * "clusters": [{"cluster", "namespace", "phase", "objects", "missing", "quota": {"hard",
 * "used"}}], "database": {"name", "role", "state", "schema_version", "size", "login": "ok"|
 * "refused"}}. "unknown": a cluster or the database could not be read ("error" says why; the
 * call still succeeds, and a fleet status counts the tenant as failed).
 */
EQOPS_API int eqops_tenant_status(char **out, eqops_tenant_env *env, const char *spec,
                                  eqops_error *err);

/*
 * Every tenant found in the given kubeconfig contexts (NULL-terminated; NULL = the current
 * context) by its namespace labels, and in Postgres: [{"tenant", "tier", "clusters":
 * [contexts], "database", "state", "schema_version"}], sorted by name.
 */
EQOPS_API int eqops_tenant_list(char **out, eqops_tenant_env *env, const char *const *contexts,
                                eqops_error *err);

/*
 * An operation ("plan", "apply", "destroy", "drift", "reconcile", "status") over every spec
 * in a directory (*.json, *.yaml, *.yml), `concurrency` tenants at once. Every spec is read
 * and checked first, and duplicate names refused, before anything is changed. `*out` is
 * {"operation", "tenants": [results], "ok", "failed", "changed"}; `*failed` counts tenants
 * whose operation failed (drift: tenants that drifted). Returns 0 when the run ran.
 */
EQOPS_API int eqops_tenant_fleet(char **out, size_t *failed, eqops_tenant_env *env,
                                 const char *operation, const char *dir,
                                 const eqops_tenant_run_options *opts, eqops_error *err);

#ifdef __cplusplus
}
#endif

#endif /* EQOPS_TENANT_H */
