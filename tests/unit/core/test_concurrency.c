/*
 * test_concurrency.c - the core's worker pool (every item once, events on the calling thread
 * in order, stopping by callback, by token and from an item, threads that cannot start),
 * cancellation tokens (other threads, signal handlers, waits cut short, reset) and the retry
 * policy (full jitter, Retry-After, limits, deadline, token).
 */
#include "core/core_internal.h"

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define N 500

typedef struct job_state {
    atomic_int runs[N];
    atomic_int started;
    pthread_t caller;
    atomic_int on_caller;  /* items run on the calling thread */
    size_t delivered;      /* events seen by deliver() */
    int delivered_off;     /* deliver() calls not on the calling thread */
    int stop_after;        /* deliver() answers 1 after this many events (0: never) */
    int stop_item;         /* work() calls eqops__pool_stop at this item (-1: never) */
    int64_t item_sleep_ms; /* each item sleeps this long */
    eqops_cancel *cancel;
} job_state;

static void work(eqops__pool *p, size_t i, void *arg)
{
    job_state *s = arg;
    atomic_fetch_add(&s->started, 1);
    atomic_fetch_add(&s->runs[i], 1);
    if (pthread_equal(pthread_self(), s->caller))
        atomic_fetch_add(&s->on_caller, 1);
    if (s->item_sleep_ms)
        eqops__sleep_cancel(s->cancel, s->item_sleep_ms);
    if ((int)i == s->stop_item)
        eqops__pool_stop(p);
    size_t *ev = eqops__malloc(sizeof(*ev));
    assert_non_null(ev);
    *ev = i;
    assert_int_equal(eqops__pool_post(p, ev), 0);
}

static int deliver(void *event, void *arg)
{
    job_state *s = arg;
    assert_true(*(size_t *)event < N);
    if (!pthread_equal(pthread_self(), s->caller))
        s->delivered_off++;
    s->delivered++;
    return s->stop_after && (int)s->delivered >= s->stop_after;
}

static job_state *new_state(void)
{
    job_state *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    s->caller = pthread_self();
    s->stop_item = -1;
    return s;
}

static eqops__pool_job job_of(job_state *s, size_t n, int concurrency)
{
    return (eqops__pool_job){.n = n,
                             .concurrency = concurrency,
                             .work = work,
                             .arg = s,
                             .deliver = deliver,
                             .event_free = eqops__free,
                             .cancel = s->cancel};
}

static void test_pool_every_item_once(void **state)
{
    (void)state;
    int concurrency[] = {0, 1, 2, 8, 64, 200};
    for (size_t c = 0; c < EQOPS__ARRAY_LEN(concurrency); c++) {
        job_state *s = new_state();
        eqops__pool_job j = job_of(s, N, concurrency[c]);
        eqops_error e = EQOPS_ERROR_INIT;
        assert_int_equal(eqops__pool_run(&j, &e), 0);
        for (size_t i = 0; i < N; i++)
            assert_int_equal(atomic_load(&s->runs[i]), 1);
        assert_int_equal(s->delivered, N); /* every event, on the calling thread */
        assert_int_equal(s->delivered_off, 0);
        /* on workers, one at a time too: the events are delivered while the items run */
        assert_int_equal(atomic_load(&s->on_caller), 0);
        free(s);
    }
    /* no events, one at a time: no thread at all */
    job_state *quiet = new_state();
    eqops__pool_job jq = job_of(quiet, N, 1);
    jq.deliver = NULL;
    assert_int_equal(eqops__pool_run(&jq, NULL), 0);
    assert_int_equal(atomic_load(&quiet->on_caller), N);
    free(quiet);
    /* one item, more than one thread allowed: a worker runs it, so its events reach the
     * caller while it runs */
    job_state *one = new_state();
    eqops__pool_job j1 = job_of(one, 1, 4);
    assert_int_equal(eqops__pool_run(&j1, NULL), 0);
    assert_int_equal(atomic_load(&one->on_caller), 0);
    assert_int_equal(one->delivered, 1);
    free(one);
    /* nothing to do */
    job_state *s = new_state();
    eqops__pool_job j = job_of(s, 0, 4);
    assert_int_equal(eqops__pool_run(&j, NULL), 0);
    assert_int_equal(s->delivered, 0);
    free(s);
}

static void test_pool_stops(void **state)
{
    (void)state;
    /* the callback's answer: no new item starts; what started finishes */
    job_state *s = new_state();
    s->stop_after = 10;
    s->item_sleep_ms = 2;
    eqops__pool_job j = job_of(s, N, 4);
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(eqops__pool_run(&j, &e), EQOPS_ECANCELED);
    assert_int_equal(e.code, EQOPS_ECANCELED);
    assert_true(atomic_load(&s->started) < N);
    assert_int_equal(s->delivered, 10); /* nothing delivered after the answer */
    eqops_error_clear(&e);
    free(s);

    /* an item stops the pool (a failure that ends the run): not a cancellation */
    s = new_state();
    s->stop_item = 5;
    j = job_of(s, N, 1);
    assert_int_equal(eqops__pool_run(&j, NULL), 0);
    assert_int_equal(atomic_load(&s->started), 6);
    free(s);
}

typedef struct trigger_later {
    eqops_cancel *c;
    int64_t after_ms;
} trigger_later;

static void *trigger_main(void *arg)
{
    trigger_later *t = arg;
    eqops__sleep_ms(t->after_ms);
    eqops_cancel_trigger(t->c);
    return NULL;
}

static void test_pool_cancel(void **state)
{
    (void)state;
    job_state *s = new_state();
    assert_int_equal(eqops_cancel_new(&s->cancel, NULL), 0);
    s->item_sleep_ms = 20;
    trigger_later t = {s->cancel, 100};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, trigger_main, &t), 0);
    eqops__pool_job j = job_of(s, N, 2);
    eqops_error e = EQOPS_ERROR_INIT;
    int64_t t0 = eqops__mono_ms();
    assert_int_equal(eqops__pool_run(&j, &e), EQOPS_ECANCELED);
    assert_true(eqops__mono_ms() - t0 < 5000); /* not the 5 s the items would take */
    assert_true(atomic_load(&s->started) < N);
    assert_non_null(strstr(e.message, "cancelled"));
    pthread_join(th, NULL);
    /* a token triggered before the run: nothing starts */
    eqops_error_clear(&e);
    int before = atomic_load(&s->started);
    assert_int_equal(eqops__pool_run(&j, &e), EQOPS_ECANCELED);
    assert_int_equal(atomic_load(&s->started), before);
    eqops_error_clear(&e);
    eqops_cancel_free(s->cancel);
    free(s);
}

static void test_pool_threads_that_cannot_start(void **state)
{
    (void)state;
    int limits[] = {0, 1, 3};
    for (size_t l = 0; l < EQOPS__ARRAY_LEN(limits); l++) {
        eqops__pool_test_thread_limit(limits[l]);
        job_state *s = new_state();
        eqops__pool_job j = job_of(s, N, 8);
        assert_int_equal(eqops__pool_run(&j, NULL), 0);
        for (size_t i = 0; i < N; i++)
            assert_int_equal(atomic_load(&s->runs[i]), 1);
        assert_int_equal(s->delivered, N);
        assert_int_equal(s->delivered_off, 0);
        /* no thread at all: the calling thread did everything */
        assert_int_equal(atomic_load(&s->on_caller), limits[l] == 0 ? N : 0);
        free(s);
    }
    eqops__pool_test_thread_limit(-1);
}

static eqops_cancel *signal_token;

static void on_signal(int sig)
{
    (void)sig;
    eqops_cancel_trigger(signal_token);
}

static void test_cancel_token(void **state)
{
    (void)state;
    eqops_cancel *c = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(eqops_cancel_new(NULL, &e), EQOPS_EINVAL);
    eqops_error_clear(&e);
    assert_int_equal(eqops_cancel_new(&c, NULL), 0);
    assert_int_equal(eqops_cancel_triggered(c), 0);
    assert_int_equal(eqops_cancel_triggered(NULL), 0);
    assert_int_equal(eqops__cancel_check(c, "x", NULL), 0);
    assert_int_equal(eqops__cancel_fd(NULL), -1);
    /* a short sleep runs its time */
    int64_t t0 = eqops__mono_ms();
    assert_int_equal(eqops__sleep_cancel(c, 50), 0);
    assert_true(eqops__mono_ms() - t0 >= 50);
    /* another thread cuts a long sleep short */
    trigger_later t = {c, 50};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, trigger_main, &t), 0);
    t0 = eqops__mono_ms();
    assert_int_equal(eqops__sleep_cancel(c, 20000), EQOPS_ECANCELED);
    assert_true(eqops__mono_ms() - t0 < 10000);
    pthread_join(th, NULL);
    assert_int_equal(eqops_cancel_triggered(c), 1);
    eqops_cancel_trigger(c); /* idempotent */
    assert_int_equal(eqops__cancel_check(c, "watch", &e), EQOPS_ECANCELED);
    assert_string_equal(e.message, "watch: cancelled");
    eqops_error_clear(&e);
    /* reset: usable again */
    eqops_cancel_reset(c);
    assert_int_equal(eqops_cancel_triggered(c), 0);
    assert_int_equal(eqops__sleep_cancel(c, 20), 0);
    /* from a signal handler */
    signal_token = c;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGUSR1, &sa, &old);
    raise(SIGUSR1);
    sigaction(SIGUSR1, &old, NULL);
    assert_int_equal(eqops_cancel_triggered(c), 1);
    assert_int_equal(eqops__sleep_cancel(c, 20000), EQOPS_ECANCELED);
    eqops_cancel_free(c);
    eqops_cancel_free(NULL);
    eqops_cancel_trigger(NULL);
    eqops_cancel_reset(NULL);
}

static double fixed_random;
static double fixed(void)
{
    return fixed_random;
}

static void test_backoff(void **state)
{
    (void)state;
    eqops__backoff_set_random(fixed);
    eqops__backoff b = {
        .base_ms = 100, .cap_ms = 5000, .retry_after_cap_ms = 20000, .max_retries = 3};
    fixed_random = 0.999999;
    /* full jitter: up to base * 2^(retry-1), capped */
    assert_int_equal(eqops__backoff_delay(&b, 1, 0), 99);
    assert_int_equal(eqops__backoff_delay(&b, 2, 0), 199);
    assert_int_equal(eqops__backoff_delay(&b, 4, 0), 799);
    assert_int_equal(eqops__backoff_delay(&b, 30, 0), 4999);
    assert_int_equal(eqops__backoff_delay(&b, 5000, 0), 4999); /* no overflow */
    fixed_random = 0;
    assert_int_equal(eqops__backoff_delay(&b, 3, 0), 0);
    /* Retry-After wins, up to its cap */
    assert_int_equal(eqops__backoff_delay(&b, 1, 7.5), 7500);
    assert_int_equal(eqops__backoff_delay(&b, 1, 3600), 20000);
    b.retry_after_cap_ms = 0; /* then the backoff cap */
    assert_int_equal(eqops__backoff_delay(&b, 1, 3600), 5000);
    /* limits */
    int64_t w = -1;
    fixed_random = 0.5;
    assert_true(eqops__backoff_next(&b, 1, 0, &w));
    assert_int_equal(w, 50);
    assert_true(eqops__backoff_next(&b, 3, 0, &w));
    assert_false(eqops__backoff_next(&b, 4, 0, &w)); /* max_retries */
    assert_int_equal(w, 0);
    assert_false(eqops__backoff_next(&b, 0, 0, &w));
    b.max_retries = -1;
    assert_true(eqops__backoff_next(&b, 1000, 0, &w));
    b.deadline_ms = eqops__mono_ms() + 1000; /* a wait that would pass the deadline */
    assert_true(eqops__backoff_next(&b, 1, 0, &w));
    assert_false(eqops__backoff_next(&b, 1, 2.0, &w));
    b.deadline_ms = 0;
    eqops_cancel *c = NULL;
    assert_int_equal(eqops_cancel_new(&c, NULL), 0);
    b.cancel = c;
    assert_true(eqops__backoff_next(&b, 1, 0, &w));
    assert_int_equal(eqops__backoff_wait(&b, w), 0);
    eqops_cancel_trigger(c);
    /* triggered: "retry at once", and the wait says cancelled (a "no" would have been taken
     * for the end of the retries: a cancelled watch returned 0) */
    assert_true(eqops__backoff_next(&b, 1, 0, &w));
    assert_int_equal(w, 0);
    assert_int_equal(eqops__backoff_wait(&b, w), EQOPS_ECANCELED);
    b.max_retries = 3;
    assert_false(eqops__backoff_next(&b, 4, 0, &w)); /* past max_retries still no */
    assert_int_equal(eqops__backoff_wait(&b, 10000), EQOPS_ECANCELED);
    eqops_cancel_free(c);
    eqops__backoff_set_random(NULL);
    /* the real jitter stays within its bounds */
    b = (eqops__backoff){.base_ms = 100, .cap_ms = 1000, .max_retries = 5};
    for (int i = 0; i < 1000; i++) {
        int64_t d = eqops__backoff_delay(&b, 1 + i % 6, 0);
        assert_true(d >= 0 && d < (i % 6 >= 4 ? 1000 : 100 << (i % 6)));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_every_item_once),
        cmocka_unit_test(test_pool_stops),
        cmocka_unit_test(test_pool_cancel),
        cmocka_unit_test(test_pool_threads_that_cannot_start),
        cmocka_unit_test(test_cancel_token),
        cmocka_unit_test(test_backoff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
