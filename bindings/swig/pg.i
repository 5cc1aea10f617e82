/*
 * pg.i - the Postgres-per-client module for the bindings (included by eqops.i).
 *
 * Options structs and NULL-terminated string lists get flat forms here (eqops_bind_pg_*):
 * lists cross as one string of newline-separated items (tenant names and settings cannot
 * hold newlines), and "" stands for "not given". Tenants come back as owned pointers.
 * The fleet migration takes a progress callback, which each language supplies (Python:
 * raw.i; Go: the exported eqopsGoPgProgress).
 */

%{
#include <eqops/pg.h>
#include <stdlib.h>

/* Split "a\nb\nc" into a NULL-terminated array (one allocation); NULL for "" or NULL. */
static const char **eqops_bind_lines(const char *text, int *oom)
{
    *oom = 0;
    if (text == NULL || *text == '\0')
        return NULL;
    size_t n = 1, len = strlen(text);
    for (const char *p = text; *p; p++)
        n += *p == '\n';
    char **v = (char **)malloc((n + 1) * sizeof(char *) + len + 1);
    if (v == NULL) {
        *oom = 1;
        return NULL;
    }
    char *copy = (char *)(v + n + 1);
    memcpy(copy, text, len + 1);
    size_t k = 0;
    for (char *line = copy, *nl; line; line = nl) {
        nl = strchr(line, '\n');
        if (nl)
            *nl++ = '\0';
        if (*line)
            v[k++] = line;
    }
    v[k] = NULL;
    return (const char **)v;
}

static const char *eqops_bind_opt(const char *s)
{
    return s && *s ? s : NULL;
}

static int eqops_bind_oom(eqops_error *err)
{
    if (err != NULL) {
        eqops_error_clear(err);
        err->code = EQOPS_ENOMEM;
        snprintf(err->message, sizeof(err->message), "out of memory");
    }
    return EQOPS_ENOMEM;
}

static int eqops_bind_pg_migrate_fn(char **out, eqops_pg *pg, const char *migrations_dir,
                                    int concurrency, int canary, int continue_on_error,
                                    int dry_run, int skip_template, const char *tenants,
                                    long lock_wait_ms, long lock_timeout_ms,
                                    long statement_timeout_ms, eqops_pg_progress_fn progress,
                                    void *payload, eqops_cancel *cancel, eqops_error *err)
{
    int oom;
    const char **names = eqops_bind_lines(tenants, &oom);
    if (oom)
        return eqops_bind_oom(err);
    eqops_pg_migrate_options o;
    eqops_pg_migrate_options_init(&o, EQOPS_PG_MIGRATE_OPTIONS_VERSION);
    o.cancel = cancel;
    o.migrations_dir = migrations_dir;
    o.concurrency = concurrency;
    o.canary = canary;
    o.continue_on_error = continue_on_error;
    o.dry_run = dry_run;
    o.skip_template = skip_template;
    o.tenants = names;
    o.lock_wait_ms = lock_wait_ms;
    o.lock_timeout_ms = lock_timeout_ms;
    o.statement_timeout_ms = statement_timeout_ms;
    o.progress = progress;
    o.payload = payload;
    int rc = eqops_pg_migrate(out, NULL, pg, &o, err);
    free(names);
    return rc;
}
%}

%ignore eqops_pg_options;
%ignore eqops_pg_tenant_options;
%ignore eqops_pg_migrate_options;
%ignore eqops_pg_progress_fn;
%ignore eqops_pg_new;
%ignore eqops_pg_tenant_create;
%ignore eqops_pg_tenant_show;
%ignore eqops_pg_tenant_rotate;
%ignore eqops_pg_migrate;
%ignore eqops_pg_validate;
%ignore eqops_pg_drift;

%include "eqops/pg.h"

%inline %{
eqops_pg *eqops_bind_pg_new(const char *conninfo, long connect_timeout_ms,
                            long statement_timeout_ms, long lock_timeout_ms, int max_retries,
                            const char *control_db, const char *template_db,
                            const char *db_prefix, long failover_wait_ms, eqops_cancel *cancel,
                            eqops_error *perr)
{
    eqops_pg_options o;
    eqops_pg_options_init(&o, EQOPS_PG_OPTIONS_VERSION);
    o.cancel = cancel;
    o.failover_wait_ms = failover_wait_ms;
    o.connect_timeout_ms = connect_timeout_ms;
    o.statement_timeout_ms = statement_timeout_ms;
    o.lock_timeout_ms = lock_timeout_ms;
    o.max_retries = max_retries;
    o.control_db = eqops_bind_opt(control_db);
    o.template_db = eqops_bind_opt(template_db);
    o.db_prefix = eqops_bind_opt(db_prefix);
    eqops_pg *pg = NULL;
    eqops_pg_new(&pg, conninfo ? conninfo : "", &o, perr);
    return pg;
}

/* settings: newline-separated "name=value" */
eqops_pg_tenant *eqops_bind_pg_tenant_create(eqops_pg *pg, const char *name,
                                             int connection_limit, const char *settings,
                                             const char *password, int rotate_existing,
                                             const char *migrations_dir, eqops_error *perr)
{
    int oom;
    const char **list = eqops_bind_lines(settings, &oom);
    if (oom) {
        eqops_bind_oom(perr);
        return NULL;
    }
    eqops_pg_tenant_options o;
    eqops_pg_tenant_options_init(&o, EQOPS_PG_TENANT_OPTIONS_VERSION);
    o.connection_limit = connection_limit;
    o.settings = list;
    o.password = eqops_bind_opt(password);
    o.rotate_existing = rotate_existing;
    o.migrations_dir = eqops_bind_opt(migrations_dir);
    eqops_pg_tenant *t = NULL;
    eqops_pg_tenant_create(&t, pg, name, &o, perr);
    free(list);
    return t;
}

eqops_pg_tenant *eqops_bind_pg_tenant_show(eqops_pg *pg, const char *name, eqops_error *perr)
{
    eqops_pg_tenant *t = NULL;
    eqops_pg_tenant_show(&t, pg, name, perr);
    return t;
}

eqops_pg_tenant *eqops_bind_pg_tenant_rotate(eqops_pg *pg, const char *name,
                                             eqops_error *perr)
{
    eqops_pg_tenant *t = NULL;
    eqops_pg_tenant_rotate(&t, pg, name, perr);
    return t;
}

/* database "" = the template and every tenant */
int eqops_bind_pg_validate(char **out, eqops_pg *pg, const char *migrations_dir,
                           const char *database, eqops_error *err)
{
    return eqops_pg_validate(out, NULL, pg, migrations_dir, eqops_bind_opt(database), err);
}

/* tenants: newline-separated names, "" = every tenant */
int eqops_bind_pg_drift(char **out, eqops_pg *pg, const char *tenants, eqops_error *err)
{
    int oom;
    const char **names = eqops_bind_lines(tenants, &oom);
    if (oom)
        return eqops_bind_oom(err);
    int rc = eqops_pg_drift(out, NULL, pg, names, err);
    free(names);
    return rc;
}
%}

#ifdef SWIGGO
%{
/* exported by package eqops (pg.go): calls the Go progress function registered as `id` */
extern int eqopsGoPgProgress(char *database, char *status, size_t done, size_t total,
                             uintptr_t id);

static int eqops_go_pg_progress(const char *database, const char *status, size_t done,
                                size_t total, void *payload)
{
    return eqopsGoPgProgress((char *)database, (char *)status, done, total, (uintptr_t)payload);
}
%}
%inline %{
/* progress_id 0: no progress callback */
int eqops_bind_pg_migrate(char **out, eqops_pg *pg, const char *migrations_dir,
                          int concurrency, int canary, int continue_on_error, int dry_run,
                          int skip_template, const char *tenants, long lock_wait_ms,
                          long lock_timeout_ms, long statement_timeout_ms,
                          unsigned long progress_id, eqops_cancel *cancel, eqops_error *err)
{
    return eqops_bind_pg_migrate_fn(out, pg, migrations_dir, concurrency, canary,
                                    continue_on_error, dry_run, skip_template, tenants,
                                    lock_wait_ms, lock_timeout_ms, statement_timeout_ms,
                                    progress_id ? eqops_go_pg_progress : NULL,
                                    (void *)(uintptr_t)progress_id, cancel, err);
}
%}
#endif
