/*
 * Fuzz the tenant spec reader (JSON or YAML) against a fixed tiers document, and everything
 * downstream of a spec that checks: the desired Kubernetes objects, the credentials Secret,
 * the Argo CD objects, and the comparison. A spec that checks must render (nothing but memory
 * can fail then), every rendered object must equal itself, and the normalised spec must check
 * again to itself; anything else aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tenant/tenant_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char TIERS[] = "tiers:\n"
                            "  small:\n"
                            "    pod_security: restricted\n"
                            "    quota: {requests.cpu: \"2\", requests.memory: 4Gi, pods: 20}\n"
                            "    limits:\n"
                            "      default: {cpu: 500m, memory: 512Mi}\n"
                            "      default_request: {cpu: 100m, memory: 128Mi}\n"
                            "      max: {cpu: \"2\", memory: 2Gi}\n"
                            "      min: {cpu: 10m}\n"
                            "    connection_limit: 10\n"
                            "  standard:\n"
                            "    pod_security: restricted\n"
                            "    quota: {requests.cpu: \"4\", limits.memory: 16Gi, pods: \"40\"}\n"
                            "    connection_limit: 20\n"
                            "  large:\n"
                            "    pod_security: baseline\n"
                            "    quota: {requests.cpu: \"8\", pods: \"80\"}\n"
                            "    connection_limit: 50\n"
                            "  bare:\n"
                            "    quota: {pods: \"5\"}\n";

static json_t *tiers;

static void same_as_itself(const json_t *obj)
{
    json_t *fields = json_array();
    json_t *copy = json_deep_copy(obj);
    if (fields == NULL || copy == NULL)
        abort();
    if (eqops__tn_diff(obj, copy, fields) != 0)
        abort();
    json_decref(copy);
    json_decref(fields);
}

static void rendered(const tn_spec *s)
{
    eqops_error e = EQOPS_ERROR_INIT;
    if (s->name == NULL || s->tier == NULL || s->tier_doc == NULL || s->nclusters == 0 ||
        s->nclusters > TN_MAX_CLUSTERS || s->k8s_secret == NULL)
        abort();
    if (s->argocd && (s->argo_repo == NULL || s->argo_path == NULL || s->argo_revision == NULL ||
                      s->argo_server == NULL))
        abort();
    tn_objects ns = {.n = 0}, argo = {.n = 0};
    if (eqops__tn_render_namespace(&ns, s, &e) != 0 || ns.n < 9)
        abort();
    if (eqops__tn_render_argocd(&argo, s, "argocd", &e) != 0 || argo.n != (s->argocd ? 2u : 0u))
        abort();
    json_t *creds = json_pack("{s:s, s:s, s:s, s:s, s:s}", "host", "db.internal", "port", "5432",
                              "dbname", "tenant_x", "user", "tenant_x", "password", "p@ss:word");
    json_t *secret = NULL, *bare = NULL;
    if (creds == NULL || eqops__tn_render_secret(&secret, s, creds, &e) != 0 ||
        eqops__tn_render_secret(&bare, s, NULL, &e) != 0)
        abort();
    for (size_t i = 0; i < ns.n; i++)
        same_as_itself(ns.v[i].obj);
    for (size_t i = 0; i < argo.n; i++)
        same_as_itself(argo.v[i].obj);
    same_as_itself(secret);
    /* a live Secret with data equals the desired one without (data is not compared) */
    json_t *fields = json_array();
    if (fields == NULL || eqops__tn_diff(bare, secret, fields) != 0)
        abort();
    json_decref(fields);
    json_decref(creds);
    json_decref(secret);
    json_decref(bare);
    eqops__tn_objects_free(&ns);
    eqops__tn_objects_free(&argo);
    eqops_error_clear(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (tiers == NULL) {
        eqops_init();
        if (eqops__yaml_parse(&tiers, TIERS, strlen(TIERS), false, "tiers", NULL) != 0 ||
            eqops__tn_tiers_check(tiers, NULL) != 0)
            abort();
    }
    /* the quantity syntax on the raw bytes as a string too */
    if (size <= 80) {
        char q[81];
        memcpy(q, data, size);
        q[size] = '\0';
        long double v;
        eqops__tn_quantity(q, &v);
    }
    tn_spec s;
    eqops_error e = EQOPS_ERROR_INIT;
    if (eqops__tn_spec_parse(&s, tiers, (const char *)data, size, "fuzz spec", &e) == 0) {
        rendered(&s);
        /* the normalised spec reads back to itself */
        char *text = eqops__json_dump(s.doc, 0);
        if (text == NULL)
            abort();
        tn_spec again;
        if (eqops__tn_spec_parse(&again, tiers, text, strlen(text), "normalised", &e) != 0)
            abort();
        char *text2 = eqops__json_dump(again.doc, 0);
        if (text2 == NULL || strcmp(text, text2) != 0)
            abort();
        eqops__free(text);
        eqops__free(text2);
        eqops__tn_spec_free(&again);
        eqops__tn_spec_free(&s);
    }
    eqops_error_clear(&e);
    return 0;
}
