/*
 * eqops slo - validate SLO specs, generate Prometheus rules, compute budgets, report.
 */
#include "cli.h"

#include <eqops/slo.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void slo_usage(void)
{
    printf("Usage: eqops slo COMMAND [ARGS]\n\n"
           "Commands:\n"
           "  validate SPEC                       check a spec; -o json prints it normalised\n"
           "  rules SPEC [--test-out FILE]        Prometheus rules (YAML) on stdout, and a\n"
           "                                      promtool test file next to them\n"
           "  budget --target T --window W --good G --total N\n"
           "                                      error budget of a window from event counts\n"
           "  report SPEC --prometheus URL        current SLI, budget, burn and alerts, live\n"
           "  report SPEC --series FILE           the same from a CSV/JSON series file\n"
           "\nSPEC is an eqops SLO spec in JSON or YAML, or OpenSLO v1 YAML: a file, a FIFO\n"
           "(<(sops -d spec.yaml)) or '-' for stdin.\n");
}

#define INPUT_MAX  ((size_t)16 << 20) /* the library's limit for a spec or a CA bundle */
#define SERIES_MAX ((size_t)1 << 30)  /* and for a series file */

static int load(cli *c, const char *path, eqops_slo_set **set)
{
    eqops_error e = EQOPS_ERROR_INIT;
    int rc = cli_input_file(c, path, INPUT_MAX, &path);
    if (rc != CLI_OK)
        return rc;
    rc = eqops_slo_set_load(set, path, &e);
    if (rc != 0)
        rc = cli_fail(c, &e);
    eqops_error_clear(&e);
    return rc;
}

static int slo_validate(cli *c, int argc, char **argv)
{
    bool help = false;
    const cli_flag flags[] = {{"help", 'h', CLI_FLAG_BOOL, &help, "show this help"}, {0}};
    const char *pos[1];
    int npos, rc = cli_parse(c, "slo validate", flags, argc, argv, pos, 1, &npos);
    if (rc != CLI_OK)
        return rc;
    if (help || npos != 1) {
        printf("Usage: eqops slo validate SPEC [-o json]\n\nFlags:\n");
        cli_print_flags(flags);
        return help ? CLI_OK : CLI_USAGE;
    }
    eqops_slo_set *set = NULL;
    if ((rc = load(c, pos[0], &set)) != CLI_OK)
        return rc;
    if (c->output == CLI_JSON) {
        char *json = NULL;
        eqops_error e = EQOPS_ERROR_INIT;
        if (eqops_slo_set_to_json(&json, set, &e) != 0)
            rc = cli_fail(c, &e);
        else
            printf("%s\n", json);
        eqops_free(json);
        eqops_error_clear(&e);
    } else {
        printf("%s: valid, %zu objective(s):", strcmp(pos[0], "-") ? pos[0] : "stdin",
               eqops_slo_set_count(set));
        for (size_t i = 0; i < eqops_slo_set_count(set); i++)
            printf(" %s", eqops_slo_set_id(set, i));
        printf("\n");
    }
    eqops_slo_set_free(set);
    return rc;
}

static int parse_ms(cli *c, const char *cmd, const char *flag, const char *v, int64_t *out)
{
    eqops_error e = EQOPS_ERROR_INIT;
    if (eqops_duration_parse(out, v, &e) != 0) {
        eqops_error_clear(&e);
        return cli_usage(c, cmd, "--%s: '%s' is not a duration like 5m or 30d", flag, v);
    }
    return CLI_OK;
}

static int slo_rules(cli *c, int argc, char **argv)
{
    bool help = false;
    const char *test_out = NULL, *naming = "eqops", *interval = NULL, *step = NULL,
               *rules_name = "rules.yml";
    const cli_flag flags[] = {
        {"test-out", 0, CLI_FLAG_STRING, &test_out, "also write a promtool test file here"},
        {"rules-name", 0, CLI_FLAG_STRING, &rules_name,
         "the rules file the test loads, relative to it (default rules.yml)"},
        {"naming", 0, CLI_FLAG_STRING, &naming, "eqops (default) or sloth (Sloth's series names)"},
        {"interval", 0, CLI_FLAG_STRING, &interval, "alert evaluation interval (default 1m)"},
        {"step", 0, CLI_FLAG_STRING, &step, "interval of the recorded increases (default 5m)"},
        {"help", 'h', CLI_FLAG_BOOL, &help, "show this help"},
        {0}};
    const char *pos[1];
    int npos, rc = cli_parse(c, "slo rules", flags, argc, argv, pos, 1, &npos);
    if (rc != CLI_OK)
        return rc;
    if (help || npos != 1) {
        printf("Usage: eqops slo rules SPEC [--test-out FILE] [--naming eqops|sloth]\n\n"
               "Prometheus recording and alerting rules on stdout.\n\nFlags:\n");
        cli_print_flags(flags);
        return help ? CLI_OK : CLI_USAGE;
    }
    eqops_slo_rules_options o = EQOPS_SLO_RULES_OPTIONS_INIT;
    if (strcmp(naming, "sloth") == 0)
        o.naming = EQOPS_SLO_NAMING_SLOTH;
    else if (strcmp(naming, "eqops") != 0)
        return cli_usage(c, "slo rules", "--naming must be eqops or sloth");
    if ((interval && (rc = parse_ms(c, "slo rules", "interval", interval, &o.interval_ms))) ||
        (step && (rc = parse_ms(c, "slo rules", "step", step, &o.step_ms))))
        return rc;
    eqops_slo_set *set = NULL;
    if ((rc = load(c, pos[0], &set)) != CLI_OK)
        return rc;
    char *rules = NULL, *test = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    o.rules_file = rules_name;
    if (eqops_slo_rules(&rules, set, &o, &e) != 0 ||
        (test_out && eqops_slo_rules_test(&test, set, &o, &e) != 0)) {
        rc = cli_fail(c, &e);
    } else {
        fputs(rules, stdout);
        if (test_out)
            rc = cli_write_file(c, "test-out", test_out, test);
        fprintf(stderr, "eqops: %zu recorded series for %zu objective(s)\n",
                eqops_slo_recorded_series(set, &o), eqops_slo_set_count(set));
    }
    eqops_free(rules);
    eqops_free(test);
    eqops_error_clear(&e);
    eqops_slo_set_free(set);
    return rc;
}

static int number(cli *c, const char *flag, const char *v, double *out)
{
    char *end;
    errno = 0;
    *out = strtod(v, &end);
    if (errno || *end || !isfinite(*out))
        return cli_usage(c, "slo budget", "--%s: '%s' is not a number", flag, v);
    return CLI_OK;
}

static int slo_budget(cli *c, int argc, char **argv)
{
    bool help = false;
    const char *target = NULL, *window = "30d", *good = NULL, *bad = NULL, *total = NULL,
               *min_events = "1";
    const cli_flag flags[] = {
        {"target", 0, CLI_FLAG_STRING, &target, "objective in percent (99.9)"},
        {"window", 0, CLI_FLAG_STRING, &window, "SLO window (default 30d)"},
        {"good", 0, CLI_FLAG_STRING, &good, "good events in the window"},
        {"bad", 0, CLI_FLAG_STRING, &bad, "bad events in the window (instead of --good)"},
        {"total", 0, CLI_FLAG_STRING, &total, "all events in the window"},
        {"min-events", 0, CLI_FLAG_STRING, &min_events, "low-traffic floor (default 1)"},
        {"help", 'h', CLI_FLAG_BOOL, &help, "show this help"},
        {0}};
    const char *pos[1];
    int npos, rc = cli_parse(c, "slo budget", flags, argc, argv, pos, 0, &npos);
    if (rc != CLI_OK)
        return rc;
    if (help) {
        printf("Usage: eqops slo budget --target 99.9 --window 30d --good G --total N\n\n"
               "Error budget of a window from event counts.\n\nFlags:\n");
        cli_print_flags(flags);
        return CLI_OK;
    }
    if (target == NULL || total == NULL || (good == NULL) == (bad == NULL))
        return cli_usage(c, "slo budget", "needs --target, --total and one of --good, --bad");
    double t, g = 0, b = 0, n, m;
    int64_t period;
    if ((rc = number(c, "target", target, &t)) || (rc = number(c, "total", total, &n)) ||
        (good && (rc = number(c, "good", good, &g))) || (bad && (rc = number(c, "bad", bad, &b))) ||
        (rc = number(c, "min-events", min_events, &m)) ||
        (rc = parse_ms(c, "slo budget", "window", window, &period)))
        return rc;
    if (good)
        b = n - g;
    eqops_slo_budget out;
    eqops_error e = EQOPS_ERROR_INIT;
    int64_t left = 0;
    int exhausts = 0;
    double frac = t > 1 ? t / 100 : t; /* accept 99.9 or 0.999 */
    if (eqops_slo_budget_from_counts(&out, frac, b, n, m, &e) != 0 ||
        eqops_slo_time_to_exhaustion(&left, &exhausts, out.remaining, out.burn_rate, period, &e) !=
            0) {
        rc = cli_fail(c, &e);
        eqops_error_clear(&e);
        return rc;
    }
    char *left_text = NULL;
    if (exhausts && eqops_duration_format(&left_text, left, &e) != 0)
        left_text = NULL;
    if (c->output == CLI_JSON) {
        json_t *j = json_pack("{s:f, s:s, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:b}", "target",
                              out.target, "window", window, "bad", out.bad, "total", out.total,
                              "allowed_bad", out.allowed_bad, "error_ratio", out.error_ratio, "sli",
                              1 - out.error_ratio, "burn_rate", out.burn_rate, "consumed",
                              out.consumed, "remaining", out.remaining, "exhausts", exhausts);
        if (j != NULL && left_text != NULL)
            json_object_set_new(j, "exhausted_in", json_string(left_text));
        rc = cli_print_json(c, j);
    } else {
        printf("target %.10g%% over %s: %.10g bad of %.10g events (SLI %.6f%%)\n", frac * 100,
               window, out.bad, out.total, 100 * (1 - out.error_ratio));
        printf("budget: %.10g bad events allowed, %.2f%% consumed, %.2f%% remaining\n",
               out.allowed_bad, 100 * out.consumed, 100 * out.remaining);
        printf("burn rate: %.4g", out.burn_rate);
        if (exhausts && out.remaining > 0)
            printf(" (a full window at this rate empties the budget in %s)\n", left_text);
        else if (exhausts)
            printf(" (the budget is spent)\n");
        else
            printf(" (the budget never runs out)\n");
    }
    eqops_free(left_text);
    eqops_error_clear(&e);
    return rc;
}

static void print_objective_text(json_t *o)
{
    json_t *b = json_object_get(o, "budget");
    printf("\n%s: objective %s%% over %s (from %s)\n", json_string_value(json_object_get(o, "id")),
           json_string_value(json_object_get(o, "objective")),
           json_string_value(json_object_get(o, "window")),
           json_string_value(json_object_get(o, "from")));
    if (json_is_true(json_object_get(o, "no_data")))
        printf("  NO DATA: the SLI's total events query found no samples in the window (a "
               "misspelled metric or label, or a target that is not scraped?)\n");
    else
        printf("  SLI %.6f%%, budget %.2f%% remaining (%.10g bad of %.10g)\n",
               100 * json_number_value(json_object_get(o, "sli")),
               100 * json_number_value(json_object_get(b, "remaining")),
               json_number_value(json_object_get(b, "bad")),
               json_number_value(json_object_get(b, "total")));
    size_t k;
    json_t *w;
    printf("  burn:");
    json_array_foreach(json_object_get(o, "burn"), k, w)
    {
        printf(" %s=", json_string_value(json_object_get(w, "window")));
        if (json_is_true(json_object_get(w, "no_data")))
            printf("no-data");
        else
            printf("%.3g", json_number_value(json_object_get(w, "burn_rate")));
    }
    printf("\n");
    json_array_foreach(json_object_get(o, "alerts"), k, w)
    {
        printf("  %-6s %s/%s x%.4g: %s\n", json_string_value(json_object_get(w, "severity")),
               json_string_value(json_object_get(w, "long")),
               json_string_value(json_object_get(w, "short")),
               json_number_value(json_object_get(w, "factor")),
               json_is_true(json_object_get(w, "firing"))    ? "FIRING"
               : json_is_true(json_object_get(w, "no_data")) ? "no data"
                                                             : "ok");
    }
    json_t *absent = json_object_get(o, "absent");
    if (json_is_object(absent))
        printf("  absent %s: %s\n", json_string_value(json_object_get(absent, "for")),
               json_is_true(json_object_get(absent, "firing"))
                   ? "FIRING (no samples of the total events series)"
                   : "ok");
    json_t *ex = json_object_get(o, "exhaustion");
    if (!json_is_object(ex))
        return;
    if (json_is_true(json_object_get(ex, "exhausts")))
        printf("  budget gone in %s at the current burn (%.3g)\n",
               json_string_value(json_object_get(ex, "in")),
               json_number_value(json_object_get(ex, "burn_rate")));
    else
        printf("  budget not burning\n");
}

static void print_report_text(json_t *doc)
{
    size_t i;
    json_t *o;
    printf("%s at %s (%s)\n", json_string_value(json_object_get(doc, "service")),
           json_string_value(json_object_get(doc, "at")),
           json_string_value(json_object_get(doc, "source")));
    json_array_foreach(json_object_get(doc, "objectives"), i, o)
    {
        print_objective_text(o);
    }
}

/* The report's conditions eqops slo report --fail-on can name. */
static const char *const fail_conditions[] = {"page", "ticket", "nodata"};

/* --fail-on values (repeatable, each comma-separated) into a bit per condition. */
static int parse_fail_on(cli *c, const cli_list *l, unsigned *mask)
{
    *mask = 0;
    for (int i = 0; i < l->n; i++) {
        const char *p = l->v[i];
        do {
            size_t len = strcspn(p, ",");
            size_t k = 0;
            while (k < (sizeof(fail_conditions) / sizeof(fail_conditions[0])) &&
                   !(strlen(fail_conditions[k]) == len && strncmp(p, fail_conditions[k], len) == 0))
                k++;
            if (len == 0)
                return cli_usage(c, "slo report",
                                 "--fail-on: empty condition in '%s': name page, ticket or "
                                 "nodata, comma-separated",
                                 l->v[i]);
            if (k == (sizeof(fail_conditions) / sizeof(fail_conditions[0])))
                return cli_usage(c, "slo report",
                                 "--fail-on: unknown condition '%.*s': use page, ticket or "
                                 "nodata, comma-separated",
                                 (int)(len > 40 ? 40 : len), p);
            *mask |= 1u << k;
            p += len;
        } while (*p++ == ',');
    }
    return CLI_OK;
}

/* CLI_FAIL, naming them on stderr, when a condition of `mask` holds in the report. */
static int check_fail_on(cli *c, json_t *doc, unsigned mask)
{
    json_t *conds = json_object_get(doc, "conditions");
    char held[64] = "";
    for (size_t k = 0; k < (sizeof(fail_conditions) / sizeof(fail_conditions[0])); k++)
        if ((mask & (1u << k)) && json_is_true(json_object_get(conds, fail_conditions[k])))
            snprintf(held + strlen(held), sizeof(held) - strlen(held), "%s%s", held[0] ? "," : "",
                     fail_conditions[k]);
    if (held[0] == '\0')
        return CLI_OK;
    if (c->output != CLI_JSON)
        fprintf(stderr, "eqops: slo report: --fail-on: %s holds\n", held);
    return CLI_FAIL;
}

static int slo_report(cli *c, int argc, char **argv)
{
    bool help = false;
    const char *prom = NULL, *series = NULL, *ca = NULL, *at = NULL;
    cli_list fail_on = {{NULL}, 0};
    const cli_flag flags[] = {
        {"prometheus", 0, CLI_FLAG_STRING, &prom, "Prometheus base URL (http://host:9090)"},
        {"series", 0, CLI_FLAG_STRING, &series, "CSV or JSON file of counter samples"},
        {"ca-file", 0, CLI_FLAG_STRING, &ca, "CA bundle for an https Prometheus"},
        {"at", 0, CLI_FLAG_STRING, &at, "evaluation time, Unix seconds (default now / last)"},
        {"fail-on", 0, CLI_FLAG_LIST, &fail_on,
         "exit 1 when one holds: page, ticket (a burn alert of that severity fires), nodata "
         "(an objective without data); comma-separated"},
        {"help", 'h', CLI_FLAG_BOOL, &help, "show this help"},
        {0}};
    const char *pos[1];
    int npos, rc = cli_parse(c, "slo report", flags, argc, argv, pos, 1, &npos);
    if (rc != CLI_OK)
        return rc;
    if (help || npos != 1 || (prom == NULL) == (series == NULL)) {
        printf("Usage: eqops slo report SPEC (--prometheus URL | --series FILE)"
               " [--fail-on page,ticket,nodata]\n\n"
               "Exit status: 0 when the report ran and no --fail-on condition holds, 1 on a\n"
               "failure or when a --fail-on condition holds, 2 on a usage error.\n\nFlags:\n");
        cli_print_flags(flags);
        return help ? CLI_OK : CLI_USAGE;
    }
    unsigned mask;
    if ((rc = parse_fail_on(c, &fail_on, &mask)) != CLI_OK)
        return rc;
    eqops_slo_report_options o = EQOPS_SLO_REPORT_OPTIONS_INIT;
    o.prometheus_url = prom;
    o.ca_file = ca;
    o.bearer_token = getenv("EQOPS_PROMETHEUS_TOKEN");
    if (at != NULL) {
        double v;
        if ((rc = number(c, "at", at, &v)) != CLI_OK)
            return rc;
        o.at_ms = (int64_t)llround(v * 1000);
    }
    eqops_slo_set *set = NULL;
    eqops_slo_series_data *data = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    char *out = NULL;
    json_t *doc = NULL;
    if ((rc = load(c, pos[0], &set)) != CLI_OK)
        return rc;
    if ((rc = cli_input_file(c, series, SERIES_MAX, &series)) != CLI_OK ||
        (rc = cli_input_file(c, ca, INPUT_MAX, &o.ca_file)) != CLI_OK)
        goto done;
    if (series != NULL && eqops_slo_series_load(&data, series, &e) != 0) {
        rc = cli_fail(c, &e);
        goto done;
    }
    o.series = eqops_slo_series_view(data);
    if (eqops_slo_report(&out, set, &o, &e) != 0) {
        rc = cli_fail(c, &e);
        goto done;
    }
    if ((doc = json_loads(out, 0, NULL)) == NULL) {
        e.code = EQOPS_ENOMEM;
        rc = cli_fail(c, &e);
        goto done;
    }
    if (c->output == CLI_JSON)
        printf("%s\n", out);
    else
        print_report_text(doc);
    rc = check_fail_on(c, doc, mask);
done:
    json_decref(doc);
    eqops_free(out);
    eqops_slo_series_data_free(data);
    eqops_slo_set_free(set);
    eqops_error_clear(&e);
    return rc;
}

int cmd_slo(cli *c, int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        slo_usage();
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    static const struct {
        const char *name;
        cli_run_fn run;
    } subs[] = {{"validate", slo_validate},
                {"rules", slo_rules},
                {"budget", slo_budget},
                {"report", slo_report}};
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
        if (strcmp(argv[1], subs[i].name) == 0)
            return subs[i].run(c, argc - 1, argv + 1);
    return cli_usage(c, "slo", "unknown command '%s'", argv[1]);
}
