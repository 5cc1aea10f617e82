/*
 * tenant_fixture.h - what the tenant unit tests share: a tiers file and specs, an env over a
 * kubeconfig without contexts and no Postgres (so nothing can reach a server), and helpers
 * that read JSON and check refusals by their field.
 */
#ifndef EQOPS_TENANT_FIXTURE_H
#define EQOPS_TENANT_FIXTURE_H

#include "tenant/tenant_internal.h"

#include <jansson.h>
#include <stdbool.h>

extern const char TIERS[], ACME_YAML[], ACME_JSON[], SOLO_YAML[];
#define HEAD        "name: acme-power\ntier: small\n"
#define ONE_CLUSTER "clusters: [{name: a, context: ctx-a}]\n"

extern char tmpdir[128];
extern char tiers_path[256];
extern char kubeconfig_path[256];
extern eqops_tenant_env *env; /* TIERS, the empty kubeconfig, no Postgres */

void write_file(const char *path, const char *text);
const char *in_tmp(const char *name);
void remove_tree(const char *path);
void make_dir(const char *name);
eqops_tenant_env *env_from(const char *tiers_file, const char *argocd_ns);
int setup(void **state);
int teardown(void **state);
json_t *at(json_t *v, const char *path);
const char *str_at(json_t *v, const char *path);
json_t *loads(const char *text);
json_t *check_ok(eqops_tenant_env *e, const char *spec);
json_t *render_ok(eqops_tenant_env *e, const char *spec, const char *cluster);
void check_refused(eqops_tenant_env *e, const char *spec, int code, const char *field,
                   const char *words, const char *label);
/* A progress callback counting its calls in progress_calls (set it to 0 first). */
extern int progress_calls;
int count_progress(const char *tenant, const char *cluster, const char *step, const char *status,
                   size_t done, size_t total, void *payload);

#endif
