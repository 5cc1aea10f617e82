/*
 * cli.c - output, errors, flag parsing and inputs shared by the subcommands.
 */
#define _GNU_SOURCE /* memfd_create */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
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

static void unalias(char *msg, size_t cap);

int cli_fail(cli *c, const eqops_error *err)
{
    eqops_error copy = *err; /* the message naming the user's inputs, not their copies */
    const eqops_error *e = &copy;
    copy.body = NULL;
    unalias(copy.message, sizeof(copy.message));
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

/* ---- inputs ---------------------------------------------------------------------------- */

#define FIFO_WAIT_DEFAULT 60 /* seconds, as the library waits for a FIFO's writer */
#define ALIASES_MAX       8

/* In-memory copies of inputs read once ("-", FIFOs): the path the library is given, and what
 * the user wrote, for messages. */
static struct {
    char path[32];
    char shown[200];
} aliases[ALIASES_MAX];
static int naliases;
static bool stdin_taken;

static const char *shown(const char *path)
{
    return strcmp(path, "-") ? path : "stdin";
}

static int input_error(cli *c, int code, const char *path, const char *what)
{
    eqops_error e = EQOPS_ERROR_INIT;
    e.code = code;
    snprintf(e.message, sizeof(e.message), "%s: %s", shown(path), what);
    return cli_fail(c, &e);
}

/* What the user wrote for the library's path `p`, or NULL. */
static const char *alias_of(const char *p, size_t *len)
{
    for (int i = 0; i < naliases; i++) {
        size_t n = strlen(aliases[i].path);
        if (strncmp(p, aliases[i].path, n) == 0 && (p[n] < '0' || p[n] > '9')) {
            *len = n;
            return aliases[i].shown;
        }
    }
    return NULL;
}

/* `msg` with the in-memory copies' paths replaced by what the user wrote. */
static void unalias(char *msg, size_t cap)
{
    if (naliases == 0 || strstr(msg, "/proc/self/fd/") == NULL)
        return;
    char out[1024];
    size_t n = 0;
    for (const char *p = msg; *p && n + 1 < sizeof(out);) {
        size_t len = 0;
        const char *a = alias_of(p, &len);
        if (a == NULL) {
            out[n++] = *p++;
            continue;
        }
        int w = snprintf(out + n, sizeof(out) - n, "%s", a);
        n = w > 0 && (size_t)w < sizeof(out) - n ? n + (size_t)w : sizeof(out) - 1;
        p += len;
    }
    out[n < cap ? n : cap - 1] = '\0';
    memcpy(msg, out, strlen(out) + 1);
}

/* EQOPS_FIFO_WAIT, as the library reads it: whole seconds from 1 to 3600. */
static int fifo_wait_s(cli *c, const char *path)
{
    const char *v = getenv("EQOPS_FIFO_WAIT");
    if (v == NULL || *v == '\0')
        return FIFO_WAIT_DEFAULT;
    char *end;
    errno = 0;
    long s = strtol(v, &end, 10);
    if (errno != 0 || *end != '\0' || s < 1 || s > 3600) {
        input_error(c, EQOPS_EINVAL, path,
                    "EQOPS_FIFO_WAIT must be a whole number of seconds from 1 to 3600");
        return -1;
    }
    return (int)s;
}

static const char *kind_of(mode_t m)
{
    return S_ISDIR(m)    ? "is a directory, not a regular file"
           : S_ISFIFO(m) ? "is a FIFO, not a regular file"
           : S_ISCHR(m)  ? "is a character device, not a regular file"
           : S_ISBLK(m)  ? "is a block device, not a regular file"
           : S_ISSOCK(m) ? "is a socket, not a regular file"
                         : "is not a regular file";
}

/* A file the user named, opened without blocking and without opening a device (stat() first:
 * opening one can have effects): the descriptor, or -1 after the message. */
static int open_input(cli *c, const char *path, bool *fifo)
{
    struct stat st, seen;
    int fd = -1, e = 0;
    if (stat(path, &seen) != 0)
        e = errno;
    else if (!S_ISREG(seen.st_mode) && !S_ISFIFO(seen.st_mode)) {
        input_error(c, EQOPS_EIO, path, kind_of(seen.st_mode));
        return -1;
    } else if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0 ||
               fstat(fd, &st) != 0)
        e = errno;
    if (e != 0) {
        if (fd >= 0)
            close(fd);
        input_error(c,
                    e == ENOENT || e == ENOTDIR ? EQOPS_ENOTFOUND
                    : e == EACCES               ? EQOPS_EFORBIDDEN
                                                : EQOPS_EIO,
                    path, strerror(e));
        return -1;
    }
    if (st.st_dev != seen.st_dev || st.st_ino != seen.st_ino) {
        close(fd);
        input_error(c, EQOPS_EIO, path, "replaced while it was being opened");
        return -1;
    }
    *fifo = S_ISFIFO(st.st_mode);
    int fl = fcntl(fd, F_GETFL);
    if (!*fifo && (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0)) {
        input_error(c, EQOPS_EIO, path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* Read `path` ("-": standard input, read to its end as kubectl reads -f -) whole; a FIFO
 * within the FIFO wait. `text`: a NUL byte is refused (the library takes C strings). */
static int read_input(cli *c, const char *path, size_t max, bool text, char **out, size_t *len)
{
    *out = NULL;
    bool is_stdin = strcmp(path, "-") == 0, fifo = false;
    if (is_stdin && stdin_taken)
        return cli_usage(c, NULL, "standard input ('-') can be read only once");
    stdin_taken = stdin_taken || is_stdin;
    int fd = is_stdin ? STDIN_FILENO : open_input(c, path, &fifo);
    if (fd < 0)
        return CLI_FAIL;
    int wait_s = fifo ? fifo_wait_s(c, path) : 0;
    int64_t deadline = 0;
    if (wait_s > 0) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        deadline = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 + (int64_t)wait_s * 1000;
    }
    size_t cap = 65536, n = 0;
    char *buf = wait_s >= 0 ? malloc(cap) : NULL;
    int rc = wait_s < 0 ? CLI_FAIL
             : buf      ? CLI_OK
                        : input_error(c, EQOPS_ENOMEM, path, "out of memory");
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
        if (deadline != 0) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            int64_t left = deadline - ((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000);
            struct pollfd p = {.fd = fd, .events = POLLIN};
            int r = left > 0 ? poll(&p, 1, (int)left) : 0;
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0) {
                rc = input_error(c, EQOPS_EIO, path, strerror(errno));
                break;
            }
            if (r == 0) {
                eqops_error e = EQOPS_ERROR_INIT;
                e.code = EQOPS_ETIMEOUT;
                if (n == 0)
                    snprintf(e.message, sizeof(e.message),
                             "no data from FIFO %s within %d s (is its writer running?)", path,
                             wait_s);
                else
                    snprintf(e.message, sizeof(e.message),
                             "FIFO %s: its writer did not finish within %d s (%zu bytes read)",
                             path, wait_s, n);
                rc = cli_fail(c, &e);
                break;
            }
        }
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
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
    const char *nul = rc == CLI_OK && text ? memchr(buf, '\0', n) : NULL;
    if (nul != NULL) {
        char what[128];
        snprintf(what, sizeof(what), "a NUL byte at offset %zu: control characters are not allowed",
                 (size_t)(nul - buf));
        rc = input_error(c, EQOPS_EINVAL, path, what);
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

int cli_read_input(cli *c, const char *path, size_t max, char **out, size_t *len)
{
    return read_input(c, path, max, true, out, len);
}

int cli_input_file(cli *c, const char *path, size_t max, const char **out)
{
    *out = path;
    struct stat st;
    if (path == NULL || (strcmp(path, "-") != 0 && (stat(path, &st) != 0 || !S_ISFIFO(st.st_mode))))
        return CLI_OK; /* the library reads it (and says what is wrong with it) */
    if (naliases == ALIASES_MAX)
        return input_error(c, EQOPS_EINVAL, path, "too many inputs from FIFOs");
    char *text = NULL;
    size_t len = 0;
    int rc = read_input(c, path, max, false, &text, &len);
    if (rc != CLI_OK)
        return rc;
    int fd = memfd_create("eqops-input", MFD_CLOEXEC);
    size_t done = 0;
    while (fd >= 0 && done < len) {
        ssize_t w = write(fd, text + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    int e = errno;
    free(text);
    if (fd < 0 || done < len) {
        if (fd >= 0)
            close(fd);
        return input_error(c, EQOPS_EIO, path, strerror(e));
    }
    /* kept open until the process ends: the library opens it by this name */
    snprintf(aliases[naliases].path, sizeof(aliases[0].path), "/proc/self/fd/%d", fd);
    snprintf(aliases[naliases].shown, sizeof(aliases[0].shown), "%s", shown(path));
    *out = aliases[naliases++].path;
    return CLI_OK;
}

int cli_write_file(cli *c, const char *flag, const char *path, const char *text)
{
    char what[200]; /* with the path, within a message */
    struct stat st;
    bool exists = lstat(path, &st) == 0;
    if (exists && S_ISLNK(st.st_mode)) {
        snprintf(what, sizeof(what),
                 "is a symbolic link; name the file it points to (--%s replaces the file as a "
                 "whole, never through a link)",
                 flag);
        return input_error(c, EQOPS_EINVAL, path, what);
    }
    if (exists && !S_ISREG(st.st_mode))
        return input_error(c, EQOPS_EIO, path, kind_of(st.st_mode));
    /* a new file beside it, renamed over it once complete: a reader (Prometheus, promtool)
     * sees the old file or the new one, never half of one */
    const char *slash = strrchr(path, '/');
    int dlen = slash ? (int)(slash - path) + 1 : 0;
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%.*s.%s.XXXXXX", dlen, path, slash ? slash + 1 : path) >=
        (int)sizeof(tmp))
        return input_error(c, EQOPS_EINVAL, path, "path too long");
    int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(what, sizeof(what), "cannot create a file in its directory: %s", strerror(errno));
        return input_error(c, EQOPS_EIO, path, what);
    }
    mode_t mask = umask(0);
    umask(mask);
    size_t len = strlen(text), done = 0;
    int e = 0;
    if (fchmod(fd, exists ? (st.st_mode & 07777) : (0666 & ~mask)) != 0)
        e = errno;
    while (e == 0 && done < len) {
        ssize_t w = write(fd, text + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            e = errno;
        else
            done += (size_t)w;
    }
    if (e == 0 && fsync(fd) != 0)
        e = errno;
    if (close(fd) != 0 && e == 0)
        e = errno;
    if (e == 0 && rename(tmp, path) != 0)
        e = errno;
    if (e != 0) {
        unlink(tmp);
        return input_error(c, EQOPS_EIO, path, strerror(e));
    }
    return CLI_OK;
}
