/*
 * pool.c - the one worker pool: items 0..n-1 run on at most `concurrency` threads, and the
 * events the workers post (progress) are delivered in order on the calling thread, so a
 * caller's callback never runs on a thread it did not make. A non-zero answer from the
 * callback, a cancelled token or eqops__pool_stop() starts no new item; items already running
 * finish (they may look at eqops__pool_stopping() between their own steps).
 *
 * When a thread cannot be started the pool runs with those that did; when none did, the
 * calling thread works through the items itself and delivers events between them. Either
 * way every item runs once and the result is the same, only slower.
 */
#include "core_internal.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

#define MOD             "core"
#define MAX_THREADS     64
#define CANCEL_CHECK_MS 50

typedef struct pool_event {
    void *event;
    struct pool_event *next;
} pool_event;

struct eqops__pool {
    const eqops__pool_job *job;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t next;   /* the next item to start */
    size_t active; /* workers still running */
    bool stop;     /* start nothing new */
    pool_event *head, *tail;
    int answer; /* the deliver callback's non-zero answer */
};

static int threads_allowed = -1; /* tests: threads that may start; -1 = no limit */

void eqops__pool_test_thread_limit(int n)
{
    threads_allowed = n;
}

int eqops__pool_post(eqops__pool *p, void *event)
{
    if (event == NULL)
        return 0;
    pool_event *e = eqops__malloc(sizeof(*e));
    pthread_mutex_lock(&p->mu);
    bool take = e != NULL && p->job->deliver != NULL && p->answer == 0;
    if (take) {
        e->event = event;
        e->next = NULL;
        if (p->tail)
            p->tail->next = e;
        else
            p->head = e;
        p->tail = e;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    if (!take) {
        eqops__free(e);
        if (p->job->event_free)
            p->job->event_free(event);
        return e == NULL ? EQOPS_ENOMEM : 0;
    }
    return 0;
}

void eqops__pool_stop(eqops__pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

bool eqops__pool_stopping(eqops__pool *p)
{
    if (eqops_cancel_triggered(p->job->cancel))
        return true;
    pthread_mutex_lock(&p->mu);
    bool s = p->stop;
    pthread_mutex_unlock(&p->mu);
    return s;
}

/* The next item to run, or false when there is none or the pool stops. Lock held. */
static bool take_item(eqops__pool *p, size_t *i)
{
    if (eqops_cancel_triggered(p->job->cancel))
        p->stop = true;
    if (p->stop || p->next >= p->job->n)
        return false;
    *i = p->next++;
    return true;
}

static void *worker_main(void *arg)
{
    eqops__pool *p = arg;
    for (;;) {
        size_t i;
        pthread_mutex_lock(&p->mu);
        if (!take_item(p, &i)) {
            p->active--;
            pthread_cond_broadcast(&p->cv);
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        pthread_mutex_unlock(&p->mu);
        p->job->work(p, i, p->job->arg);
    }
}

/* Deliver the queued events on the calling thread. Lock held on entry and exit. */
static void deliver(eqops__pool *p)
{
    while (p->head) {
        pool_event *e = p->head;
        p->head = e->next;
        if (p->head == NULL)
            p->tail = NULL;
        bool call = p->answer == 0; /* nothing more once the caller asked to stop */
        pthread_mutex_unlock(&p->mu);
        int answer = call ? p->job->deliver(e->event, p->job->arg) : 0;
        if (p->job->event_free)
            p->job->event_free(e->event);
        eqops__free(e);
        pthread_mutex_lock(&p->mu);
        if (answer != 0 && p->answer == 0) {
            p->answer = answer;
            p->stop = true;
        }
    }
}

static void timed_wait(eqops__pool *p)
{
    if (p->job->cancel == NULL) {
        pthread_cond_wait(&p->cv, &p->mu);
        return;
    }
    /* a token does not signal the condition variable: look at it every few milliseconds */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += CANCEL_CHECK_MS * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&p->cv, &p->mu, &ts);
    if (eqops_cancel_triggered(p->job->cancel))
        p->stop = true;
}

int eqops__pool_run(const eqops__pool_job *job, eqops_error *err)
{
    if (job->n == 0)
        return eqops__cancel_check(job->cancel, "operation", err);
    eqops__pool p = {.job = job};
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    size_t want = job->concurrency > 1 ? (size_t)job->concurrency : 1;
    if (want > job->n)
        want = job->n;
    if (want > MAX_THREADS)
        want = MAX_THREADS;
    pthread_t threads[MAX_THREADS];
    size_t started = 0;
    pthread_mutex_lock(&p.mu);
    /* with events to deliver, items run on workers (one, for one at a time) so that their
     * events reach the caller while they run (a tenant's progress, its callback's answer);
     * without, one at a time needs no thread */
    if (job->concurrency > 1 || job->deliver != NULL) {
        for (; started < want; started++) {
            p.active++;
            int e = threads_allowed >= 0 && started >= (size_t)threads_allowed
                        ? EAGAIN
                        : pthread_create(&threads[started], NULL, worker_main, &p);
            if (e != 0) {
                p.active--;
                eqops__log(EQOPS_LOG_WARN, MOD,
                           "could not start worker thread %zu of %zu (%s); going on with %zu",
                           started + 1, want, strerror(e), started ? started : 1);
                break;
            }
        }
    }
    if (started == 0) {
        /* the calling thread does the work, delivering events between items */
        size_t i;
        while (take_item(&p, &i)) {
            pthread_mutex_unlock(&p.mu);
            job->work(&p, i, job->arg);
            pthread_mutex_lock(&p.mu);
            deliver(&p);
        }
    }
    for (;;) {
        deliver(&p);
        if (p.active == 0 && p.head == NULL)
            break;
        timed_wait(&p);
    }
    bool unfinished = p.next < job->n;
    int answer = p.answer;
    pthread_mutex_unlock(&p.mu);
    for (size_t t = 0; t < started; t++)
        pthread_join(threads[t], NULL);
    pthread_cond_destroy(&p.cv);
    pthread_mutex_destroy(&p.mu);
    if (answer != 0)
        return eqops__err(err, EQOPS_ECANCELED, "stopped by the progress callback");
    if (unfinished && eqops_cancel_triggered(job->cancel))
        return eqops__err(err, EQOPS_ECANCELED, "cancelled");
    return 0;
}
