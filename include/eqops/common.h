/*
 * eqops/common.h - version, initialisation, errors, allocator and log hooks.
 *
 * Conventions used by every libeqops header:
 *   - A fallible function returns int: 0 on success or a negative EQOPS_E* code.
 *   - The last parameter is an optional, caller-owned `eqops_error *err` (may be NULL) that is
 *     filled on failure with the code, a one-line message and the upstream detail.
 *   - Out-parameters come first; on failure `*out` is NULL and partial work is undone.
 *   - Objects returned through `**out` are new and released with their NULL-safe _free();
 *     `const char *` results are borrowed from their parent object. Strings the caller must
 *     release say so and are released with eqops_free().
 *   - Callbacks take `void *payload` last; a non-zero return aborts the operation and that
 *     value is returned to the caller.
 *
 * Threads: libeqops is thread-safe without locking handles, like libcurl. Call eqops_init()
 * once before starting threads; never use one handle from two threads at the same time.
 */
#ifndef EQOPS_COMMON_H
#define EQOPS_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EQOPS_VERSION_MAJOR  0
#define EQOPS_VERSION_MINOR  2
#define EQOPS_VERSION_PATCH  0
#define EQOPS_VERSION_STRING "0.2.0"
/* One comparable number: 0xMMmmpp. */
#define EQOPS_VERSION_NUMBER                                                                       \
    ((EQOPS_VERSION_MAJOR << 16) | (EQOPS_VERSION_MINOR << 8) | EQOPS_VERSION_PATCH)

#if defined(__GNUC__) || defined(__clang__)
#define EQOPS_API __attribute__((visibility("default")))
#else
#define EQOPS_API
#endif

/*
 * Error codes. The numbers are part of the ABI and are never renumbered; new codes are only
 * appended.
 */
typedef enum eqops_code {
    EQOPS_OK = 0,
    EQOPS_EINVAL = -1,       /* invalid argument or input: the message names the field */
    EQOPS_ENOMEM = -2,       /* an allocation failed */
    EQOPS_ENOTFOUND = -3,    /* the object does not exist (HTTP 404, unknown tenant, ...) */
    EQOPS_EEXISTS = -4,      /* the object already exists */
    EQOPS_ECONFLICT = -5,    /* a precondition or concurrent change conflicts (HTTP 409) */
    EQOPS_EAUTH = -6,        /* not authenticated: bad or expired credentials (HTTP 401) */
    EQOPS_EFORBIDDEN = -7,   /* authenticated but not allowed (HTTP 403) */
    EQOPS_ETIMEOUT = -8,     /* a deadline passed */
    EQOPS_EUNAVAILABLE = -9, /* the service cannot be reached or answered 5xx after retries */
    EQOPS_EIO = -10,         /* a local I/O error (file, pipe, process) */
    EQOPS_ETLS = -11,        /* TLS failed: unknown CA, bad certificate or key, handshake */
    EQOPS_ETOOBIG = -12,     /* a response or input exceeds its size limit */
    EQOPS_EPROTO = -13,      /* the peer answered something malformed or unexpected */
    EQOPS_ECANCELED = -14,   /* cancelled: a token was triggered or a callback asked to stop */
    EQOPS_EBUSY = -15,       /* a lock is held by someone else */
    EQOPS_EGONE = -16,       /* the resource version or token expired (HTTP 410) */
    EQOPS_ERATELIMIT = -17,  /* throttled by the server (HTTP 429) after retries */
    EQOPS_ENOTSUP = -18,     /* the operation or option is not supported */
    EQOPS_EINTERNAL = -19    /* a bug or an impossible state; please report it */
} eqops_code;

/* Lowest (most negative) code this version knows (= EQOPS_EINTERNAL); bindings size tables. */
#define EQOPS_CODE_MIN (-19)

#define EQOPS_ERROR_VERSION 1

/*
 * Caller-owned error detail. Zero-initialise it (`eqops_error e = {0};`) or use
 * EQOPS_ERROR_INIT / eqops_error_init(). The library clears it before filling it, so one
 * struct can be reused across calls; call eqops_error_clear() when done to release `body`.
 * Messages never contain secrets (passwords, tokens, keys, signatures).
 */
typedef struct eqops_error {
    unsigned version;   /* EQOPS_ERROR_VERSION (0 is read as 1) */
    int code;           /* EQOPS_OK or a negative EQOPS_E* code */
    int http_status;    /* HTTP status of the upstream answer, 0 when there was none */
    double retry_after; /* seconds the server asked us to wait, 0 when it did not say */
    char message[256];  /* one line for humans */
    char reason[128];   /* upstream machine-readable reason: Kubernetes Status.reason,
                           AWS error type, SQLSTATE; empty when there is none */
    char field[128];    /* for validation errors: the input field at fault */
    char *body;         /* upstream raw body or NULL; owned, see eqops_error_clear() */
    size_t body_len;
} eqops_error;

#define EQOPS_ERROR_INIT                                                                           \
    {                                                                                              \
        EQOPS_ERROR_VERSION, 0, 0, 0.0, {0}, {0}, {0}, NULL, 0                                     \
    }

/* Initialise `error` (any prior content is ignored, nothing is freed). NULL-safe. */
EQOPS_API void eqops_error_init(eqops_error *error);

/* Release what `error` owns and reset it to EQOPS_OK. NULL-safe. */
EQOPS_API void eqops_error_clear(eqops_error *error);

/* Borrowed, static description of a code ("not found"); never NULL. */
EQOPS_API const char *eqops_strerror(int code);

/* Borrowed, static symbolic name of a code ("EQOPS_ENOTFOUND"); never NULL. */
EQOPS_API const char *eqops_code_name(int code);

/* The runtime library version as "MAJOR.MINOR.PATCH" (static, borrowed). */
EQOPS_API const char *eqops_version(void);

/* The runtime library version as EQOPS_VERSION_NUMBER would spell it. */
EQOPS_API unsigned eqops_version_number(void);

/*
 * Initialise global state (libcurl, jansson hashing seed). Reference counted: every successful
 * call needs one eqops_cleanup(). Not thread-safe: call it before starting threads.
 * Returns 0, EQOPS_ENOMEM or EQOPS_EINTERNAL.
 */
EQOPS_API int eqops_init(void);

/* Undo one eqops_init(); the last call releases global state. */
EQOPS_API void eqops_cleanup(void);

/*
 * Allocator hook. Every allocation made by libeqops goes through these functions, and so do
 * jansson's and libcurl's: eqops_init() installs the hook into both, process-wide, since they
 * only have global hooks (if libcurl was initialised before, its allocations stay with the
 * allocator it was given then). NULL restores the C library's malloc/realloc/free. A new
 * allocator must be able to release memory obtained from the previous one (wrap, do not
 * replace, the heap) unless it is installed before eqops_init(). Not thread-safe.
 * Returns 0 or EQOPS_EINVAL (version is not EQOPS_ALLOCATOR_VERSION, or a function is
 * missing).
 */
typedef struct eqops_allocator {
    unsigned version; /* 1 */
    void *(*malloc_fn)(size_t size, void *payload);
    void *(*realloc_fn)(void *ptr, size_t size, void *payload);
    void (*free_fn)(void *ptr, void *payload);
    void *payload;
} eqops_allocator;

#define EQOPS_ALLOCATOR_VERSION 1

EQOPS_API int eqops_set_allocator(const eqops_allocator *allocator);

/* Release memory that a libeqops function documented as "free with eqops_free()". NULL-safe. */
EQOPS_API void eqops_free(void *ptr);

/* Release a string that holds a secret (a password, a secret value): its bytes are overwritten
 * first, so the secret does not linger in freed memory. NULL-safe. */
EQOPS_API void eqops_free_secret(char *secret);

/* Log levels, most to least severe. */
typedef enum eqops_log_level {
    EQOPS_LOG_NONE = 0,
    EQOPS_LOG_ERROR = 1,
    EQOPS_LOG_WARN = 2,
    EQOPS_LOG_INFO = 3,
    EQOPS_LOG_DEBUG = 4,
    EQOPS_LOG_TRACE = 5
} eqops_log_level;

/*
 * Log callback: `module` is "core", "net", "k8s", ...; `message` is one line without a
 * trailing newline. Both are borrowed for the duration of the call. Lines never contain
 * secrets. May be called from any thread that calls into libeqops.
 */
typedef void (*eqops_log_fn)(eqops_log_level level, const char *module, const char *message,
                             void *payload);

/*
 * Install a log callback receiving lines up to `max_level`; NULL (the default) silences the
 * library. Not thread-safe: set it before starting threads.
 */
EQOPS_API void eqops_set_log(eqops_log_fn fn, eqops_log_level max_level, void *payload);

/* Static name of a level ("warn"); never NULL. */
EQOPS_API const char *eqops_log_level_name(eqops_log_level level);

/*
 * Durations in Prometheus notation: one or more <integer><unit> terms, largest unit first,
 * units y (365d) w d h m s ms: "30d", "1h30m", "500ms", or "0".
 */

/* Parse `text` into milliseconds. Returns 0 or EQOPS_EINVAL (not a duration, out of range). */
EQOPS_API int eqops_duration_parse(int64_t *out_ms, const char *text, eqops_error *err);

/*
 * Format milliseconds as the shortest Prometheus duration ("1h30m"; years and weeks only when
 * exact, so 90 days is "90d"). `*out` is new: free it with eqops_free(). Returns 0,
 * EQOPS_EINVAL (negative) or EQOPS_ENOMEM.
 */
EQOPS_API int eqops_duration_format(char **out, int64_t ms, eqops_error *err);

/* ---- cancellation ---------------------------------------------------------------------- */

/*
 * A cancellation token. Give it to a call through its options (`cancel`); when another thread
 * or a signal handler triggers it, the call stops at its next check: between steps, inside a
 * transfer (libcurl's progress callback), in a running Postgres query (PQcancel) and in every
 * wait between retries, and returns EQOPS_ECANCELED. What was finished stays finished; what
 * was interrupted is left as a killed process would leave it, for the next run to finish
 * (every mutating operation of the library is idempotent and resumable). A token may be
 * shared by several calls and threads; it stays triggered until reset.
 */
typedef struct eqops_cancel eqops_cancel;

/* A new token, not triggered (`*out` new: eqops_cancel_free). 0, EQOPS_ENOMEM, EQOPS_EIO. */
EQOPS_API int eqops_cancel_new(eqops_cancel **out, eqops_error *err);
/* Free a token no call uses any more. NULL-safe. */
EQOPS_API void eqops_cancel_free(eqops_cancel *c);
/* Trigger: thread-safe, async-signal-safe (a SIGINT handler may call it), idempotent. */
EQOPS_API void eqops_cancel_trigger(eqops_cancel *c);
/* 1 once triggered, else 0 (NULL: 0). */
EQOPS_API int eqops_cancel_triggered(const eqops_cancel *c);
/* Make a token untriggered again, for reuse; not while a call still uses it. */
EQOPS_API void eqops_cancel_reset(eqops_cancel *c);

#ifdef __cplusplus
}
#endif

#endif /* EQOPS_COMMON_H */
