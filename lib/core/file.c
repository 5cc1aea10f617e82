/*
 * file.c - the one way libeqops opens a file a user named (specs, kubeconfigs, token files,
 * PEM files, tiers, migrations, manifests, time zones): devices never opened, a FIFO (a
 * process substitution, /dev/stdin) read with a bounded wait for its writer, every read
 * bounded in size; and the manifest-like files of a directory.
 */
#include "json.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIR_MAX_DEPTH     64
#define FIFO_WAIT_DEFAULT 60 /* seconds */
#define FIFO_WAIT_MAX     3600

int eqops__file_open(const char *path, struct stat *st)
{
    /* stat() first: a device is never opened (opening one can rewind a tape or arm a
     * watchdog), nor a socket */
    if (stat(path, st) != 0)
        return -errno;
    if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode) && !S_ISFIFO(st->st_mode))
        return EQOPS__FILE_SPECIAL;
    struct stat seen = *st;
    /* O_NONBLOCK: opening a FIFO for reading otherwise waits for a writer, forever */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    if (fstat(fd, st) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    if (st->st_dev != seen.st_dev || st->st_ino != seen.st_ino) {
        close(fd); /* replaced between the two looks: perhaps by a device */
        return EQOPS__FILE_CHANGED;
    }
    if (S_ISREG(st->st_mode)) {
        /* a regular file: ordinary blocking reads from here on */
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
            int e = errno;
            close(fd);
            return -e;
        }
    }
    return fd;
}

const char *eqops__file_kind(unsigned mode)
{
    if (S_ISREG(mode))
        return "a regular file";
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISSOCK(mode))
        return "a socket";
    return "not a regular file";
}

/* strerror() may share a buffer between threads; the XSI strerror_r does not. */
static const char *errtext(int e, char *buf, size_t n)
{
    return strerror_r(e, buf, n) == 0 ? buf : "I/O error";
}

/* eqops__file_open() of a regular file or a FIFO (`want_dir` false) or of a directory: the
 * descriptor, or a (negative) EQOPS_E* code with `err` filled. */
static int open_checked(const char *path, bool want_dir, struct stat *st, eqops_error *err)
{
    char etext[128];
    int fd = eqops__file_open(path, st);
    if (fd == EQOPS__FILE_CHANGED)
        return eqops__err(err, EQOPS_EIO, "%s: replaced while it was being opened", path);
    if (fd < 0 && fd != EQOPS__FILE_SPECIAL)
        return eqops__err(err, eqops__errno_code(-fd), "%s: %s", path,
                          errtext(-fd, etext, sizeof(etext)));
    bool ok = fd >= 0 && (want_dir ? S_ISDIR(st->st_mode) : !S_ISDIR(st->st_mode));
    if (!ok) {
        if (fd >= 0)
            close(fd);
        return eqops__err(err, want_dir ? EQOPS_EINVAL : EQOPS_EIO, "%s: is %s, not %s", path,
                          eqops__file_kind(st->st_mode),
                          want_dir ? "a directory" : "a regular file");
    }
    return fd;
}

int eqops__fifo_wait_s(eqops_error *err)
{
    const char *v = getenv("EQOPS_FIFO_WAIT");
    if (v == NULL || *v == '\0')
        return FIFO_WAIT_DEFAULT;
    char *end;
    errno = 0;
    long s = strtol(v, &end, 10);
    if (errno != 0 || *end != '\0' || s < 1 || s > FIFO_WAIT_MAX)
        return eqops__err_field(err, EQOPS_EINVAL, "EQOPS_FIFO_WAIT",
                                "\"%.40s\" is not a whole number of seconds from 1 to %d", v,
                                FIFO_WAIT_MAX);
    return (int)s;
}

/* Read `fd` to its end into a new buffer, at most `max` bytes (`hint`: the size to expect). A
 * FIFO is waited on with poll() until `wait_s` seconds after the start: its writer may not
 * have started, or may never come. */
static int read_fd(char **out, size_t *len, int fd, const char *path, size_t max, size_t hint,
                   int wait_s, eqops_error *err)
{
    char etext[128];
    if (max > SIZE_MAX - 2)
        max = SIZE_MAX - 2;
    /* room for the NUL and one byte more: reading a whole file of `hint` bytes needs one
     * buffer, and a file of more than `max` is found by reading at most max + 1 */
    size_t cap = (hint < max ? hint : max) + 2, n = 0;
    int64_t deadline = wait_s > 0 ? eqops__mono_ms() + (int64_t)wait_s * 1000 : 0;
    char *buf = eqops__malloc(cap);
    int rc = buf ? 0 : eqops__err(err, EQOPS_ENOMEM, "%s: out of memory", path);
    while (rc == 0) {
        if (n > max) {
            rc = eqops__err(err, EQOPS_ETOOBIG, "%s: larger than %zu bytes", path, max);
            break;
        }
        if (n + 1 >= cap) { /* more than expected: a procfs file, or one that grew */
            size_t ncap = cap > (max + 2) / 2 ? max + 2 : cap * 2;
            char *nb = eqops__realloc(buf, ncap);
            if (nb == NULL) {
                rc = eqops__err(err, EQOPS_ENOMEM, "%s: out of memory", path);
                break;
            }
            buf = nb;
            cap = ncap;
        }
        if (deadline != 0) {
            int64_t left = deadline - eqops__mono_ms();
            struct pollfd p = {.fd = fd, .events = POLLIN};
            int r = left > 0 ? poll(&p, 1, (int)left) : 0;
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0) {
                rc = eqops__err(err, EQOPS_EIO, "%s: %s", path, errtext(errno, etext, 128));
                break;
            }
            if (r == 0) {
                rc = n == 0 ? eqops__err(err, EQOPS_ETIMEOUT,
                                         "no data from FIFO %s within %d s (is its writer "
                                         "running?)",
                                         path, wait_s)
                            : eqops__err(err, EQOPS_ETIMEOUT,
                                         "FIFO %s: its writer did not finish within %d s (%zu "
                                         "bytes read)",
                                         path, wait_s, n);
                break;
            }
        }
        ssize_t k = read(fd, buf + n, cap - 1 - n);
        if (k < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (k < 0)
            rc = eqops__err(err, EQOPS_EIO, "%s: %s", path, errtext(errno, etext, 128));
        else if (k == 0)
            break;
        else
            n += (size_t)k;
    }
    if (rc != 0) {
        eqops__free(buf);
        return rc;
    }
    buf[n] = '\0';
    *out = buf;
    if (len)
        *len = n;
    return 0;
}

int eqops__read_file(char **out, size_t *len, const char *path, size_t max, eqops_error *err)
{
    *out = NULL;
    if (len)
        *len = 0;
    if (path == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "path", "missing");
    struct stat st;
    int fd = open_checked(path, false, &st, err);
    if (fd < 0)
        return fd;
    int rc = 0, wait_s = 0;
    if (S_ISFIFO(st.st_mode) && (wait_s = eqops__fifo_wait_s(err)) < 0)
        rc = wait_s;
    else if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max)
        rc = eqops__err(err, EQOPS_ETOOBIG, "%s: larger than %zu bytes", path, max);
    else
        rc = read_fd(out, len, fd, path, max, S_ISREG(st.st_mode) ? (size_t)st.st_size : 65536 - 2,
                     wait_s, err);
    close(fd);
    return rc;
}

/* ---- directories ------------------------------------------------------------------------- */

void eqops__paths_free(eqops_paths *p)
{
    for (size_t i = 0; p && i < p->n; i++)
        eqops__free(p->v[i]);
    if (p) {
        eqops__free(p->v);
        memset(p, 0, sizeof(*p));
    }
}

/* Append a new string (taken). 0 or -1 (out of memory; `s` is released). */
static int paths_add(eqops_paths *p, char *s)
{
    if (s == NULL)
        return -1;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        char **v = eqops__realloc(p->v, cap * sizeof(char *));
        if (v == NULL) {
            eqops__free(s);
            return -1;
        }
        p->v = v;
        p->cap = cap;
    }
    p->v[p->n++] = s;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool wanted(const char *name, const char *const *exts)
{
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && exts[i]; i++)
        if (strcmp(dot, exts[i]) == 0)
            return true;
    return false;
}

/* The names in `dir`, sorted (without "." and ".."). */
static int dir_names(eqops_paths *names, const char *dir, eqops_error *err)
{
    char etext[128];
    struct stat st;
    int fd = open_checked(dir, true, &st, err);
    if (fd < 0)
        return fd;
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        int e = errno;
        close(fd);
        return eqops__err(err, eqops__errno_code(e), "%s: %s", dir,
                          errtext(e, etext, sizeof(etext)));
    }
    int rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (de == NULL) {
            if (errno != 0)
                rc = eqops__err(err, EQOPS_EIO, "%s: %s", dir, errtext(errno, etext, 128));
            break;
        }
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (paths_add(names, eqops__strdup(de->d_name)) != 0) {
            rc = eqops__err(err, EQOPS_ENOMEM, "%s: out of memory", dir);
            break;
        }
    }
    closedir(d);
    if (rc == 0 && names->n > 1)
        qsort(names->v, names->n, sizeof(char *), by_name);
    return rc;
}

static int walk(eqops_paths *out, const char *dir, const char *const *exts, bool recursive,
                int depth, size_t max, eqops_error *err)
{
    if (depth > DIR_MAX_DEPTH)
        return eqops__err(err, EQOPS_ETOOBIG, "%s: more than %d directories deep", dir,
                          DIR_MAX_DEPTH);
    eqops_paths names = {0};
    int rc = dir_names(&names, dir, err);
    size_t dlen = strlen(dir);
    while (dlen > 1 && dir[dlen - 1] == '/')
        dlen--;
    for (size_t i = 0; rc == 0 && i < names.n; i++) {
        eqops_buf path = EQOPS_BUF_INIT;
        eqops__buf_put(&path, dir, dlen);
        if (dir[dlen - 1] != '/')
            eqops__buf_putc(&path, '/');
        eqops__buf_puts(&path, names.v[i]);
        if (eqops__buf_ok(&path) != 0) {
            rc = eqops__err(err, EQOPS_ENOMEM, "%s: out of memory", dir);
            break;
        }
        /* lstat: a link to a directory is not followed (as kubectl's walk does not) */
        struct stat st;
        char etext[128];
        if (lstat(path.data, &st) != 0)
            rc = eqops__err(err, eqops__errno_code(errno), "%s: %s", path.data,
                            errtext(errno, etext, sizeof(etext)));
        else if (S_ISDIR(st.st_mode) && recursive)
            rc = walk(out, path.data, exts, recursive, depth + 1, max, err);
        else if (!S_ISDIR(st.st_mode) && wanted(names.v[i], exts)) {
            if (out->n >= max)
                rc = eqops__err(err, EQOPS_ETOOBIG, "%s: more than %zu files", dir, max);
            else if (paths_add(out, eqops__buf_detach(&path)) != 0)
                rc = eqops__err(err, EQOPS_ENOMEM, "%s: out of memory", dir);
        }
        eqops__buf_free(&path);
    }
    eqops__paths_free(&names);
    return rc;
}

int eqops__dir_files(eqops_paths *out, const char *dir, const char *const *exts, bool recursive,
                     size_t max, eqops_error *err)
{
    memset(out, 0, sizeof(*out));
    if (dir == NULL || *dir == '\0')
        return eqops__err_field(err, EQOPS_EINVAL, "path", "missing");
    int rc = walk(out, dir, exts, recursive, 0, max, err);
    if (rc != 0)
        eqops__paths_free(out);
    return rc;
}
