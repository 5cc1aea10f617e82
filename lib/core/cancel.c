/*
 * cancel.c - cancellation tokens: one thread (or a signal handler) triggers, every call holding
 * the token stops at its next check, and every wait on it wakes at once.
 *
 * A token is an atomic flag and a non-blocking pipe. Triggering sets the flag and writes one
 * byte, both async-signal-safe, so a SIGINT handler may trigger it. Waits poll the pipe's read
 * end (eqops__cancel_fd) together with what they wait for: a sleep between retries, a libpq
 * socket.
 */
#define _GNU_SOURCE
#include "core_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <unistd.h>

struct eqops_cancel {
    atomic_int triggered;
    int fd[2]; /* read end, write end */
};

int eqops_cancel_new(eqops_cancel **out, eqops_error *err)
{
    if (out == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "out", "must not be NULL");
    *out = NULL;
    eqops_cancel *c = eqops__calloc(1, sizeof(*c));
    if (c == NULL)
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    if (pipe2(c->fd, O_NONBLOCK | O_CLOEXEC) != 0) {
        int code = eqops__errno_code(errno);
        eqops__free(c);
        return eqops__err(err, code, "cancellation token: pipe: %s", strerror(errno));
    }
    atomic_init(&c->triggered, 0);
    *out = c;
    return 0;
}

void eqops_cancel_free(eqops_cancel *c)
{
    if (c == NULL)
        return;
    close(c->fd[0]);
    close(c->fd[1]);
    eqops__free(c);
}

void eqops_cancel_trigger(eqops_cancel *c)
{
    if (c == NULL)
        return;
    if (atomic_exchange(&c->triggered, 1) == 0) {
        int saved = errno; /* a signal handler must leave errno as it found it */
        ssize_t n = write(c->fd[1], "x", 1);
        (void)n; /* a full pipe is already readable */
        errno = saved;
    }
}

int eqops_cancel_triggered(const eqops_cancel *c)
{
    return c != NULL && atomic_load(&((eqops_cancel *)c)->triggered) != 0;
}

void eqops_cancel_reset(eqops_cancel *c)
{
    if (c == NULL)
        return;
    char drain[16];
    while (read(c->fd[0], drain, sizeof(drain)) > 0) {
    }
    atomic_store(&c->triggered, 0);
}

int eqops__cancel_fd(const eqops_cancel *c)
{
    return c ? c->fd[0] : -1;
}

int eqops__cancel_check(const eqops_cancel *c, const char *what, eqops_error *err)
{
    if (!eqops_cancel_triggered(c))
        return 0;
    return eqops__err(err, EQOPS_ECANCELED, "%s: cancelled", what ? what : "operation");
}

int eqops__sleep_cancel(const eqops_cancel *c, int64_t ms)
{
    if (c == NULL) {
        eqops__sleep_ms(ms);
        return 0;
    }
    int64_t deadline = eqops__mono_ms() + (ms > 0 ? ms : 0);
    for (;;) {
        if (eqops_cancel_triggered(c))
            return EQOPS_ECANCELED;
        int64_t left = deadline - eqops__mono_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = {.fd = c->fd[0], .events = POLLIN};
        int r = poll(&p, 1, left > 60000 ? 60000 : (int)left);
        if (r < 0 && errno != EINTR)
            eqops__sleep_ms(left > 10 ? 10 : left); /* cannot poll: check again soon */
    }
}
