/*
 * eqops - the command-line tool of the SRE platform, built on libeqops' public API.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

static const cli_command commands[] = {
    {"aws", "AWS: whoami, EKS tokens, secrets, metrics, presigned URLs", cmd_aws},
    {"k8s", "Kubernetes: whoami, get, server-side apply, delete, watch", cmd_k8s},
    {"tenant",
     "tenants across clusters and Postgres: plan, apply, destroy, status, list, drift, reconcile",
     cmd_tenant},
    {"db", "tenant databases: create, drop, list, show, rotate, migrate, validate, drift", cmd_db},
    {"slo", "SLOs: validate specs, Prometheus rules, budgets, reports", cmd_slo},
    {"version", "print the versions of eqops and libeqops", cmd_version},
};

static void usage(FILE *out)
{
    fprintf(out, "Usage: eqops [-o text|json] [-v] COMMAND [ARGS]\n\n"
                 "Operate the platform: tenants, SLOs, Kubernetes, AWS and Postgres.\n\n"
                 "Commands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nGlobal flags (accepted before or after the command):\n"
                 "  -o, --output FORMAT  text (default) or json\n"
                 "  -v, --verbose        log to stderr (repeat for more detail)\n"
                 "  -h, --help           show help (eqops COMMAND --help for a command)\n"
                 "\nExit codes: 0 success, 1 failure, 2 usage error.\n");
}

/*
 * eqops holds secrets in memory (tokens, client keys, database passwords, AWS keys): a core
 * dump would write them to disk for whoever reads cores. No core file (RLIMIT_CORE 0, also
 * for the helpers it runs, exec plugins included), and not dumpable, which also keeps other
 * processes of the same user from reading its memory through ptrace or /proc/PID/mem.
 * Best effort: neither call can fail in a way that should stop the command.
 */
static void no_core_dumps(void)
{
    struct rlimit none = {0, 0};
    (void)setrlimit(RLIMIT_CORE, &none);
    (void)prctl(PR_SET_DUMPABLE, 0L, 0L, 0L, 0L);
}

int main(int argc, char **argv)
{
    no_core_dumps();
    cli c = {CLI_TEXT, 0, argv[0]};
    int i = 1;
    /* global flags before the command */
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return CLI_OK;
        } else if (!strcmp(a, "--version")) {
            printf("eqops %s (libeqops %s)\n", EQOPS_VERSION_STRING, eqops_version());
            return CLI_OK;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            c.verbosity++;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output") || !strncmp(a, "--output=", 9)) {
            const char *v = strncmp(a, "--output=", 9) == 0 ? a + 9 : NULL;
            if (v == NULL && ++i >= argc)
                return cli_usage(&c, NULL, "flag --output needs a value");
            v = v ? v : argv[i];
            if (strcmp(v, "json") == 0)
                c.output = CLI_JSON;
            else if (strcmp(v, "text") != 0)
                return cli_usage(&c, NULL, "--output must be 'text' or 'json', not '%s'", v);
        } else {
            return cli_usage(&c, NULL, "unknown flag '%s'", a);
        }
    }
    if (i >= argc) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *name = argv[i];
    if (!strcmp(name, "help")) {
        usage(stdout);
        return CLI_OK;
    }
    for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++) {
        if (strcmp(commands[k].name, name) != 0)
            continue;
        int rc = eqops_init();
        if (rc != 0) {
            eqops_error e = {0};
            e.code = rc;
            return cli_fail(&c, &e);
        }
        cli_setup_log(&c);
        rc = commands[k].run(&c, argc - i, argv + i);
        eqops_cleanup();
        return rc;
    }
    return cli_usage(&c, NULL, "unknown command '%s'", name);
}
