/*
 * core_internal.h - internal helpers shared by every module: allocation, error filling,
 * logging, growable buffers, JSON and time. Nothing here is exported from the shared library.
 */
#ifndef EQOPS_CORE_INTERNAL_H
#define EQOPS_CORE_INTERNAL_H

#include "eqops/common.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define EQOPS__PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define EQOPS__NODISCARD         __attribute__((warn_unused_result))
#define EQOPS__ARRAY_LEN(a)      (sizeof(a) / sizeof((a)[0]))

/* ---- allocation (alloc.c) -------------------------------------------------------------- */

void *eqops__malloc(size_t size);
void *eqops__calloc(size_t n, size_t size);
void *eqops__realloc(void *ptr, size_t size);
void eqops__free(void *ptr);
char *eqops__strdup(const char *s);
char *eqops__strndup(const char *s, size_t n);
/* Overwrite `n` bytes with zeros the compiler cannot elide, then free. For secrets. */
void eqops__wipe_free(void *ptr, size_t n);
/* eqops__wipe_free() for a NUL-terminated secret string. */
void eqops__secret_free(char *s);
/* Overwrite without freeing. */
void eqops__wipe(void *ptr, size_t n);
/* Route jansson's allocations through the hook (called by eqops_init and set_allocator). */
void eqops__alloc_install_jansson(void);
/* Trampolines handed to curl_global_init_mem(). */
void *eqops__curl_malloc(size_t size);
void eqops__curl_free(void *ptr);
void *eqops__curl_realloc(void *ptr, size_t size);
char *eqops__curl_strdup(const char *s);
void *eqops__curl_calloc(size_t n, size_t size);

/* ---- errors (error.c) ------------------------------------------------------------------ */

/* Fill `err` (NULL-safe) with `code` and a formatted one-line message; returns `code`. */
int eqops__err(eqops_error *err, int code, const char *fmt, ...) EQOPS__PRINTF(3, 4);
/* Same, naming the input field at fault ("objectives[0].target"); the message is prefixed. */
int eqops__err_field(eqops_error *err, int code, const char *field, const char *fmt, ...)
    EQOPS__PRINTF(4, 5);
int eqops__err_v(eqops_error *err, int code, const char *fmt, va_list ap) EQOPS__PRINTF(3, 0);
/* Prepend context ("k8s get: ") to an already filled message. */
void eqops__err_prefix(eqops_error *err, const char *fmt, ...) EQOPS__PRINTF(2, 3);
/* Record upstream detail on an already filled error. */
void eqops__err_upstream(eqops_error *err, int http_status, const char *reason, double retry_after);
/* Keep a copy of the upstream body (truncated to 64 KiB); allocation failure is ignored. */
void eqops__err_body(eqops_error *err, const char *body, size_t len);
/* Map errno to an EQOPS_E* code. */
int eqops__errno_code(int errnum);
/* Hand the detail of `from` (a scratch error) to `err` (which may be NULL); `from` is left
 * empty. Returns from's code. */
int eqops__err_move(eqops_error *err, eqops_error *from);
/* Map an HTTP status (>= 400) to an EQOPS_E* code. */
int eqops__http_status_code(long status);

/* ---- logging (log.c) ------------------------------------------------------------------- */

bool eqops__log_enabled(eqops_log_level level);
void eqops__log(eqops_log_level level, const char *module, const char *fmt, ...)
    EQOPS__PRINTF(3, 4);

/* ---- growable buffer (buf.c) ----------------------------------------------------------- */

/*
 * A NUL-terminated growable byte buffer with a sticky out-of-memory flag: appends after a
 * failed allocation do nothing, so a sequence of appends is checked once with eqops__buf_ok().
 */
typedef struct eqops_buf {
    char *data; /* NULL until the first append; always NUL-terminated after one */
    size_t len;
    size_t cap;
    bool oom;
} eqops_buf;

#define EQOPS_BUF_INIT                                                                             \
    {                                                                                              \
        NULL, 0, 0, false                                                                          \
    }

int eqops__buf_reserve(eqops_buf *b, size_t extra);
/* Append, growing the buffer (the slow path of eqops__buf_put). */
int eqops__buf_put_grow(eqops_buf *b, const void *data, size_t len);

/* Appends. Inline: when the bytes fit (the usual case in a reused buffer) they cost a copy. */
static inline int eqops__buf_put(eqops_buf *b, const void *data, size_t len)
{
    if (b->data != NULL && !b->oom && len < b->cap - b->len) {
        memcpy(b->data + b->len, data, len);
        b->len += len;
        b->data[b->len] = '\0';
        return 0;
    }
    return eqops__buf_put_grow(b, data, len);
}

static inline int eqops__buf_puts(eqops_buf *b, const char *s)
{
    return eqops__buf_put(b, s, strlen(s));
}

static inline int eqops__buf_putc(eqops_buf *b, char c)
{
    return eqops__buf_put(b, &c, 1);
}
int eqops__buf_printf(eqops_buf *b, const char *fmt, ...) EQOPS__PRINTF(2, 3);
int eqops__buf_vprintf(eqops_buf *b, const char *fmt, va_list ap) EQOPS__PRINTF(2, 0);
/* 0, or EQOPS_ENOMEM when any append failed. */
int eqops__buf_ok(const eqops_buf *b);
/* The contents ("" when empty), borrowed. */
const char *eqops__buf_cstr(const eqops_buf *b);
/* Hand the NUL-terminated contents to the caller (free with eqops__free); b is reset. NULL on
 * an earlier allocation failure (the buffer is released). */
char *eqops__buf_detach(eqops_buf *b);
void eqops__buf_truncate(eqops_buf *b, size_t len);
void eqops__buf_free(eqops_buf *b);
/* Wipe then free: for buffers that held secrets. */
void eqops__buf_wipe(eqops_buf *b);

/* ---- files (file.c) --------------------------------------------------------------------- */

struct stat;

/*
 * Open a file a user named, for reading, without ever blocking or touching a device. stat()
 * comes first: a device, a socket or any other special file is not opened (opening a device
 * can rewind a tape or arm a watchdog) and the result is EQOPS__FILE_SPECIAL with *st saying
 * what it is. A regular file, a directory or a FIFO is opened with O_NONBLOCK (opening a FIFO
 * without a writer would otherwise wait forever), cleared once it is known to be a regular
 * file; O_CLOEXEC, O_NOCTTY; fstat() must then find the file stat() found, else the result is
 * EQOPS__FILE_CHANGED. The caller checks st->st_mode. Returns the descriptor, -errno or one of
 * the two. Every file a user names is opened here or through eqops__read_file().
 */
#define EQOPS__FILE_SPECIAL (-100000)
#define EQOPS__FILE_CHANGED (-100001)
int eqops__file_open(const char *path, struct stat *st);
/* What a file of this st_mode is, for messages: "a directory", "a FIFO", "a character
 * device", ... (static). */
const char *eqops__file_kind(unsigned mode);

/*
 * Read a whole regular file or FIFO (at most `max` bytes, NUL-terminated), opened by
 * eqops__file_open(). A FIFO (`<(sops -d kubeconfig)`, /dev/stdin from a pipe) is read until
 * its writer closes it, for at most EQOPS_FIFO_WAIT seconds (default 60) from the start:
 * "no data from FIFO X within N s" (EQOPS_ETIMEOUT) rather than a wait for a writer that never
 * comes. EQOPS_ENOTFOUND, EQOPS_EIO (a directory, a device, a socket: the message says which),
 * EQOPS_ETOOBIG, EQOPS_ETIMEOUT, EQOPS_EINVAL (a bad EQOPS_FIFO_WAIT), EQOPS_ENOMEM. The
 * contents are new: eqops__free().
 */
int eqops__read_file(char **out, size_t *len, const char *path, size_t max, eqops_error *err);
/* The FIFO wait: EQOPS_FIFO_WAIT (whole seconds, 1 to 3600), default 60; EQOPS_EINVAL naming
 * the variable when it is something else. */
int eqops__fifo_wait_s(eqops_error *err);

/* A list of new strings (paths); released with eqops__paths_free(). */
typedef struct eqops_paths {
    char **v;
    size_t n, cap;
} eqops_paths;

void eqops__paths_free(eqops_paths *p);

/*
 * The files of directory `dir` whose names end in one of `exts` (NULL-terminated: ".yaml",
 * ...), as "dir/name", in byte order of their names; with `recursive` the subdirectories too,
 * each one's files at the place of its name (the order of kubectl's walk). Links to
 * directories are not followed; other non-directories are listed whatever their type (the
 * reader refuses what is not a regular file). At most `max` files and 64 levels
 * (EQOPS_ETOOBIG). EQOPS_ENOTFOUND, EQOPS_EINVAL (`dir` is not a directory), EQOPS_EIO,
 * EQOPS_EFORBIDDEN, EQOPS_ENOMEM. `*out` is empty on failure.
 */
int eqops__dir_files(eqops_paths *out, const char *dir, const char *const *exts, bool recursive,
                     size_t max, eqops_error *err);

/* ---- helper programs (proc.c) ------------------------------------------------------------ */

/*
 * Run argv[0] (searched in PATH when it has no '/'; no shell) with `envp` (NULL: this
 * process's environment) and stdin from /dev/null, collecting its standard output into `out`
 * (at most `max_out` bytes, within `timeout_ms`; the child is killed otherwise). Its standard
 * error is this process's. Returns 0 when it exited with 0, else EQOPS_ETIMEOUT, EQOPS_ETOOBIG,
 * EQOPS_EIO (could not run, non-zero exit) with `what` in the message.
 */
int eqops__run(eqops_buf *out, const char *const *argv, const char *const *envp, int64_t timeout_ms,
               size_t max_out, const char *what, eqops_error *err);

/* Decode base64 (whitespace and line breaks allowed) with OpenSSL. Returns 0, or
 * EQOPS_EINVAL naming `what` when it is not base64. */
int eqops__base64_decode(eqops_buf *out, const char *in, size_t len, const char *what,
                         eqops_error *err);
/* Append standard base64 (with padding, one line). 0 or EQOPS_ENOMEM. */
int eqops__base64_encode(eqops_buf *out, const void *in, size_t len);

/* ---- time (time.c) --------------------------------------------------------------------- */

/* Wall clock in milliseconds since the Unix epoch (replaceable in tests). */
int64_t eqops__now_ms(void);
/* Monotonic clock in milliseconds. */
int64_t eqops__mono_ms(void);
/* Tests: make eqops__now_ms() return fn(); NULL restores the real clock. */
void eqops__set_clock(int64_t (*fn)(void));
/* Sleep, restarting on EINTR. */
void eqops__sleep_ms(int64_t ms);

/* Parse an RFC 3339 timestamp ("2026-11-27T10:00:00Z", "...T10:00:00.123+01:00"). */
int eqops__time_parse_rfc3339(const char *s, int64_t *out_ms, eqops_error *err);
/* Format as "2026-11-27T10:00:00Z" (UTC, whole seconds); `out` holds at least 32 bytes. */
void eqops__time_format_rfc3339(int64_t unix_ms, char out[32]);

/*
 * Parse a duration in Prometheus notation: one or more <integer><unit> terms in decreasing
 * unit order, units y w d h m s ms ("1h30m", "30d", "500ms"); result in milliseconds.
 */
int eqops__duration_parse(const char *s, int64_t *out_ms, eqops_error *err);
/* Format milliseconds as the shortest Prometheus duration ("1h30m", "0s"); out >= 48 bytes. */
void eqops__duration_format(int64_t ms, char out[48]);

/* ---- random (rand.c) ------------------------------------------------------------------- */

/* Fill with cryptographically strong random bytes (OpenSSL). 0 or EQOPS_EINTERNAL. */
int eqops__random_bytes(void *out, size_t n);
/* A uniformly distributed double in [0, 1). */
double eqops__random_unit(void);

/* ---- redaction (redact.c) -------------------------------------------------------------- */

/*
 * Copy a URL into `out` with user info and the values of secret-looking query parameters
 * (signature, credential, token, password, secret, key) replaced by "REDACTED". A URL that
 * does not parse is written as "(unparseable URL)". Returns 0 or EQOPS_ENOMEM.
 */
int eqops__redact_url(const char *url, eqops_buf *out);
/* True when a header of this name carries a secret (Authorization, Cookie, tokens). */
bool eqops__header_is_secret(const char *name, size_t name_len);

/* ---- versioned options (opts.c) -------------------------------------------------------- */

/*
 * Copy the caller's options struct `src` (NULL: defaults) into the full local struct `dst`:
 * only sizes[version - 1] bytes are read (the caller's struct as its version defines it; the
 * table lists each version's size, the last one sizeof the current struct), the rest stays
 * zero. `dst->version` is the caller's (nsizes for NULL). Version 0 or newer than nsizes is
 * EQOPS_EINVAL naming `field` ("opts.version" with the macro), the message starting with `what`.
 */
int eqops__opts_read(void *dst, size_t dst_size, const void *src, const size_t *sizes,
                     size_t nsizes, const char *what, const char *field, eqops_error *err);
#define EQOPS__OPTS_READ(dst, src, sizes, what, err)                                               \
    eqops__opts_read((dst), sizeof(*(dst)), (src), (sizes), EQOPS__ARRAY_LEN(sizes), (what),       \
                     "opts.version", (err))
/* The body of every eqops_*_options_init(): zero sizes[version - 1] bytes and set version.
 * 0, or EQOPS_EINVAL (opts NULL, version 0 or newer than nsizes). */
int eqops__opts_init(void *opts, unsigned version, const size_t *sizes, size_t nsizes);
#define EQOPS__OPTS_INIT(opts, version, sizes)                                                     \
    eqops__opts_init((opts), (version), (sizes), EQOPS__ARRAY_LEN(sizes))
/* Define the exported `int fn(type *opts, unsigned version)` over the sizes table `sizes`. */
#define EQOPS__OPTS_INIT_FN(fn, type, sizes)                                                       \
    int fn(type *opts, unsigned version)                                                           \
    {                                                                                              \
        return EQOPS__OPTS_INIT(opts, version, sizes);                                             \
    }

/* ---- cancellation (cancel.c) ----------------------------------------------------------- */

/* The token's read end, readable once it is triggered (poll it beside a socket); -1 for NULL. */
int eqops__cancel_fd(const eqops_cancel *c);
/* 0, or EQOPS_ECANCELED ("<what>: cancelled") when `c` (NULL-safe) was triggered. */
int eqops__cancel_check(const eqops_cancel *c, const char *what, eqops_error *err);
/* Sleep `ms`, waking at once when `c` is triggered: 0, or EQOPS_ECANCELED. */
int eqops__sleep_cancel(const eqops_cancel *c, int64_t ms);

/* ---- retries (backoff.c) --------------------------------------------------------------- */

/*
 * The retry policy: before retry r (1, 2, ...) wait Retry-After when the server gave one (at
 * most retry_after_cap_ms), else a uniform random time in [0, min(cap_ms, base_ms * 2^(r-1))]
 * (full jitter). No retry after max_retries (-1: no limit), when the wait would pass
 * deadline_ms (eqops__mono_ms() time; 0: none), or once `cancel` is triggered.
 */
typedef struct eqops__backoff {
    int64_t base_ms;
    int64_t cap_ms;
    int64_t retry_after_cap_ms; /* 0: cap_ms */
    int max_retries;
    int64_t deadline_ms;
    const eqops_cancel *cancel;
} eqops__backoff;

/* The wait before retry `retry` (no limits applied). */
int64_t eqops__backoff_delay(const eqops__backoff *b, int retry, double retry_after_s);
/* Whether retry `retry` may happen, and its wait. A triggered token says yes with a wait of 0:
 * eqops__backoff_wait then returns EQOPS_ECANCELED, so every caller reports the cancellation
 * on the path it already has for a cancelled wait. */
bool eqops__backoff_next(const eqops__backoff *b, int retry, double retry_after_s,
                         int64_t *wait_ms);
/* Wait before a retry: 0, or EQOPS_ECANCELED when the token was triggered meanwhile. */
int eqops__backoff_wait(const eqops__backoff *b, int64_t wait_ms);
/* Tests: the random source of the jitter (NULL: OpenSSL's). */
void eqops__backoff_set_random(double (*fn)(void));

/* ---- worker pool (pool.c) -------------------------------------------------------------- */

typedef struct eqops__pool eqops__pool;

typedef struct eqops__pool_job {
    size_t n;        /* items 0..n-1 */
    int concurrency; /* threads at most (<= 64; <= 1: one at a time). Items run on worker
                      * threads, even one item, when there are events to deliver (they are
                      * delivered meanwhile) or more than one thread is allowed; otherwise the
                      * calling thread runs them */
    /* one item, on a worker thread (or the calling thread, see pool.c) */
    void (*work)(eqops__pool *p, size_t i, void *arg);
    void *arg;
    /* an event posted by work(), on the calling thread, in posting order; non-zero starts no
     * new item and makes eqops__pool_run return EQOPS_ECANCELED. NULL: events are dropped */
    int (*deliver)(void *event, void *arg);
    void (*event_free)(void *event); /* NULL: events are not freed */
    const eqops_cancel *cancel;      /* triggered: no new item starts */
} eqops__pool_job;

/*
 * Run the job and deliver its events until every started item has ended. Returns 0 (every
 * item ran, or eqops__pool_stop() was called), EQOPS_ECANCELED (the callback's answer, or
 * the token before every item started).
 */
int eqops__pool_run(const eqops__pool_job *job, eqops_error *err);
/* From any thread while the pool runs: queue an event (taken: freed with event_free).
 * 0, or EQOPS_ENOMEM (the event is freed). */
int eqops__pool_post(eqops__pool *p, void *event);
/* Start no new item (an item's failure that ends the run). */
void eqops__pool_stop(eqops__pool *p);
/* True once the pool stops starting items (stop, a callback's answer, the token). */
bool eqops__pool_stopping(eqops__pool *p);
/* Tests: at most `n` threads start (as if pthread_create failed after n); -1 restores. */
void eqops__pool_test_thread_limit(int n);

/* ---- global state (init.c) ------------------------------------------------------------- */

/* True between eqops_init() and the matching final eqops_cleanup(). */
bool eqops__initialized(void);

#endif /* EQOPS_CORE_INTERNAL_H */
