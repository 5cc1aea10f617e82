/*
 * eqops aws - who am I, EKS tokens for kubeconfigs, secrets, metrics, presigned URLs.
 */
#include "cli.h"

#include <eqops/aws.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct aws_common {
    const char *region, *profile, *endpoint;
    bool help;
} aws_common;

#define AWS_COMMON_FLAGS(a)                                                                        \
    {"region", 0, CLI_FLAG_STRING, &(a).region, "AWS region (default AWS_REGION, the profile's)"}, \
        {"profile", 0, CLI_FLAG_STRING, &(a).profile, "profile of the shared config files"},       \
        {"endpoint-url", 0, CLI_FLAG_STRING, &(a).endpoint,                                        \
         "endpoint for every service (default AWS_ENDPOINT_URL)"},                                 \
    {                                                                                              \
        "help", 'h', CLI_FLAG_BOOL, &(a).help, "show this help"                                    \
    }

static void aws_usage(void)
{
    printf("Usage: eqops aws COMMAND [ARGS]\n\n"
           "Commands:\n"
           "  whoami                       the caller's account and ARN, and where the\n"
           "                               credentials came from\n"
           "  eks-token --cluster NAME     an ExecCredential for kubectl (as aws eks get-token)\n"
           "  eks-describe NAME            the cluster's endpoint, CA and status\n"
           "  secret get|create|put|describe|delete NAME [VALUE]\n"
           "                               Secrets Manager (VALUE '-' reads stdin)\n"
           "  metric put --namespace NS --name N --value V [--unit U] [--dimension K=V]...\n"
           "  presign URL [--service S] [--method M] [--expires SECONDS]\n"
           "\nCredentials come from the usual chain: environment, profile (roles, web\n"
           "identity, credential_process), EKS IRSA and Pod Identity, ECS, EC2 metadata.\n");
}

static int fail(cli *c, eqops_error *e)
{
    int rc = cli_fail(c, e);
    eqops_error_clear(e);
    return rc;
}

static int open_aws(cli *c, const aws_common *a, eqops_aws **aws)
{
    eqops_aws_options o = EQOPS_AWS_OPTIONS_INIT;
    o.region = a->region;
    o.profile = a->profile;
    o.endpoint_url = a->endpoint;
    eqops_error e = EQOPS_ERROR_INIT;
    if (eqops_aws_new(aws, &o, &e) != 0)
        return fail(c, &e);
    return CLI_OK;
}

#define AWS_HELP_SHOWN (-1)

/* After cli_parse: help (asked, or a usage error when !ok), else a client. */
static int aws_start(cli *c, const char *usage, const cli_flag *flags, const aws_common *a, bool ok,
                     eqops_aws **aws)
{
    *aws = NULL;
    if (a->help || !ok) {
        printf("%s\n\nFlags:\n", usage);
        cli_print_flags(flags);
        return a->help ? AWS_HELP_SHOWN : CLI_USAGE;
    }
    return open_aws(c, a, aws);
}

#define AWS_START(usage, ok)                                                                       \
    do {                                                                                           \
        int start_rc = aws_start(c, usage, flags, &a, ok, &aws);                                   \
        if (start_rc != CLI_OK)                                                                    \
            return start_rc == AWS_HELP_SHOWN ? CLI_OK : start_rc;                                 \
    } while (0)

/* Print a JSON document from the library (text mode prints it too: it is the answer). */
static int print_doc(cli *c, char *doc, eqops_error *e, int rc)
{
    if (rc != 0)
        return fail(c, e);
    printf("%s\n", doc);
    eqops_free(doc);
    return CLI_OK;
}

static int aws_whoami(cli *c, int argc, char **argv)
{
    aws_common a = {0};
    const cli_flag flags[] = {AWS_COMMON_FLAGS(a), {0}};
    const char *pos[1];
    int npos, rc = cli_parse(c, "aws whoami", flags, argc, argv, pos, 0, &npos);
    if (rc != CLI_OK)
        return rc;
    eqops_aws *aws = NULL;
    AWS_START("Usage: eqops aws whoami", true);
    eqops_error e = EQOPS_ERROR_INIT;
    char *id = NULL;
    eqops_aws_credentials *creds = NULL;
    if (eqops_aws_sts_caller_identity(&id, aws, &e) != 0 ||
        eqops_aws_credentials_resolve(&creds, aws, &e) != 0) {
        rc = fail(c, &e);
    } else {
        json_t *doc = json_loads(id, 0, NULL);
        json_object_set_new(doc, "credentials_source",
                            json_string(eqops_aws_credentials_source(creds)));
        json_object_set_new(doc, "access_key_id",
                            json_string(eqops_aws_credentials_access_key_id(creds)));
        json_object_set_new(doc, "region", json_string(eqops_aws_region(aws)));
        if (c->output == CLI_JSON) {
            rc = cli_print_json(c, doc);
        } else {
            printf("account      %s\narn          %s\ncredentials  %s (%s)\nregion       %s\n",
                   json_string_value(json_object_get(doc, "account")),
                   json_string_value(json_object_get(doc, "arn")),
                   eqops_aws_credentials_source(creds), eqops_aws_credentials_access_key_id(creds),
                   eqops_aws_region(aws));
            json_decref(doc);
        }
    }
    eqops_free(id);
    eqops_aws_credentials_free(creds);
    eqops_aws_free(aws);
    return rc;
}

static int aws_eks_token(cli *c, int argc, char **argv)
{
    aws_common a = {0};
    const char *cluster = NULL;
    const cli_flag flags[] = {
        {"cluster", 0, CLI_FLAG_STRING, &cluster, "the EKS cluster name (required)"},
        AWS_COMMON_FLAGS(a),
        {0}};
    const char *pos[1];
    int npos, rc = cli_parse(c, "aws eks-token", flags, argc, argv, pos, 0, &npos);
    if (rc != CLI_OK)
        return rc;
    eqops_aws *aws = NULL;
    AWS_START("Usage: eqops aws eks-token --cluster NAME [--region R]\n\n"
              "Prints the ExecCredential JSON a kubeconfig exec plugin returns; the apiVersion\n"
              "follows KUBERNETES_EXEC_INFO when kubectl sets it.",
              cluster != NULL);
    const char *version = NULL;
    const char *info = getenv("KUBERNETES_EXEC_INFO");
    json_t *ji = info ? json_loads(info, 0, NULL) : NULL;
    const char *v = json_string_value(json_object_get(ji, "apiVersion"));
    if (v && !strcmp(v, "client.authentication.k8s.io/v1"))
        version = v;
    char *out = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    rc = eqops_aws_eks_exec_credential(&out, aws, cluster, version, &e);
    if (rc != 0) {
        rc = fail(c, &e);
    } else {
        printf("%s\n", out);
        eqops_free_secret(out); /* a bearer token */
        rc = CLI_OK;
    }
    json_decref(ji);
    eqops_aws_free(aws);
    return rc;
}

static int aws_eks_describe(cli *c, int argc, char **argv)
{
    aws_common a = {0};
    const cli_flag flags[] = {AWS_COMMON_FLAGS(a), {0}};
    const char *pos[1];
    int npos, rc = cli_parse(c, "aws eks-describe", flags, argc, argv, pos, 1, &npos);
    if (rc != CLI_OK)
        return rc;
    eqops_aws *aws = NULL;
    AWS_START("Usage: eqops aws eks-describe NAME", npos == 1);
    char *out = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    rc = eqops_aws_eks_describe_cluster(&out, aws, pos[0], &e);
    rc = print_doc(c, out, &e, rc);
    eqops_aws_free(aws);
    return rc;
}

/* A value argument, or stdin for "-" (at most 64 KiB, trailing newline dropped). */
static char *read_value(const char *arg)
{
    if (strcmp(arg, "-") != 0)
        return strdup(arg);
    size_t cap = 65537, n = 0;
    char *buf = malloc(cap + 1);
    if (buf == NULL)
        return NULL;
    size_t r;
    while (n < cap && (r = fread(buf + n, 1, cap - n, stdin)) > 0)
        n += r;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    buf[n] = '\0';
    return buf;
}

static void wipe_free(char *s)
{
    if (s) {
        volatile char *p = s;
        while (*p)
            *p++ = 0;
        free(s);
    }
}

static int aws_secret(cli *c, int argc, char **argv)
{
    aws_common a = {0};
    const char *description = NULL, *stage = NULL;
    bool force = false;
    const cli_flag flags[] = {
        {"description", 0, CLI_FLAG_STRING, &description, "create: a description"},
        {"version-stage", 0, CLI_FLAG_STRING, &stage, "get: AWSCURRENT (default), AWSPREVIOUS"},
        {"force", 0, CLI_FLAG_BOOL, &force, "delete: at once, without the 7-day recovery window"},
        AWS_COMMON_FLAGS(a),
        {0}};
    const char *pos[3];
    int npos, rc = cli_parse(c, "aws secret", flags, argc, argv, pos, 3, &npos);
    if (rc != CLI_OK)
        return rc;
    const char *verb = npos > 0 ? pos[0] : "";
    bool needs_value = !strcmp(verb, "create") || !strcmp(verb, "put");
    bool known =
        needs_value || !strcmp(verb, "get") || !strcmp(verb, "describe") || !strcmp(verb, "delete");
    eqops_aws *aws = NULL;
    AWS_START("Usage: eqops aws secret get|describe|delete NAME\n"
              "       eqops aws secret create|put NAME VALUE   (VALUE '-' reads stdin)",
              known && npos == (needs_value ? 3 : 2));
    const char *name = pos[1];
    if (needs_value && strcmp(pos[2], "-") != 0)
        fprintf(stderr, "eqops: warning: a secret value on the command line is visible to other "
                        "users (ps, shell history); pass '-' and give it on stdin\n");
    char *value = needs_value ? read_value(pos[2]) : NULL;
    char *out = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    if (needs_value && value == NULL) {
        fprintf(stderr, "eqops: error: out of memory\n");
        rc = CLI_FAIL;
    } else if (!strcmp(verb, "get")) {
        if (eqops_aws_secret_get(&out, aws, name, stage, &e) != 0) {
            rc = fail(c, &e);
        } else if (c->output == CLI_JSON) {
            rc = cli_print_json(c, json_pack("{s:s, s:s}", "name", name, "value", out));
        } else {
            printf("%s\n", out);
        }
        eqops_free_secret(out);
        out = NULL;
    } else if (!strcmp(verb, "create")) {
        rc = eqops_aws_secret_create(&out, aws, name, value, description, &e);
        rc = print_doc(c, out, &e, rc);
    } else if (!strcmp(verb, "put")) {
        rc = eqops_aws_secret_put(&out, aws, name, value, &e);
        rc = print_doc(c, out, &e, rc);
    } else if (!strcmp(verb, "describe")) {
        rc = eqops_aws_secret_describe(&out, aws, name, &e);
        rc = print_doc(c, out, &e, rc);
    } else {
        if (eqops_aws_secret_delete(aws, name, force, &e) != 0)
            rc = fail(c, &e);
        else if (c->output == CLI_JSON)
            rc = cli_print_json(c, json_pack("{s:s, s:s}", "name", name, "state",
                                             force ? "deleted" : "scheduled for deletion"));
        else
            printf("secret %s: %s\n", name, force ? "deleted" : "scheduled for deletion in 7 days");
    }
    wipe_free(value);
    eqops_aws_free(aws);
    return rc;
}

static int aws_metric(cli *c, int argc, char **argv)
{
    aws_common a = {0};
    const char *ns = NULL, *name = NULL, *value = NULL, *unit = NULL, *resolution = NULL;
    cli_list dims = {{0}, 0};
    const cli_flag flags[] = {
        {"namespace", 0, CLI_FLAG_STRING, &ns, "metric namespace (required)"},
        {"name", 0, CLI_FLAG_STRING, &name, "metric name (required)"},
        {"value", 0, CLI_FLAG_STRING, &value, "the value (required)"},
        {"unit", 0, CLI_FLAG_STRING, &unit, "Count, Seconds, Percent, ... (default None)"},
        {"dimension", 0, CLI_FLAG_LIST, &dims, "Name=Value (repeatable)"},
        {"resolution", 0, CLI_FLAG_STRING, &resolution, "1 (high resolution) or 60"},
        AWS_COMMON_FLAGS(a),
        {0}};
    const char *pos[1];
    int npos, rc = cli_parse(c, "aws metric", flags, argc, argv, pos, 1, &npos);
    if (rc != CLI_OK)
        return rc;
    char *end = NULL;
    double v = value ? strtod(value, &end) : NAN;
    bool ok = npos == 1 && !strcmp(pos[0], "put") && ns && name && value;
    if (ok && (end == value || *end != '\0' || !isfinite(v)))
        return cli_usage(c, "aws metric", "--value must be a number, not '%s'", value);
    eqops_aws *aws = NULL;
    AWS_START("Usage: eqops aws metric put --namespace NS --name N --value V [--unit U] "
              "[--dimension K=V]...",
              ok);
    eqops_aws_metric m = EQOPS_AWS_METRIC_INIT;
    m.name = name;
    m.value = v;
    m.unit = unit;
    m.dimensions = dims.n ? dims.v : NULL;
    m.storage_resolution = resolution ? atoi(resolution) : 0;
    const eqops_aws_metric *mp = &m;
    eqops_error e = EQOPS_ERROR_INIT;
    if (eqops_aws_metrics_put(aws, ns, &mp, 1, &e) != 0)
        rc = fail(c, &e);
    else if (c->output == CLI_JSON)
        rc = cli_print_json(
            c, json_pack("{s:s, s:s, s:f}", "namespace", ns, "name", name, "value", v));
    else
        printf("%s/%s = %g sent\n", ns, name, v);
    eqops_aws_free(aws);
    return rc;
}

static int aws_presign(cli *c, int argc, char **argv)
{
    aws_common a = {0};
    const char *service = NULL, *method = NULL, *expires = NULL;
    const cli_flag flags[] = {
        {"service", 0, CLI_FLAG_STRING, &service, "signing name (default: from the host)"},
        {"method", 0, CLI_FLAG_STRING, &method, "HTTP method (default GET)"},
        {"expires", 0, CLI_FLAG_STRING, &expires, "seconds, 1 to 604800 (default 3600)"},
        AWS_COMMON_FLAGS(a),
        {0}};
    const char *pos[1];
    int npos, rc = cli_parse(c, "aws presign", flags, argc, argv, pos, 1, &npos);
    if (rc != CLI_OK)
        return rc;
    long exp = 3600;
    if (expires) {
        char *end;
        exp = strtol(expires, &end, 10);
        if (*end || exp < 1 || exp > 604800)
            return cli_usage(c, "aws presign", "--expires must be 1 to 604800 seconds");
    }
    char svc[64] = "";
    if (service == NULL && npos == 1) {
        /* https://<service>.<region>.amazonaws.com/... or <bucket>.s3... */
        const char *h = strstr(pos[0], "://");
        h = h ? h + 3 : pos[0];
        const char *dot = strchr(h, '.');
        if (dot && strstr(h, ".s3.") != NULL)
            snprintf(svc, sizeof(svc), "s3");
        else if (dot && dot - h < (long)sizeof(svc))
            snprintf(svc, sizeof(svc), "%.*s", (int)(dot - h), h);
        service = svc[0] ? svc : NULL;
    }
    eqops_aws *aws = NULL;
    AWS_START("Usage: eqops aws presign URL [--service S] [--method M] [--expires SECONDS]",
              npos == 1 && service != NULL);
    char *out = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    if (eqops_aws_presign(&out, aws, method, pos[0], service, exp, &e) != 0)
        rc = fail(c, &e);
    else if (c->output == CLI_JSON)
        rc = cli_print_json(c, json_pack("{s:s, s:i}", "url", out, "expires_s", (int)exp));
    else
        printf("%s\n", out);
    eqops_free(out);
    eqops_aws_free(aws);
    return rc;
}

int cmd_aws(cli *c, int argc, char **argv)
{
    static const struct {
        const char *name;
        cli_run_fn run;
    } subs[] = {
        {"whoami", aws_whoami}, {"eks-token", aws_eks_token}, {"eks-describe", aws_eks_describe},
        {"secret", aws_secret}, {"metric", aws_metric},       {"presign", aws_presign},
    };
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        aws_usage();
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
        if (!strcmp(argv[1], subs[i].name))
            return subs[i].run(c, argc - 1, argv + 1);
    return cli_usage(c, "aws", "unknown command '%s'", argv[1]);
}
