/*
 * eqops tenant - onboard, change and offboard clients: plan, apply, destroy, status, list,
 * drift, reconcile, for one spec file or a directory of them.
 */
#include "cli.h"

#include <eqops/tenant.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define INPUT_MAX (16u << 20) /* the library's limit for a spec, a tiers file, a kubeconfig */

static void tenant_usage(void)
{
    printf("Usage: eqops tenant COMMAND SPEC|DIR [flags]\n\n"
           "A client's namespace and objects in every cluster, its Postgres database and role,\n"
           "its credentials (Kubernetes Secret, optionally AWS Secrets Manager) and its Argo CD\n"
           "application, from one spec (docs/tenant.md). A directory runs every spec in it.\n\n"
           "Commands:\n"
           "  plan SPEC|DIR       what apply would change (reads only)\n"
           "  apply SPEC|DIR      create or converge everything; safe to run again\n"
           "  destroy SPEC|DIR --confirm NAME|DIR   remove it all, in reverse order\n"
           "  status SPEC|DIR     objects, database, schema version and health\n"
           "  drift SPEC|DIR      where the live state differs from the spec\n"
           "  reconcile SPEC|DIR  put the drift back (apply + pending migrations)\n"
           "  list                tenants found in the clusters (--context) and Postgres\n"
           "  check SPEC          validate a spec and print it with its defaults\n"
           "  render SPEC         the Kubernetes objects of a spec (--cluster NAME)\n"
           "\nReserved names: a tenant's namespace is named after it, so names of namespaces\n"
           "with another purpose are refused (by every command but destroy, which removes\n"
           "only what is labelled as the tenant's): kube-*, default, the Argo CD namespace,\n"
           "argocd, monitoring, prometheus, cert-manager, ingress-nginx, kyverno,\n"
           "gatekeeper-system, amazon-cloudwatch, external-secrets, eqops-system and other\n"
           "well-known ones (docs/tenant.md). Add yours with --reserve NAME (repeat; a name or\n"
           "a prefix ending in '*', like team-*) or EQOPS_TENANT_RESERVED (the same, separated\n"
           "by commas or spaces); both add to the built-in list, never remove from it.\n"
           "\nExit codes: 0 success, 1 failure (or drift found), 2 usage.\n");
}

typedef struct tenant_flags {
    const char *tiers, *kubeconfig, *pg, *migrations, *argocd_ns, *confirm, *concurrency,
        *cluster_parallel, *cluster, *lock_wait, *delete_wait;
    bool rotate, no_progress, progress_json, help;
    cli_list contexts, reserve;
} tenant_flags;

static const char *str_or(const char *s, const char *dflt)
{
    return s ? s : dflt;
}

static int fail(cli *c, eqops_error *e)
{
    int rc = cli_fail(c, e);
    eqops_error_clear(e);
    return rc;
}

/* ---- progress -------------------------------------------------------------------------------- */

static int progress_tty(const char *tenant, const char *cluster, const char *step,
                        const char *status, size_t done, size_t total, void *payload)
{
    (void)payload;
    fprintf(stderr, "\r\033[K[%zu/%zu] %s %s%s%s %s", done, total, tenant, cluster,
            cluster[0] ? " " : "", step, status);
    if (done == total && strcmp(status, "start") != 0)
        fputc('\n', stderr);
    fflush(stderr);
    return 0;
}

static int progress_json(const char *tenant, const char *cluster, const char *step,
                         const char *status, size_t done, size_t total, void *payload)
{
    (void)payload;
    json_t *ev =
        json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "tenant", tenant, "cluster", cluster, "step",
                  step, "status", status, "done", (json_int_t)done, "total", (json_int_t)total);
    char *line = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    if (line) {
        fprintf(stderr, "%s\n", line);
        fflush(stderr);
    }
    free(line);
    json_decref(ev);
    return 0;
}

/* ---- text output ------------------------------------------------------------------------------
 */

static const char *verb(const char *action, bool done)
{
    if (strcmp(action, "create") == 0)
        return done ? "created" : "create";
    if (strcmp(action, "update") == 0)
        return done ? "updated" : "update";
    if (strcmp(action, "delete") == 0)
        return done ? "deleted" : "delete";
    if (strcmp(action, "manual") == 0)
        return "needs a person";
    return "unchanged";
}

static void print_result(const json_t *r, bool verbose)
{
    const char *op = json_string_value(json_object_get(r, "operation"));
    bool done = op && (strcmp(op, "apply") == 0 || strcmp(op, "destroy") == 0 ||
                       strcmp(op, "reconcile") == 0);
    json_t *actions = json_object_get(r, "actions");
    size_t counts[5] = {0}, i;
    static const char *const kinds[] = {"create", "update", "delete", "manual", "none"};
    json_t *a;
    json_array_foreach(actions, i, a)
    {
        const char *act = json_string_value(json_object_get(a, "action"));
        for (size_t k = 0; k < 5; k++)
            if (act && strcmp(act, kinds[k]) == 0)
                counts[k]++;
    }
    printf("tenant %s: %s%s", json_string_value(json_object_get(r, "tenant")),
           json_is_true(json_object_get(r, "ok")) ? "" : "FAILED: ",
           json_is_true(json_object_get(r, "ok"))
               ? ""
               : str_or(json_string_value(json_object_get(r, "error")), ""));
    if (!json_is_true(json_object_get(r, "ok")))
        printf("\n  ");
    printf("%zu %s, %zu %s, %zu %s, %zu unchanged", counts[0], verb("create", done), counts[1],
           verb("update", done), counts[2], verb("delete", done), counts[4]);
    if (counts[3])
        printf(", %zu need a person", counts[3]);
    printf(" (%lld ms)\n", (long long)json_integer_value(json_object_get(r, "ms")));
    json_array_foreach(actions, i, a)
    {
        const char *act = json_string_value(json_object_get(a, "action"));
        if (!verbose && strcmp(act, "none") == 0 && !json_object_get(a, "error") &&
            !json_object_get(a, "note"))
            continue;
        const char *mark = strcmp(act, "create") == 0   ? "+"
                           : strcmp(act, "update") == 0 ? "~"
                           : strcmp(act, "delete") == 0 ? "-"
                           : strcmp(act, "manual") == 0 ? "!"
                                                        : "=";
        const char *cluster = json_string_value(json_object_get(a, "cluster"));
        const char *ns = json_string_value(json_object_get(a, "namespace"));
        printf("  %s %-10s %-16s %s%s%s", mark, cluster && cluster[0] ? cluster : "-",
               json_string_value(json_object_get(a, "kind")), ns && ns[0] ? ns : "",
               ns && ns[0] ? "/" : "", json_string_value(json_object_get(a, "name")));
        json_t *fields = json_object_get(a, "fields");
        if (json_array_size(fields) > 0) {
            printf(" (");
            size_t j;
            json_t *f;
            json_array_foreach(fields, j, f)
            {
                printf("%s%s", j ? ", " : "", json_string_value(f));
            }
            printf(")");
        }
        if (json_object_get(a, "error"))
            printf(": %s", json_string_value(json_object_get(a, "error")));
        else if (json_object_get(a, "note"))
            printf(": %s", json_string_value(json_object_get(a, "note")));
        printf("\n");
    }
}

static void print_status(const json_t *s)
{
    printf("%-20s %-9s %-9s", json_string_value(json_object_get(s, "tenant")),
           json_string_value(json_object_get(s, "tier")),
           json_string_value(json_object_get(s, "health")));
    size_t i;
    json_t *cl;
    json_array_foreach(json_object_get(s, "clusters"), i, cl)
    {
        printf(" %s:%s(%lld/%lld)", json_string_value(json_object_get(cl, "cluster")),
               str_or(json_string_value(json_object_get(cl, "phase")), "?"),
               (long long)json_integer_value(json_object_get(cl, "objects")),
               (long long)(json_integer_value(json_object_get(cl, "objects")) +
                           json_integer_value(json_object_get(cl, "missing"))));
    }
    json_t *db = json_object_get(s, "database");
    if (db) {
        json_t *v = json_object_get(db, "schema_version");
        printf(" db:%s v%lld login:%s", json_string_value(json_object_get(db, "state")),
               json_is_integer(v) ? (long long)json_integer_value(v) : -1LL,
               str_or(json_string_value(json_object_get(db, "login")), "-"));
    }
    printf("\n");
}

/* ---- running -------------------------------------------------------------------------------- */

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The tiers file: --tiers, $EQOPS_TENANT_TIERS, else tiers.yaml/tiers.json beside the specs. */
static const char *find_tiers(const tenant_flags *f, const char *target, char *buf, size_t len)
{
    if (f->tiers)
        return f->tiers;
    const char *env = getenv("EQOPS_TENANT_TIERS");
    if (env && *env)
        return env;
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", target ? target : ".");
    if (!is_dir(dir)) {
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
        else
            snprintf(dir, sizeof(dir), ".");
    }
    static const char *const names[] = {"tiers.yaml", "tiers.yml", "tiers.json"};
    for (size_t i = 0; i < 3; i++) {
        int w = snprintf(buf, len, "%s/%s", dir, names[i]);
        if (w > 0 && (size_t)w < len && access(buf, R_OK) == 0)
            return buf;
    }
    return NULL;
}

static int parse_num(cli *c, const char *cmd, const char *flag, const char *v, long lo, long hi,
                     long *out)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (*v == '\0' || *end || n < lo || n > hi)
        return cli_usage(c, cmd, "--%s must be an integer from %ld to %ld", flag, lo, hi);
    *out = n;
    return CLI_OK;
}

/* The reserved names: EQOPS_TENANT_RESERVED (separated by commas or spaces) then --reserve.
 * `*copy` holds the variable's entries; `*from_env` counts them (they come first). */
static const char **reserved_names(const tenant_flags *f, char **copy, size_t *from_env)
{
    const char *var = getenv("EQOPS_TENANT_RESERVED");
    *copy = strdup(var ? var : "");
    *from_env = 0;
    size_t cap = (*copy ? strlen(*copy) / 2 + 1 : 0) + (size_t)f->reserve.n + 1;
    const char **v = *copy ? calloc(cap, sizeof(char *)) : NULL;
    if (v == NULL)
        return NULL;
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(*copy, ", \t\n", &save); t;
         t = strtok_r(NULL, ", \t\n", &save))
        v[n++] = t;
    *from_env = n;
    for (int i = 0; i < f->reserve.n; i++)
        v[n++] = f->reserve.v[i];
    return v;
}

static int open_env(cli *c, const char *cmd, const tenant_flags *f, const char *target,
                    eqops_tenant_env **env)
{
    char buf[PATH_MAX], full[48]; /* "tenant apply": messages say the whole command */
    snprintf(full, sizeof(full), "tenant %s", cmd);
    eqops_tenant_env_options o = EQOPS_TENANT_ENV_OPTIONS_INIT;
    o.tiers_file = find_tiers(f, target, buf, sizeof(buf));
    if (o.tiers_file == NULL && strcmp(cmd, "list") != 0)
        return cli_usage(c, full,
                         "no tiers file: give --tiers FILE or EQOPS_TENANT_TIERS, or put "
                         "tiers.yaml beside the specs");
    /* a FIFO or '-' is read once: the kubeconfig is read again for each cluster */
    int irc = cli_input_file(c, o.tiers_file, INPUT_MAX, &o.tiers_file);
    if (irc == CLI_OK)
        irc = cli_input_file(c, f->kubeconfig, INPUT_MAX, &o.kubeconfig);
    if (irc != CLI_OK)
        return irc;
    o.pg_conninfo = f->pg ? f->pg : getenv("EQOPS_PG_CONNINFO");
    o.migrations_dir = f->migrations ? f->migrations : getenv("EQOPS_MIGRATIONS");
    o.argocd_namespace = f->argocd_ns;
    long v = 0;
    if (f->concurrency) {
        if (parse_num(c, full, "concurrency", f->concurrency, 1, 32, &v) != CLI_OK)
            return CLI_USAGE;
        o.concurrency = (int)v;
    }
    if (f->lock_wait) {
        if (parse_num(c, full, "lock-wait", f->lock_wait, 1, 86400, &v) != CLI_OK)
            return CLI_USAGE;
        o.lock_wait_ms = v * 1000;
    }
    if (f->delete_wait) {
        if (parse_num(c, full, "delete-wait", f->delete_wait, 1, 86400, &v) != CLI_OK)
            return CLI_USAGE;
        o.delete_wait_ms = v * 1000;
    }
    char *copy = NULL;
    size_t from_env = 0;
    const char **reserved = reserved_names(f, &copy, &from_env);
    if (reserved == NULL) {
        free(copy);
        fprintf(stderr, "eqops: out of memory\n");
        return CLI_FAIL;
    }
    o.reserved_names = reserved;
    eqops_error e = EQOPS_ERROR_INIT;
    int rc = eqops_tenant_env_new(env, &o, &e);
    size_t bad = 0;
    if (rc == EQOPS_EINVAL && sscanf(e.field, "reserved_names[%zu]", &bad) == 1) {
        /* the flag or variable the user wrote, not the option's name */
        char shown[65];
        snprintf(shown, sizeof(shown), "%s", reserved[bad]);
        for (char *p = shown; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
                *p = '?';
        const char *detail = strstr(e.message, "]: ");
        rc = cli_usage(c, full, "%s \"%s\": %s",
                       bad < from_env ? "EQOPS_TENANT_RESERVED entry" : "--reserve", shown,
                       detail ? detail + 3 : e.message);
        eqops_error_clear(&e);
    } else if (rc == EQOPS_EINVAL && strcmp(e.field, "reserved_names") == 0) {
        rc = cli_usage(c, full, "--reserve and EQOPS_TENANT_RESERVED: at most 256 names in all");
        eqops_error_clear(&e);
    } else if (rc != 0) {
        rc = fail(c, &e);
    }
    free(reserved);
    free(copy);
    return rc == 0 ? CLI_OK : rc;
}

/* A spec file or '-' (stdin), read as every input is: a device is refused, a FIFO waited on
 * for a bounded time. */
static int read_spec(cli *c, const char *path, char **out)
{
    return cli_read_input(c, path, INPUT_MAX, out, NULL);
}

static int run_op(cli *c, const char *op, const tenant_flags *f, const char *target)
{
    char cmd_name[48];
    snprintf(cmd_name, sizeof(cmd_name), "tenant %s", op);
    eqops_tenant_env *env = NULL;
    int rc = open_env(c, op, f, target, &env);
    if (rc != CLI_OK)
        return rc;
    eqops_tenant_run_options o = EQOPS_TENANT_RUN_OPTIONS_INIT;
    o.confirm = f->confirm;
    o.rotate_password = f->rotate;
    if (f->cluster_parallel) {
        long v = 0;
        if (parse_num(c, cmd_name, "cluster-parallel", f->cluster_parallel, 1, 16, &v) != CLI_OK) {
            eqops_tenant_env_free(env);
            return CLI_USAGE;
        }
        o.cluster_parallel = (int)v;
    }
    if (f->progress_json)
        o.progress = progress_json;
    else if (!f->no_progress && isatty(STDERR_FILENO))
        o.progress = progress_tty;
    eqops_error e = EQOPS_ERROR_INIT;
    char *out = NULL;
    size_t failed = 0;
    int lrc;
    bool fleet = is_dir(target);
    if (fleet) {
        lrc = eqops_tenant_fleet(&out, &failed, env, op, target, &o, &e);
    } else {
        char *spec = NULL;
        rc = read_spec(c, target, &spec);
        if (rc != CLI_OK) {
            eqops_tenant_env_free(env);
            return rc;
        }
        if (strcmp(op, "plan") == 0)
            lrc = eqops_tenant_plan(&out, env, spec, &o, &e);
        else if (strcmp(op, "apply") == 0)
            lrc = eqops_tenant_apply(&out, env, spec, &o, &e);
        else if (strcmp(op, "destroy") == 0)
            lrc = eqops_tenant_destroy(&out, env, spec, &o, &e);
        else if (strcmp(op, "reconcile") == 0)
            lrc = eqops_tenant_reconcile(&out, env, spec, &o, &e);
        else if (strcmp(op, "drift") == 0)
            lrc = eqops_tenant_drift(&out, &failed, env, spec, &o, &e);
        else
            lrc = eqops_tenant_status(&out, env, spec, &e);
        free(spec);
    }
    if (o.progress == progress_tty) /* the progress line goes before the result */
        fputs("\r\033[K", stderr);
    json_t *doc = out ? json_loads(out, 0, NULL) : NULL;
    eqops_free(out);
    rc = CLI_OK;
    if (doc && c->output == CLI_JSON) {
        rc = cli_print_json(c, json_incref(doc));
    } else if (doc) {
        json_t *list = fleet ? json_object_get(doc, "tenants") : NULL;
        size_t n = fleet ? json_array_size(list) : 1;
        for (size_t i = 0; i < n; i++) {
            json_t *r = fleet ? json_array_get(list, i) : doc;
            if (strcmp(op, "status") == 0 && json_object_get(r, "health"))
                print_status(r);
            else
                print_result(r, c->verbosity > 0);
        }
        if (fleet)
            printf("%lld tenant(s): %lld ok, %lld %s, %lld change(s)\n", (long long)n,
                   (long long)json_integer_value(json_object_get(doc, "ok")),
                   (long long)json_integer_value(json_object_get(doc, "failed")),
                   strcmp(op, "drift") == 0 ? "drifted" : "failed",
                   (long long)json_integer_value(json_object_get(doc, "changed")));
    }
    json_decref(doc);
    if (lrc != 0)
        rc = fail(c, &e);
    else if (rc == CLI_OK && failed > 0)
        rc = CLI_FAIL;
    eqops_error_clear(&e);
    eqops_tenant_env_free(env);
    return rc;
}

static int run_list(cli *c, const tenant_flags *f)
{
    eqops_tenant_env *env = NULL;
    int rc = open_env(c, "list", f, NULL, &env);
    if (rc != CLI_OK)
        return rc;
    eqops_error e = EQOPS_ERROR_INIT;
    char *out = NULL;
    if (eqops_tenant_list(&out, env, f->contexts.n ? f->contexts.v : NULL, &e) != 0) {
        eqops_tenant_env_free(env);
        return fail(c, &e);
    }
    json_t *doc = json_loads(out, 0, NULL);
    eqops_free(out);
    if (c->output == CLI_JSON) {
        rc = cli_print_json(c, doc);
    } else {
        printf("%-24s %-10s %-30s %s\n", "TENANT", "TIER", "CLUSTERS", "DATABASE");
        size_t i;
        json_t *t;
        json_array_foreach(doc, i, t)
        {
            char clusters[256] = "";
            size_t j, used = 0;
            json_t *cl;
            json_array_foreach(json_object_get(t, "clusters"), j, cl)
            {
                int w = snprintf(clusters + used, sizeof(clusters) - used, "%s%s", j ? "," : "",
                                 json_string_value(json_object_get(cl, "context")));
                if (w > 0 && (size_t)w < sizeof(clusters) - used)
                    used += (size_t)w;
            }
            json_t *db = json_object_get(t, "database");
            json_t *v = json_object_get(db, "schema_version");
            printf("%-24s %-10s %-30s %s", json_string_value(json_object_get(t, "tenant")),
                   str_or(json_string_value(json_object_get(t, "tier")), "-"),
                   used ? clusters : "-",
                   db ? json_string_value(json_object_get(db, "state")) : "-");
            if (json_is_integer(v))
                printf(" v%lld", (long long)json_integer_value(v));
            printf("\n");
        }
        json_decref(doc);
    }
    eqops_tenant_env_free(env);
    return rc;
}

static int run_check_render(cli *c, const char *cmd, const tenant_flags *f, const char *target)
{
    eqops_tenant_env *env = NULL;
    int rc = open_env(c, cmd, f, target, &env);
    if (rc != CLI_OK)
        return rc;
    char *spec = NULL, *out = NULL;
    rc = read_spec(c, target, &spec);
    eqops_error e = EQOPS_ERROR_INIT;
    if (rc == CLI_OK) {
        int lrc = strcmp(cmd, "check") == 0 ? eqops_tenant_spec_check(&out, env, spec, &e)
                                            : eqops_tenant_render(&out, env, spec, f->cluster, &e);
        rc = lrc == 0 ? cli_print_json(c, json_loads(out, 0, NULL)) : fail(c, &e);
    }
    free(spec);
    eqops_free(out);
    eqops_tenant_env_free(env);
    return rc;
}

int cmd_tenant(cli *c, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        tenant_usage();
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    const char *sub = argv[1];
    static const char *const ops[] = {"plan",      "apply", "destroy", "status", "drift",
                                      "reconcile", "list",  "check",   "render"};
    bool known = false;
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        known = known || strcmp(sub, ops[i]) == 0;
    if (!known)
        return cli_usage(c, "tenant", "unknown command \"%s\" (see eqops tenant --help)", sub);
    tenant_flags f;
    memset(&f, 0, sizeof(f));
    cli_flag flags[] = {
        {"tiers", 0, CLI_FLAG_STRING, &f.tiers,
         "tiers file (default $EQOPS_TENANT_TIERS, else tiers.yaml beside the specs)"},
        {"kubeconfig", 0, CLI_FLAG_STRING, &f.kubeconfig,
         "the kubeconfig file, a FIFO or '-' (default: $KUBECONFIG's files, else "
         "~/.kube/config)"},
        {"pg", 0, CLI_FLAG_STRING, &f.pg,
         "Postgres admin conninfo (default $EQOPS_PG_CONNINFO); keep the password in "
         "PGPASSWORD or ~/.pgpass"},
        {"migrations", 0, CLI_FLAG_STRING, &f.migrations,
         "the template's migrations directory (default $EQOPS_MIGRATIONS)"},
        {"argocd-namespace", 0, CLI_FLAG_STRING, &f.argocd_ns, "default argocd"},
        {"reserve", 0, CLI_FLAG_LIST, &f.reserve,
         "a name or prefix* no tenant may have, added to the built-in ones (repeat; also "
         "$EQOPS_TENANT_RESERVED)"},
        {"confirm", 0, CLI_FLAG_STRING, &f.confirm, "destroy: the tenant's name (or the DIR)"},
        {"rotate-password", 0, CLI_FLAG_BOOL, &f.rotate,
         "apply: set and store a new database password"},
        {"concurrency", 0, CLI_FLAG_STRING, &f.concurrency, "tenants at once (default 4)"},
        {"cluster-parallel", 0, CLI_FLAG_STRING, &f.cluster_parallel,
         "clusters of a tenant at once (default all)"},
        {"lock-wait", 0, CLI_FLAG_STRING, &f.lock_wait,
         "seconds to wait for another apply of the tenant (default 120)"},
        {"delete-wait", 0, CLI_FLAG_STRING, &f.delete_wait,
         "destroy: seconds to wait for a namespace to go (default 120)"},
        {"context", 0, CLI_FLAG_LIST, &f.contexts, "list: a kubeconfig context (repeat)"},
        {"cluster", 0, CLI_FLAG_STRING, &f.cluster, "render: the spec's cluster"},
        {"no-progress", 0, CLI_FLAG_BOOL, &f.no_progress, "no progress line on a terminal"},
        {"progress-json", 0, CLI_FLAG_BOOL, &f.progress_json,
         "progress events as JSON lines on stderr"},
        {"help", 'h', CLI_FLAG_BOOL, &f.help, "show this help"},
        {NULL, 0, 0, NULL, NULL}};
    const char *pos[2] = {NULL, NULL};
    int npos = 0;
    char cmd[48];
    snprintf(cmd, sizeof(cmd), "tenant %s", sub);
    int prc = cli_parse(c, cmd, flags, argc - 1, argv + 1, pos, 2, &npos);
    if (f.help || prc != CLI_OK) {
        tenant_usage();
        printf("\nFlags:\n");
        cli_print_flags(flags);
        return f.help ? CLI_OK : prc;
    }
    cli_setup_log(c);
    if (strcmp(sub, "list") == 0) {
        if (npos != 0)
            return cli_usage(c, cmd, "list takes no argument (use --context)");
        return run_list(c, &f);
    }
    if (npos != 1)
        return cli_usage(c, cmd, "give one spec file or directory");
    if (strcmp(sub, "destroy") == 0 && f.confirm == NULL)
        return cli_usage(c, cmd, "destroy needs --confirm with the tenant's name (or the DIR)");
    if (strcmp(sub, "check") == 0 || strcmp(sub, "render") == 0)
        return run_check_render(c, sub, &f, pos[0]);
    return run_op(c, sub, &f, pos[0]);
}
