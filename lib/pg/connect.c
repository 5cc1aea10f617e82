/*
 * connect.c - connecting: PQconnectStartParams/PQconnectPoll waiting on the socket and the
 * handle's token, the one classification of failed connects (by the server's SQLSTATE), the
 * host list and its primary, and retries within the failover wait.
 */
#include "pg_internal.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>

#define MOD "pg"

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
        *transient =
            !strncmp(state, "08", 2) || !strcmp(state, "53300") || !strncmp(state, "57P", 3);
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
int eqops__pg_sock_wait(int sock, bool write, const eqops_cancel *cancel, int64_t deadline)
{
    if (sock < 0)
        return 1; /* no socket (a broken connection): libpq reports it */
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

/* The value of `key` in a keyword list (the last one: a later keyword wins), or NULL. */
static const char *param_of(const char *const *keys, const char *const *values, const char *key)
{
    const char *v = NULL;
    for (size_t i = 0; keys[i]; i++)
        if (!strcmp(keys[i], key))
            v = values[i];
    return v;
}

/* The `i`-th element of a comma-separated list into `out` (the whole value when it has one
 * element, as libpq uses a single port for every host). */
static void list_item(const char *list, int i, char *out, size_t len)
{
    out[0] = '\0';
    if (list == NULL)
        return;
    if (strchr(list, ',') == NULL) {
        snprintf(out, len, "%s", list);
        return;
    }
    for (int k = 0; k < i && list; k++)
        if ((list = strchr(list, ',')) != NULL)
            list++;
    if (list != NULL)
        snprintf(out, len, "%.*s", (int)strcspn(list, ","), list);
}

/* The servers of a keyword list's host (or hostaddr) list: at least 1. */
static int list_count(const char *const *keys, const char *const *values)
{
    const char *h = param_of(keys, values, "host"), *a = param_of(keys, values, "hostaddr");
    const char *v = a && *a ? a : h;
    int n = 1;
    for (; v && *v; v++)
        n += *v == ',';
    return n;
}

/* One PQconnectStartParams/PQconnectPoll attempt (a single server, or libpq's own walk of the
 * list when there is no timeout), waiting on the socket and the handle's token until
 * `deadline` (0: none). */
static PGconn *connect_start(const eqops_pg *pg, const char *const *keys, const char *const *values,
                             int64_t deadline, pg_attempt *at)
{
    memset(at, 0, sizeof(*at));
    PGconn *c = PQconnectStartParams(keys, values, 0);
    if (c == NULL)
        return NULL;
    /* a server's refusal with its SQLSTATE: connect_error classifies by it */
    PQsetErrorVerbosity(c, PQERRORS_VERBOSE);
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED && PQstatus(c) != CONNECTION_BAD) {
        int w = eqops__pg_sock_wait(PQsocket(c), st == PGRES_POLLING_WRITING, pg->cancel, deadline);
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

/*
 * Connect without blocking, so a cancelled connect stops at once. libpq applies
 * connect_timeout (whole seconds; 1 counts as 2) to each server of the host list only in its
 * blocking connect: PQconnectPoll never gives up on a server that does not answer. So with a
 * timeout and several servers, they are tried here one by one, each with its own timeout, in
 * order, as libpq does: the first that connects wins; a refused login ends the walk (libpq
 * does not try the others either); the last failure is the answer.
 */
static PGconn *connect_params(const eqops_pg *pg, const char *const *keys,
                              const char *const *values, pg_attempt *at)
{
    const char *t = param_of(keys, values, "connect_timeout");
    long timeout_s = t ? strtol(t, NULL, 10) : 0;
    if (timeout_s == 1)
        timeout_s = 2;
    int n = list_count(keys, values);
    if (timeout_s <= 0 || n == 1)
        return connect_start(pg, keys, values,
                             timeout_s > 0 ? eqops__mono_ms() + (int64_t)timeout_s * 1000 : 0, at);
    const char *hosts = param_of(keys, values, "host"), *addrs = param_of(keys, values, "hostaddr"),
               *ports = param_of(keys, values, "port");
    const char *k1[PG_MAX_PARAMS + 8], *v1[PG_MAX_PARAMS + 8];
    char host[256], addr[256], port[32];
    size_t m = 0;
    for (size_t i = 0; keys[i] && m < PG_MAX_PARAMS + 4; i++)
        if (strcmp(keys[i], "host") && strcmp(keys[i], "hostaddr") && strcmp(keys[i], "port"))
            k1[m] = keys[i], v1[m++] = values[i];
    PGconn *last = NULL;
    for (int i = 0; i < n; i++) {
        size_t k = m;
        list_item(hosts, i, host, sizeof(host));
        list_item(addrs, i, addr, sizeof(addr));
        list_item(ports, i, port, sizeof(port));
        if (host[0])
            k1[k] = "host", v1[k++] = host;
        if (addr[0])
            k1[k] = "hostaddr", v1[k++] = addr;
        if (port[0])
            k1[k] = "port", v1[k++] = port;
        k1[k] = NULL, v1[k] = NULL;
        PGconn *c = connect_start(pg, k1, v1, eqops__mono_ms() + (int64_t)timeout_s * 1000, at);
        PQfinish(last);
        last = c;
        if (c == NULL || PQstatus(c) == CONNECTION_OK || at->cancelled)
            break;
        char msg[512], state[6];
        connect_message(PQerrorMessage(c), msg, sizeof(msg), state);
        if (!strncmp(state, "28", 2) || PQconnectionNeedsPassword(c))
            break; /* the login was refused: as libpq, the other servers are not asked */
    }
    return last;
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
        *transient = rc != EQOPS_EAUTH && rc != EQOPS_ENOMEM && rc != EQOPS_ECANCELED;
        if (rc == EQOPS_ECANCELED) /* moved before it is cleared: the code stays */
            return eqops__err_move(e, &pe);
        eqops_error_clear(&pe);
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
        if (rc == 0 && c == NULL) /* never a success without a connection */
            rc = eqops__err(&e, EQOPS_EINTERNAL, "connect to database %s: no connection", db);
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
        eqops__log(EQOPS_LOG_WARN, MOD,
                   "%s; retrying (attempt %d; %.1f s left of the %.0f s failover wait)", e.message,
                   attempt + 1, (double)left / 1000, (double)pg->failover_wait_ms / 1000);
        if (eqops__pg_retry_wait(pg, PG_BACKOFF_BASE_MS, PG_BACKOFF_CAP_MS, attempt + 1, deadline) <
            0)
            return eqops__err(err, EQOPS_ECANCELED, "connect to database %s: cancelled", db);
    }
}
