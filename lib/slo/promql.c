/*
 * promql.c - the user's text that eqops splices into Prometheus rules, made safe to splice:
 * PromQL queries read the way Prometheus' lexer reads them (comments, the three kinds of
 * string literal, brackets), and alert label and annotation values made literal for Go's
 * text/template, with which Prometheus expands them.
 */
#include "slo_internal.h"

#define MAX_NESTING 128

static const char *const window_holes[] = {"{{.window}}", "{{ .window }}"};

/* The length of the window placeholder at p, or 0. */
static size_t window_hole(const char *p)
{
    for (size_t k = 0; k < EQOPS__ARRAY_LEN(window_holes); k++) {
        size_t n = strlen(window_holes[k]);
        if (strncmp(p, window_holes[k], n) == 0)
            return n;
    }
    return 0;
}

static bool is_control(unsigned char c)
{
    return (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f;
}

static char closer(char open)
{
    return open == '(' ? ')' : open == '[' ? ']' : '}';
}

int eqops__slo_query_clean(char **out, const char *q, const char *field, bool needs_window,
                           eqops_error *err)
{
    *out = NULL;
    eqops_buf b = EQOPS_BUF_INIT;
    char stack[MAX_NESTING];
    size_t depth = 0, holes = 0;
    const char *problem = NULL;
    const char *p = q;
    while (*p && problem == NULL) {
        char c = *p;
        size_t hole;
        if (is_control((unsigned char)c)) {
            problem = "control characters are not allowed (tabs and line breaks are)";
        } else if (c == '#') { /* a comment: to the end of the line, which stays */
            while (*p && *p != '\n' && *p != '\r')
                p++;
        } else if (c == '"' || c == '\'' || c == '`') {
            const char *s = p++;
            while (*p && *p != c && problem == NULL) {
                if (is_control((unsigned char)*p))
                    problem = "control characters are not allowed (tabs and line breaks are)";
                else if (c != '`' && (*p == '\n' || *p == '\r'))
                    problem = "a \"...\" or '...' string must end on the line it starts on "
                              "(`...` strings may span lines)";
                else if (c != '`' && *p == '\\' && p[1] != '\0')
                    p++; /* an escape; raw strings have none */
                p++;
            }
            if (problem == NULL && *p != c)
                problem = "a string literal is not closed";
            if (problem == NULL)
                eqops__buf_put(&b, s, (size_t)(++p - s));
        } else if ((hole = window_hole(p)) > 0) {
            eqops__buf_put(&b, p, hole);
            p += hole;
            holes++;
        } else if (c == '{' && p[1] == '{') {
            problem = "'{{' outside a string: the only placeholder is {{.window}}";
        } else {
            if (c == '(' || c == '[' || c == '{') {
                if (depth == MAX_NESTING)
                    problem = "brackets nested too deeply";
                else
                    stack[depth++] = c;
            } else if (c == ')' || c == ']' || c == '}') {
                if (depth == 0 || closer(stack[depth - 1]) != c)
                    problem = "unbalanced brackets in the query";
                else
                    depth--;
            }
            eqops__buf_putc(&b, c);
            p++;
        }
    }
    if (problem == NULL && depth > 0)
        problem = "unbalanced brackets in the query";
    if (problem == NULL && needs_window && holes == 0)
        problem = "the query needs a {{.window}} range, as in "
                  "sum(rate(http_requests_total[{{.window}}]))";
    if (problem != NULL) {
        eqops__buf_free(&b);
        return eqops__err_field(err, EQOPS_EINVAL, field, "%s", problem);
    }
    if ((*out = eqops__buf_detach(&b)) == NULL)
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    return 0;
}

void eqops__slo_put_query(eqops_buf *out, const char *query, const char *window)
{
    /* everywhere, strings included, as Sloth's text/template does (a duration is plain text) */
    const char *p = query;
    while (*p) {
        size_t hole = window_hole(p);
        if (hole > 0) {
            eqops__buf_puts(out, window);
            p += hole;
        } else {
            eqops__buf_putc(out, *p++);
        }
    }
}

void eqops__slo_put_string(eqops_buf *out, const char *value)
{
    eqops__buf_putc(out, '"');
    for (const char *p = value; *p; p++) {
        if (*p == '\n' || *p == '\r') {
            eqops__buf_puts(out, *p == '\n' ? "\\n" : "\\r");
            continue;
        }
        if (*p == '"' || *p == '\\')
            eqops__buf_putc(out, '\\');
        eqops__buf_putc(out, *p);
    }
    eqops__buf_putc(out, '"');
}

/* ---- Go templates ------------------------------------------------------------------------ */

/* `text` as a Go template that renders as itself: each "{{" becomes {{ "{{" }} ("}}" outside
 * an action is plain text). */
static char *template_literal(const char *text)
{
    eqops_buf b = EQOPS_BUF_INIT;
    for (const char *p = text; *p;) {
        if (p[0] == '{' && p[1] == '{') {
            eqops__buf_puts(&b, "{{ \"{{\" }}");
            p += 2;
        } else {
            eqops__buf_putc(&b, *p++);
        }
    }
    return eqops__buf_detach(&b);
}

json_t *eqops__slo_template_literals(const json_t *obj)
{
    json_t *copy = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        const char *text = json_string_value(v);
        char *lit = copy ? template_literal(text ? text : "") : NULL;
        bool ok = lit != NULL && eqops__jset(copy, k, json_string(lit));
        eqops__free(lit);
        if (!ok) {
            json_decref(copy);
            return NULL;
        }
    }
    return copy;
}
