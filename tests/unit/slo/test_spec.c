/* SLO specs: JSON, YAML and OpenSLO read into the same SLOs; every validation error names the
 * field and the rule; the normalised JSON reads back the same. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fail_alloc.h"
#include "slo/slo_internal.h"
#include "testserver.h"

static char *example(const char *name)
{
    static char path[512];
    snprintf(path, sizeof(path), "%s/../../examples/slo/%s", EQOPS_TEST_SUPPORT_DIR, name);
    return path;
}

static void examples_load(void **state)
{
    eqops_slo_set *set = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(eqops_slo_set_load(&set, example("billing-api.json"), &e), 0);
    assert_int_equal(eqops_slo_set_count(set), 3);
    assert_string_equal(eqops_slo_set_id(set, 0), "billing-api-requests-availability");
    assert_string_equal(eqops_slo_set_id(set, 2), "billing-api-requests-latency-tail");
    assert_true(eqops_slo_set_target(set, 0) == 0.999);
    assert_true(eqops_slo_set_target(set, 1) == 0.99);
    assert_int_equal(eqops_slo_set_period_ms(set, 0), 30LL * 86400000);
    assert_null(eqops_slo_set_id(set, 3));
    assert_true(eqops_slo_set_target(set, 3) == 0);
    /* the same spec in YAML normalises to the same JSON */
    char *a = NULL, *b = NULL;
    assert_int_equal(eqops_slo_set_to_json(&a, set, &e), 0);
    eqops_slo_set_free(set);
    assert_int_equal(eqops_slo_set_load(&set, example("billing-api.yaml"), &e), 0);
    assert_int_equal(eqops_slo_set_to_json(&b, set, &e), 0);
    assert_string_equal(a, b);
    eqops_slo_set_free(set);
    /* and the normalised JSON reads back to itself */
    assert_int_equal(eqops_slo_set_parse(&set, a, strlen(a), EQOPS_SLO_FORMAT_AUTO, &e), 0);
    eqops_free(b);
    assert_int_equal(eqops_slo_set_to_json(&b, set, &e), 0);
    assert_string_equal(a, b);
    eqops_slo_set_free(set);
    eqops_free(a);
    eqops_free(b);
    /* OpenSLO v1 */
    assert_int_equal(eqops_slo_set_load(&set, example("openslo.yaml"), &e), 0);
    assert_int_equal(eqops_slo_set_count(set), 1);
    assert_true(eqops_slo_set_target(set, 0) == 0.995);
    assert_int_equal(eqops_slo_set_period_ms(set, 0), 28LL * 86400000);
    eqops_slo_set_free(set);
    assert_int_equal(eqops_slo_set_load(&set, example("grid-telemetry.json"), &e), 0);
    eqops_slo_set_free(set);
    eqops_error_clear(&e);
}

/* A minimal valid SLO with one field replaced by `patch` (a JSON fragment: "key": value). */
static int parse_with(const char *slo_fields, eqops_error *e)
{
    char text[4096];
    snprintf(text, sizeof(text), "{\"service\": \"svc\", \"slos\": [{\"name\": \"avail\", %s}]}",
             slo_fields);
    eqops_slo_set *set = NULL;
    int rc = eqops_slo_set_parse(&set, text, strlen(text), EQOPS_SLO_FORMAT_JSON, e);
    eqops_slo_set_free(set);
    return rc;
}

#define SLI_OK                                                                                     \
    "\"sli\": {\"events\": {\"bad\": \"sum(rate(err_total[{{.window}}]))\", \"total\": "           \
    "\"sum(rate(req_total[{{.window}}]))\"}}"

static void validation_names_field_and_rule(void **state)
{
    static const struct {
        const char *fields, *field, *words;
    } cases[] = {
        {SLI_OK ", \"target\": 100", "slos[0].target", "leaves no error budget"},
        {SLI_OK ", \"target\": 100.5", "slos[0].target", "below 100"},
        {SLI_OK ", \"target\": 0.999", "slos[0].target", "looks like a fraction"},
        {SLI_OK ", \"target\": -1", "slos[0].target", "above 0"},
        {SLI_OK ", \"target\": \"99.9\"", "slos[0].target", "must be a number"},
        {SLI_OK, "slos[0].target", "required"},
        {SLI_OK ", \"target\": 99, \"window\": \"monthly\"", "slos[0].window", "unknown window"},
        {SLI_OK ", \"target\": 99, \"window\": \"30m\"", "slos[0].window", "between 1h and 400d"},
        {SLI_OK ", \"target\": 99, \"window\": {\"calendar\": \"year\"}", "slos[0].window.calendar",
         "week, month or quarter"},
        {SLI_OK ", \"target\": 99, \"window\": {\"calendar\": \"month\", \"timezone\": "
                "\"Mars/Olympus\"}",
         "slos[0].window.timezone", "unknown time zone"},
        {SLI_OK ", \"target\": 99, \"window\": {\"calendar\": \"month\", \"timezone\": \"../x\"}",
         "slos[0].window.timezone", "unknown time zone"},
        {SLI_OK ", \"target\": 99, \"window\": {\"rolling\": \"7d\", \"timezone\": \"UTC\"}",
         "slos[0].window", "only applies to calendar"},
        {SLI_OK ", \"objectivs\": []", "slos[0].objectivs", "did you mean objectives"},
        {SLI_OK ", \"target\": 99, \"budgeting\": \"events\"", "slos[0].budgeting",
         "unknown method"},
        {SLI_OK ", \"target\": 99, \"budgeting\": \"timeslices\"", "slos[0].slice_target",
         "required"},
        {SLI_OK ", \"target\": 99, \"slice_target\": 95, \"budgeting\": \"timeslices\", "
                "\"slice\": \"7m\"",
         "slos[0].slice", "divide the window"},
        {SLI_OK ", \"target\": 99, \"slice\": \"1m\"", "slos[0].slice", "only applies"},
        {"\"sli\": {\"events\": {\"bad\": \"sum(rate(err_total[5m]))\", \"total\": "
         "\"sum(rate(req_total[{{.window}}]))\"}}, \"target\": 99",
         "slos[0].sli.events.bad", "{{.window}}"},
        {"\"sli\": {\"events\": {\"bad\": \"sum(rate(err_total[{{.window}}])\", \"total\": "
         "\"sum(rate(req_total[{{.window}}]))\"}}, \"target\": 99",
         "slos[0].sli.events.bad", "unbalanced"},
        {"\"sli\": {\"events\": {\"total\": \"sum(rate(req_total[{{.window}}]))\"}}, "
         "\"target\": 99",
         "slos[0].sli.events", "exactly one of bad and good"},
        {"\"sli\": {}, \"target\": 99", "slos[0].sli", "exactly one of events, latency"},
        {"\"sli\": {\"latency\": {\"metric\": \"http_seconds\", \"threshold\": 0.25, "
         "\"buckets\": [0.1, 0.3, 1]}}, \"target\": 99",
         "slos[0].sli.latency.threshold", "not a bucket boundary"},
        {"\"sli\": {\"latency\": {\"metric\": \"http_seconds\", \"threshold\": 0.3, "
         "\"buckets\": [0.3, 0.1]}}, \"target\": 99",
         "slos[0].sli.latency.buckets", "increasing"},
        {"\"sli\": {\"latency\": {\"metric\": \"http_seconds_bucket\", \"threshold\": 0.3, "
         "\"buckets\": [0.3]}}, \"target\": 99",
         "slos[0].sli.latency.metric", "without _bucket"},
        {"\"sli\": {\"latency\": {\"metric\": \"http seconds\", \"threshold\": 0.3, "
         "\"buckets\": [0.3]}}, \"target\": 99",
         "slos[0].sli.latency.metric", "metric name"},
        {"\"sli\": {\"latency\": {\"metric\": \"http_seconds\", \"selector\": \"{job=\\\"a\\\"}\", "
         "\"threshold\": 0.3, \"buckets\": [0.3]}}, \"target\": 99",
         "slos[0].sli.latency.selector", "without braces"},
        {SLI_OK ", \"target\": 90", "slos[0].alerting.page.windows[0]", "can never fire"},
        {SLI_OK ", \"target\": 99, \"alerting\": {\"page\": {\"windows\": [{\"long\": \"1h\", "
                "\"factor\": 14.4, \"budget\": 2}]}}",
         "slos[0].alerting.page.windows[0]", "not both"},
        {SLI_OK ", \"target\": 99, \"alerting\": {\"page\": {\"windows\": [{\"long\": \"1h\", "
                "\"short\": \"2h\", \"factor\": 14.4}]}}",
         "slos[0].alerting.page.windows[0].short", "shorter than long"},
        {SLI_OK ", \"target\": 99, \"alerting\": {\"page\": {\"windows\": [{\"long\": \"40d\", "
                "\"factor\": 1}]}}",
         "slos[0].alerting.page.windows[0].long", "shorter than the SLO window"},
        {SLI_OK ", \"target\": 99, \"labels\": {\"team-name\": \"x\"}", "slos[0].labels.team-name",
         "label name"},
        {SLI_OK ", \"target\": 99, \"labels\": {\"slo_id\": \"x\"}", "slos[0].labels.slo_id",
         "set by eqops itself"},
        {SLI_OK ", \"target\": 99, \"labels\": {\"team\": 5}", "slos[0].labels.team",
         "must be strings"},
        {SLI_OK ", \"objectives\": [{\"target\": 99}, {\"target\": 95}]",
         "slos[0].objectives[0].name", "several objectives"},
        {SLI_OK ", \"objectives\": [{\"name\": \"a\", \"target\": 99}, {\"name\": \"a\", "
                "\"target\": 95}]",
         "slos[0].objectives[1]", "duplicate"},
        {SLI_OK ", \"target\": 99, \"objectives\": [{\"target\": 99}]", "slos[0].objectives",
         "not both"},
        {SLI_OK ", \"target\": 99, \"alerting\": {\"name\": \"bad name\"}", "slos[0].alerting.name",
         "alert name"},
        {SLI_OK ", \"target\": 99, \"sli2\": 1", "slos[0].sli2", "unknown field"},
        /* a PromQL comment runs to the end of the line: it cannot hide a parenthesis that
         * breaks out of the expression eqops wraps around the query (issue 13.3) */
        {"\"sli\": {\"events\": {\"bad\": \"sum(rate(errs_total[{{.window}}])) # \\\"\\n) * 0 + "
         "(vector(0) # \\\"\\n\", \"total\": \"sum(rate(req_total[{{.window}}]))\"}}, \"target\": "
         "99",
         "slos[0].sli.events.bad", "unbalanced brackets"},
        {"\"sli\": {\"events\": {\"bad\": \"sum(rate(errs_total[{{.window}}])) # \\r) * 0 + "
         "(vector(0) # \\r\", \"total\": \"sum(rate(req_total[{{.window}}]))\"}}, \"target\": 99",
         "slos[0].sli.events.bad", "unbalanced brackets"},
        {"\"sli\": {\"events\": {\"bad\": \"sum(rate(errs_total[{{.window}}]))\", \"total\": "
         "\"sum(rate(req_total[5m])) # {{.window}}\"}}, \"target\": 99",
         "slos[0].sli.events.total", "needs a {{.window}}"},
        {"\"sli\": {\"events\": {\"bad\": \"sum(rate(errs_total[{{.windows}}]))\", \"total\": "
         "\"sum(rate(req_total[{{.window}}]))\"}}, \"target\": 99",
         "slos[0].sli.events.bad", "only placeholder is {{.window}}"},
        {"\"sli\": {\"events\": {\"bad\": \"sum(rate(errs_total{a=\\\"x\\ny\\\"}[{{.window}}]))\", "
         "\"total\": \"sum(rate(req_total[{{.window}}]))\"}}, \"target\": 99",
         "slos[0].sli.events.bad", "end on the line"},
        {"\"sli\": {\"events\": {\"bad\": \"sum(rate(errs_total{a=`x}[{{.window}}]))\", "
         "\"total\": \"sum(rate(req_total[{{.window}}]))\"}}, \"target\": 99",
         "slos[0].sli.events.bad", "not closed"},
        {"\"sli\": {\"events\": {\"bad\": \"sum(rate(errs_total[{{.window}})])\", "
         "\"total\": \"sum(rate(req_total[{{.window}}]))\"}}, \"target\": 99",
         "slos[0].sli.events.bad", "unbalanced brackets"},
        {"\"sli\": {\"events\": {\"bad\": \"sum(rate(errs_total[{{.window}}]))\\u0001\", "
         "\"total\": \"sum(rate(req_total[{{.window}}]))\"}}, \"target\": 99",
         "slos[0].sli.events.bad", "control characters"},
        {"\"sli\": {\"latency\": {\"metric\": \"http_seconds\", \"selector\": "
         "\"job=\\\"a\\\"} or vector(1) # \", \"threshold\": 0.3, \"buckets\": [0.3]}}, "
         "\"target\": 99",
         "slos[0].sli.latency.selector", "unbalanced brackets"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        eqops_error e = EQOPS_ERROR_INIT;
        int rc = parse_with(cases[i].fields, &e);
        if (rc != EQOPS_EINVAL || strcmp(e.field, cases[i].field) != 0 ||
            strstr(e.message, cases[i].words) == NULL)
            fail_msg("case %zu: rc %d field '%s' message '%s'", i, rc, e.field, e.message);
        eqops_error_clear(&e);
    }
}

static void document_level_errors(void **state)
{
    static const struct {
        const char *text, *words;
    } cases[] = {
        {"{\"service\": \"svc\", \"slos\": []}", "1 to 256 SLOs"},
        {"{\"service\": \"billing api\", \"slos\": [{}]}", "service"},
        {"{\"service\": \"svc\"}", "slos: required"},
        {"{\"version\": \"eqops/slo/v2\", \"service\": \"svc\", \"slos\": [{}]}",
         "unknown version"},
        {"{\"service\": \"svc\", \"slos\": [5]}", "must be an object"},
        {"{\"service\": \"svc\", \"slos\": [{\"name\": \"a\", " SLI_OK ", \"target\": 99}, "
         "{\"name\": \"a\", " SLI_OK ", \"target\": 99}]}",
         "duplicate SLO name"},
        {"{\"service\": \"svc\", \"service\": \"x\", \"slos\": []}", "invalid JSON"},
        {"{\"service\": \"svc\", \"slos\": [}", "invalid JSON at line 1"},
        {"[1, 2]", "must be an object"},
        {"service: svc\nservice: x\nslos: []\n", "duplicate key"},
        {"service: svc\nslos: [\n", "invalid YAML"},
        {"service: svc\n---\nservice: x\n", "one YAML document"},
        {"apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: a}\nspec: {service: s, "
         "indicator: {spec: {thresholdMetric: {}}}}\n",
         "threshold SLIs"},
        {"apiVersion: openslo/v1alpha\nkind: SLO\n", "only openslo/v1"},
        /* found by fuzzing: the alert name made from a service starting with a digit was
         * emitted although Prometheus refuses it, and the normalised spec did not read back */
        {"{\"service\": \".1s\", \"slos\": [{\"name\": \"a\", " SLI_OK ", \"target\": 99}]}",
         "alert name made from the service and SLO names (1sAErrorBudgetBurn)"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        eqops_error e = EQOPS_ERROR_INIT;
        eqops_slo_set *set = (eqops_slo_set *)1;
        int rc = eqops_slo_set_parse(&set, cases[i].text, strlen(cases[i].text),
                                     EQOPS_SLO_FORMAT_AUTO, &e);
        if (rc != EQOPS_EINVAL || set != NULL || strstr(e.message, cases[i].words) == NULL)
            fail_msg("case %zu: rc %d message '%s'", i, rc, e.message);
        eqops_error_clear(&e);
    }
}

static void hostile_documents(void **state)
{
    eqops_error e = EQOPS_ERROR_INIT;
    eqops_slo_set *set = NULL;
    /* nesting beyond the limit */
    char deep[2000];
    size_t n = 0;
    for (int i = 0; i < 200; i++)
        deep[n++] = '[';
    for (int i = 0; i < 200; i++)
        deep[n++] = ']';
    deep[n] = '\0';
    assert_int_equal(eqops_slo_set_parse(&set, deep, n, EQOPS_SLO_FORMAT_JSON, &e), EQOPS_EINVAL);
    assert_int_equal(eqops_slo_set_parse(&set, deep, n, EQOPS_SLO_FORMAT_YAML, &e), EQOPS_EINVAL);
    /* a billion laughs */
    const char *laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                         "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                         "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                         "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                         "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                         "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                         "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
    assert_int_equal(eqops_slo_set_parse(&set, laughs, strlen(laughs), EQOPS_SLO_FORMAT_YAML, &e),
                     EQOPS_ETOOBIG);
    assert_non_null(strstr(e.message, "million"));
    /* NUL inside a JSON string */
    const char nul[] = "{\"service\": \"s\\u0000x\", \"slos\": []}";
    assert_int_equal(eqops_slo_set_parse(&set, nul, sizeof(nul) - 1, EQOPS_SLO_FORMAT_JSON, &e),
                     EQOPS_EINVAL);
    assert_non_null(strstr(e.message, "NUL"));
    /* names that would break PromQL or YAML */
    assert_int_equal(parse_with(SLI_OK ", \"target\": 99, \"labels\": {\"a\": \"x\\\"}\"}", &e), 0);
    assert_int_equal(eqops_slo_set_parse(NULL, "{}", 2, 0, &e), EQOPS_EINVAL);
    assert_int_equal(eqops_slo_set_parse(&set, NULL, 0, 0, &e), EQOPS_EINVAL);
    assert_int_equal(eqops_slo_set_parse(&set, "{}", 2, 9, &e), EQOPS_EINVAL);
    assert_int_equal(eqops_slo_set_load(&set, "/nonexistent.json", &e), EQOPS_ENOTFOUND);
    eqops_error_clear(&e);
}

static eqops_slo_set *parse_ok(const char *text)
{
    eqops_slo_set *set = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    if (eqops_slo_set_parse(&set, text, strlen(text), EQOPS_SLO_FORMAT_AUTO, &e) != 0)
        fail_msg("parse: %s", e.message);
    return set;
}

/* Queries are read the way Prometheus' lexer reads them, and kept without their comments. */
static void queries_read_like_prometheus(void **state)
{
    eqops_slo_set *set = parse_ok(
        "{\"service\": \"svc\", \"slos\": [{\"name\": \"a\", \"target\": 99, \"sli\": "
        "{\"events\": {\"bad\": \"sum(rate(errs_total{path=\\\"#1\\\"}[{{.window}}])) # 5xx\\n\", "
        "\"total\": \"sum(\\n  rate(req_total{path=`C:\\\\`}[{{ .window }}]) # all\\r\\n)\"}}}]}");
    assert_string_equal(set->slos[0].bad, "sum(rate(errs_total{path=\"#1\"}[{{.window}}])) \n");
    assert_string_equal(set->slos[0].total,
                        "sum(\n  rate(req_total{path=`C:\\`}[{{ .window }}]) \r\n)");
    char *rules = NULL;
    assert_int_equal(eqops_slo_rules(&rules, set, NULL, NULL), 0);
    assert_null(strstr(rules, "# 5xx"));
    assert_null(strstr(rules, "# all"));
    /* the comment is gone, its line break stays, and the query is in its own parentheses */
    assert_non_null(strstr(rules, "((sum(rate(errs_total{path=\\\"#1\\\"}[5m])) \\n) or on() "
                                  "vector(0))"));
    eqops_free(rules);
    eqops_slo_set_free(set);
    /* a latency selector too */
    set = parse_ok(
        "{\"service\": \"svc\", \"slos\": [{\"name\": \"a\", \"target\": 99, \"sli\": "
        "{\"latency\": {\"metric\": \"http_seconds\", \"selector\": \"job=\\\"a\\\" # x\", "
        "\"threshold\": 0.3, \"buckets\": [0.3]}}}]}");
    assert_string_equal(set->slos[0].selector, "job=\"a\" ");
    eqops_slo_set_free(set);
    /* and an OpenSLO query, before eqops appends its range */
    set = parse_ok("apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: a}\nspec:\n  service: s\n"
                   "  objectives: [{target: 0.99}]\n  indicator:\n    metadata: {name: i}\n"
                   "    spec:\n      ratioMetric:\n        counter: true\n"
                   "        bad: {metricSource: {type: Prometheus, spec: {query: 'errs_total # "
                   "server errors'}}}\n"
                   "        total: {metricSource: {type: Prometheus, spec: {query: req_total}}}\n");
    assert_string_equal(set->slos[0].bad, "sum(rate(errs_total [{{.window}}]))");
    eqops_slo_set_free(set);
}

#define OPENSLO(bad, total)                                                                        \
    "apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: a}\nspec:\n  service: s\n"                \
    "  objectives: [{target: 0.99}]\n  indicator:\n    metadata: {name: i}\n"                      \
    "    spec:\n      ratioMetric:\n        counter: true\n"                                       \
    "        bad: {metricSource: {type: Prometheus, spec: {query: '" bad "'}}}\n"                  \
    "        total: {metricSource: {type: Prometheus, spec: {query: '" total "'}}}\n"

/*
 * Regression (lib/slo/openslo.c:59): an OpenSLO query with the other spelling of the
 * placeholder, {{ .window }}, was refused as "a function without {{.window}}"; a '(' or '['
 * inside a string literal counted as a function call.
 */
static void openslo_placeholders_and_strings(void **state)
{
    (void)state;
    eqops_slo_set *set =
        parse_ok(OPENSLO("sum(rate(m{r=\"ok\"}[{{ .window }}]))", "sum(rate(m[{{ .window }}]))"));
    assert_string_equal(set->slos[0].total, "sum(rate(m[{{ .window }}]))");
    eqops_slo_set_free(set);
    /* brackets inside strings are text: still a bare selector, given its rate */
    set = parse_ok(OPENSLO("m{path=\"/a(1)[2]\"}", "m{path=`(x`}"));
    assert_string_equal(set->slos[0].bad, "sum(rate(m{path=\"/a(1)[2]\"}[{{.window}}]))");
    assert_string_equal(set->slos[0].total, "sum(rate(m{path=`(x`}[{{.window}}]))");
    eqops_slo_set_free(set);
    /* a placeholder inside a string is not one */
    eqops_slo_set *none = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    const char *text = OPENSLO("sum(rate(m{x=\"{{.window}}\"}[5m]))", "m");
    assert_int_equal(eqops_slo_set_parse(&none, text, strlen(text), 0, &e), EQOPS_EINVAL);
    assert_null(none);
    eqops_error_clear(&e);
}

/*
 * Regression (lib/slo/promql.c:59): any backslash escape was accepted, but Prometheus knows
 * only some and promtool failed the rules ("unknown escape sequence") of a spec that
 * validated: code="5\q". The ones it knows still pass.
 */
static void only_promql_escapes(void **state)
{
    (void)state;
    /* YAML '...' strings: a backslash is itself, a quote is written twice */
    static const char *const bad[] = {"5\\q",    "\\d",         "\\x4", "\\400",
                                      "\\ud800", "\\U00110000", "\\''"};
    eqops_slo_set *set = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[600];
        snprintf(text, sizeof(text),
                 "service: api\nslos:\n  - name: a\n    target: 99\n    sli:\n      events:\n"
                 "        bad: 'sum(rate(x{code=\"%s\"}[{{.window}}]))'\n"
                 "        total: 'sum(rate(x[{{.window}}]))'\n",
                 bad[i]);
        assert_int_equal(eqops_slo_set_parse(&set, text, strlen(text), 0, &e), EQOPS_EINVAL);
        assert_null(set);
        if (strstr(e.message, "unknown escape sequence") == NULL ||
            strstr(e.message, "sli.events.bad") == NULL)
            fail_msg("%s: %s", bad[i], e.message);
    }
    /* every escape Prometheus knows, in each kind of string; none in `...` */
    set = parse_ok("service: api\nslos:\n  - name: a\n    target: 99\n    sli:\n      events:\n"
                   "        bad: 'sum(rate(x{a=\"\\a\\b\\f\\n\\r\\t\\v\\\\\\\"\\101\\x41\\u00e9"
                   "\\U0001F600\", b=''\\''\\n'', c=`\\q`}[{{.window}}]))'\n"
                   "        total: 'sum(rate(x[{{.window}}]))'\n");
    eqops_slo_set_free(set);
    /* the reviewer's spec (s4.yaml) */
    const char *s4 = "service: api\nslos:\n  - name: avail\n    window: 30d\n    sli:\n"
                     "      events:\n        bad: sum(rate(x{code=\"5\\q\"}[{{.window}}]))\n"
                     "        total: sum(rate(x[{{.window}}]))\n    target: 99.9\n";
    assert_int_equal(eqops_slo_set_parse(&set, s4, strlen(s4), 0, &e), EQOPS_EINVAL);
    if (strstr(e.message, "unknown escape sequence \\q in a \"...\" string") == NULL)
        fail_msg("%s", e.message);
    eqops_error_clear(&e);
}

/* Alert labels and annotations are static text: Prometheus expands them as Go templates, so
 * they go out as templates that render as written, and the test file expects them as
 * written (issue 13.4). promtool renders them in tests/slo/promtool_rules.sh. */
static void alert_text_stays_literal(void **state)
{
    eqops_slo_set *set = parse_ok(
        "{\"service\": \"svc\", \"labels\": {\"team\": \"{{ oops\"}, \"slos\": [{\"name\": "
        "\"a\", \"target\": 99, " SLI_OK ", \"alerting\": {\"annotations\": {\"summary\": "
        "\"{{ range query \\\"up\\\" }}{{ .Value }}{{ end }}\"}}}]}");
    char *rules = NULL, *test = NULL;
    assert_int_equal(eqops_slo_rules(&rules, set, NULL, NULL), 0);
    /* recording rules' labels are not templates; alert labels and annotations are */
    assert_non_null(strstr(rules, "team: '{{ oops'"));
    assert_non_null(strstr(rules, "team: '{{ \"{{\" }} oops'"));
    assert_non_null(strstr(rules,
                           "summary: '{{ \"{{\" }} range query \"up\" }}{{ \"{{\" }} .Value }}"
                           "{{ \"{{\" }} end }}'"));
    assert_null(strstr(rules, "'{{ range"));
    assert_int_equal(eqops_slo_rules_test(&test, set, NULL, NULL), 0);
    assert_non_null(strstr(test, "summary: '{{ range query \"up\" }}{{ .Value }}{{ end }}'"));
    assert_non_null(strstr(test, "team: '{{ oops'"));
    eqops_free(rules);
    eqops_free(test);
    eqops_slo_set_free(set);
}

static void defaults_are_filled(void **state)
{
    const char *text = "{\"service\": \"svc\", \"slos\": [{\"name\": \"avail\", " SLI_OK
                       ", \"target\": 99.95, \"window\": \"28d\"}]}";
    eqops_slo_set *set = NULL;
    assert_int_equal(eqops_slo_set_parse(&set, text, strlen(text), 0, NULL), 0);
    const slo_def *d = &set->slos[0];
    assert_string_equal(d->alert_name, "SvcAvailErrorBudgetBurn");
    assert_int_equal(d->page.n, 2);
    assert_true(d->page.w[0].factor > 13.4399 && d->page.w[0].factor < 13.4401);
    assert_string_equal(json_string_value(json_object_get(d->page.labels, "severity")), "page");
    assert_string_equal(json_string_value(json_object_get(d->ticket.labels, "severity")), "ticket");
    assert_string_equal(d->obj[0].budget_text, "0.0005");
    assert_string_equal(d->obj[0].target_pct, "99.95");
    assert_true(d->min_events == 1);
    assert_int_equal(d->absent_for_ms, 15 * 60000);
    eqops_slo_set_free(set);
}

static int op_parse(void *p)
{
    eqops_slo_set **set = p;
    return eqops_slo_set_load(set, example("billing-api.yaml"), NULL);
}

static void free_set(void *p)
{
    eqops_slo_set **set = p;
    eqops_slo_set_free(*set);
    *set = NULL;
}

struct gen {
    eqops_slo_set *set;
    char *out;
};

static int op_rules(void *p)
{
    struct gen *g = p;
    int rc = eqops_slo_rules(&g->out, g->set, NULL, NULL);
    if (rc == 0) {
        eqops_free(g->out);
        g->out = NULL;
        rc = eqops_slo_rules_test(&g->out, g->set, NULL, NULL);
    }
    if (rc == 0) {
        eqops_free(g->out);
        g->out = NULL;
        rc = eqops_slo_set_to_json(&g->out, g->set, NULL);
    }
    return rc;
}

static void free_out(void *p)
{
    struct gen *g = p;
    /* a failed allocation must fail the text, not cut it short (the last text is JSON) */
    json_t *doc = g->out && g->out[0] == '{' ? json_loads(g->out, 0, NULL) : NULL;
    if (g->out != NULL && g->out[0] == '{' && doc == NULL)
        fail_msg("eqops_slo_set_to_json returned invalid JSON:\n%s", g->out);
    json_decref(doc);
    eqops_free(g->out);
    g->out = NULL;
}

static void allocation_failures(void **state)
{
    eqops_slo_set *set = NULL;
    fa_install();
    long points = fa_loop(op_parse, free_set, &set, EQOPS_ENOMEM, false);
    assert_true(points > 50);
    struct gen g = {NULL, NULL};
    fa_uninstall();
    assert_int_equal(eqops_slo_set_load(&g.set, example("billing-api.json"), NULL), 0);
    fa_install();
    points = fa_loop(op_rules, free_out, &g, EQOPS_ENOMEM, false);
    assert_true(points > 100);
    fa_uninstall();
    eqops_slo_set_free(g.set);
}

static int setup(void **state)
{
    return eqops_init();
}

static int teardown(void **state)
{
    eqops_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(examples_load),
        cmocka_unit_test(validation_names_field_and_rule),
        cmocka_unit_test(document_level_errors),
        cmocka_unit_test(hostile_documents),
        cmocka_unit_test(defaults_are_filled),
        cmocka_unit_test(allocation_failures),
        cmocka_unit_test(queries_read_like_prometheus),
        cmocka_unit_test(alert_text_stays_literal),
        cmocka_unit_test(openslo_placeholders_and_strings),
        cmocka_unit_test(only_promql_escapes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
