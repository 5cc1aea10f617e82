/*
 * kubeconfig.c - kubeconfig files (merged as kubectl merges them) and the in-cluster
 * configuration, resolved into one k8s_config.
 */
#include "k8s_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KUBECONFIG_MAX (16u << 20)
#define PEM_FILE_MAX   (1u << 20)
#define SA_DIR         "/var/run/secrets/kubernetes.io/serviceaccount"

void eqops__k8s_config_clear(k8s_config *cfg)
{
    eqops__free(cfg->server);
    eqops__free(cfg->ns);
    eqops__buf_free(&cfg->ca);
    eqops__free(cfg->tls_server_name);
    eqops__free(cfg->proxy);
    eqops__secret_free(cfg->token);
    eqops__free(cfg->token_file);
    eqops__buf_free(&cfg->cert);
    eqops__buf_wipe(&cfg->key);
    if (cfg->exec) {
        for (size_t i = 0; cfg->exec->argv && cfg->exec->argv[i]; i++)
            eqops__free(cfg->exec->argv[i]);
        eqops__free(cfg->exec->argv);
        for (size_t i = 0; cfg->exec->env && cfg->exec->env[i]; i++)
            eqops__secret_free(cfg->exec->env[i]);
        eqops__free(cfg->exec->env);
        eqops__free(cfg->exec);
    }
    memset(cfg, 0, sizeof(*cfg));
}

/* ---- merging ------------------------------------------------------------------------------ */

/* "kubeconfig FILE: FIELD: RULE", with err->field the field. */
static int bad(eqops_error *err, const char *path, const char *field, const char *rule)
{
    eqops__err(err, EQOPS_EINVAL, "kubeconfig %s: %s: %s", path, field, rule);
    if (err != NULL)
        snprintf(err->field, sizeof(err->field), "%.*s", (int)sizeof(err->field) - 1, field);
    return EQOPS_EINVAL;
}

/* "clusters" / "users" / "contexts": arrays of {"name", "<item>": {...}}; the first file to
 * name an entry wins. A name twice in one file is refused, as kubectl refuses it: which entry
 * (which credentials) would be meant is anyone's guess. An entry without a name is read as
 * kubectl reads it, named "" (so two of them are a duplicate); eqops never uses one (see
 * eqops__k8s_config_load). Entries keep the directory of their file for relative paths. */
static int merge_list(json_t *merged, const json_t *doc, const char *list, const char *item,
                      const char *dir, const char *path, eqops_error *err)
{
    const json_t *arr = json_object_get(doc, list);
    if (arr == NULL || json_is_null(arr))
        return 0;
    if (!json_is_array(arr))
        return bad(err, path, list, "must be a list");
    json_t *into = json_object_get(merged, list);
    json_t *seen = json_object(); /* name -> its index in this file */
    if (seen == NULL)
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    int rc = 0;
    size_t i;
    const json_t *e;
    json_array_foreach(arr, i, e)
    {
        char field[96];
        snprintf(field, sizeof(field), "%s[%zu]", list, i);
        const json_t *jname = json_object_get(e, "name");
        const char *name = jname == NULL || json_is_null(jname) ? "" : json_string_value(jname);
        const json_t *v = json_object_get(e, item);
        if (!json_is_object(e))
            rc = bad(err, path, field, "must be a mapping with a name");
        else if (name == NULL)
            rc = bad(err, path, field, "its name must be a string");
        else if (v != NULL && !json_is_object(v) && !json_is_null(v))
            rc = bad(err, path, field, "its settings must be a mapping");
        else if (json_object_get(seen, name) != NULL) {
            char rule[300];
            snprintf(rule, sizeof(rule), "duplicate name \"%.120s\" (%s[%lld] has it too)", name,
                     list, (long long)json_integer_value(json_object_get(seen, name)));
            snprintf(field, sizeof(field), "%s[%zu].name", list, i);
            rc = bad(err, path, field, rule);
        } else if (json_object_set_new(seen, name, json_integer((json_int_t)i)) != 0)
            rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
        if (rc != 0)
            break;
        if (json_object_get(into, name))
            continue;
        json_t *val = v && json_is_object(v) ? json_incref((json_t *)v) : json_object();
        json_t *entry =
            val ? json_pack("{s:s, s:s, s:o}", "dir", dir, "file", path, "v", val) : NULL;
        if (entry == NULL || json_object_set_new(into, name, entry) != 0) {
            rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
            break;
        }
    }
    json_decref(seen);
    return rc;
}

int eqops__k8s_config_merge(json_t *merged, const char *text, size_t len, const char *path,
                            eqops_error *err)
{
    json_t *doc = NULL;
    int rc = eqops__yaml_parse(&doc, text, len, false, path, err);
    if (rc != 0)
        return rc;
    if (json_is_null(doc) || (json_is_object(doc) && json_object_size(doc) == 0)) {
        json_decref(doc);
        return 0; /* an empty file */
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        return bad(err, path, "(top)", "must be a mapping");
    }
    char dir[1024] = ".";
    const char *slash = strrchr(path, '/');
    if (slash)
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    if (slash == path)
        snprintf(dir, sizeof(dir), "/");
    static const char *const lists[][2] = {
        {"clusters", "cluster"}, {"users", "user"}, {"contexts", "context"}};
    for (size_t i = 0; i < 3 && rc == 0; i++) {
        if (json_object_get(merged, lists[i][0]) == NULL)
            eqops__jset(merged, lists[i][0], json_object());
        rc = merge_list(merged, doc, lists[i][0], lists[i][1], dir, path, err);
    }
    const json_t *cur = json_object_get(doc, "current-context");
    if (rc == 0 && cur && !json_is_string(cur) && !json_is_null(cur))
        rc = bad(err, path, "current-context", "must be a string");
    const char *c = json_string_value(cur);
    if (rc == 0 && c && *c && !json_string_value(json_object_get(merged, "current-context")))
        eqops__jset(merged, "current-context", json_string(c));
    json_decref(doc);
    return rc;
}

/* The file named by the caller (one path, as kubectl's --kubeconfig: it must exist), else each
 * path of KUBECONFIG in order (missing files skipped, as kubectl does), else ~/.kube/config. */
static int load_merged(json_t **out, const char *file, eqops_error *err)
{
    bool named = file != NULL && *file != '\0';
    const char *paths = named ? file : getenv("KUBECONFIG");
    char home[1024];
    if (paths == NULL || *paths == '\0') {
        const char *h = getenv("HOME");
        snprintf(home, sizeof(home), "%s/.kube/config", h ? h : "");
        paths = home;
    }
    json_t *merged = json_object();
    if (merged == NULL)
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    int rc = 0, found = 0;
    const char *p = paths;
    while (rc == 0 && *p) {
        const char *colon = named ? NULL : strchr(p, ':');
        size_t n = colon ? (size_t)(colon - p) : strlen(p);
        char path[4096];
        if (n >= sizeof(path)) {
            rc = eqops__err(err, EQOPS_EINVAL, "kubeconfig %.60s...: path too long", p);
        } else if (n > 0) {
            memcpy(path, p, n);
            path[n] = '\0';
            char *text = NULL;
            size_t len = 0;
            eqops_error e = EQOPS_ERROR_INIT;
            int r = eqops__read_file(&text, &len, path, KUBECONFIG_MAX, &e);
            if (r == 0) {
                found++;
                rc = eqops__k8s_config_merge(merged, text, len, path, err);
                eqops__wipe(text, len); /* tokens and keys */
                eqops__free(text);
                eqops_error_clear(&e);
            } else if (r == EQOPS_ENOTFOUND && !named) {
                eqops_error_clear(&e);
            } else {
                rc = eqops__err_move(err, &e);
            }
        }
        p += n + (colon ? 1 : 0);
    }
    if (rc == 0 && found == 0)
        rc = eqops__err(err, EQOPS_ENOTFOUND, "no kubeconfig file (looked at %s)", paths);
    if (rc != 0) {
        json_decref(merged);
        return rc;
    }
    *out = merged;
    return 0;
}

/* ---- resolving a context ------------------------------------------------------------------ */

static char *resolve_path(const char *dir, const char *path)
{
    eqops_buf b = EQOPS_BUF_INIT;
    if (path[0] != '/') {
        eqops__buf_puts(&b, dir);
        eqops__buf_putc(&b, '/');
    }
    eqops__buf_puts(&b, path);
    return eqops__buf_detach(&b);
}

/* A string setting, or NULL; EQOPS_EINVAL when it is something else. */
static int str_of(const json_t *obj, const char *key, const char **out, const char *path,
                  const char *where, eqops_error *err)
{
    const json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        char f[400];
        snprintf(f, sizeof(f), "%s.%s", where, key);
        return bad(err, path, f, "must be a string");
    }
    *out = json_string_value(v);
    return 0;
}

/* PEM from "<key>-data" (base64) or "<key>" (a file). */
static int pem_of(eqops_buf *out, const json_t *obj, const char *dir, const char *file_name,
                  const char *key, const char *where, eqops_error *err)
{
    char data_key[64], field[400];
    snprintf(data_key, sizeof(data_key), "%s-data", key);
    const char *data, *file;
    int rc = str_of(obj, data_key, &data, file_name, where, err);
    if (rc == 0)
        rc = str_of(obj, key, &file, file_name, where, err);
    if (rc != 0)
        return rc;
    if (data && *data) {
        snprintf(field, sizeof(field), "%s.%s", where, data_key);
        return eqops__base64_decode(out, data, strlen(data), field, err);
    }
    if (file && *file) {
        char *path = resolve_path(dir, file), *text = NULL;
        size_t len = 0;
        rc = path ? eqops__read_file(&text, &len, path, PEM_FILE_MAX, err)
                  : eqops__err(err, EQOPS_ENOMEM, "out of memory");
        if (rc == 0)
            eqops__buf_put(out, text, len);
        if (text)
            eqops__wipe(text, len);
        eqops__free(text);
        eqops__free(path);
        if (rc == 0 && eqops__buf_ok(out) != 0)
            rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
    return rc;
}

static int exec_of(k8s_config *cfg, const json_t *ex, const char *dir, const char *file,
                   const char *where, eqops_error *err)
{
    char field[320];
    snprintf(field, sizeof(field), "%s.exec", where);
    const char *api, *cmd;
    int rc = str_of(ex, "apiVersion", &api, file, field, err);
    if (rc == 0)
        rc = str_of(ex, "command", &cmd, file, field, err);
    if (rc != 0)
        return rc;
    if (cmd == NULL || *cmd == '\0')
        return eqops__err_field(err, EQOPS_EINVAL, "exec.command", "kubeconfig %s: needs a command",
                                field);
    if (api == NULL || (strcmp(api, "client.authentication.k8s.io/v1") != 0 &&
                        strcmp(api, "client.authentication.k8s.io/v1beta1") != 0))
        return eqops__err_field(err, EQOPS_EINVAL, "exec.apiVersion",
                                "kubeconfig %s: apiVersion must be "
                                "client.authentication.k8s.io/v1 or /v1beta1",
                                field);
    const json_t *args = json_object_get(ex, "args"), *env = json_object_get(ex, "env");
    if ((args && !json_is_array(args) && !json_is_null(args)) ||
        (env && !json_is_array(env) && !json_is_null(env)))
        return eqops__err_field(err, EQOPS_EINVAL, "exec",
                                "kubeconfig %s: args and env must be lists", field);
    size_t nargs = json_array_size(args), nenv = json_array_size(env);
    k8s_exec *x = eqops__calloc(1, sizeof(*x));
    if (x == NULL)
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    cfg->exec = x;
    x->argv = eqops__calloc(nargs + 2, sizeof(char *));
    x->env = eqops__calloc(nenv + 1, sizeof(char *));
    if (x->argv == NULL || x->env == NULL)
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    snprintf(x->api_version, sizeof(x->api_version), "%s", api);
    /* a relative path with a '/' is relative to the kubeconfig; a bare name is looked up in
     * PATH */
    x->argv[0] = strchr(cmd, '/') && cmd[0] != '/' ? resolve_path(dir, cmd) : eqops__strdup(cmd);
    for (size_t i = 0; i < nargs; i++) {
        const char *a = json_string_value(json_array_get(args, i));
        if (a == NULL)
            return eqops__err_field(err, EQOPS_EINVAL, "exec.args",
                                    "kubeconfig %s.args[%zu]: must be a string", field, i);
        x->argv[i + 1] = eqops__strdup(a);
    }
    for (size_t i = 0; i < nenv; i++) {
        const json_t *e = json_array_get(env, i);
        const char *n = json_string_value(json_object_get(e, "name"));
        const char *v = json_string_value(json_object_get(e, "value"));
        if (n == NULL || *n == '\0' || strchr(n, '=') || v == NULL)
            return eqops__err_field(err, EQOPS_EINVAL, "exec.env",
                                    "kubeconfig %s.env[%zu]: needs a name and a value", field, i);
        eqops_buf b = EQOPS_BUF_INIT;
        eqops__buf_printf(&b, "%s=%s", n, v);
        x->env[i] = eqops__buf_detach(&b);
    }
    const json_t *pci = json_object_get(ex, "provideClusterInfo");
    x->provide_cluster_info = json_is_true(pci);
    for (size_t i = 0; i <= nargs; i++)
        if (x->argv[i] == NULL)
            return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    for (size_t i = 0; i < nenv; i++)
        if (x->env[i] == NULL)
            return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    return 0;
}

static int cluster_of(k8s_config *cfg, const json_t *entry, const char *name, eqops_error *err)
{
    const char *dir = json_string_value(json_object_get(entry, "dir"));
    const char *file = json_string_value(json_object_get(entry, "file"));
    const json_t *c = json_object_get(entry, "v");
    char where[300];
    snprintf(where, sizeof(where), "clusters[%s]", name);
    const char *server, *tsn, *proxy;
    int rc = str_of(c, "server", &server, file, where, err);
    if (rc == 0)
        rc = str_of(c, "tls-server-name", &tsn, file, where, err);
    if (rc == 0)
        rc = str_of(c, "proxy-url", &proxy, file, where, err);
    if (rc != 0)
        return rc;
    /* http:// as kubectl allows it (a local test server); credentials then go in clear */
    if (server == NULL || (strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7)))
        return eqops__err_field(err, EQOPS_EINVAL, "server",
                                "kubeconfig %s.server: must be an https:// (or http://) URL",
                                where);
    size_t n = strlen(server);
    while (n > 0 && server[n - 1] == '/')
        n--;
    cfg->server = eqops__strndup(server, n);
    cfg->tls_server_name = tsn && *tsn ? eqops__strdup(tsn) : NULL;
    cfg->proxy = proxy && *proxy ? eqops__strdup(proxy) : NULL;
    if (cfg->server == NULL)
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    const json_t *insecure = json_object_get(c, "insecure-skip-tls-verify");
    char field[400];
    snprintf(field, sizeof(field), "%s.insecure-skip-tls-verify", where);
    if (insecure && !json_is_boolean(insecure) && !json_is_null(insecure))
        return bad(err, file, field, "must be true or false");
    cfg->insecure = json_is_true(insecure);
    if (cfg->insecure) {
        /* as kubectl: a CA to trust and no verification contradict each other; which one
         * was meant is not ours to guess (the CA most likely, and then we would not check) */
        const char *ca_data, *ca_file;
        if ((rc = str_of(c, "certificate-authority-data", &ca_data, file, where, err)) != 0 ||
            (rc = str_of(c, "certificate-authority", &ca_file, file, where, err)) != 0)
            return rc;
        if ((ca_data && *ca_data) || (ca_file && *ca_file))
            return bad(err, file, field,
                       ca_data && *ca_data
                           ? "true together with certificate-authority-data: a root certificate "
                             "with the insecure flag is not allowed (remove one of them)"
                           : "true together with certificate-authority: a root certificate "
                             "with the insecure flag is not allowed (remove one of them)");
    }
    return pem_of(&cfg->ca, c, dir, file, "certificate-authority", where, err);
}

static int user_of(k8s_config *cfg, const json_t *entry, const char *name, eqops_error *err)
{
    const char *dir = json_string_value(json_object_get(entry, "dir"));
    const char *file = json_string_value(json_object_get(entry, "file"));
    const json_t *u = json_object_get(entry, "v");
    char where[300];
    snprintf(where, sizeof(where), "users[%s]", name);
    if (json_object_get(u, "auth-provider"))
        return eqops__err_field(err, EQOPS_ENOTSUP, "auth-provider",
                                "kubeconfig %s: auth-provider plugins are not supported; use an "
                                "exec plugin",
                                where);
    if (json_object_get(u, "username") || json_object_get(u, "password"))
        return eqops__err_field(err, EQOPS_ENOTSUP, "username",
                                "kubeconfig %s: basic authentication is not supported", where);
    const char *token, *token_file;
    int rc = str_of(u, "token", &token, file, where, err);
    if (rc == 0)
        rc = str_of(u, "tokenFile", &token_file, file, where, err);
    if (rc != 0)
        return rc;
    if (token && *token && (cfg->token = eqops__strdup(token)) == NULL)
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    if (token_file && *token_file && (cfg->token_file = resolve_path(dir, token_file)) == NULL)
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    if ((rc = pem_of(&cfg->cert, u, dir, file, "client-certificate", where, err)) != 0 ||
        (rc = pem_of(&cfg->key, u, dir, file, "client-key", where, err)) != 0)
        return rc;
    if ((cfg->cert.len > 0) != (cfg->key.len > 0))
        return eqops__err_field(err, EQOPS_EINVAL, "client-key",
                                "kubeconfig %s: a client certificate needs its key and the key "
                                "its certificate",
                                where);
    const json_t *ex = json_object_get(u, "exec");
    if (ex && !json_is_null(ex)) {
        if (!json_is_object(ex))
            return eqops__err_field(err, EQOPS_EINVAL, "exec",
                                    "kubeconfig %s.exec: must be a mapping", where);
        rc = exec_of(cfg, ex, dir, file, where, err);
    }
    return rc;
}

int eqops__k8s_config_load(k8s_config *cfg, const char *file, const char *context, eqops_error *err)
{
    memset(cfg, 0, sizeof(*cfg));
    json_t *m = NULL;
    int rc = load_merged(&m, file, err);
    if (rc != 0)
        return rc;
    const char *name =
        context && *context ? context : json_string_value(json_object_get(m, "current-context"));
    const json_t *ctx = name ? json_object_get(json_object_get(m, "contexts"), name) : NULL;
    if (name == NULL)
        rc = eqops__err_field(err, EQOPS_ENOTFOUND, "context",
                              "kubeconfig: no current-context; name a context");
    else if (ctx == NULL)
        rc = eqops__err_field(err, EQOPS_ENOTFOUND, "context", "kubeconfig: no context \"%s\"",
                              name);
    const json_t *c = json_object_get(ctx, "v");
    const char *cluster = json_string_value(json_object_get(c, "cluster"));
    const char *user = json_string_value(json_object_get(c, "user"));
    const char *ns = json_string_value(json_object_get(c, "namespace"));
    const json_t *clusters = json_object_get(m, "clusters"), *users = json_object_get(m, "users");
    bool no_cluster = cluster == NULL || *cluster == '\0', no_user = user == NULL || *user == '\0';
    const json_t *ce = no_cluster ? NULL : json_object_get(clusters, cluster);
    const json_t *ue = no_user ? NULL : json_object_get(users, user);
    /* kubectl would take the entry without a name for a context that names none (and its
     * credentials): too easy to get by accident to follow */
    if (rc == 0 && no_cluster)
        rc = eqops__err_field(err, EQOPS_EINVAL, "cluster",
                              "kubeconfig: context \"%s\" names no cluster%s", name,
                              json_object_get(clusters, "")
                                  ? " (an entry of clusters has no name: kubectl would use it; "
                                    "name it, and name it in the context)"
                                  : "");
    if (rc == 0 && no_user && json_object_get(users, ""))
        rc = eqops__err_field(err, EQOPS_EINVAL, "user",
                              "kubeconfig: context \"%s\" names no user, and an entry of users "
                              "has no name: kubectl would use its credentials; name it, and name "
                              "it in the context (or remove it)",
                              name);
    if (rc == 0 && ce == NULL)
        rc = eqops__err_field(err, EQOPS_ENOTFOUND, "cluster",
                              "kubeconfig: context \"%s\" names cluster \"%s\", which is not "
                              "defined",
                              name, cluster ? cluster : "");
    if (rc == 0 && !no_user && ue == NULL)
        rc = eqops__err_field(err, EQOPS_ENOTFOUND, "user",
                              "kubeconfig: context \"%s\" names user \"%s\", which is not defined",
                              name, user);
    if (rc == 0) {
        snprintf(cfg->context, sizeof(cfg->context), "%s", name);
        if (ns && *ns)
            cfg->ns = eqops__strdup(ns);
        rc = cluster_of(cfg, ce, cluster, err);
    }
    if (rc == 0 && ue)
        rc = user_of(cfg, ue, user, err);
    json_decref(m);
    if (rc != 0)
        eqops__k8s_config_clear(cfg);
    return rc;
}

int eqops__k8s_config_contexts(json_t **out, const char *file, eqops_error *err)
{
    json_t *m = NULL;
    int rc = load_merged(&m, file, err);
    if (rc != 0)
        return rc;
    json_t *list = json_array();
    const char *name;
    json_t *ctx;
    json_object_foreach(json_object_get(m, "contexts"), name, ctx)
    {
        if (*name == '\0')
            continue; /* never used (eqops__k8s_config_load) */
        const json_t *c = json_object_get(ctx, "v");
        const char *cluster = json_string_value(json_object_get(c, "cluster"));
        const json_t *ce =
            cluster ? json_object_get(json_object_get(m, "clusters"), cluster) : NULL;
        const char *server = json_string_value(json_object_get(json_object_get(ce, "v"), "server"));
        const char *ns = json_string_value(json_object_get(c, "namespace"));
        const char *user = json_string_value(json_object_get(c, "user"));
        eqops__jappend(list, json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", name, "cluster",
                                       cluster ? cluster : "", "user", user ? user : "",
                                       "namespace", ns ? ns : "", "server", server ? server : ""));
    }
    const char *cur = json_string_value(json_object_get(m, "current-context"));
    *out = json_pack("{s:s, s:o}", "current", cur ? cur : "", "contexts", list);
    json_decref(m);
    return *out ? 0 : eqops__err(err, EQOPS_ENOMEM, "out of memory");
}

int eqops__k8s_config_in_cluster(k8s_config *cfg, eqops_error *err)
{
    memset(cfg, 0, sizeof(*cfg));
    const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
    if (host == NULL || *host == '\0')
        return eqops__err(err, EQOPS_ENOTFOUND,
                          "not in a cluster: KUBERNETES_SERVICE_HOST is not set");
    const char *dir = getenv("EQOPS_K8S_SERVICEACCOUNT_DIR"); /* tests */
    if (dir == NULL || *dir == '\0')
        dir = SA_DIR;
    eqops_buf b = EQOPS_BUF_INIT;
    bool v6 = strchr(host, ':') != NULL;
    eqops__buf_printf(&b, "https://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "",
                      port && *port ? port : "443");
    cfg->server = eqops__buf_detach(&b);
    eqops__buf_printf(&b, "%s/token", dir);
    cfg->token_file = eqops__buf_detach(&b);
    if (cfg->server == NULL || cfg->token_file == NULL) {
        eqops__k8s_config_clear(cfg);
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
    char path[1100], *text = NULL;
    size_t len = 0;
    snprintf(path, sizeof(path), "%s/ca.crt", dir);
    int rc = eqops__read_file(&text, &len, path, PEM_FILE_MAX, err);
    if (rc == 0)
        eqops__buf_put(&cfg->ca, text, len);
    eqops__free(text);
    text = NULL;
    snprintf(path, sizeof(path), "%s/namespace", dir);
    eqops_error e = EQOPS_ERROR_INIT;
    if (rc == 0 && eqops__read_file(&text, &len, path, 256, &e) == 0) {
        while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
            text[--len] = '\0';
        cfg->ns = len ? eqops__strdup(text) : NULL;
    }
    eqops_error_clear(&e);
    eqops__free(text);
    if (rc != 0)
        eqops__k8s_config_clear(cfg);
    return rc;
}
