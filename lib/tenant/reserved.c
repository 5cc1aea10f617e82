/*
 * reserved.c - tenant names that are refused because the namespace of that name is not a
 * tenant's to have: Kubernetes' own, the Argo CD namespace (where every tenant's AppProject and
 * Application live), the platform's well-known system namespaces, and the operator's additions
 * (the env's reserved_names). Destroy is the one operation that still takes such a name, so a
 * tenant made before its name was reserved can be removed; it deletes only a namespace labelled
 * as that tenant's.
 */
#include "tenant_internal.h"

#include <stdio.h>

#define TN_RESERVED_MAX 256

/* The built-in list: fixed in the library, so an operator's list can only add to it. */
static const struct {
    const char *pattern; /* a name, or a prefix ending in '*' */
    const char *why;
} builtin[] = {
    {"kube-*", "Kubernetes keeps the kube-* namespaces for itself"},
    {"default", "the cluster's default namespace"},
    {"argocd", "Argo CD's namespace, where every tenant's AppProject and Application live"},
    {"argo-rollouts", "a well-known system namespace (Argo Rollouts)"},
    {"argo", "a well-known system namespace (Argo Workflows)"},
    {"argo-events", "a well-known system namespace (Argo Events)"},
    {"kubeflow", "a well-known system namespace (Kubeflow)"},
    {"kubeflow-system", "a well-known system namespace (Kubeflow)"},
    {"knative-*", "well-known system namespaces (Knative Serving and Eventing)"},
    {"monitoring", "a well-known system namespace (Prometheus, Grafana)"},
    {"prometheus", "a well-known system namespace (Prometheus)"},
    {"grafana", "a well-known system namespace (Grafana)"},
    {"cert-manager", "a well-known system namespace (cert-manager)"},
    {"ingress-nginx", "a well-known system namespace (ingress-nginx)"},
    {"kyverno", "a well-known system namespace (Kyverno policies)"},
    {"gatekeeper-system", "a well-known system namespace (OPA Gatekeeper policies)"},
    {"amazon-cloudwatch", "a well-known system namespace (CloudWatch agent)"},
    {"aws-observability", "a well-known system namespace (EKS Fargate logging)"},
    {"amazon-guardduty", "a well-known system namespace (GuardDuty runtime monitoring)"},
    {"karpenter", "a well-known system namespace (Karpenter node provisioning)"},
    {"external-secrets", "a well-known system namespace (External Secrets)"},
    {"external-dns", "a well-known system namespace (ExternalDNS)"},
    {"istio-system", "a well-known system namespace (Istio)"},
    {"linkerd", "a well-known system namespace (Linkerd)"},
    {"flux-system", "a well-known system namespace (Flux)"},
    {"velero", "a well-known system namespace (Velero backups)"},
    {"calico-system", "a well-known system namespace (Calico)"},
    {"tigera-operator", "a well-known system namespace (Calico)"},
    {"eqops-system", "eqops's own namespace (the tenant controller)"},
};

static bool matches(const char *pattern, const char *name)
{
    size_t n = strlen(pattern);
    if (n > 0 && pattern[n - 1] == '*')
        return strncmp(pattern, name, n - 1) == 0;
    return strcmp(pattern, name) == 0;
}

/* An operator's entry: a namespace name (a DNS label) or a prefix of one ending in '*'. */
static bool entry_ok(const char *s)
{
    size_t n = strnlen(s, 64);
    bool prefix = n > 1 && s[n - 1] == '*';
    size_t body = prefix ? n - 1 : n;
    if (body == 0 || n > 63 || s[0] == '-' || (!prefix && s[n - 1] == '-'))
        return false;
    for (size_t i = 0; i < body; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

int eqops__tn_argocd_ns_check(const char *ns, eqops_error *err)
{
    if (!entry_ok(ns) || strchr(ns, '*') != NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "argocd_namespace",
                                "a namespace name: 1 to 63 of a-z, 0-9 and '-', starting and "
                                "ending with a letter or digit");
    /* every tenant's AppProject goes there: not into a namespace with another purpose */
    for (size_t i = 0; i < EQOPS__ARRAY_LEN(builtin); i++)
        if (strcmp(ns, "argocd") != 0 && matches(builtin[i].pattern, ns))
            return eqops__err_field(err, EQOPS_EINVAL, "argocd_namespace",
                                    "\"%s\" is not Argo CD's to have: %s", ns, builtin[i].why);
    return 0;
}

int eqops__tn_reserved_check(const char *const *names, eqops_error *err)
{
    for (size_t n = 0; names && names[n]; n++) {
        char field[48];
        snprintf(field, sizeof(field), "reserved_names[%zu]", n);
        if (n >= TN_RESERVED_MAX)
            return eqops__err_field(err, EQOPS_EINVAL, "reserved_names", "at most %d entries",
                                    TN_RESERVED_MAX);
        if (!entry_ok(names[n]))
            return eqops__err_field(err, EQOPS_EINVAL, field,
                                    "a namespace name, or a prefix of one ending in '*' (like "
                                    "team-*): 1 to 63 of a-z, 0-9 and '-'");
    }
    return 0;
}

int eqops__tn_reserved_copy(eqops_tenant_env *env, const char *const *names, eqops_error *err)
{
    size_t n = 0;
    while (names && names[n])
        n++;
    if (n == 0)
        return 0;
    env->reserved = eqops__calloc(n, sizeof(char *));
    if (env->reserved == NULL)
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    for (; env->nreserved < n; env->nreserved++) {
        env->reserved[env->nreserved] = eqops__strdup(names[env->nreserved]);
        if (env->reserved[env->nreserved] == NULL)
            return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
    return 0;
}

void eqops__tn_reserved_free(eqops_tenant_env *env)
{
    for (size_t i = 0; i < env->nreserved; i++)
        eqops__free(env->reserved[i]);
    eqops__free(env->reserved);
    env->reserved = NULL;
    env->nreserved = 0;
}

int eqops__tn_name_reserved(const eqops_tenant_env *env, const char *name, eqops_error *err)
{
    static const char hint[] = "; an existing tenant of that name can still be destroyed";
    if (strcmp(name, env->argocd_ns) == 0)
        return eqops__err_field(err, EQOPS_EINVAL, "name",
                                "\"%s\" is reserved: the Argo CD namespace (argocd_namespace), "
                                "where every tenant's AppProject and Application live%s",
                                name, hint);
    for (size_t i = 0; i < EQOPS__ARRAY_LEN(builtin); i++)
        if (matches(builtin[i].pattern, name))
            return eqops__err_field(err, EQOPS_EINVAL, "name", "\"%s\" is reserved: %s%s", name,
                                    builtin[i].why, hint);
    for (size_t i = 0; i < env->nreserved; i++)
        if (matches(env->reserved[i], name))
            return eqops__err_field(err, EQOPS_EINVAL, "name",
                                    "\"%s\" is reserved by the operator (reserved_names: %s)%s",
                                    name, env->reserved[i], hint);
    return 0;
}
