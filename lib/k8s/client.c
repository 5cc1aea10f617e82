/*
 * client.c - the Kubernetes client: configuration into an HTTP handle, credentials (static and
 * file tokens, exec plugins, EKS tokens) kept current, requests and the API Status of errors.
 */
#include "k8s_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD                  "k8s"
#define EXEC_OUTPUT_MAX      (1u << 20)
#define EXEC_MARGIN_MS       30000 /* renew exec credentials this long before they expire */
#define TOKEN_FILE_REREAD_MS 60000
#define EKS_TOKEN_RENEW_MS   60000 /* before the 14 minutes the token is trusted for */

extern char **environ;

void eqops_k8s_free(eqops_k8s *k)
{
    if (k == NULL)
        return;
    eqops__k8s_config_clear(&k->cfg);
    eqops__http_free(k->http);
    eqops__free(k->field_manager);
    eqops__free(k->user_agent);
    for (size_t i = 0; k->impersonation && k->impersonation[i]; i++)
        eqops__free(k->impersonation[i]);
    eqops__free(k->impersonation);
    eqops__secret_free(k->bearer);
    eqops__free(k->eks_cluster);
    json_decref(k->discovery);
    eqops__free(k);
}

const char *eqops_k8s_server(const eqops_k8s *k)
{
    return k ? k->cfg.server : NULL;
}

const char *eqops_k8s_context(const eqops_k8s *k)
{
    return k ? k->cfg.context : NULL;
}

const char *eqops_k8s_namespace(const eqops_k8s *k)
{
    return k == NULL ? NULL : k->cfg.ns ? k->cfg.ns : "default";
}

const eqops_cancel *eqops__k8s_set_cancel(eqops_k8s *k, const eqops_cancel *cancel)
{
    const eqops_cancel *old = k->hopts.cancel;
    k->hopts.cancel = cancel; /* and the handles made from now on */
    if (k->http)
        eqops__http_set_cancel(k->http, cancel);
    return old;
}

int eqops__k8s_http_new(eqops_k8s *k, double qps, int burst, eqops_http **out, eqops_error *err)
{
    eqops_http_options o = k->hopts;
    if (qps >= 0) {
        o.qps = qps;
        o.burst = burst;
    }
    o.ca_pem = k->cfg.ca.len ? k->cfg.ca.data : NULL;
    o.ca_pem_len = k->cfg.ca.len;
    o.cert_pem = k->cfg.cert.len ? k->cfg.cert.data : NULL;
    o.cert_pem_len = k->cfg.cert.len;
    o.key_pem = k->cfg.key.len ? k->cfg.key.data : NULL;
    o.key_pem_len = k->cfg.key.len;
    o.tls_server_name = k->cfg.tls_server_name;
    o.insecure_skip_tls_verify = k->cfg.insecure;
    o.proxy = k->cfg.proxy;
    o.user_agent = k->user_agent;
    return eqops__http_new(out, &o, err);
}

int eqops__k8s_http(eqops_k8s *k, eqops_error *err)
{
    eqops_http *h = NULL;
    int rc = eqops__k8s_http_new(k, -1, 0, &h, err);
    if (rc != 0)
        return rc;
    eqops__http_free(k->http);
    k->http = h;
    return 0;
}

static const size_t k8s_options_sizes[] = {sizeof(eqops_k8s_options)};

EQOPS__OPTS_INIT_FN(eqops_k8s_options_init, eqops_k8s_options, k8s_options_sizes)

/* Read the caller's options (NULL: defaults) into `o` and check them. */
static int read_options(eqops_k8s_options *o, const eqops_k8s_options *opts, eqops_error *err)
{
    int rc = EQOPS__OPTS_READ(o, opts, k8s_options_sizes, "k8s options", err);
    if (rc != 0)
        return rc;
    const char *bad = o->qps < -1                                  ? "opts.qps"
                      : o->burst < 0                               ? "opts.burst"
                      : o->timeout_ms < 0                          ? "opts.timeout_ms"
                      : o->connect_timeout_ms < 0                  ? "opts.connect_timeout_ms"
                      : o->max_retries < -1 || o->max_retries > 20 ? "opts.max_retries"
                      : o->exec_timeout_ms < 0                     ? "opts.exec_timeout_ms"
                                                                   : NULL;
    if (bad)
        return eqops__err_field(err, EQOPS_EINVAL, bad,
                                "qps >= -1, burst >= 0, timeouts >= 0, max_retries -1 to 20");
    if (o->field_manager && (strlen(o->field_manager) == 0 || strlen(o->field_manager) > 128))
        return eqops__err_field(err, EQOPS_EINVAL, "opts.field_manager", "1 to 128 characters");
    return 0;
}

static char *header(const char *name, const char *value)
{
    if (strpbrk(value, "\r\n"))
        return NULL;
    eqops_buf b = EQOPS_BUF_INIT;
    eqops__buf_printf(&b, "%s: %s", name, value);
    return eqops__buf_detach(&b);
}

/* The client around a resolved configuration (taken over). */
static int finish(eqops_k8s **out, k8s_config *cfg, const eqops_k8s_options *o, eqops_error *err)
{
    eqops_k8s *k = eqops__calloc(1, sizeof(*k));
    if (k == NULL) {
        eqops__k8s_config_clear(cfg);
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
    k->cfg = *cfg;
    memset(cfg, 0, sizeof(*cfg));
    eqops_http_options h = EQOPS_HTTP_OPTIONS_INIT;
    h.qps = o->qps == 0 ? 50 : o->qps < 0 ? 0 : o->qps;
    h.burst = o->burst ? o->burst : 100;
    h.timeout_ms = o->timeout_ms ? o->timeout_ms : 30000;
    h.connect_timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms : 10000;
    h.max_retries = o->max_retries ? o->max_retries : 5;
    h.cancel = o->cancel; /* every request and retry wait of this client */
    k->hopts = h;
    k->exec_timeout_ms = o->exec_timeout_ms ? o->exec_timeout_ms : 60000;
    k->field_manager = eqops__strdup(o->field_manager ? o->field_manager : "libeqops");
    if (o->user_agent)
        k->user_agent = eqops__strdup(o->user_agent);
    if (o->ns && *o->ns) {
        eqops__free(k->cfg.ns);
        k->cfg.ns = eqops__strdup(o->ns);
    }
    size_t ng = 0;
    while (o->impersonate_groups && o->impersonate_groups[ng])
        ng++;
    if (ng > K8S_GROUPS_MAX) {
        eqops_k8s_free(k);
        return eqops__err_field(err, EQOPS_EINVAL, "opts.impersonate_groups", "at most %d groups",
                                K8S_GROUPS_MAX);
    }
    k->impersonation = eqops__calloc(ng + 2, sizeof(char *));
    k->discovery = json_object();
    int rc = 0;
    if (k->field_manager == NULL || k->impersonation == NULL || k->discovery == NULL ||
        (o->user_agent && k->user_agent == NULL) || (o->ns && *o->ns && k->cfg.ns == NULL))
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    size_t ni = 0;
    if (rc == 0 && o->impersonate_user && *o->impersonate_user &&
        (k->impersonation[ni++] = header("Impersonate-User", o->impersonate_user)) == NULL)
        rc = eqops__err_field(err, EQOPS_EINVAL, "opts.impersonate_user", "no line breaks");
    for (size_t i = 0; rc == 0 && i < ng; i++)
        if ((k->impersonation[ni++] = header("Impersonate-Group", o->impersonate_groups[i])) ==
            NULL)
            rc = eqops__err_field(err, EQOPS_EINVAL, "opts.impersonate_groups", "no line breaks");
    if (rc == 0 && ng > 0 && !(o->impersonate_user && *o->impersonate_user))
        rc = eqops__err_field(err, EQOPS_EINVAL, "opts.impersonate_groups",
                              "needs impersonate_user");
    if (rc == 0)
        rc = eqops__k8s_http(k, err);
    if (rc != 0) {
        eqops_k8s_free(k);
        return rc;
    }
    *out = k;
    return 0;
}

int eqops_k8s_new(eqops_k8s **out, const eqops_k8s_options *opts, eqops_error *err)
{
    if (out == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "out", "must not be NULL");
    *out = NULL;
    eqops_k8s_options oc;
    const eqops_k8s_options *o = &oc;
    int rc = read_options(&oc, opts, err);
    if (rc != 0)
        return rc;
    k8s_config cfg;
    if (o->in_cluster) {
        rc = eqops__k8s_config_in_cluster(&cfg, err);
    } else {
        eqops_error e = EQOPS_ERROR_INIT;
        rc = eqops__k8s_config_load(&cfg, o->kubeconfig, o->context, &e);
        /* no kubeconfig at all: the in-cluster configuration, as client-go does */
        if (rc == EQOPS_ENOTFOUND && e.field[0] == '\0' && o->kubeconfig == NULL &&
            o->context == NULL && getenv("KUBERNETES_SERVICE_HOST")) {
            eqops_error_clear(&e);
            rc = eqops__k8s_config_in_cluster(&cfg, err);
        } else if (rc != 0) {
            eqops__err_move(err, &e);
        }
        eqops_error_clear(&e);
    }
    if (rc != 0)
        return rc;
    return finish(out, &cfg, o, err);
}

int eqops_k8s_new_eks(eqops_k8s **out, eqops_aws *aws, const char *cluster,
                      const eqops_k8s_options *opts, eqops_error *err)
{
    if (out == NULL || aws == NULL || cluster == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, out ? "aws" : "out", "must not be NULL");
    *out = NULL;
    eqops_k8s_options oc;
    const eqops_k8s_options *o = &oc;
    int rc = read_options(&oc, opts, err);
    if (rc != 0)
        return rc;
    char *desc = NULL;
    if ((rc = eqops_aws_eks_describe_cluster(&desc, aws, cluster, err)) != 0)
        return rc;
    json_t *doc = json_loads(desc, 0, NULL);
    eqops__free(desc);
    const char *endpoint = json_string_value(json_object_get(doc, "endpoint"));
    const char *ca =
        json_string_value(json_object_get(json_object_get(doc, "certificateAuthority"), "data"));
    k8s_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    if (endpoint == NULL || strncmp(endpoint, "https://", 8) != 0 || ca == NULL)
        rc = eqops__err(err, EQOPS_EPROTO,
                        "eks DescribeCluster %s: no https endpoint or certificate authority "
                        "(is the cluster still being created?)",
                        cluster);
    if (rc == 0 && (cfg.server = eqops__strdup(endpoint)) == NULL)
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    if (rc == 0)
        rc = eqops__base64_decode(&cfg.ca, ca, strlen(ca), "certificateAuthority.data", err);
    json_decref(doc);
    if (rc == 0)
        rc = finish(out, &cfg, o, err);
    else
        eqops__k8s_config_clear(&cfg);
    if (rc == 0) {
        (*out)->aws = aws;
        if (((*out)->eks_cluster = eqops__strdup(cluster)) == NULL) {
            eqops_k8s_free(*out);
            *out = NULL;
            rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
        }
    }
    return rc;
}

int eqops_k8s_contexts(char **out, const char *kubeconfig, eqops_error *err)
{
    if (out == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "out", "must not be NULL");
    *out = NULL;
    json_t *doc = NULL;
    int rc = eqops__k8s_config_contexts(&doc, kubeconfig, err);
    if (rc == 0 && (*out = eqops__json_dump(doc, JSON_COMPACT)) == NULL)
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    json_decref(doc);
    return rc;
}

/* ---- credentials ------------------------------------------------------------------------- */

static void set_bearer(eqops_k8s *k, char *token, int64_t until)
{
    eqops__secret_free(k->bearer);
    k->bearer = token;
    k->bearer_until = until;
}

static int read_token_file(eqops_k8s *k, eqops_error *err)
{
    char *text = NULL;
    size_t len = 0;
    int rc = eqops__read_file(&text, &len, k->cfg.token_file, 64 * 1024, err);
    if (rc != 0)
        return rc;
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
        text[--len] = '\0';
    if (len == 0 || strpbrk(text, "\r\n")) {
        eqops__secret_free(text);
        return eqops__err(err, EQOPS_EAUTH, "token file %s: empty or several lines",
                          k->cfg.token_file);
    }
    set_bearer(k, text, eqops__now_ms() + TOKEN_FILE_REREAD_MS);
    return 0;
}

/* KUBERNETES_EXEC_INFO for the plugin: not interactive; the cluster when asked for. */
static char *exec_info(const eqops_k8s *k)
{
    json_t *spec = json_pack("{s:b}", "interactive", 0);
    if (spec && k->cfg.exec->provide_cluster_info) {
        json_t *cluster = json_pack("{s:s}", "server", k->cfg.server);
        if (cluster && k->cfg.ca.len) {
            eqops_buf b = EQOPS_BUF_INIT;
            if (eqops__base64_encode(&b, k->cfg.ca.data, k->cfg.ca.len) == 0)
                eqops__jset(cluster, "certificate-authority-data",
                            json_string(eqops__buf_cstr(&b)));
            eqops__buf_free(&b);
        }
        if (cluster && k->cfg.tls_server_name)
            eqops__jset(cluster, "tls-server-name", json_string(k->cfg.tls_server_name));
        if (cluster && k->cfg.insecure)
            eqops__jset(cluster, "insecure-skip-tls-verify", json_true());
        eqops__jset(spec, "cluster", cluster);
    }
    json_t *doc = spec ? json_pack("{s:s, s:s, s:o}", "apiVersion", k->cfg.exec->api_version,
                                   "kind", "ExecCredential", "spec", spec)
                       : NULL;
    char *text = doc ? eqops__json_dump(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    return text;
}

/* The environment of the plugin: ours, its own entries, KUBERNETES_EXEC_INFO. Only the child
 * sees it. */
static char **exec_env(const eqops_k8s *k, const char *info)
{
    size_t n = 0, m = 0;
    while (environ && environ[n])
        n++;
    while (k->cfg.exec->env[m])
        m++;
    char **env = eqops__calloc(n + m + 2, sizeof(char *));
    if (env == NULL)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (!strncmp(environ[i], "KUBERNETES_EXEC_INFO=", 21))
            continue;
        bool overridden = false;
        for (size_t e = 0; e < m && !overridden; e++) {
            size_t len = (size_t)(strchr(k->cfg.exec->env[e], '=') - k->cfg.exec->env[e]);
            overridden = !strncmp(environ[i], k->cfg.exec->env[e], len + 1);
        }
        if (!overridden)
            env[j++] = environ[i];
    }
    for (size_t e = 0; e < m; e++)
        env[j++] = k->cfg.exec->env[e];
    eqops_buf b = EQOPS_BUF_INIT;
    eqops__buf_printf(&b, "KUBERNETES_EXEC_INFO=%s", info);
    env[j] = eqops__buf_detach(&b); /* the only entry this array owns */
    if (env[j] == NULL) {
        eqops__free(env);
        return NULL;
    }
    return env;
}

static int run_exec(eqops_k8s *k, eqops_error *err)
{
    char *info = exec_info(k);
    char **env = info ? exec_env(k, info) : NULL;
    eqops__free(info);
    if (env == NULL)
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    size_t last = 0;
    while (env[last])
        last++;
    eqops_buf out = EQOPS_BUF_INIT;
    int rc = eqops__run(&out, (const char *const *)k->cfg.exec->argv, (const char *const *)env,
                        k->exec_timeout_ms, EXEC_OUTPUT_MAX, "exec credential plugin", err);
    eqops__free(env[last - 1]);
    eqops__free(env);
    json_t *doc = NULL;
    if (rc == 0 && (doc = json_loadb(out.data ? out.data : "", out.len, 0, NULL)) == NULL)
        rc = eqops__err(err, EQOPS_EPROTO, "exec credential plugin %s: the output is not JSON",
                        k->cfg.exec->argv[0]);
    eqops__buf_wipe(&out);
    const char *api = json_string_value(json_object_get(doc, "apiVersion"));
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    const json_t *status = json_object_get(doc, "status");
    const char *token = json_string_value(json_object_get(status, "token"));
    const char *cert = json_string_value(json_object_get(status, "clientCertificateData"));
    const char *key = json_string_value(json_object_get(status, "clientKeyData"));
    const char *exp = json_string_value(json_object_get(status, "expirationTimestamp"));
    int64_t until = 0;
    if (rc == 0 && (api == NULL || strcmp(api, k->cfg.exec->api_version) != 0 || kind == NULL ||
                    strcmp(kind, "ExecCredential") != 0))
        rc = eqops__err(err, EQOPS_EPROTO,
                        "exec credential plugin %s: expected an ExecCredential of %s",
                        k->cfg.exec->argv[0], k->cfg.exec->api_version);
    else if (rc == 0 && !(token && *token) && !(cert && *cert && key && *key))
        rc = eqops__err(err, EQOPS_EPROTO,
                        "exec credential plugin %s: status has neither a token nor a client "
                        "certificate and key",
                        k->cfg.exec->argv[0]);
    else if (rc == 0 && exp && eqops__time_parse_rfc3339(exp, &until, NULL) != 0)
        rc = eqops__err(err, EQOPS_EPROTO,
                        "exec credential plugin %s: expirationTimestamp is not RFC 3339",
                        k->cfg.exec->argv[0]);
    if (rc == 0) {
        /* renew 30 s early, but never before half of a short lifetime has passed */
        int64_t now = eqops__now_ms(), renew = 0;
        if (until) {
            renew = until - EXEC_MARGIN_MS;
            if (renew < now + (until - now) / 2)
                renew = now + (until - now) / 2;
        }
        if (token && *token) {
            char *t = eqops__strdup(token);
            if (t == NULL || strpbrk(t, "\r\n"))
                rc = t ? eqops__err(err, EQOPS_EPROTO, "exec credential plugin: bad token")
                       : eqops__err(err, EQOPS_ENOMEM, "out of memory");
            if (rc == 0)
                set_bearer(k, t, renew ? renew : -1);
            else
                eqops__secret_free(t);
        } else {
            eqops__buf_truncate(&k->cfg.cert, 0);
            eqops__buf_wipe(&k->cfg.key);
            eqops__buf_puts(&k->cfg.cert, cert);
            eqops__buf_puts(&k->cfg.key, key);
            k->cert_from_exec = true;
            set_bearer(k, NULL, renew ? renew : -1);
            rc = eqops__buf_ok(&k->cfg.key) ? eqops__err(err, EQOPS_ENOMEM, "out of memory")
                                            : eqops__k8s_http(k, err);
        }
    }
    if (doc) {
        /* jansson's copies of the secrets */
        const char *fields[] = {"token", "clientKeyData"};
        for (size_t i = 0; i < 2; i++) {
            const char *v = json_string_value(json_object_get(status, fields[i]));
            if (v)
                eqops__wipe((char *)v, strlen(v));
        }
    }
    json_decref(doc);
    if (rc == 0)
        eqops__log(EQOPS_LOG_DEBUG, MOD, "exec credential plugin %s: new credentials%s",
                   k->cfg.exec->argv[0], until ? "" : " (no expiry)");
    return rc;
}

int eqops__k8s_auth(eqops_k8s *k, bool force, eqops_error *err)
{
    int64_t now = eqops__now_ms();
    bool due = force || k->bearer_until == 0 || (k->bearer_until > 0 && now >= k->bearer_until);
    if (k->aws) {
        if (!due && k->bearer)
            return 0;
        char *token = NULL;
        int64_t expires = 0;
        int rc = eqops_aws_eks_token(&token, &expires, k->aws, k->eks_cluster, err);
        if (rc == 0)
            set_bearer(k, token, expires - EKS_TOKEN_RENEW_MS);
        return rc;
    }
    if (k->cfg.exec) {
        if (!due && (k->bearer || k->cert_from_exec))
            return 0;
        return run_exec(k, err);
    }
    if (k->cfg.token_file && (due || k->bearer == NULL)) {
        int rc = read_token_file(k, err);
        /* a static token stays the fallback when the file cannot be read */
        if (rc != 0 && !k->cfg.token)
            return rc;
        if (rc != 0)
            eqops_error_clear(err);
        if (rc == 0)
            return 0;
    }
    if (k->cfg.token && k->bearer == NULL) {
        char *t = eqops__strdup(k->cfg.token);
        if (t == NULL)
            return eqops__err(err, EQOPS_ENOMEM, "out of memory");
        set_bearer(k, t, -1);
    }
    return 0;
}

/* ---- requests and errors ------------------------------------------------------------------ */

static int code_of_reason(const char *reason, long status)
{
    static const struct {
        const char *reason;
        int code;
    } map[] = {{"NotFound", EQOPS_ENOTFOUND},
               {"AlreadyExists", EQOPS_EEXISTS},
               {"Conflict", EQOPS_ECONFLICT},
               {"Invalid", EQOPS_EINVAL},
               {"BadRequest", EQOPS_EINVAL},
               {"Forbidden", EQOPS_EFORBIDDEN},
               {"Unauthorized", EQOPS_EAUTH},
               {"Expired", EQOPS_EGONE},
               {"Gone", EQOPS_EGONE},
               {"TooManyRequests", EQOPS_ERATELIMIT},
               {"Timeout", EQOPS_ETIMEOUT},
               {"ServerTimeout", EQOPS_ETIMEOUT},
               {"ServiceUnavailable", EQOPS_EUNAVAILABLE},
               {"MethodNotAllowed", EQOPS_ENOTSUP},
               {"NotAcceptable", EQOPS_ENOTSUP},
               {"UnsupportedMediaType", EQOPS_ENOTSUP},
               {"RequestEntityTooLarge", EQOPS_ETOOBIG},
               {"InternalError", EQOPS_EUNAVAILABLE}};
    for (size_t i = 0; reason && i < sizeof(map) / sizeof(map[0]); i++)
        if (!strcmp(reason, map[i].reason))
            return map[i].code;
    return status == 404                    ? EQOPS_ENOTFOUND
           : status == 409                  ? EQOPS_ECONFLICT
           : status == 422 || status == 400 ? EQOPS_EINVAL
           : status == 401                  ? EQOPS_EAUTH
           : status == 403                  ? EQOPS_EFORBIDDEN
           : status == 410                  ? EQOPS_EGONE
           : status == 429                  ? EQOPS_ERATELIMIT
           : status >= 500                  ? EQOPS_EUNAVAILABLE
                                            : EQOPS_EPROTO;
}

bool eqops__k8s_secret_path(const char *path)
{
    size_t n = path ? strcspn(path, "?") : 0;
    for (size_t i = 0; i < n;) {
        size_t seg = strcspn(path + i, "/?");
        if (seg == 7 && strncmp(path + i, "secrets", 7) == 0)
            return true;
        i += seg + 1;
    }
    return false;
}

/* The field paths a server message names (".stringData.password: expected string, ..."):
 * what may be shown of a message about a Secret. */
static void message_fields(eqops_buf *out, const char *message)
{
    int n = 0;
    for (const char *p = message; p && *p && n < 4; p++) {
        if (*p != '.' || (p > message && p[-1] != ' ' && p[-1] != '\n' && p[-1] != '\t'))
            continue;
        size_t len = strcspn(p, " \t\r\n");
        if (len < 2 || len > 200 || p[len - 1] != ':')
            continue;
        eqops__buf_printf(out, "%s%.*s", n++ ? ", " : " at ", (int)(len - 1), p);
        p += len - 1;
    }
}

int eqops__k8s_status_error(const char *body, size_t len, long http_status, double retry_after,
                            const char *what, bool secret, eqops_error *err)
{
    json_t *st = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    const char *kind = json_string_value(json_object_get(st, "kind"));
    if (kind && strcmp(kind, "Status") != 0) {
        json_decref(st);
        st = NULL;
    }
    const char *reason = json_string_value(json_object_get(st, "reason"));
    const char *message = json_string_value(json_object_get(st, "message"));
    json_int_t code = json_integer_value(json_object_get(st, "code"));
    long status = http_status ? http_status : (long)code;
    const json_t *details = json_object_get(st, "details");
    const json_t *causes = json_object_get(details, "causes");
    int rc = code_of_reason(reason, status);
    /* server-side apply of an object its schema cannot type (a number where a string goes):
     * bad input the server reports as a 500, not a server in trouble */
    if (status == 500 && message && strstr(message, "failed to create typed patch object"))
        rc = EQOPS_EINVAL;
    eqops_buf msg = EQOPS_BUF_INIT;
    eqops__buf_printf(&msg, "%s: ", what);
    if (secret) {
        /* the server quotes what it refused, and for a Secret that is a secret value: the
         * reason and the fields only */
        eqops__buf_printf(&msg, "refused (%s, HTTP %ld)", reason ? reason : "no reason", status);
        size_t before = msg.len;
        for (size_t i = 0; i < json_array_size(causes) && i < 4; i++) {
            const char *f = json_string_value(json_object_get(json_array_get(causes, i), "field"));
            if (f && strlen(f) <= 200)
                eqops__buf_printf(&msg, "%s%s", msg.len > before ? ", " : " at ", f);
        }
        if (msg.len == before)
            message_fields(&msg, message);
        eqops__buf_puts(&msg, "; the server's message is not shown: for a Secret it may quote "
                              "the values");
    } else if (message) {
        eqops__buf_puts(&msg, message);
    } else {
        eqops__buf_printf(&msg, "HTTP %ld", status);
    }
    eqops__err(err, rc, "%s", eqops__buf_cstr(&msg));
    eqops__buf_free(&msg);
    double after = retry_after;
    json_int_t ras = json_integer_value(json_object_get(details, "retryAfterSeconds"));
    if (after <= 0 && ras > 0)
        after = (double)ras;
    eqops__err_upstream(err, (int)status, reason ? reason : "", after);
    const char *field = json_string_value(json_object_get(json_array_get(causes, 0), "field"));
    if (err && field)
        snprintf(err->field, sizeof(err->field), "%s", field);
    if (!secret)
        eqops__err_body(err, body, len);
    json_decref(st);
    return rc;
}

int eqops__k8s_headers(eqops_k8s *k, const char **headers, char **auth, char ct[128],
                       const char *content_type, bool has_body, eqops_error *err)
{
    size_t nh = 0;
    *auth = NULL;
    if (k->bearer) {
        eqops_buf b = EQOPS_BUF_INIT;
        eqops__buf_printf(&b, "Authorization: Bearer %s", k->bearer);
        if ((*auth = eqops__buf_detach(&b)) == NULL)
            return eqops__err(err, EQOPS_ENOMEM, "out of memory");
        headers[nh++] = *auth;
    }
    headers[nh++] = "Accept: application/json";
    if (has_body) {
        snprintf(ct, 128, "Content-Type: %s", content_type ? content_type : "application/json");
        headers[nh++] = ct;
    }
    for (size_t i = 0; k->impersonation[i] && nh < K8S_HEADERS_MAX - 1; i++)
        headers[nh++] = k->impersonation[i];
    headers[nh] = NULL;
    return 0;
}

int eqops__k8s_do(eqops_k8s *k, const k8s_req *req, eqops_http_response *resp, eqops_error *err)
{
    for (int attempt = 0;; attempt++) {
        int rc = eqops__k8s_auth(k, attempt > 0, err);
        if (rc != 0)
            return rc;
        const char *headers[K8S_HEADERS_MAX];
        char *auth = NULL, ct[128];
        if ((rc = eqops__k8s_headers(k, headers, &auth, ct, req->body ? req->content_type : NULL,
                                     req->body != NULL, err)) != 0)
            return rc;
        eqops_buf url = EQOPS_BUF_INIT;
        eqops__buf_puts(&url, k->cfg.server);
        eqops__buf_puts(&url, req->path);
        eqops_http_request hr = {0};
        hr.method = req->method;
        hr.url = eqops__buf_cstr(&url);
        hr.headers = headers;
        hr.body = req->body;
        hr.body_len = req->body ? req->body_len : 0;
        /* a server-side apply can be sent again safely; a create or a merge patch cannot */
        if (req->content_type && !strcmp(req->content_type, "application/apply-patch+yaml"))
            hr.retry = EQOPS_HTTP_RETRY_ALWAYS;
        hr.on_data = req->on_data;
        hr.payload = req->payload;
        hr.timeout_ms = req->timeout_ms;
        hr.low_speed_time_s = req->low_speed_time_s;
        if (eqops__buf_ok(&url) != 0)
            rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
        if (rc == 0)
            rc = eqops__http_do(k->http, &hr, resp, err);
        eqops__secret_free(auth);
        eqops__buf_free(&url);
        if (rc != 0) {
            if (err && rc != EQOPS_ECANCELED)
                eqops__err_prefix(err, "%s: ", req->what);
            return rc;
        }
        if (resp->status >= 200 && resp->status < 300)
            return 0;
        /* a token that expired or was rotated: renew it once */
        bool renewable = k->cfg.exec || k->cfg.token_file || k->aws;
        if (resp->status == 401 && attempt == 0 && renewable) {
            eqops__log(EQOPS_LOG_INFO, MOD, "%s: 401, renewing credentials", req->what);
            continue;
        }
        return eqops__k8s_status_error(resp->body.data, resp->body.len, resp->status,
                                       resp->retry_after, req->what,
                                       eqops__k8s_secret_path(req->path), err);
    }
}

int eqops_k8s_request(char **out, eqops_k8s *k, const char *method, const char *path,
                      const char *content_type, const char *body, eqops_error *err)
{
    if (out)
        *out = NULL;
    if (out == NULL || k == NULL || method == NULL || path == NULL || path[0] != '/')
        return eqops__err_field(err, EQOPS_EINVAL, path && path[0] != '/' ? "path" : "out",
                                "out, k, method and a path starting with '/' are required");
    if (strpbrk(path, " \r\n") || (content_type && strpbrk(content_type, "\r\n")))
        return eqops__err_field(err, EQOPS_EINVAL, "path", "no spaces or line breaks");
    char what[300];
    snprintf(what, sizeof(what), "%s %.200s", method, path);
    if (content_type && *content_type == '\0') /* "" from a binding: not given */
        content_type = NULL;
    if (body && *body == '\0')
        body = NULL;
    k8s_req req = {method, path, content_type, body, body ? strlen(body) : 0,
                   what,   NULL, NULL,         0,    0};
    eqops_http_response resp = EQOPS_HTTP_RESPONSE_INIT;
    int rc = eqops__k8s_do(k, &req, &resp, err);
    if (rc == 0 && (*out = eqops__buf_detach(&resp.body)) == NULL &&
        (*out = eqops__strdup("")) == NULL)
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    eqops__http_response_clear(&resp);
    return rc;
}
