/*
 * k8s_seam.h - what the Kubernetes module offers the modules above it (tenant): the REST verbs
 * on documents. Objects go in and come back as jansson values, so no JSON text crosses the
 * boundary; the public `char **` functions of eqops/k8s.h are thin serialisers over these.
 * The only header of lib/k8s another module may include (k8s_internal.h stays private).
 *
 * Ownership: every `json_t **out` is new (json_decref it) and NULL on failure; every `const
 * json_t *` argument is borrowed and never changed. Errors are those of the public function
 * of the same verb, with the same messages and fields; an answer that is not JSON is
 * EQOPS_EPROTO.
 */
#ifndef EQOPS_K8S_SEAM_H
#define EQOPS_K8S_SEAM_H

#include "eqops/k8s.h"

#include <jansson.h>
#include <stdbool.h>

/* GET one object (eqops_k8s_get). */
int eqops__k8s_get_doc(json_t **out, eqops_k8s *k, const char *api_version, const char *kind,
                       const char *ns, const char *name, eqops_error *err);

/* Every page of a list as one List document (eqops_k8s_list). */
int eqops__k8s_list_doc(json_t **out, eqops_k8s *k, const char *api_version, const char *kind,
                        const char *ns, const eqops_k8s_list_options *opts, eqops_error *err);

/* POST / PUT / server-side apply of `object` (eqops_k8s_create, _replace, _apply). */
int eqops__k8s_create_doc(json_t **out, eqops_k8s *k, const json_t *object,
                          const eqops_k8s_write_options *opts, eqops_error *err);
int eqops__k8s_replace_doc(json_t **out, eqops_k8s *k, const json_t *object,
                           const eqops_k8s_write_options *opts, eqops_error *err);
int eqops__k8s_apply_doc(json_t **out, eqops_k8s *k, const json_t *object,
                         const eqops_k8s_write_options *opts, eqops_error *err);

/* JSON merge patch (an object) of the named object (eqops_k8s_patch). */
int eqops__k8s_patch_doc(json_t **out, eqops_k8s *k, const char *api_version, const char *kind,
                         const char *ns, const char *name, const json_t *merge_patch,
                         const eqops_k8s_write_options *opts, eqops_error *err);

/* DELETE (eqops_k8s_delete); `out` may be NULL (the answer is then not read). */
int eqops__k8s_delete_doc(json_t **out, eqops_k8s *k, const char *api_version, const char *kind,
                          const char *ns, const char *name, const eqops_k8s_write_options *opts,
                          eqops_error *err);

/* Server-side apply of an array of objects (List kinds unpacked), as
 * eqops_k8s_apply_manifest applies a manifest's; `*out` is the array of applied objects. */
int eqops__k8s_apply_manifest_doc(json_t **out, eqops_k8s *k, const json_t *objects,
                                  const eqops_k8s_write_options *opts, eqops_error *err);

/* The resource (borrowed from the client's discovery cache) and scope of a kind; the group
 * version is read again when the kind is not known yet (a CRD installed since).
 * EQOPS_ENOTFOUND (reason NoSuchKind / NoSuchAPIVersion) when the server has no such kind. */
int eqops__k8s_lookup(eqops_k8s *k, const char *api_version, const char *kind,
                      const char **resource, bool *namespaced, eqops_error *err);

/* Swap the client's cancellation token (borrowed; NULL: none) and return the previous one:
 * every request of the client from now on, its retry and rate-limit waits, the connections
 * apply_manifest's workers open and a watch's reconnect waits check it, and stop with
 * EQOPS_ECANCELED once it is triggered. For a caller's token for the length of one call: swap
 * it in, call, swap the old one back (a client is used by one thread at a time). */
const eqops_cancel *eqops__k8s_set_cancel(eqops_k8s *k, const eqops_cancel *cancel);

#endif /* EQOPS_K8S_SEAM_H */
