/*
 * promql.c - the user's text that eqops splices into Prometheus rules, made safe to splice:
 * PromQL queries read the way Prometheus' lexer reads them (comments, the three kinds of
 * string literal, brackets), and alert label and annotation values made literal for Go's
 * text/template, with which Prometheus expands them.
 */
#include "slo_internal.h"

#include <stdio.h>

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

static int hex_digit(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/*
 * The escape after a backslash at p, in a string opened by `quote`, as Prometheus' lexer reads
 * it: \a \b \f \n \r \t \v \\ and the opening quote; \ooo (octal, at most 255), \xhh,
 * \uhhhh, \Uhhhhhhhh (a Unicode code point, not a surrogate). Its length (the characters
 * after the backslash) and its value, or 0 when it is not one.
 */
static size_t escape(const char *p, char quote, uint32_t *value)
{
    static const char simple[] = "abfnrtv\\";
    static const char values[] = "\a\b\f\n\r\t\v\\";
    const char *k = *p ? strchr(simple, *p) : NULL;
    if (k != NULL || *p == quote) {
        *value = k ? (unsigned char)values[k - simple] : (unsigned char)quote;
        return 1;
    }
    size_t n = *p >= '0' && *p <= '7' ? 3 : *p == 'x' ? 2 : *p == 'u' ? 4 : *p == 'U' ? 8 : 0;
    int base = *p >= '0' && *p <= '7' ? 8 : 16;
    const char *d = base == 8 ? p : p + 1;
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        int x = hex_digit(d[i]);
        if (x < 0 || x >= base)
            return 0;
        v = v * (uint32_t)base + (uint32_t)x;
    }
    uint32_t max = n == 3 || n == 2 ? 255 : 0x10FFFF;
    if (n == 0 || v > max || (v >= 0xD800 && v < 0xE000))
        return 0;
    *value = v;
    return base == 8 ? n : n + 1;
}

static void put_utf8(char *out, size_t *n, size_t cap, uint32_t v, bool bytes)
{
    char u[4];
    size_t k = 0;
    if (v < 0x80 || bytes) /* \ooo and \xhh are bytes; \u and \U code points */
        u[k++] = (char)v;
    else if (v < 0x800) {
        u[k++] = (char)(0xC0 | (v >> 6));
        u[k++] = (char)(0x80 | (v & 0x3F));
    } else if (v < 0x10000) {
        u[k++] = (char)(0xE0 | (v >> 12));
        u[k++] = (char)(0x80 | ((v >> 6) & 0x3F));
        u[k++] = (char)(0x80 | (v & 0x3F));
    } else {
        u[k++] = (char)(0xF0 | (v >> 18));
        u[k++] = (char)(0x80 | ((v >> 12) & 0x3F));
        u[k++] = (char)(0x80 | ((v >> 6) & 0x3F));
        u[k++] = (char)(0x80 | (v & 0x3F));
    }
    for (size_t i = 0; i < k && *n + 1 < cap; i++)
        out[(*n)++] = u[i];
}

const char *eqops__slo_string_decode(const char *p, char *out, size_t cap)
{
    char quote = *p++;
    size_t n = 0;
    if (cap == 0 || (quote != '"' && quote != '\'' && quote != '`'))
        return NULL;
    while (*p && *p != quote) {
        uint32_t v = (unsigned char)*p;
        size_t len = 1;
        bool bytes = true;
        if (quote != '`' && *p == '\\') {
            if ((len = escape(p + 1, quote, &v)) == 0 || v == 0)
                return NULL;
            bytes = p[1] != 'u' && p[1] != 'U';
            len++;
        }
        if (n + 4 >= cap)
            return NULL;
        put_utf8(out, &n, cap, v, bytes);
        p += len;
    }
    out[n] = '\0';
    return *p == quote ? p + 1 : NULL;
}

int eqops__slo_query_clean(char **out, const char *q, const char *field, bool needs_window,
                           eqops_error *err)
{
    *out = NULL;
    eqops_buf b = EQOPS_BUF_INIT;
    char stack[MAX_NESTING];
    size_t depth = 0, holes = 0;
    const char *problem = NULL;
    char pbuf[200];
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
                else if (c != '`' && *p == '\\') { /* raw strings have no escapes */
                    uint32_t v;
                    size_t n = escape(p + 1, c, &v);
                    if (n == 0) {
                        bool shown = p[1] > ' ' && p[1] < 0x7f;
                        snprintf(pbuf, sizeof(pbuf),
                                 "unknown escape sequence %s%.*s in a %c...%c string (PromQL "
                                 "knows \\a \\b \\f \\n \\r \\t \\v \\\\ \\%c \\ooo "
                                 "\\xhh \\uhhhh \\Uhhhhhhhh)",
                                 shown ? "\\" : "", shown ? 1 : 0, p + 1, c, c, c);
                        problem = pbuf;
                    }
                    p += n;
                }
                if (problem == NULL)
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

void eqops__slo_query_shape(const char *query, size_t *holes, bool *calls)
{
    *holes = 0;
    *calls = false;
    for (const char *p = query; *p;) {
        size_t hole = window_hole(p);
        if (*p == '"' || *p == '\'' || *p == '`') { /* strings: skipped whole */
            char q = *p++;
            while (*p && *p != q)
                p += q != '`' && *p == '\\' && p[1] ? 2 : 1;
            p += *p ? 1 : 0;
        } else if (hole > 0) {
            (*holes)++;
            p += hole;
        } else {
            *calls = *calls || *p == '(' || *p == '[';
            p++;
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
