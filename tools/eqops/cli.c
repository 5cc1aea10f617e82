/*
 * cli.c - output, errors and flag parsing shared by the subcommands.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void log_to_stderr(eqops_log_level level, const char *module, const char *msg, void *payload)
{
    (void)payload;
    fprintf(stderr, "eqops: %s: %s: %s\n", eqops_log_level_name(level), module, msg);
}

void cli_setup_log(cli *c)
{
    eqops_log_level lvl = EQOPS_LOG_WARN;
    if (c->verbosity == 1)
        lvl = EQOPS_LOG_INFO;
    else if (c->verbosity == 2)
        lvl = EQOPS_LOG_DEBUG;
    else if (c->verbosity > 2)
        lvl = EQOPS_LOG_TRACE;
    eqops_set_log(log_to_stderr, lvl, NULL);
}

int cli_fail(cli *c, const eqops_error *e)
{
    if (c->output == CLI_JSON) {
        json_t *j = json_pack("{s:{s:s, s:i, s:s}}", "error", "code", eqops_code_name(e->code),
                              "status", e->http_status, "message", e->message);
        if (j != NULL && e->reason[0])
            json_object_set_new(json_object_get(j, "error"), "reason", json_string(e->reason));
        if (j != NULL && e->field[0])
            json_object_set_new(json_object_get(j, "error"), "field", json_string(e->field));
        if (j != NULL) {
            json_dumpf(j, stderr, JSON_COMPACT);
            fputc('\n', stderr);
            json_decref(j);
            return CLI_FAIL;
        }
    }
    fprintf(stderr, "eqops: error: %s", e->message[0] ? e->message : eqops_strerror(e->code));
    if (e->reason[0] && strstr(e->message, e->reason) == NULL)
        fprintf(stderr, " (%s)", e->reason);
    fputc('\n', stderr);
    return CLI_FAIL;
}

int cli_usage(cli *c, const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "eqops%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nRun 'eqops %s%s--help' for usage.\n", cmd ? cmd : "", cmd ? " " : "");
    return CLI_USAGE;
}

int cli_print_json(cli *c, json_t *value)
{
    (void)c;
    if (value == NULL) {
        fprintf(stderr, "eqops: error: out of memory\n");
        return CLI_FAIL;
    }
    int rc = json_dumpf(value, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    fputc('\n', stdout);
    json_decref(value);
    return rc == 0 ? CLI_OK : CLI_FAIL;
}

void cli_print_flags(const cli_flag *flags)
{
    printf("  -o, --output FORMAT  text (default) or json\n");
    printf("  -v, --verbose        more log lines on stderr (repeat for more)\n");
    for (const cli_flag *f = flags; f && f->name; f++) {
        char left[64];
        snprintf(left, sizeof(left), "%s%c%s--%s%s", f->shorthand ? "-" : "",
                 f->shorthand ? f->shorthand : ' ', f->shorthand ? ", " : "  ", f->name,
                 f->kind == CLI_FLAG_STRING ? " VALUE"
                 : f->kind == CLI_FLAG_LIST ? " VALUE..."
                                            : "");
        printf("  %-20s %s\n", f->shorthand ? left : left + 2, f->help);
    }
}

static const cli_flag *find_flag(const cli_flag *flags, const char *name, size_t len, char s)
{
    for (const cli_flag *f = flags; f && f->name; f++) {
        if (s ? f->shorthand == s : (strlen(f->name) == len && strncmp(f->name, name, len) == 0))
            return f;
    }
    return NULL;
}

static int set_output(cli *c, const char *cmd, const char *v)
{
    if (strcmp(v, "json") == 0)
        c->output = CLI_JSON;
    else if (strcmp(v, "text") == 0)
        c->output = CLI_TEXT;
    else
        return cli_usage(c, cmd, "--output must be 'text' or 'json', not '%s'", v);
    return CLI_OK;
}

int cli_parse(cli *c, const char *cmd, const cli_flag *flags, int argc, char **argv,
              const char **pos, int max_pos, int *npos)
{
    *npos = 0;
    bool only_positional = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_positional || a[0] != '-' || a[1] == '\0') {
            if (*npos >= max_pos)
                return cli_usage(c, cmd, "unexpected argument '%s'", a);
            pos[(*npos)++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_positional = true;
            continue;
        }
        const char *name = a + (a[1] == '-' ? 2 : 1);
        const char *eq = a[1] == '-' ? strchr(name, '=') : NULL;
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        bool is_short = a[1] != '-';
        if (is_short && len != 1)
            return cli_usage(c, cmd, "unknown flag '%s'", a);
        const char *value = eq ? eq + 1 : NULL;
        bool wants_value;
        if ((is_short && name[0] == 'o') || (!is_short && len == 6 && !strncmp(name, "output", 6)))
            wants_value = true;
        else if ((is_short && name[0] == 'v') ||
                 (!is_short && len == 7 && !strncmp(name, "verbose", 7))) {
            c->verbosity++;
            continue;
        } else {
            const cli_flag *f = find_flag(flags, name, len, is_short ? name[0] : 0);
            if (f == NULL)
                return cli_usage(c, cmd, "unknown flag '%s'", a);
            if (f->kind == CLI_FLAG_BOOL) {
                if (value != NULL)
                    return cli_usage(c, cmd, "flag --%s takes no value", f->name);
                *(bool *)f->dest = true;
                continue;
            }
            if (value == NULL) {
                if (i + 1 >= argc)
                    return cli_usage(c, cmd, "flag --%s needs a value", f->name);
                value = argv[++i];
            }
            if (f->kind == CLI_FLAG_LIST) {
                cli_list *l = f->dest;
                if (l->n >= CLI_LIST_MAX)
                    return cli_usage(c, cmd, "flag --%s: at most %d values", f->name, CLI_LIST_MAX);
                l->v[l->n++] = value;
                l->v[l->n] = NULL;
                continue;
            }
            *(const char **)f->dest = value;
            continue;
        }
        if (wants_value && value == NULL) {
            if (i + 1 >= argc)
                return cli_usage(c, cmd, "flag --output needs a value");
            value = argv[++i];
        }
        if (set_output(c, cmd, value) != CLI_OK)
            return CLI_USAGE;
    }
    return CLI_OK;
}

static int input_error(cli *c, int code, const char *path, const char *what)
{
    eqops_error e = EQOPS_ERROR_INIT;
    e.code = code;
    snprintf(e.message, sizeof(e.message), "%s: %s", strcmp(path, "-") ? path : "stdin", what);
    return cli_fail(c, &e);
}

/* A file the user named, opened without blocking: the descriptor or -1 after the message. */
static int open_input(cli *c, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        input_error(c,
                    e == ENOENT || e == ENOTDIR ? EQOPS_ENOTFOUND
                    : e == EACCES               ? EQOPS_EFORBIDDEN
                                                : EQOPS_EIO,
                    path, strerror(e));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        input_error(c, EQOPS_EIO, path,
                    S_ISDIR(st.st_mode)    ? "is a directory, not a regular file"
                    : S_ISFIFO(st.st_mode) ? "is a FIFO, not a regular file ('-' reads stdin)"
                                           : "is not a regular file");
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        input_error(c, EQOPS_EIO, path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int cli_read_input(cli *c, const char *path, size_t max, char **out, size_t *len)
{
    *out = NULL;
    bool is_stdin = strcmp(path, "-") == 0;
    int fd = is_stdin ? STDIN_FILENO : open_input(c, path);
    if (fd < 0)
        return CLI_FAIL;
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    int rc = buf ? CLI_OK : input_error(c, EQOPS_ENOMEM, path, "out of memory");
    while (rc == CLI_OK) {
        if (n + 1 == cap) { /* full, and n <= max: one more read tells whether there is more */
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                rc = input_error(c, EQOPS_ENOMEM, path, "out of memory");
                break;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            rc = input_error(c, EQOPS_EIO, path, strerror(errno));
        else if (r == 0)
            break;
        else if ((n += (size_t)r) > max) {
            char what[64];
            snprintf(what, sizeof(what), "larger than %zu bytes", max);
            rc = input_error(c, EQOPS_ETOOBIG, path, what);
        }
    }
    if (!is_stdin)
        close(fd);
    if (rc != CLI_OK) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *out = buf;
    if (len)
        *len = n;
    return CLI_OK;
}
