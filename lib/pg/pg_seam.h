/*
 * pg_seam.h - what the pg module offers the modules above it (lib/tenant): typed, with the
 * module's own handles. The only header of lib/pg other modules include; pg_internal.h stays
 * private to lib/pg, and no libpq call or type lives outside lib/pg.
 */
#ifndef EQOPS_PG_SEAM_H
#define EQOPS_PG_SEAM_H

#include "eqops/pg.h"

#include "../core/core_internal.h"
#include "../core/json.h"

#include <stdbool.h>

/* ---- locks ------------------------------------------------------------------------------ */

/*
 * A session advisory lock in the control database, held by a connection of its own: it goes
 * with the session, so a killed process never leaves it behind.
 */
typedef struct eqops__pg_lock eqops__pg_lock;

/* Take the exclusive lock `key`, polling until `wait_ms` passes (then EQOPS_EBUSY naming the
 * holder); the handle's token stops the wait (EQOPS_ECANCELED). `*out` is new: release it. */
int eqops__pg_lock_acquire(eqops__pg_lock **out, eqops_pg *pg, const char *key, long wait_ms,
                           const char *what, eqops_error *err);
/* Whether the lock is still held: 0, or EQOPS_EUNAVAILABLE when its connection was lost (the
 * lock with it). NULL passes. */
int eqops__pg_lock_held(eqops__pg_lock *lock, const char *what, eqops_error *err);
/* Release the lock and close its connection (NULL-safe). */
void eqops__pg_lock_release(eqops__pg_lock *lock);

/* Swap the handle's cancellation token (borrowed; NULL: none) and return the previous one:
 * every connect, statement (PQcancel), lock wait and retry wait of the handle from now on
 * checks it and stops with EQOPS_ECANCELED once it is triggered. For a run's token while the
 * run holds the handle: swap it in, work, swap the old one back (one thread at a time). */
const eqops_cancel *eqops__pg_set_cancel(eqops_pg *pg, const eqops_cancel *cancel);

/* ---- credentials -------------------------------------------------------------------------- */

/*
 * Does `password` open database `db` as `user`, on the admin connection's servers? 0 when the
 * server accepted the password (a refusal after authentication, such as a connection limit,
 * still means the password is the right one), EQOPS_EAUTH when it was refused, else the
 * connection's failure (EQOPS_EUNAVAILABLE, EQOPS_ETIMEOUT, EQOPS_ECANCELED). The decision
 * follows the server's SQLSTATE, never the text of a (translated) message.
 */
int eqops__pg_login_check(eqops_pg *pg, const char *db, const char *user, const char *password,
                          eqops_error *err);

/* The server that credentials name: the first host of the admin conninfo ("localhost" when
 * none) and its port ("5432" when none). */
void eqops__pg_endpoint(const eqops_pg *pg, char host[256], char port[16]);

/* Build "<prefix><name with - as _>" (a database and role name). */
int eqops__pg_object_name(const eqops_pg *pg, const char *tenant, char *out, size_t out_len);

/* A random password: 32 bytes of OpenSSL randomness, base64url without padding (43 chars). */
int eqops__pg_random_password(char out[48]);

/* ---- database settings ------------------------------------------------------------------- */

/* Whether `name` is a setting a tenant database may have: 0, or EQOPS_EINVAL naming `field`. */
int eqops__pg_setting_check(const char *name, const char *field, eqops_error *err);
/* Check a value of an allowed setting against its bounds. 0 or EQOPS_EINVAL naming `field`. */
int eqops__pg_setting_value_check(const char *name, const char *value, const char *field,
                                  eqops_error *err);
/* The settings of database `db` that differ from `want` ("name=value", NULL-terminated; NULL
 * = none), appended to `fields` as "<prefix><name>". */
int eqops__pg_settings_diff(eqops_pg *pg, const char *db, const char *const *want,
                            const char *prefix, json_t *fields, eqops_error *err);

/* ---- the schema ------------------------------------------------------------------------- */

/* One database's migration history against a migrations directory. */
typedef struct eqops__pg_schema {
    json_t *pending; /* versions not applied yet (a JSON array of integers) */
    size_t nedited;  /* applied migrations whose file changed since */
    size_t nmissing; /* applied migrations without a file */
} eqops__pg_schema;

/* Inspect database `db` (lock-free read). 0, or the failure (EQOPS_EINVAL for a bad
 * migrations directory, EQOPS_EUNAVAILABLE, EQOPS_ECANCELED). Release with _free. */
int eqops__pg_schema_inspect(eqops__pg_schema *out, eqops_pg *pg, const char *migrations_dir,
                             const char *db, eqops_error *err);
void eqops__pg_schema_free(eqops__pg_schema *s);

/* The tenants of the registry as eqops_pg_tenant_list gives them, as a document (`*out` new,
 * an array sorted by name): [{"name", "database", "role", "state", "created", "size",
 * "schema_version" (null without with_versions or when unreadable)}]. */
int eqops__pg_tenant_list_doc(json_t **out, eqops_pg *pg, bool with_versions, eqops_error *err);

/* The drift report of eqops_pg_drift as a document (`*out` new): {"template", "tenants":
 * [{"tenant", "database", "schema", "isolation", "settings", ...}], "drifted"}. */
int eqops__pg_drift_doc(json_t **out, size_t *drifted, eqops_pg *pg, const char *const *tenants,
                        eqops_error *err);

#endif /* EQOPS_PG_SEAM_H */
