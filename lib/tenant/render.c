/*
 * render.c - the Kubernetes objects a tenant gets, and the comparison of a desired object
 * with the live one (only the fields eqops sets; quantities by value).
 */
#include "tenant_internal.h"

#include <math.h>
#include <stdio.h>

static json_t *meta(const char *name, const char *ns, const tn_spec *s)
{
    json_t *m = json_pack("{s:s, s:{s:s, s:s}}", "name", name, "labels", TN_LABEL_TENANT, s->name,
                          TN_LABEL_MANAGED, TN_MANAGED_BY);
    if (m && ns && !eqops__jset(m, "namespace", json_string(ns))) {
        json_decref(m);
        return NULL;
    }
    return m;
}

static json_t *object(const char *api, const char *kind, const char *name, const char *ns,
                      const tn_spec *s)
{
    return json_pack("{s:s, s:s, s:o}", "apiVersion", api, "kind", kind, "metadata",
                     meta(name, ns, s));
}

static bool add(tn_objects *o, const char *step, json_t *obj)
{
    if (obj == NULL || o->n >= sizeof(o->v) / sizeof(o->v[0])) {
        json_decref(obj);
        return false;
    }
    o->v[o->n].step = step;
    o->v[o->n++].obj = obj;
    return true;
}

void eqops__tn_objects_free(tn_objects *o)
{
    for (size_t i = 0; i < o->n; i++)
        json_decref(o->v[i].obj);
    o->n = 0;
}

static json_t *namespace_object(const tn_spec *s)
{
    json_t *ns = object("v1", "Namespace", s->name, NULL, s);
    json_t *labels = json_object_get(json_object_get(ns, "metadata"), "labels");
    const char *psa = "restricted";
    json_t *v = json_object_get(s->tier_doc, "pod_security");
    if (json_is_string(v))
        psa = json_string_value(v);
    bool ok = labels && eqops__jset(labels, TN_LABEL_TIER, json_string(s->tier)) &&
              eqops__jset(labels, TN_PSA_ENFORCE, json_string(psa)) &&
              eqops__jset(labels, TN_PSA_ENFORCE "-version", json_string("latest"));
    const char *k;
    json_object_foreach(json_object_get(s->doc, "labels"), k, v)
    {
        ok = ok && eqops__jset(labels, k, json_copy(v));
    }
    if (!ok) {
        json_decref(ns);
        return NULL;
    }
    return ns;
}

static json_t *limit_range(const tn_spec *s)
{
    static const struct {
        const char *spec_key, *k8s_key;
    } map[] = {{"default", "default"},
               {"default_request", "defaultRequest"},
               {"max", "max"},
               {"min", "min"}};
    json_t *lr = object("v1", "LimitRange", "tenant-limits", s->name, s);
    json_t *item = json_pack("{s:s}", "type", "Container");
    json_t *limits = json_object_get(s->tier_doc, "limits");
    bool ok = lr && item;
    for (size_t i = 0; ok && i < sizeof(map) / sizeof(map[0]); i++) {
        json_t *v = json_object_get(limits, map[i].spec_key);
        if (v)
            ok = eqops__jset(item, map[i].k8s_key, json_deep_copy(v));
    }
    ok = ok && eqops__jset(lr, "spec", json_pack("{s:[O]}", "limits", item));
    json_decref(item);
    if (!ok) {
        json_decref(lr);
        return NULL;
    }
    return lr;
}

/* obj with key set to value (stolen either way); NULL when anything is missing. */
static json_t *with(json_t *obj, const char *key, json_t *value)
{
    if (obj == NULL) {
        json_decref(value);
        return NULL;
    }
    if (!eqops__jset(obj, key, value)) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

int eqops__tn_render_namespace(tn_objects *out, const tn_spec *s, eqops_error *err)
{
    const char *ns = s->name;
    out->n = 0;
    bool ok = add(out, "namespace", namespace_object(s));
    ok = ok && add(out, "quota",
                   with(object("v1", "ResourceQuota", "tenant-quota", ns, s), "spec",
                        json_pack("{s:O}", "hard", json_object_get(s->tier_doc, "quota"))));
    ok = ok && add(out, "limits", limit_range(s));
    ok = ok &&
         add(out, "netpol-default-deny",
             with(object("networking.k8s.io/v1", "NetworkPolicy", "default-deny", ns, s), "spec",
                  json_pack("{s:{}, s:[s,s]}", "podSelector", "policyTypes", "Ingress", "Egress")));
    ok = ok &&
         add(out, "netpol-same-namespace",
             with(object("networking.k8s.io/v1", "NetworkPolicy", "allow-same-namespace", ns, s),
                  "spec",
                  json_pack("{s:{}, s:[s,s], s:[{s:[{s:{}}]}], s:[{s:[{s:{}}]}]}", "podSelector",
                            "policyTypes", "Ingress", "Egress", "ingress", "from", "podSelector",
                            "egress", "to", "podSelector")));
    ok =
        ok &&
        add(out, "netpol-dns",
            with(object("networking.k8s.io/v1", "NetworkPolicy", "allow-dns", ns, s), "spec",
                 json_pack("{s:{}, s:[s], s:[{s:[{s:{s:{s:s}}, s:{s:{s:s}}}], "
                           "s:[{s:s, s:i}, {s:s, s:i}]}]}",
                           "podSelector", "policyTypes", "Egress", "egress", "to",
                           "namespaceSelector", "matchLabels", "kubernetes.io/metadata.name",
                           "kube-system", "podSelector", "matchLabels", "k8s-app", "kube-dns",
                           "ports", "protocol", "UDP", "port", 53, "protocol", "TCP", "port", 53)));
    if (ok && s->db_enabled && s->egress_cidr)
        ok = add(out, "netpol-database",
                 with(object("networking.k8s.io/v1", "NetworkPolicy", "allow-database", ns, s),
                      "spec",
                      json_pack("{s:{}, s:[s], s:[{s:[{s:{s:s}}], s:[{s:s, s:i}]}]}", "podSelector",
                                "policyTypes", "Egress", "egress", "to", "ipBlock", "cidr",
                                s->egress_cidr, "ports", "protocol", "TCP", "port",
                                s->db_port ? s->db_port : 5432)));
    ok = ok && add(out, "serviceaccount", object("v1", "ServiceAccount", "workload", ns, s));
    ok = ok &&
         add(out, "role",
             with(object("rbac.authorization.k8s.io/v1", "Role", "tenant-workload", ns, s), "rules",
                  json_pack("[{s:[s], s:[s,s,s], s:[s,s,s]}, {s:[s], s:[s], s:[s,s,s]}]",
                            "apiGroups", "", "resources", "configmaps", "pods", "services", "verbs",
                            "get", "list", "watch", "apiGroups", "", "resources", "secrets",
                            "verbs", "get", "list", "watch")));
    ok = ok && add(out, "rolebinding",
                   with(with(object("rbac.authorization.k8s.io/v1", "RoleBinding",
                                    "tenant-workload", ns, s),
                             "roleRef",
                             json_pack("{s:s, s:s, s:s}", "apiGroup", "rbac.authorization.k8s.io",
                                       "kind", "Role", "name", "tenant-workload")),
                        "subjects",
                        json_pack("[{s:s, s:s, s:s}]", "kind", "ServiceAccount", "name", "workload",
                                  "namespace", ns)));
    if (!ok) {
        eqops__tn_objects_free(out);
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
    return 0;
}

int eqops__tn_render_argocd(tn_objects *out, const tn_spec *s, const char *argocd_ns,
                            eqops_error *err)
{
    out->n = 0;
    if (!s->argocd)
        return 0;
    /* the project is the restriction: one destination (the tenant's namespace), its repo, no
     * cluster-scoped objects at all, and none of the objects eqops keeps for itself: the
     * quota, the limits, the network policies and RBAC (a RoleBinding from the repository to
     * a powerful ClusterRole would undo the rest), nor Argo CD's own kinds (an Application,
     * ApplicationSet or AppProject from the repository would escape the project; Argo CD's
     * cluster and repository credentials are Secrets in its own namespace, out of reach of the
     * one destination). Argo CD matches kinds as globs, so "*" would also deny the other Argo
     * projects' kinds in argoproj.io, which a tenant may use: Rollouts, Workflows, Events. */
    bool ok = add(
        out, "appproject",
        with(object("argoproj.io/v1alpha1", "AppProject", s->name, argocd_ns, s), "spec",
             json_pack("{s:s, s:[s], s:[{s:s, s:s}], s:[], s:[{s:s, s:s}, {s:s, s:s}, "
                       "{s:s, s:s}, {s:s, s:s}, {s:s, s:s}, {s:s, s:s}, {s:s, s:s}, "
                       "{s:s, s:s}]}",
                       "description", "eqops tenant", "sourceRepos", s->argo_repo, "destinations",
                       "server", s->argo_server, "namespace", s->name, "clusterResourceWhitelist",
                       "namespaceResourceBlacklist", "group", "", "kind", "ResourceQuota", "group",
                       "", "kind", "LimitRange", "group", "networking.k8s.io", "kind",
                       "NetworkPolicy", "group", "rbac.authorization.k8s.io", "kind", "Role",
                       "group", "rbac.authorization.k8s.io", "kind", "RoleBinding", "group",
                       "argoproj.io", "kind", "Application", "group", "argoproj.io", "kind",
                       "ApplicationSet", "group", "argoproj.io", "kind", "AppProject")));
    ok =
        ok && add(out, "application",
                  with(object("argoproj.io/v1alpha1", "Application", s->name, argocd_ns, s), "spec",
                       json_pack("{s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s}, s:{s:{s:b, s:b}}}",
                                 "project", s->name, "source", "repoURL", s->argo_repo, "path",
                                 s->argo_path, "targetRevision", s->argo_revision, "destination",
                                 "server", s->argo_server, "namespace", s->name, "syncPolicy",
                                 "automated", "prune", 1, "selfHeal", 1)));
    if (!ok) {
        eqops__tn_objects_free(out);
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
    return 0;
}

int eqops__tn_render_secret(json_t **out, const tn_spec *s, const json_t *creds, eqops_error *err)
{
    *out = NULL;
    json_t *sec =
        with(object("v1", "Secret", s->k8s_secret, s->name, s), "type", json_string("Opaque"));
    json_t *data = json_object();
    bool ok = sec && data;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)creds, k, v)
    {
        eqops_buf b = EQOPS_BUF_INIT;
        const char *text = json_string_value(v);
        ok = ok && text && eqops__base64_encode(&b, text, strlen(text)) == 0 &&
             eqops__jset(data, k, json_string(eqops__buf_cstr(&b)));
        eqops__buf_wipe(&b);
    }
    if (ok && creds) {
        ok = eqops__jset(sec, "data", data);
        data = NULL;
    }
    json_decref(data);
    if (!ok) {
        json_decref(sec);
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
    *out = sec;
    return 0;
}

/* ---- comparing ------------------------------------------------------------------------------ */

/* Where eqops writes Kubernetes quantities: a ResourceQuota's hard and a LimitRange's limits. */
static bool quantity_path(const char *path)
{
    return strncmp(path, "spec.hard.", 10) == 0 || strncmp(path, "spec.limits", 11) == 0;
}

static bool same_scalar(const json_t *d, const json_t *l, const char *path)
{
    if (json_equal((json_t *)d, (json_t *)l))
        return true;
    long double a, b;
    if (quantity_path(path) && json_is_string(d) && json_is_string(l) &&
        eqops__tn_quantity(json_string_value(d), &a) &&
        eqops__tn_quantity(json_string_value(l), &b))
        return fabsl(a - b) <= 1e-12L * fmaxl(fabsl(a), fabsl(b));
    /* a number written as a string or the other way round ("53" and 53) */
    if (json_is_integer(d) && json_is_string(l)) {
        char num[32];
        snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(d));
        return strcmp(num, json_string_value(l)) == 0;
    }
    return false;
}

static void diff_at(const json_t *d, const json_t *l, const char *path, json_t *fields)
{
    if (json_array_size(fields) >= 50)
        return;
    if (json_is_object(d)) {
        if (!json_is_object(l)) {
            eqops__jappend(fields, json_string(path));
            return;
        }
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)d, k, v)
        {
            char sub[256];
            snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] ? "." : "", k);
            json_t *lv = json_object_get(l, k);
            /* an empty object or list equals an absent one: the server drops them */
            if (lv == NULL && ((json_is_object(v) && json_object_size(v) == 0) ||
                               (json_is_array(v) && json_array_size(v) == 0)))
                continue;
            if (lv == NULL)
                eqops__jappend(fields, json_string(sub));
            else
                diff_at(v, lv, sub, fields);
        }
        return;
    }
    if (json_is_array(d)) {
        if (!json_is_array(l) || json_array_size(l) != json_array_size(d)) {
            eqops__jappend(fields, json_string(path));
            return;
        }
        size_t before = json_array_size(fields);
        for (size_t i = 0; i < json_array_size(d) && json_array_size(fields) == before; i++) {
            json_t *tmp = json_array();
            diff_at(json_array_get(d, i), json_array_get(l, i), path, tmp);
            if (json_array_size(tmp) > 0)
                eqops__jappend(fields, json_string(path));
            json_decref(tmp);
        }
        return;
    }
    if (!same_scalar(d, l, path))
        eqops__jappend(fields, json_string(path));
}

int eqops__tn_diff(const json_t *desired, const json_t *live, json_t *fields)
{
    size_t before = json_array_size(fields);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)desired, k, v)
    {
        if (strcmp(k, "apiVersion") == 0 || strcmp(k, "kind") == 0)
            continue;
        if (strcmp(k, "metadata") == 0) {
            /* labels and annotations are ours to compare; name and namespace match by GET */
            json_t *lm = json_object_get(live, "metadata");
            static const char *const keys[] = {"labels", "annotations"};
            for (size_t i = 0; i < 2; i++) {
                json_t *dv = json_object_get(v, keys[i]);
                char path[32];
                snprintf(path, sizeof(path), "metadata.%s", keys[i]);
                json_t *lv = json_object_get(lm, keys[i]), *empty = NULL;
                if (dv && lv == NULL)
                    lv = empty = json_object();
                if (dv)
                    diff_at(dv, lv, path, fields);
                json_decref(empty);
            }
            continue;
        }
        json_t *lv = json_object_get(live, k);
        if (lv == NULL)
            eqops__jappend(fields, json_string(k));
        else
            diff_at(v, lv, k, fields);
    }
    return (int)(json_array_size(fields) - before);
}
