/*
 * eqops k8s - a small, honest subset for operators: who am I, get, server-side apply, delete,
 * watch. Every command takes --kubeconfig, --context and -n/--namespace; -o json prints the
 * API's JSON.
 */
#include "cli.h"

#include <eqops/k8s.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define KUBECONFIG_MAX (16u << 20) /* the library's limit */

typedef struct k8s_common {
    const char *kubeconfig, *context, *ns, *api_version, *qps;
    bool help;
} k8s_common;

#define K8S_COMMON_FLAGS(a)                                                                        \
    {"kubeconfig", 0, CLI_FLAG_STRING, &(a).kubeconfig,                                            \
     "the kubeconfig file, a FIFO or '-' (default: KUBECONFIG's files, ~/.kube/config)"},          \
        {"context", 0, CLI_FLAG_STRING, &(a).context, "kubeconfig context (default: current)"},    \
        {"namespace", 'n', CLI_FLAG_STRING, &(a).ns, "namespace (default: the context's)"},        \
        {"api-version", 0, CLI_FLAG_STRING, &(a).api_version,                                      \
         "apiVersion of KIND (default: known for common kinds, else v1)"},                         \
        {"qps", 0, CLI_FLAG_STRING, &(a).qps,                                                      \
         "requests per second to the API server (default 50; 0: no limit)"},                       \
    {                                                                                              \
        "help", 'h', CLI_FLAG_BOOL, &(a).help, "show this help"                                    \
    }

static void k8s_usage(void)
{
    printf("Usage: eqops k8s COMMAND [ARGS]\n\n"
           "Commands:\n"
           "  whoami                 the server, context and the user the server sees\n"
           "  get KIND [NAME]        one object, or a list (-l selector, -A all namespaces)\n"
           "  apply -f FILE          server-side apply of a JSON or YAML manifest, a directory\n"
           "                         of them (-R: and subdirectories), or '-' for stdin\n"
           "  delete KIND NAME       delete (--dry-run, --cascade background|foreground|orphan)\n"
           "  watch KIND             print changes as they happen (-l, --timeout)\n"
           "\nKIND is a kind name (ConfigMap, deployment, Namespace); kinds outside the core and\n"
           "the common groups need --api-version (e.g. argoproj.io/v1alpha1).\n");
}

static int fail(cli *c, eqops_error *e)
{
    int rc = cli_fail(c, e);
    eqops_error_clear(e);
    return rc;
}

/* Common kinds and their apiVersion, matched case-blind. */
static const char *const known_kinds[][2] = {
    {"Namespace", "v1"},
    {"ConfigMap", "v1"},
    {"Secret", "v1"},
    {"Service", "v1"},
    {"ServiceAccount", "v1"},
    {"Pod", "v1"},
    {"ResourceQuota", "v1"},
    {"LimitRange", "v1"},
    {"PersistentVolumeClaim", "v1"},
    {"Event", "v1"},
    {"Node", "v1"},
    {"Deployment", "apps/v1"},
    {"StatefulSet", "apps/v1"},
    {"DaemonSet", "apps/v1"},
    {"ReplicaSet", "apps/v1"},
    {"Job", "batch/v1"},
    {"CronJob", "batch/v1"},
    {"Role", "rbac.authorization.k8s.io/v1"},
    {"RoleBinding", "rbac.authorization.k8s.io/v1"},
    {"ClusterRole", "rbac.authorization.k8s.io/v1"},
    {"ClusterRoleBinding", "rbac.authorization.k8s.io/v1"},
    {"NetworkPolicy", "networking.k8s.io/v1"},
    {"Ingress", "networking.k8s.io/v1"},
    {"CustomResourceDefinition", "apiextensions.k8s.io/v1"},
    {"Application", "argoproj.io/v1alpha1"},
};

/* The kind as the API spells it and its apiVersion. */
static void resolve_kind(const char *arg, const char *api_version, char *kind, size_t n,
                         const char **version)
{
    snprintf(kind, n, "%s", arg);
    *version = api_version ? api_version : "v1";
    for (size_t i = 0; i < sizeof(known_kinds) / sizeof(known_kinds[0]); i++) {
        if (strcasecmp(arg, known_kinds[i][0]) == 0) {
            snprintf(kind, n, "%s", known_kinds[i][0]);
            if (api_version == NULL)
                *version = known_kinds[i][1];
            return;
        }
    }
}

#define K8S_HELP_SHOWN (-1)

static int k8s_start(cli *c, const char *usage, const cli_flag *flags, const k8s_common *a, bool ok,
                     eqops_k8s **k)
{
    *k = NULL;
    if (a->help || !ok) {
        printf("%s\n\nFlags:\n", usage);
        cli_print_flags(flags);
        return a->help ? K8S_HELP_SHOWN : CLI_USAGE;
    }
    eqops_k8s_options o = EQOPS_K8S_OPTIONS_INIT;
    if (a->qps) {
        char *end;
        double q = strtod(a->qps, &end);
        if (*end || q < 0 || q > 100000)
            return cli_usage(c, "k8s", "--qps must be a number of requests per second");
        o.qps = q == 0 ? -1 : q;
        o.burst = q == 0 ? 0 : (int)(q * 2 > 1 ? q * 2 : 1);
    }
    int rc = cli_input_file(c, a->kubeconfig, KUBECONFIG_MAX, &o.kubeconfig);
    if (rc != CLI_OK)
        return rc;
    o.context = a->context;
    o.ns = a->ns;
    o.field_manager = "eqops";
    eqops_error e = EQOPS_ERROR_INIT;
    if (eqops_k8s_new(k, &o, &e) != 0)
        return fail(c, &e);
    return CLI_OK;
}

#define K8S_START(usage, ok)                                                                       \
    do {                                                                                           \
        int start_rc = k8s_start(c, usage, flags, &a, ok, &k);                                     \
        if (start_rc != CLI_OK)                                                                    \
            return start_rc == K8S_HELP_SHOWN ? CLI_OK : start_rc;                                 \
    } while (0)

static int k8s_whoami(cli *c, int argc, char **argv)
{
    k8s_common a = {0};
    const cli_flag flags[] = {K8S_COMMON_FLAGS(a), {0}};
    const char *pos[1];
    int npos, rc = cli_parse(c, "k8s whoami", flags, argc, argv, pos, 0, &npos);
    if (rc != CLI_OK)
        return rc;
    eqops_k8s *k = NULL;
    K8S_START("Usage: eqops k8s whoami", true);
    char *out = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    const char *review = "{\"apiVersion\": \"authentication.k8s.io/v1\", \"kind\": "
                         "\"SelfSubjectReview\"}";
    if (eqops_k8s_request(&out, k, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                          NULL, review, &e) != 0) {
        rc = fail(c, &e);
    } else {
        json_t *doc = json_loads(out, 0, NULL);
        json_t *info = json_object_get(json_object_get(doc, "status"), "userInfo");
        json_t *groups = json_object_get(info, "groups");
        const char *user = json_string_value(json_object_get(info, "username"));
        if (c->output == CLI_JSON) {
            rc = cli_print_json(c, json_pack("{s:s, s:s, s:s, s:s, s:O?}", "server",
                                             eqops_k8s_server(k), "context", eqops_k8s_context(k),
                                             "namespace", eqops_k8s_namespace(k), "user",
                                             user ? user : "", "groups", groups));
        } else {
            printf("server     %s\ncontext    %s\nnamespace  %s\nuser       %s\ngroups    ",
                   eqops_k8s_server(k), eqops_k8s_context(k), eqops_k8s_namespace(k),
                   user ? user : "?");
            size_t i;
            json_t *g;
            json_array_foreach(groups, i, g) printf(" %s", json_string_value(g));
            printf("\n");
        }
        json_decref(doc);
    }
    eqops_free(out);
    eqops_k8s_free(k);
    return rc;
}

static void print_object_line(json_t *obj, bool with_ns)
{
    json_t *m = json_object_get(obj, "metadata");
    const char *ns = json_string_value(json_object_get(m, "namespace"));
    printf("%-40s", json_string_value(json_object_get(m, "name")));
    if (with_ns)
        printf(" %-24s", ns ? ns : "");
    printf(" %s\n", json_string_value(json_object_get(m, "creationTimestamp")));
}

static int k8s_get(cli *c, int argc, char **argv)
{
    k8s_common a = {0};
    const char *selector = NULL;
    bool all = false;
    const cli_flag flags[] = {
        {"selector", 'l', CLI_FLAG_STRING, &selector, "label selector (\"app=x,tier!=db\")"},
        {"all-namespaces", 'A', CLI_FLAG_BOOL, &all, "list across namespaces"},
        K8S_COMMON_FLAGS(a),
        {0}};
    const char *pos[2];
    int npos, rc = cli_parse(c, "k8s get", flags, argc, argv, pos, 2, &npos);
    if (rc != CLI_OK)
        return rc;
    eqops_k8s *k = NULL;
    K8S_START("Usage: eqops k8s get KIND [NAME] [-n NS] [-l SELECTOR] [-A]", npos >= 1);
    char kind[128], *out = NULL;
    const char *version;
    resolve_kind(pos[0], a.api_version, kind, sizeof(kind), &version);
    eqops_error e = EQOPS_ERROR_INIT;
    if (npos == 2) {
        rc = eqops_k8s_get(&out, k, version, kind, a.ns, pos[1], &e);
    } else {
        eqops_k8s_list_options lo = EQOPS_K8S_LIST_OPTIONS_INIT;
        lo.label_selector = selector;
        lo.all_namespaces = all;
        rc = eqops_k8s_list(&out, k, version, kind, a.ns, &lo, &e);
    }
    if (rc != 0) {
        rc = fail(c, &e);
    } else if (c->output == CLI_JSON || npos == 2) {
        json_t *doc = json_loads(out, 0, NULL);
        rc = cli_print_json(c, doc);
    } else {
        json_t *doc = json_loads(out, 0, NULL);
        size_t i;
        json_t *item;
        printf("%-40s%s CREATED\n", "NAME", all ? " NAMESPACE               " : "");
        json_array_foreach(json_object_get(doc, "items"), i, item) print_object_line(item, all);
        json_decref(doc);
    }
    eqops_free(out);
    eqops_k8s_free(k);
    return rc;
}

/* A manifest on standard input is at most this big (files: the library's limits). */
#define STDIN_MANIFEST_MAX (64u << 20)

static int k8s_apply(cli *c, int argc, char **argv)
{
    k8s_common a = {0};
    const char *file = NULL, *manager = NULL;
    bool force = false, dry = false, recursive = false;
    const cli_flag flags[] = {
        {"filename", 'f', CLI_FLAG_STRING, &file,
         "a manifest file (JSON or YAML), a directory of them, or '-' for stdin"},
        {"recursive", 'R', CLI_FLAG_BOOL, &recursive,
         "with -f DIR: the manifests of its subdirectories too"},
        {"force-conflicts", 0, CLI_FLAG_BOOL, &force, "take fields other managers own"},
        {"dry-run", 0, CLI_FLAG_BOOL, &dry, "validate and admit on the server; store nothing"},
        {"field-manager", 0, CLI_FLAG_STRING, &manager, "field manager (default eqops)"},
        K8S_COMMON_FLAGS(a),
        {0}};
    const char *pos[1];
    int npos, rc = cli_parse(c, "k8s apply", flags, argc, argv, pos, 0, &npos);
    if (rc != CLI_OK)
        return rc;
    if (file != NULL && *file == '\0')
        return cli_usage(c, "k8s apply", "-f needs a file, a directory or '-'");
    eqops_k8s *k = NULL;
    K8S_START("Usage: eqops k8s apply -f FILE|DIR|- [-R] [--force-conflicts] [--dry-run]\n\n"
              "A directory's *.json, *.yaml and *.yml files are applied (with -R those of its\n"
              "subdirectories too), all read before anything is sent. Nothing to apply is an\n"
              "error.",
              file != NULL);
    eqops_k8s_write_options o = EQOPS_K8S_WRITE_OPTIONS_INIT;
    o.force = force;
    o.dry_run = dry;
    o.field_manager = manager;
    char *out = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    int arc;
    if (strcmp(file, "-") == 0) {
        char *text = NULL;
        if (cli_read_input(c, file, STDIN_MANIFEST_MAX, &text, NULL) != CLI_OK) {
            eqops_k8s_free(k);
            return CLI_FAIL;
        }
        arc = eqops_k8s_apply_manifest(&out, k, text, &o, &e);
        free(text);
    } else {
        arc = eqops_k8s_apply_path(&out, k, file, recursive, &o, &e);
    }
    if (arc != 0) {
        rc = fail(c, &e);
    } else {
        json_t *applied = json_loads(out, 0, NULL);
        if (c->output == CLI_JSON) {
            rc = cli_print_json(c, applied);
        } else {
            size_t i;
            json_t *obj;
            json_array_foreach(applied, i, obj)
            {
                json_t *m = json_object_get(obj, "metadata");
                const char *ns = json_string_value(json_object_get(m, "namespace"));
                printf("%s %s%s%s applied%s\n", json_string_value(json_object_get(obj, "kind")),
                       ns ? ns : "", ns ? "/" : "", json_string_value(json_object_get(m, "name")),
                       dry ? " (dry run)" : "");
            }
            json_decref(applied);
        }
    }
    eqops_free(out);
    eqops_k8s_free(k);
    return rc;
}

static int k8s_delete(cli *c, int argc, char **argv)
{
    k8s_common a = {0};
    const char *cascade = NULL;
    bool dry = false;
    const cli_flag flags[] = {
        {"dry-run", 0, CLI_FLAG_BOOL, &dry, "check on the server; delete nothing"},
        {"cascade", 0, CLI_FLAG_STRING, &cascade, "background (default), foreground or orphan"},
        K8S_COMMON_FLAGS(a),
        {0}};
    const char *pos[2];
    int npos, rc = cli_parse(c, "k8s delete", flags, argc, argv, pos, 2, &npos);
    if (rc != CLI_OK)
        return rc;
    const char *policy = NULL;
    if (cascade && !strcasecmp(cascade, "background"))
        policy = "Background";
    else if (cascade && !strcasecmp(cascade, "foreground"))
        policy = "Foreground";
    else if (cascade && !strcasecmp(cascade, "orphan"))
        policy = "Orphan";
    else if (cascade)
        return cli_usage(c, "k8s delete", "--cascade must be background, foreground or orphan");
    eqops_k8s *k = NULL;
    K8S_START("Usage: eqops k8s delete KIND NAME [-n NS] [--dry-run] [--cascade POLICY]",
              npos == 2);
    char kind[128], *out = NULL;
    const char *version;
    resolve_kind(pos[0], a.api_version, kind, sizeof(kind), &version);
    eqops_k8s_write_options o = EQOPS_K8S_WRITE_OPTIONS_INIT;
    o.dry_run = dry;
    o.propagation_policy = policy;
    eqops_error e = EQOPS_ERROR_INIT;
    if (eqops_k8s_delete(&out, k, version, kind, a.ns, pos[1], &o, &e) != 0)
        rc = fail(c, &e);
    else if (c->output == CLI_JSON)
        rc = cli_print_json(c, json_loads(out, 0, NULL));
    else
        printf("%s %s deleted%s\n", kind, pos[1], dry ? " (dry run)" : "");
    eqops_free(out);
    eqops_k8s_free(k);
    return rc;
}

typedef struct watch_print {
    cli *c;
} watch_print;

static int print_event(const char *type, const char *object, void *payload)
{
    watch_print *w = payload;
    json_t *obj = json_loads(object, 0, NULL);
    if (w->c->output == CLI_JSON) {
        json_t *ev = json_pack("{s:s, s:o}", "type", type, "object", obj);
        char *line = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
        if (line)
            printf("%s\n", line);
        free(line);
        json_decref(ev);
    } else {
        json_t *m = json_object_get(obj, "metadata");
        const char *ns = json_string_value(json_object_get(m, "namespace"));
        printf("%-9s %s%s%s (resourceVersion %s)\n", type, ns ? ns : "", ns ? "/" : "",
               json_string_value(json_object_get(m, "name")),
               json_string_value(json_object_get(m, "resourceVersion")));
        json_decref(obj);
    }
    fflush(stdout);
    return 0;
}

static int k8s_watch(cli *c, int argc, char **argv)
{
    k8s_common a = {0};
    const char *selector = NULL, *timeout = NULL;
    bool all = false;
    const cli_flag flags[] = {
        {"selector", 'l', CLI_FLAG_STRING, &selector, "label selector"},
        {"all-namespaces", 'A', CLI_FLAG_BOOL, &all, "watch across namespaces"},
        {"timeout", 0, CLI_FLAG_STRING, &timeout, "stop after this long (\"30s\", \"10m\")"},
        K8S_COMMON_FLAGS(a),
        {0}};
    const char *pos[1];
    int npos, rc = cli_parse(c, "k8s watch", flags, argc, argv, pos, 1, &npos);
    if (rc != CLI_OK)
        return rc;
    int64_t duration = 0;
    if (timeout && (eqops_duration_parse(&duration, timeout, NULL) != 0 || duration <= 0))
        return cli_usage(c, "k8s watch", "--timeout must be a duration such as 30s or 10m");
    eqops_k8s *k = NULL;
    K8S_START("Usage: eqops k8s watch KIND [-n NS] [-l SELECTOR] [-A] [--timeout D]", npos == 1);
    char kind[128];
    const char *version;
    resolve_kind(pos[0], a.api_version, kind, sizeof(kind), &version);
    eqops_k8s_watch_options o = EQOPS_K8S_WATCH_OPTIONS_INIT;
    o.label_selector = selector;
    o.all_namespaces = all;
    o.duration_ms = duration;
    watch_print w = {c};
    eqops_error e = EQOPS_ERROR_INIT;
    if (eqops_k8s_watch(k, version, kind, a.ns, &o, print_event, &w, &e) != 0)
        rc = fail(c, &e);
    eqops_k8s_free(k);
    return rc;
}

int cmd_k8s(cli *c, int argc, char **argv)
{
    static const struct {
        const char *name;
        cli_run_fn run;
    } subs[] = {
        {"whoami", k8s_whoami}, {"get", k8s_get},     {"apply", k8s_apply},
        {"delete", k8s_delete}, {"watch", k8s_watch},
    };
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        k8s_usage();
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
        if (!strcmp(argv[1], subs[i].name))
            return subs[i].run(c, argc - 1, argv + 1);
    return cli_usage(c, "k8s", "unknown command '%s'", argv[1]);
}
