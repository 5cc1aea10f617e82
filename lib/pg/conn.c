/*
 * conn.c - the admin connection: conninfo handling, connecting with retries, statements with
 * SQLSTATE-classified retries, advisory locks and identifier/literal escaping.
 */
#include "pg_internal.h"

#include <errno.h>
#include <libpq-events.h>
#include <limits.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>

#define MOD "pg"

/* ---- SQLSTATE classification ------------------------------------------------------------ */

typedef enum retry_class { RETRY_NONE, RETRY_RECONNECT, RETRY_TXN, RETRY_BACKOFF } retry_class;

static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static retry_class classify(const char *sqlstate, const char *message)
{
    if (starts(sqlstate, "08") || !strcmp(sqlstate, "57P01") || !strcmp(sqlstate, "57P02") ||
        !strcmp(sqlstate, "57P03") || !strcmp(sqlstate, "25006"))
        return RETRY_RECONNECT; /* connection lost, shutdown, starting up, demoted primary */
    if (!strcmp(sqlstate, "40001") || !strcmp(sqlstate, "40P01"))
        return RETRY_TXN; /* serialization failure, deadlock */
    if (!strcmp(sqlstate, "55P03") || !strcmp(sqlstate, "55006"))
        return RETRY_BACKOFF; /* lock timeout, object in use (a busy template) */
    if (!strcmp(sqlstate, "XX000") && strstr(message, "tuple concurrently updated") != NULL)
        return RETRY_BACKOFF; /* concurrent GRANT/REVOKE on one shared object */
    return RETRY_NONE;
}

bool eqops__pg_transient(const eqops_error *err)
{
    return err != NULL && classify(err->reason, err->message) != RETRY_NONE;
}

int eqops__pg_sqlstate_code(const char *sqlstate)
{
    static const struct {
        const char *state;
        int code;
    } map[] = {
        {"42P04", EQOPS_EEXISTS},      {"42710", EQOPS_EEXISTS},    {"3D000", EQOPS_ENOTFOUND},
        {"42704", EQOPS_ENOTFOUND},    {"42P01", EQOPS_ENOTFOUND},  {"28P01", EQOPS_EAUTH},
        {"28000", EQOPS_EAUTH},        {"42501", EQOPS_EFORBIDDEN}, {"57014", EQOPS_ETIMEOUT},
        {"55P03", EQOPS_EBUSY},        {"55006", EQOPS_EBUSY},      {"53300", EQOPS_EUNAVAILABLE},
        {"40001", EQOPS_ECONFLICT},    {"40P01", EQOPS_ECONFLICT},  {"2BP01", EQOPS_ECONFLICT},
        {"23505", EQOPS_ECONFLICT},    {"22023", EQOPS_EINVAL},     {"42601", EQOPS_EINVAL},
        {"53100", EQOPS_EUNAVAILABLE}, {"53200", EQOPS_ENOMEM},
    };
    for (size_t i = 0; i < EQOPS__ARRAY_LEN(map); i++)
        if (!strcmp(sqlstate, map[i].state))
            return map[i].code;
    if (starts(sqlstate, "08") || starts(sqlstate, "57P"))
        return EQOPS_EUNAVAILABLE;
    if (starts(sqlstate, "22") || starts(sqlstate, "42"))
        return EQOPS_EINVAL;
    return EQOPS_EUNAVAILABLE;
}

/* ---- statements --------------------------------------------------------------------------- */

static int result_error(PGconn *c, PGresult *r, const char *what, eqops_error *err)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *detail = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL) : NULL;
    if (state == NULL) /* no answer from the server: the connection broke */
        state = PQstatus(c) == CONNECTION_BAD ? "08006" : "08000";
    if (primary == NULL) {
        primary = PQerrorMessage(c);
        if (primary == NULL || *primary == '\0')
            primary = "the connection to the server was lost";
    }
    int code = eqops__pg_sqlstate_code(state);
    eqops__err(err, code, "%s: %s%s%s", what, primary, detail ? " (" : "", detail ? detail : "");
    if (detail && err && strlen(err->message) < sizeof(err->message) - 1)
        snprintf(err->message + strlen(err->message), sizeof(err->message) - strlen(err->message),
                 ")");
    eqops__err_upstream(err, 0, state, 0);
    return code;
}

/* The handle a connection belongs to, as libpq instance data (set by eqops__pg_session_setup):
 * its token stops the connection's statements. */
static int conn_event(PGEventId id, void *info, void *pass)
{
    (void)id, (void)info, (void)pass;
    return 1;
}

static const eqops_cancel *conn_cancel(const PGconn *c)
{
    const eqops_pg *pg = c ? PQinstanceData(c, conn_event) : NULL;
    return pg ? pg->cancel : NULL;
}

static int sock_wait(int sock, bool write, const eqops_cancel *cancel, int64_t deadline);

/*
 * The answer to a statement sent with PQsendQuery*: waits on the socket and the token; once
 * the token is triggered, PQcancel asks the server to stop the statement (a transaction it
 * ran in fails, and is rolled back) and the answers are drained. Returns the first error
 * result, else the last one (as PQexec), or NULL; *cancelled when the token stopped it.
 */
static PGresult *await_result(PGconn *c, const eqops_cancel *cancel, bool *cancelled)
{
    *cancelled = false;
    while (PQisBusy(c)) {
        int w = sock_wait(PQsocket(c), false, cancel, 0);
        if (w == EQOPS_ECANCELED) {
            char why[256];
            PGcancel *pc = PQgetCancel(c);
            if (pc == NULL || !PQcancel(pc, why, (int)sizeof(why)))
                eqops__log(EQOPS_LOG_WARN, MOD, "could not cancel a statement: %s",
                           pc ? why : "out of memory");
            PQfreeCancel(pc);
            *cancelled = true;
            break; /* PQgetResult below waits for the server's answer to the cancel */
        }
        if (!PQconsumeInput(c))
            break;
    }
    PGresult *last = NULL, *r;
    while ((r = PQgetResult(c)) != NULL) {
        ExecStatusType st = PQresultStatus(r);
        if (last != NULL && PQresultStatus(last) == PGRES_FATAL_ERROR) {
            PQclear(r);
            continue;
        }
        PQclear(last);
        last = r;
        if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH)
            break; /* eqops never copies: result_error reports it */
    }
    return last;
}

int eqops__pg_exec(PGconn *c, const char *what, const char *sql, int nparams,
                   const char *const *params, PGresult **res, eqops_error *err)
{
    if (res)
        *res = NULL;
    const eqops_cancel *cancel = conn_cancel(c);
    if (eqops__cancel_check(cancel, what, err) != 0)
        return EQOPS_ECANCELED;
    /* several statements in one text (a migration) go as a simple query, as PQexec does */
    int sent = nparams > 0 || res != NULL
                   ? PQsendQueryParams(c, sql, nparams, NULL, params, NULL, NULL, 0)
                   : PQsendQuery(c, sql);
    bool cancelled = false;
    PGresult *r = sent ? await_result(c, cancel, &cancelled) : NULL;
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (cancelled) {
        /* never reported as done, even when the statement ended before the cancel came */
        PQclear(r);
        return eqops__err(err, EQOPS_ECANCELED, "%s: cancelled", what);
    }
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        if (res)
            *res = r;
        else
            PQclear(r);
        return 0;
    }
    int rc = result_error(c, r, what, err);
    PQclear(r);
    return rc;
}

int eqops__pg_ident(eqops_buf *b, PGconn *c, const char *name)
{
    char *q = PQescapeIdentifier(c, name, strlen(name));
    if (q == NULL) { /* out of memory, or not valid in the client encoding */
        b->oom = true;
        return EQOPS_ENOMEM;
    }
    eqops__buf_puts(b, q);
    PQfreemem(q);
    return eqops__buf_ok(b);
}

int eqops__pg_literal(eqops_buf *b, PGconn *c, const char *text)
{
    char *q = PQescapeLiteral(c, text, strlen(text));
    if (q == NULL) {
        b->oom = true;
        return EQOPS_ENOMEM;
    }
    eqops__buf_puts(b, q);
    /* a literal may be a password verifier: wipe libpq's copy */
    eqops__wipe(q, strlen(q));
    PQfreemem(q);
    return eqops__buf_ok(b);
}

/* ---- connecting ---------------------------------------------------------------------------- */

static void notice_log(void *arg, const char *message)
{
    (void)arg;
    if (eqops__log_enabled(EQOPS_LOG_DEBUG)) {
        size_t n = strlen(message);
        eqops__log(EQOPS_LOG_DEBUG, MOD, "server notice: %.*s",
                   (int)(n && message[n - 1] == '\n' ? n - 1 : n), message);
    }
}

/* Whether `line` is the source location a verbose message ends with ("...:  auth_failed,
 * auth.c:335"): the server's file and line, of no use to a reader. */
static bool location_line(const char *line, size_t k)
{
    size_t i = k;
    while (i > 0 && line[i - 1] >= '0' && line[i - 1] <= '9')
        i--;
    return i < k && i >= 3 && line[i - 1] == ':' && line[i - 2] == 'c' && line[i - 3] == '.' &&
           memchr(line, ',', i) != NULL;
}

/* "XXXXX: " at `p`: a SQLSTATE as libpq's verbose messages put it after the severity. */
static bool sqlstate_at(const char *p)
{
    for (int i = 0; i < 5; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'A' && p[i] <= 'Z')))
            return false;
    return p[5] == ':' && p[6] == ' ';
}

/*
 * libpq's message, one line: a line per server tried, hint lines (a tab first) and source
 * locations left out. The connection asked for verbose messages, so a server's refusal
 * carries its SQLSTATE ("FATAL:  28P01: password ..."): the last one goes to `state` ("" when
 * no server answered with an error) and out of the text.
 */
static void connect_message(const char *m, char *out, size_t len, char state[6])
{
    size_t n = 0;
    state[0] = '\0';
    for (const char *line = m; *line && n + 3 < len;) {
        size_t k = strcspn(line, "\n");
        if (k > 0 && line[0] != '\t' && !location_line(line, k)) {
            if (n > 0) {
                out[n++] = ';';
                out[n++] = ' ';
            }
            const char *sev = strstr(line, ":  ");
            size_t skip_at = k, skip = 0;
            if (sev != NULL && (size_t)(sev - line) + 10 <= k && sqlstate_at(sev + 3)) {
                memcpy(state, sev + 3, 5);
                state[5] = '\0';
                skip_at = (size_t)(sev - line) + 3;
                skip = 7;
            }
            for (size_t i = 0; i < k && n < len - 1; i++) {
                if (i == skip_at)
                    i += skip;
                if (i < k)
                    out[n++] = line[i];
            }
        }
        line += k + (line[k] == '\n');
    }
    while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\r'))
        n--;
    out[n] = '\0';
    for (char *p = out; *p; p++)
        if (*p == '\r' || *p == '\t')
            *p = ' ';
}

/* How a connection attempt ended on this side. */
typedef struct pg_attempt {
    bool cancelled; /* the handle's token */
    bool timed_out; /* connect_timeout for each host of the list */
} pg_attempt;

/*
 * The one classification of failed connections (there is no PGresult): by the SQLSTATE of the
 * server's refusal when a server answered (locale-independent), else by what libpq saw on
 * this side. `*transient` when another attempt may succeed.
 */
static int connect_error(PGconn *c, const pg_attempt *at, const char *db, eqops_error *err,
                         bool *transient)
{
    char msg[256], state[6];
    const char *m = c ? PQerrorMessage(c) : NULL;
    connect_message(m ? m : "", msg, sizeof(msg), state);
    *transient = false;
    if (c == NULL)
        return eqops__err(err, EQOPS_ENOMEM, "connect to database %s: out of memory", db);
    if (at->cancelled)
        return eqops__err(err, EQOPS_ECANCELED, "connect to database %s: cancelled", db);
    int code = EQOPS_EUNAVAILABLE;
    if (at->timed_out) {
        code = EQOPS_ETIMEOUT;
        snprintf(state, sizeof(state), "08001");
        snprintf(msg, sizeof(msg), "timeout expired");
        *transient = true;
    } else if (state[0]) {
        code = eqops__pg_sqlstate_code(state);
        /* connection trouble, too many connections, starting up or shutting down */
        *transient = starts(state, "08") || starts(state, "53300") || starts(state, "57P");
    } else if (PQconnectionNeedsPassword(c)) {
        code = EQOPS_EAUTH; /* the server asked for a password and there was none */
        snprintf(state, sizeof(state), "28P01");
    } else {
        snprintf(state, sizeof(state), "08001");
        *transient = true; /* refused, reset, a server that takes no writes */
    }
    eqops__err(err, code, "connect to database %s: %s", db, msg);
    eqops__err_upstream(err, 0, state, 0);
    return code;
}

/*
 * Wait until `sock` is ready to read (or write), the token is triggered or `deadline`
 * (eqops__mono_ms time; 0: none) passes: 1 ready, 0 the deadline, EQOPS_ECANCELED.
 */
static int sock_wait(int sock, bool write, const eqops_cancel *cancel, int64_t deadline)
{
    for (;;) {
        if (eqops_cancel_triggered(cancel))
            return EQOPS_ECANCELED;
        struct pollfd fds[2] = {{sock, (short)(write ? POLLOUT : POLLIN), 0},
                                {eqops__cancel_fd(cancel), POLLIN, 0}};
        int timeout = -1;
        if (deadline > 0) {
            int64_t left = deadline - eqops__mono_ms();
            if (left <= 0)
                return 0;
            timeout = left > INT_MAX ? INT_MAX : (int)left;
        }
        int n = poll(fds, 2, timeout);
        if (n < 0 && errno == EINTR)
            continue;
        if (fds[1].revents != 0 || eqops_cancel_triggered(cancel))
            return EQOPS_ECANCELED;
        if (n != 0)
            return 1; /* ready, or an error libpq will find */
    }
}

/* The number of servers of the host list (at least 1). */
static int host_count(const eqops_pg *pg)
{
    const char *h = eqops__pg_param(pg, "host"), *a = eqops__pg_param(pg, "hostaddr");
    const char *v = a && *a ? a : h;
    int n = 1;
    for (; v && *v; v++)
        n += *v == ',';
    return n;
}

/*
 * Connect with PQconnectStartParams/PQconnectPoll, waiting on the socket and the handle's
 * token, so a cancelled connect stops at once. libpq's connect_timeout (whole seconds, per
 * server; 1 counts as 2, 0 none) bounds the wait, for each server of the list.
 */
static PGconn *connect_params(const eqops_pg *pg, const char *const *keys,
                              const char *const *values, pg_attempt *at)
{
    memset(at, 0, sizeof(*at));
    PGconn *c = PQconnectStartParams(keys, values, 0);
    if (c == NULL)
        return NULL;
    /* a server's refusal with its SQLSTATE: connect_error classifies by it */
    PQsetErrorVerbosity(c, PQERRORS_VERBOSE);
    const char *t = eqops__pg_param(pg, "connect_timeout");
    long timeout_s = t ? strtol(t, NULL, 10) : 0;
    if (timeout_s == 1)
        timeout_s = 2;
    int64_t deadline =
        timeout_s > 0 ? eqops__mono_ms() + (int64_t)timeout_s * 1000 * host_count(pg) : 0;
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED && PQstatus(c) != CONNECTION_BAD) {
        int w = sock_wait(PQsocket(c), st == PGRES_POLLING_WRITING, pg->cancel, deadline);
        if (w != 1) {
            at->cancelled = w == EQOPS_ECANCELED;
            at->timed_out = w == 0;
            break;
        }
        st = PQconnectPoll(c);
    }
    PQsetErrorVerbosity(c, PQERRORS_DEFAULT);
    return c;
}

void eqops__pg_session_setup(PGconn *c, eqops_pg *pg)
{
    PQsetNoticeProcessor(c, notice_log, NULL);
    if (PQregisterEventProc(c, conn_event, "eqops", NULL))
        PQsetInstanceData(c, conn_event, pg);
}

long eqops__pg_backoff_ms(int attempt)
{
    long base = 200L << (attempt < 5 ? attempt : 5); /* 200, 400, 800, 1600, 3200, 6400 */
    return base / 2 + (long)(eqops__random_unit() * (double)base / 2);
}

int eqops__pg_connect_params(PGconn **out, eqops_pg *pg, const char *const *keys,
                             const char *const *values, bool *password_used, bool *transient,
                             eqops_error *err)
{
    pg_attempt how;
    PGconn *c = connect_params(pg, keys, values, &how);
    *out = NULL;
    *password_used = false;
    *transient = false;
    if (c != NULL && PQstatus(c) == CONNECTION_OK) {
        eqops__pg_session_setup(c, pg);
        *out = c;
        return 0;
    }
    const char *db = "(unnamed)";
    for (size_t i = 0; keys[i]; i++)
        if (!strcmp(keys[i], "dbname") && values[i])
            db = values[i];
    int rc = connect_error(c, &how, db, err, transient);
    *password_used = c != NULL && PQconnectionUsedPassword(c);
    PQfinish(c);
    return rc;
}

/* The primary's address, when known, replaces the host list. */
typedef struct pg_where {
    char host[256], addr[64], port[16];
} pg_where;

/* Connect to `db` through the host list, or on `at` only. */
static PGconn *connect_to(eqops_pg *pg, const char *db, const pg_where *at, pg_attempt *how)
{
    const char *keys[PG_MAX_PARAMS + 4], *values[PG_MAX_PARAMS + 4];
    bool have_port = false, have_addr = false;
    int n = 0;
    for (; pg->keywords[n]; n++) {
        keys[n] = pg->keywords[n];
        values[n] = n == pg->dbname_index ? db : pg->values[n];
        if (at == NULL)
            continue;
        if (!strcmp(keys[n], "host"))
            values[n] = at->host;
        else if (!strcmp(keys[n], "hostaddr"))
            values[n] = at->addr[0] ? at->addr : NULL, have_addr = true;
        else if (!strcmp(keys[n], "port"))
            values[n] = at->port, have_port = true;
    }
    if (at != NULL) {
        keys[n] = "host", values[n++] = at->host; /* PGHOST's list: a later keyword wins */
        if (!have_port)
            keys[n] = "port", values[n++] = at->port;
        if (!have_addr && at->addr[0]) /* the address libpq found: no second name lookup */
            keys[n] = "hostaddr", values[n++] = at->addr;
    }
    keys[n] = NULL, values[n] = NULL;
    return connect_params(pg, keys, values, how);
}

int eqops__pg_find_primary(eqops_pg *pg, char host[256], char addr[64], char port[16],
                           bool *transient, eqops_error *err)
{
    /* any database will do: the maintenance one, else those every cluster has (the
     * maintenance database may be the one a standby does not know yet) */
    const char *dbs[] = {pg->maintenance_db, "postgres", "template1"};
    int rc = 0;
    for (size_t i = 0; i < EQOPS__ARRAY_LEN(dbs); i++) {
        if (i > 0 && (!strcmp(dbs[i], pg->maintenance_db) || !strcmp(dbs[i], dbs[i - 1])))
            continue;
        pg_attempt how;
        PGconn *c = connect_to(pg, dbs[i], NULL, &how);
        *transient = false;
        eqops_error_clear(err);
        if (c != NULL && PQstatus(c) == CONNECTION_OK) {
            const char *h = PQhost(c), *a = PQhostaddr(c), *p = PQport(c);
            snprintf(host, 256, "%s", h ? h : "");
            snprintf(addr, 64, "%s", a ? a : "");
            snprintf(port, 16, "%s", p ? p : "");
            PQfinish(c);
            return 0;
        }
        rc = connect_error(c, &how, dbs[i], err, transient);
        PQfinish(c);
        if (*transient || rc == EQOPS_EAUTH || rc == EQOPS_ENOMEM || rc == EQOPS_ECANCELED)
            break; /* no server takes writes now, or these credentials are refused */
    }
    return rc;
}

/*
 * libpq tries the hosts in order and stops at the first that answers with an error. A standby
 * still replaying may not know yet a database made, opened or granted just before (after a
 * failover the old primary comes back as a standby, often first in the list): its "does not
 * exist" is not final. So with several hosts and a read-write target, such an answer sends
 * eqops to find the primary (through the list, to the maintenance database) and ask it, on
 * its host only: only the primary's answer is final. No primary yet (the failover is under
 * way) is worth waiting for. Refused credentials are not tried again: a retry would not fix
 * them, and may lock the account.
 */
static int ask_primary(eqops_pg *pg, PGconn **out, const char *db, eqops_error *e, bool *transient)
{
    pg_where at;
    eqops_error pe = EQOPS_ERROR_INIT;
    bool ptransient = false;
    int rc = eqops__pg_find_primary(pg, at.host, at.addr, at.port, &ptransient, &pe);
    if (rc != 0) {
        /* no server takes writes now, or the maintenance database is not there (yet) where
         * libpq looked: the first answer stands, and is retried */
        eqops__log(EQOPS_LOG_DEBUG, MOD, "no primary to ask about %s: %s", db, pe.message);
        eqops_error_clear(&pe);
        *transient = rc != EQOPS_EAUTH && rc != EQOPS_ENOMEM && rc != EQOPS_ECANCELED;
        if (rc == EQOPS_ECANCELED)
            return eqops__err_move(e, &pe);
        return e->code;
    }
    pg_attempt how;
    PGconn *c = connect_to(pg, db, &at, &how);
    if (c != NULL && PQstatus(c) == CONNECTION_OK) {
        *out = c;
        return 0;
    }
    eqops_error_clear(e);
    rc = connect_error(c, &how, db, e, transient);
    PQfinish(c);
    return rc;
}

int eqops__pg_connect_db(eqops_pg *pg, PGconn **out, const char *db, eqops_error *err)
{
    *out = NULL;
    /* the failures of attempts that were retried are not the caller's: `err` gets the last
     * one only when there is no connection in the end */
    eqops_error e = EQOPS_ERROR_INIT;
    int64_t deadline = eqops__mono_ms() + pg->failover_wait_ms;
    for (int attempt = 0;; attempt++) {
        eqops_error_clear(&e);
        pg_attempt how;
        PGconn *c = connect_to(pg, db, NULL, &how);
        bool transient = false;
        int rc = 0;
        if (c == NULL || PQstatus(c) != CONNECTION_OK) {
            rc = connect_error(c, &how, db, &e, &transient);
            PQfinish(c);
            c = NULL;
            if (!transient && pg->find_primary && rc != EQOPS_EAUTH && rc != EQOPS_ENOMEM &&
                rc != EQOPS_ECANCELED)
                rc = ask_primary(pg, &c, db, &e, &transient);
        }
        if (rc == 0) {
            eqops__pg_session_setup(c, pg);
            *out = c;
            return 0;
        }
        int64_t left = deadline - eqops__mono_ms();
        if (!transient || left <= 0) {
            eqops__err_move(err, &e);
            return rc;
        }
        long wait = eqops__pg_backoff_ms(attempt);
        if (wait > left)
            wait = (long)left;
        eqops__log(EQOPS_LOG_WARN, MOD,
                   "%s; retrying in %ld ms (attempt %d; %.1f s left of the %.0f s failover wait)",
                   e.message, wait, attempt + 1, (double)left / 1000,
                   (double)pg->failover_wait_ms / 1000);
        if (eqops__sleep_cancel(pg->cancel, wait) != 0)
            return eqops__err(err, EQOPS_ECANCELED, "connect to database %s: cancelled", db);
    }
}

int eqops__pg_run(eqops_pg *pg, PGconn **conn, const char *db, const char *what,
                  eqops__pg_step step, void *ctx, eqops_error *err)
{
    eqops_error local = EQOPS_ERROR_INIT;
    int rc = 0;
    const char *target = db ? db : pg->maintenance_db;
    for (int attempt = 0;; attempt++) {
        if (*conn != NULL && PQstatus(*conn) != CONNECTION_OK) {
            PQfinish(*conn);
            *conn = NULL;
        }
        if (*conn == NULL)
            rc = eqops__pg_connect_db(pg, conn, target, &local);
        if (*conn != NULL) {
            eqops_error_clear(&local);
            rc = step(*conn, ctx, &local);
        }
        if (rc == 0)
            break;
        retry_class cls = classify(local.reason, local.message);
        if (*conn == NULL)
            break; /* connect_db already retried */
        if (cls == RETRY_NONE || attempt >= pg->max_retries)
            break;
        if (*conn != NULL) {
            if (cls == RETRY_RECONNECT) {
                PQfinish(*conn);
                *conn = NULL;
            } else if (PQtransactionStatus(*conn) != PQTRANS_IDLE) {
                PGresult *r = PQexec(*conn, "ROLLBACK");
                PQclear(r);
            }
        }
        long wait = cls == RETRY_TXN ? 10 + (long)(eqops__random_unit() * 90)
                                     : eqops__pg_backoff_ms(attempt);
        eqops__log(EQOPS_LOG_WARN, MOD, "%s: %s [%s]; retrying in %ld ms (attempt %d of %d)", what,
                   local.message, local.reason, wait, attempt + 1, pg->max_retries);
        if (eqops__sleep_cancel(pg->cancel, wait) != 0) {
            eqops_error_clear(&local);
            rc = eqops__err(&local, EQOPS_ECANCELED, "%s: cancelled", what);
            break;
        }
    }
    if (rc != 0 && *conn != NULL && PQstatus(*conn) == CONNECTION_OK &&
        PQtransactionStatus(*conn) != PQTRANS_IDLE) {
        PGresult *r = PQexec(*conn, "ROLLBACK");
        PQclear(r);
    }
    if (err != NULL) {
        eqops_error_clear(err);
        unsigned v = err->version;
        *err = local;
        err->version = v ? v : EQOPS_ERROR_VERSION;
    } else {
        eqops_error_clear(&local);
    }
    return rc;
}

/* ---- advisory locks ------------------------------------------------------------------------- */

int eqops__pg_try_lock(PGconn *c, const char *key, bool shared, long wait_ms, const char *what,
                       eqops_error *err)
{
    const char *params[] = {key};
    const char *sql = shared ? "SELECT pg_try_advisory_lock_shared(hashtextextended($1, 0))"
                             : "SELECT pg_try_advisory_lock(hashtextextended($1, 0))";
    int64_t deadline = eqops__mono_ms() + (wait_ms > 0 ? wait_ms : 0);
    long sleep = 50;
    for (;;) {
        PGresult *r = NULL;
        int rc = eqops__pg_exec(c, what, sql, 1, params, &r, err);
        if (rc != 0)
            return rc;
        bool got = PQntuples(r) == 1 && !strcmp(PQgetvalue(r, 0, 0), "t");
        PQclear(r);
        if (got)
            return 0;
        int64_t now = eqops__mono_ms();
        if (now >= deadline)
            break;
        if (eqops__sleep_cancel(conn_cancel(c), now + sleep > deadline ? deadline - now : sleep))
            return eqops__err(err, EQOPS_ECANCELED, "%s: cancelled while waiting for the lock %s",
                              what, key);
        if (sleep < 1000)
            sleep *= 2;
    }
    /* who holds it, for the message (other roles' session details are hidden; the pid is not) */
    char holder[64] = "";
    PGresult *r = NULL;
    if (eqops__pg_exec(c, what,
                       "SELECT string_agg(l.pid::text, ',') FROM pg_locks l "
                       "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
                       "AND l.database = (SELECT oid FROM pg_database "
                       "WHERE datname = current_database()) "
                       "AND ((l.classid::bigint << 32) | l.objid::bigint) = "
                       "hashtextextended($1, 0)",
                       1, params, &r, NULL) == 0 &&
        PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
        snprintf(holder, sizeof(holder), " (held by backend %s)", PQgetvalue(r, 0, 0));
    PQclear(r);
    /* no SQLSTATE: the wait is over, retrying would only wait again */
    return eqops__err(err, EQOPS_EBUSY,
                      "%s: another operation holds the lock %s%s; gave up after %ld ms", what, key,
                      holder, wait_ms);
}

int eqops__pg_unlock(PGconn *c, const char *key, bool shared)
{
    const char *params[] = {key};
    return eqops__pg_exec(c, "unlock",
                          shared ? "SELECT pg_advisory_unlock_shared(hashtextextended($1, 0))"
                                 : "SELECT pg_advisory_unlock(hashtextextended($1, 0))",
                          1, params, NULL, NULL);
}

/* ---- connect / close ------------------------------------------------------------------------- */

static int check_name_option(const char *value, const char *field, size_t max, eqops_error *err)
{
    size_t n = strlen(value);
    if (n == 0 || n > max)
        return eqops__err_field(err, EQOPS_EINVAL, field, "must be 1 to %zu characters", max);
    for (size_t i = 0; i < n; i++) {
        char ch = value[i];
        if (!((ch >= 'a' && ch <= 'z') || ch == '_' || (i > 0 && ch >= '0' && ch <= '9')))
            return eqops__err_field(err, EQOPS_EINVAL, field,
                                    "only lowercase letters, digits and '_' (not first)");
    }
    return 0;
}

void eqops_pg_free(eqops_pg *pg)
{
    if (pg == NULL)
        return;
    PQfinish(pg->conn);
    for (int i = 0; i < PG_MAX_PARAMS; i++) {
        eqops__free(pg->keywords[i]);
        eqops__secret_free(pg->values[i]);
    }
    eqops__secret_free(pg->user_options);
    eqops__free(pg->control_db);
    eqops__free(pg->template_db);
    eqops__free(pg->prefix);
    eqops__free(pg);
}

static const size_t pg_options_sizes[] = {sizeof(eqops_pg_options)};

EQOPS__OPTS_INIT_FN(eqops_pg_options_init, eqops_pg_options, pg_options_sizes)

int eqops_pg_new(eqops_pg **out, const char *conninfo, const eqops_pg_options *in, eqops_error *err)
{
    eqops_error_clear(err);
    if (out == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "out", "must not be NULL");
    *out = NULL;
    if (conninfo == NULL)
        conninfo = "";
    eqops_pg_options oc;
    if (EQOPS__OPTS_READ(&oc, in, pg_options_sizes, "pg options", err) != 0)
        return EQOPS_EINVAL;
    const eqops_pg_options *opts = &oc;
    if (opts->connect_timeout_ms < 0 || opts->connect_timeout_ms > 3600000)
        return eqops__err_field(err, EQOPS_EINVAL, "opts.connect_timeout_ms",
                                "must be 0 (the default, 10000) to 3600000");
    if (opts->statement_timeout_ms < 0 || opts->lock_timeout_ms < 0)
        return eqops__err_field(err, EQOPS_EINVAL,
                                opts->lock_timeout_ms < 0 ? "opts.lock_timeout_ms"
                                                          : "opts.statement_timeout_ms",
                                "must be >= 0");
    if (opts->max_retries < 0 || opts->max_retries > 20)
        return eqops__err_field(err, EQOPS_EINVAL, "opts.max_retries", "must be 0 to 20");
    long failover_wait = opts->failover_wait_ms;
    if (failover_wait < -1 || failover_wait > 3600000)
        return eqops__err_field(err, EQOPS_EINVAL, "opts.failover_wait_ms",
                                "must be -1 (one attempt), 0 (the default, 30000) or up to "
                                "3600000");
    const char *control = opts->control_db ? opts->control_db : "eqops_control";
    const char *tmpl = opts->template_db ? opts->template_db : "eqops_template";
    const char *prefix = opts->db_prefix ? opts->db_prefix : "tenant_";
    int rc;
    if ((rc = check_name_option(control, "opts.control_db", 63, err)) != 0 ||
        (rc = check_name_option(tmpl, "opts.template_db", 63, err)) != 0 ||
        (rc = check_name_option(prefix, "opts.db_prefix", 20, err)) != 0)
        return rc;
    if (!strcmp(control, tmpl))
        return eqops__err_field(err, EQOPS_EINVAL, "opts.template_db",
                                "must differ from the control database");
    if (!strncmp(control, prefix, strlen(prefix)) || !strncmp(tmpl, prefix, strlen(prefix)))
        return eqops__err_field(err, EQOPS_EINVAL, "opts.db_prefix",
                                "the template and control databases must not start with it");
    eqops_pg *pg = eqops__calloc(1, sizeof(*pg));
    if (pg == NULL)
        return eqops__err(err, EQOPS_ENOMEM, "pg connect: out of memory");
    pg->statement_timeout_ms = opts->statement_timeout_ms ? opts->statement_timeout_ms : 60000;
    pg->lock_timeout_ms = opts->lock_timeout_ms ? opts->lock_timeout_ms : 5000;
    pg->max_retries = opts->max_retries ? opts->max_retries : 4;
    pg->failover_wait_ms = failover_wait == 0 ? 30000 : failover_wait < 0 ? 0 : failover_wait;
    pg->options_index = -1;
    pg->cancel = opts->cancel;
    pg->control_db = eqops__strdup(control);
    pg->template_db = eqops__strdup(tmpl);
    pg->prefix = eqops__strdup(prefix);
    if (!pg->control_db || !pg->template_db || !pg->prefix) {
        eqops_pg_free(pg);
        return eqops__err(err, EQOPS_ENOMEM, "pg connect: out of memory");
    }
    /* libpq counts whole seconds: round up, so a timeout is never shorter than asked */
    long connect_s = opts->connect_timeout_ms ? (opts->connect_timeout_ms + 999) / 1000 : 10;
    rc = eqops__pg_conninfo_parse(pg, conninfo, connect_s, err);
    if (rc == 0) {
        pg->maintenance_db = pg->values[pg->dbname_index];
        if (check_name_option(pg->maintenance_db, "conninfo.dbname", 63, NULL) == 0 &&
            !strncmp(pg->maintenance_db, prefix, strlen(prefix)))
            rc = eqops__err_field(err, EQOPS_EINVAL, "conninfo.dbname",
                                  "connect to a maintenance database (postgres), not a tenant's");
    }
    /* the fixed settings first; then the ones read from the maintenance session, for the
     * connections to every other database (and its reconnects) */
    if (rc == 0)
        rc = eqops__pg_pins_set(pg, NULL, err);
    if (rc == 0)
        rc = eqops__pg_connect_db(pg, &pg->conn, pg->maintenance_db, err);
    if (rc == 0)
        rc = eqops__pg_pins_set(pg, pg->conn, err);
    if (rc != 0) {
        eqops_pg_free(pg);
        return rc;
    }
    eqops__log(EQOPS_LOG_INFO, MOD, "connected to %s on %s:%s as %s", pg->maintenance_db,
               PQhost(pg->conn), PQport(pg->conn), PQuser(pg->conn));
    *out = pg;
    return 0;
}

/* ---- small shared helpers -------------------------------------------------------------------- */

int eqops__pg_random_password(char out[48])
{
    unsigned char raw[32];
    unsigned char b64[48];
    if (eqops__random_bytes(raw, sizeof(raw)) != 0)
        return EQOPS_EINTERNAL;
    int n = EVP_EncodeBlock(b64, raw, (int)sizeof(raw)); /* 44 chars with one '=' */
    eqops__wipe(raw, sizeof(raw));
    int j = 0;
    for (int i = 0; i < n; i++) {
        char ch = (char)b64[i];
        if (ch == '=')
            continue;
        out[j++] = ch == '+' ? '-' : ch == '/' ? '_' : ch; /* base64url */
    }
    out[j] = '\0';
    eqops__wipe(b64, sizeof(b64));
    return 0;
}

static int control_step(PGconn *c, void *ctx, eqops_error *err)
{
    eqops_pg *pg = ctx;
    const char *params[] = {pg->control_db};
    PGresult *r = NULL;
    /* whether PUBLIC still has a privilege there (a NULL acl is the default: it does) */
    int rc = eqops__pg_exec(c, "find control database",
                            "SELECT datacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(datacl) a "
                            "WHERE a.grantee = 0) FROM pg_database WHERE datname = $1",
                            1, params, &r, err);
    if (rc != 0)
        return rc;
    bool exists = PQntuples(r) > 0;
    bool public_access = !exists || strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    eqops_buf sql = EQOPS_BUF_INIT;
    if (!exists) {
        eqops__buf_puts(&sql, "CREATE DATABASE ");
        eqops__pg_ident(&sql, c, pg->control_db);
        eqops__buf_puts(&sql, " TEMPLATE template0");
        if ((rc = eqops__buf_ok(&sql)) != 0) {
            eqops__buf_free(&sql);
            return eqops__err(err, rc, "control database: out of memory");
        }
        rc =
            eqops__pg_exec(c, "create control database", eqops__buf_cstr(&sql), 0, NULL, NULL, err);
        /* made meanwhile by another session: 42P04, or 23505 when both were in the catalog
         * insert at once */
        if (rc == EQOPS_EEXISTS || (rc != 0 && err && strcmp(err->reason, "23505") == 0)) {
            eqops_error_clear(err);
            rc = 0;
        }
        eqops__buf_truncate(&sql, 0);
    }
    if (rc == 0 && public_access) { /* once: concurrent REVOKEs collide on the catalog row */
        eqops__buf_puts(&sql, "REVOKE ALL ON DATABASE ");
        eqops__pg_ident(&sql, c, pg->control_db);
        eqops__buf_puts(&sql, " FROM PUBLIC");
        rc = eqops__buf_ok(&sql) ? eqops__err(err, EQOPS_ENOMEM, "out of memory")
                                 : eqops__pg_exec(c, "isolate control database",
                                                  eqops__buf_cstr(&sql), 0, NULL, NULL, err);
    }
    eqops__buf_free(&sql);
    return rc;
}

int eqops__pg_control_ensure(eqops_pg *pg, eqops_error *err)
{
    if (pg->control_ready)
        return 0;
    int rc = eqops__pg_run(pg, &pg->conn, NULL, "control database", control_step, pg, err);
    if (rc == 0)
        pg->control_ready = true;
    return rc;
}

int eqops__pg_lock_open(eqops_pg *pg, PGconn **out, const char *key, bool shared, long wait_ms,
                        const char *what, eqops_error *err)
{
    int rc = eqops__pg_control_ensure(pg, err);
    if (rc == 0)
        rc = eqops__pg_connect_db(pg, out, pg->control_db, err);
    if (rc == 0) {
        rc = eqops__pg_try_lock(*out, key, shared, wait_ms, what, err);
        if (rc != 0) {
            PQfinish(*out);
            *out = NULL;
        }
    }
    return rc;
}

int eqops__pg_lock_check(PGconn *lock, const char *what, eqops_error *err)
{
    if (lock == NULL)
        return 0;
    PGresult *r = PQstatus(lock) == CONNECTION_OK ? PQexec(lock, "SELECT 1") : NULL;
    bool ok = r != NULL && PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    if (ok)
        return 0;
    /* the session that held the lock is gone, and the lock with it: stop rather than go on
     * unprotected */
    return eqops__err(err, EQOPS_EUNAVAILABLE,
                      "%s: the connection holding the lock was lost; stopped (run again)", what);
}
