/*
 * conn.c - the admin handle: statements (cancellable, with SQLSTATE-classified retries),
 * advisory locks, identifier/literal escaping, the control database. Connecting is connect.c's.
 */
#include "pg_internal.h"

#include <libpq-events.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <sys/socket.h>

#define CANCEL_GRACE_MS 5000 /* the wait for the answer to a cancelled statement */
#define MOD             "pg"

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
        int w = eqops__pg_sock_wait(PQsocket(c), false, cancel, 0);
        if (w == EQOPS_ECANCELED) {
            char why[256];
            PGcancel *pc = PQgetCancel(c);
            if (pc == NULL || !PQcancel(pc, why, (int)sizeof(why)))
                eqops__log(EQOPS_LOG_WARN, MOD, "could not cancel a statement: %s",
                           pc ? why : "out of memory");
            PQfreeCancel(pc);
            *cancelled = true;
            /* the server's answer to the cancel, for a few seconds: when it does not come (the
             * cancel request did not get through, the server is gone) the socket is shut, so
             * that PQgetResult below returns at once and the connection is bad: never reused
             * with a statement still running */
            int64_t grace = eqops__mono_ms() + CANCEL_GRACE_MS;
            while (PQisBusy(c)) {
                if (eqops__pg_sock_wait(PQsocket(c), false, NULL, grace) != 1) {
                    eqops__log(EQOPS_LOG_WARN, MOD,
                               "no answer to a cancelled statement within %d ms; closing the "
                               "connection",
                               CANCEL_GRACE_MS);
                    shutdown(PQsocket(c), SHUT_RDWR);
                    break;
                }
                if (!PQconsumeInput(c))
                    break;
            }
            break;
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

void eqops__pg_session_setup(PGconn *c, eqops_pg *pg)
{
    PQsetNoticeProcessor(c, notice_log, NULL);
    if (PQregisterEventProc(c, conn_event, "eqops", NULL))
        PQsetInstanceData(c, conn_event, pg);
}

int64_t eqops__pg_retry_wait(const eqops_pg *pg, int64_t base_ms, int64_t cap_ms, int retry,
                             int64_t deadline)
{
    eqops__backoff b = {base_ms, cap_ms, 0, -1, 0, pg ? pg->cancel : NULL};
    int64_t wait = eqops__backoff_delay(&b, retry, 0);
    if (deadline > 0 && wait > deadline - eqops__mono_ms())
        wait = deadline - eqops__mono_ms(); /* one more attempt at the deadline */
    if (wait < 0)
        wait = 0;
    if (eqops__backoff_wait(&b, wait) != 0)
        return -1;
    return wait;
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
        eqops__log(EQOPS_LOG_WARN, MOD, "%s: %s [%s]; retrying (attempt %d of %d)", what,
                   local.message, local.reason, attempt + 1, pg->max_retries);
        /* a serialization failure or a deadlock: at once, within 100 ms; else backing off */
        bool quick = cls == RETRY_TXN;
        if (eqops__pg_retry_wait(pg, quick ? 100 : PG_BACKOFF_BASE_MS,
                                 quick ? 100 : PG_BACKOFF_CAP_MS, attempt + 1, 0) < 0) {
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
    for (int tries = 1;; tries++) {
        PGresult *r = NULL;
        int rc = eqops__pg_exec(c, what, sql, 1, params, &r, err);
        if (rc != 0)
            return rc;
        bool got = PQntuples(r) == 1 && !strcmp(PQgetvalue(r, 0, 0), "t");
        PQclear(r);
        if (got)
            return 0;
        if (eqops__mono_ms() >= deadline)
            break;
        /* polling: 50 ms doubling to 1 s, jittered so waiters do not ask in step */
        if (eqops__pg_retry_wait(PQinstanceData(c, conn_event), 50, 1000, tries, deadline) < 0)
            return eqops__err(err, EQOPS_ECANCELED, "%s: cancelled while waiting for the lock %s",
                              what, key);
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
