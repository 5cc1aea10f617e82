/*
 * seam.c - what the pg module offers the tenant module (pg_seam.h): the tenant lock as a
 * handle, the login check, the credentials' server and a typed view of a database's
 * migration history.
 */
#include "pg_internal.h"

#include <stdio.h>

struct eqops__pg_lock {
    PGconn *conn;
};

int eqops__pg_lock_acquire(eqops__pg_lock **out, eqops_pg *pg, const char *key, long wait_ms,
                           const char *what, eqops_error *err)
{
    *out = NULL;
    eqops__pg_lock *l = eqops__calloc(1, sizeof(*l));
    if (l == NULL)
        return eqops__err(err, EQOPS_ENOMEM, "%s: out of memory", what);
    int rc = eqops__pg_lock_open(pg, &l->conn, key, false, wait_ms, what, err);
    if (rc != 0) {
        eqops__free(l);
        return rc;
    }
    *out = l;
    return 0;
}

int eqops__pg_lock_held(eqops__pg_lock *lock, const char *what, eqops_error *err)
{
    return lock ? eqops__pg_lock_check(lock->conn, what, err) : 0;
}

void eqops__pg_lock_release(eqops__pg_lock *lock)
{
    if (lock == NULL)
        return;
    PQfinish(lock->conn); /* the session ends: the server releases its locks */
    eqops__free(lock);
}

const eqops_cancel *eqops__pg_set_cancel(eqops_pg *pg, const eqops_cancel *cancel)
{
    const eqops_cancel *old = pg->cancel;
    pg->cancel = cancel;
    return old;
}

int eqops__pg_login_check(eqops_pg *pg, const char *db, const char *user, const char *password,
                          eqops_error *err)
{
    const char *keys[PG_MAX_PARAMS + 4], *vals[PG_MAX_PARAMS + 4];
    size_t n = 0;
    for (size_t i = 0; pg->keywords[i] && n < PG_MAX_PARAMS; i++) {
        const char *k = pg->keywords[i];
        if (strcmp(k, "dbname") && strcmp(k, "user") && strcmp(k, "password") &&
            strcmp(k, "passfile")) {
            keys[n] = k;
            vals[n++] = pg->values[i];
        }
    }
    keys[n] = "dbname", vals[n++] = db;
    keys[n] = "user", vals[n++] = user;
    keys[n] = "password", vals[n++] = password;
    keys[n] = NULL, vals[n] = NULL;
    PGconn *c = NULL;
    bool used = false, transient = false;
    eqops_error e = EQOPS_ERROR_INIT;
    int rc = eqops__pg_connect_params(&c, pg, keys, vals, &used, &transient, &e);
    PQfinish(c);
    if (rc == 0)
        return 0;
    const char *state = e.reason;
    if (rc != EQOPS_ECANCELED && rc != EQOPS_ETIMEOUT && used && strcmp(state, "28P01") != 0 &&
        strncmp(state, "08", 2) != 0) {
        /* the server asked for the password and refused for another reason afterwards (a
         * connection limit, no CONNECT, a role that may not log in): it was the right one */
        eqops_error_clear(&e);
        return 0;
    }
    if (rc == EQOPS_EAUTH && strcmp(state, "28P01") != 0 && !used)
        rc = EQOPS_EFORBIDDEN; /* refused before any password was asked for (pg_hba.conf) */
    if (rc == EQOPS_EAUTH)
        eqops__err(err, rc, "database %s as %s: the stored password is refused", db, user);
    else if (rc == EQOPS_ECANCELED)
        eqops__err_move(err, &e);
    else
        eqops__err(err, rc, "database %s as %s: cannot connect (%s)", db, user, e.message);
    eqops_error_clear(&e);
    return rc;
}

void eqops__pg_endpoint(const eqops_pg *pg, char host[256], char port[16])
{
    const char *h = eqops__pg_param(pg, "host"), *p = eqops__pg_param(pg, "port");
    /* a multi-host admin conninfo ("pg-a,pg-b"): drivers other than libpq take one host, so
     * the credentials name the first */
    snprintf(host, 256, "%.*s", h && *h ? (int)strcspn(h, ",") : 9, h && *h ? h : "localhost");
    snprintf(port, 16, "%.*s", p && *p ? (int)strcspn(p, ",") : 4, p && *p ? p : "5432");
}

int eqops__pg_schema_inspect(eqops__pg_schema *out, eqops_pg *pg, const char *migrations_dir,
                             const char *db, eqops_error *err)
{
    memset(out, 0, sizeof(*out));
    pg_migrations ms;
    int rc = eqops__pg_migrations_load(&ms, migrations_dir, err);
    if (rc != 0)
        return rc;
    pg_db_result r;
    rc = eqops__pg_result_init(&r, db, "");
    if (rc != 0) {
        eqops__pg_migrations_free(&ms);
        return eqops__err(err, rc, "out of memory");
    }
    pg_migrate_cfg cfg = {PG_MODE_INSPECT, 0, 0, 0};
    rc = eqops__pg_migrate_db(pg, db, &ms, &cfg, &r);
    if (rc != 0) {
        eqops__err(err, rc, "%s", r.error);
    } else {
        out->pending = json_incref(r.pending);
        out->nedited = json_array_size(r.edited);
        out->nmissing = json_array_size(r.missing);
        if (out->pending == NULL)
            rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
    eqops__pg_result_free(&r);
    eqops__pg_migrations_free(&ms);
    return rc;
}

void eqops__pg_schema_free(eqops__pg_schema *s)
{
    json_decref(s->pending);
    memset(s, 0, sizeof(*s));
}
