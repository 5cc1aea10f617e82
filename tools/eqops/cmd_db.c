/*
 * eqops db - tenant databases on PostgreSQL: create, drop, list, show, rotate, and the
 * template and fleet migrations, validation and drift.
 */
#include "cli.h"

#include <eqops/pg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Flags every db command takes. */
typedef struct db_common {
    const char *conninfo, *template_db, *control_db, *prefix, *connect_timeout;
    bool help;
} db_common;

#define DB_COMMON_FLAGS(d)                                                                         \
    {"conninfo", 0, CLI_FLAG_STRING, &(d).conninfo,                                                \
     "libpq conninfo or URI of the admin role (default $EQOPS_PG_CONNINFO, then libpq's PG* "      \
     "variables); keep the password in PGPASSWORD or ~/.pgpass"},                                  \
        {"template-db", 0, CLI_FLAG_STRING, &(d).template_db,                                      \
         "template database (default eqops_template)"},                                            \
        {"control-db", 0, CLI_FLAG_STRING, &(d).control_db,                                        \
         "control database for locks (default eqops_control)"},                                    \
        {"prefix", 0, CLI_FLAG_STRING, &(d).prefix, "database and role prefix (default tenant_)"}, \
        {"connect-timeout", 0, CLI_FLAG_STRING, &(d).connect_timeout,                              \
         "seconds per connection attempt (default 10)"},                                           \
    {                                                                                              \
        "help", 'h', CLI_FLAG_BOOL, &(d).help, "show this help"                                    \
    }

static void db_usage(void)
{
    printf("Usage: eqops db COMMAND [ARGS] [--conninfo CONNINFO]\n\n"
           "One PostgreSQL database and role per client, cloned from a template.\n\n"
           "Commands:\n"
           "  create NAME        create a tenant or finish/converge one (idempotent); prints\n"
           "                     the connection details, with the password only when set now\n"
           "  drop NAME --confirm NAME   drop the tenant's database (ending sessions) and role\n"
           "  list               every tenant with state, size (and --versions)\n"
           "  show NAME          one tenant with its schema version and size\n"
           "  rotate NAME        set a new random password and print it\n"
           "  template --migrations DIR   create the template / bring it up to date\n"
           "  migrate --migrations DIR    migrate the template and every tenant\n"
           "  validate --migrations DIR   pending, edited and missing migrations per database\n"
           "  drift              tenants whose schema or isolation differs from the template\n"
           "  fingerprint DB     the catalog fingerprint of one database\n"
           "\nTenant names: 2-40 of a-z, 0-9 and '-', starting with a letter.\n"
           "Exit codes: 0 success, 1 failure (or failed databases, problems, drift), 2 usage.\n");
}

static int fail(cli *c, eqops_error *e)
{
    int rc = cli_fail(c, e);
    eqops_error_clear(e);
    return rc;
}

static int open_pg(cli *c, const char *cmd, const db_common *d, eqops_pg **pg)
{
    eqops_pg_options o = EQOPS_PG_OPTIONS_INIT;
    o.template_db = d->template_db;
    o.control_db = d->control_db;
    o.db_prefix = d->prefix;
    if (d->connect_timeout) {
        char *end;
        long v = strtol(d->connect_timeout, &end, 10);
        if (*end || v <= 0 || v > 3600)
            return cli_usage(c, cmd, "--connect-timeout must be 1 to 3600 seconds");
        o.connect_timeout_ms = v * 1000;
    }
    const char *conninfo = d->conninfo ? d->conninfo : getenv("EQOPS_PG_CONNINFO");
    eqops_error e = EQOPS_ERROR_INIT;
    if (eqops_pg_new(pg, conninfo ? conninfo : "", &o, &e) != 0)
        return fail(c, &e);
    return CLI_OK;
}

/* After cli_parse: show the help (asked for, or `ok` false: a usage error), else connect.
 * Returns CLI_OK with *pg connected, DB_HELP_SHOWN after --help, or an exit code. */
#define DB_HELP_SHOWN (-1)
static int db_start(cli *c, const char *cmd, const char *usage, const cli_flag *flags,
                    const db_common *d, bool ok, eqops_pg **pg)
{
    *pg = NULL;
    if (d->help || !ok) {
        printf("%s\n\nFlags:\n", usage);
        cli_print_flags(flags);
        return d->help ? DB_HELP_SHOWN : CLI_USAGE;
    }
    return open_pg(c, cmd, d, pg);
}

#define DB_START(cmd, usage, ok)                                                                   \
    do {                                                                                           \
        int start_rc = db_start(c, cmd, usage, flags, &d, ok, &pg);                                \
        if (start_rc != CLI_OK)                                                                    \
            return start_rc == DB_HELP_SHOWN ? CLI_OK : start_rc;                                  \
    } while (0)

static int parse_int(cli *c, const char *cmd, const char *flag, const char *v, long lo, long hi,
                     long *out)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (*v == '\0' || *end || n < lo || n > hi)
        return cli_usage(c, cmd, "--%s must be an integer from %ld to %ld", flag, lo, hi);
    *out = n;
    return CLI_OK;
}

static int parse_ms(cli *c, const char *cmd, const char *flag, const char *v, long *out)
{
    int64_t ms;
    eqops_error e = EQOPS_ERROR_INIT;
    if (eqops_duration_parse(&ms, v, &e) != 0 || ms > 86400000) {
        eqops_error_clear(&e);
        return cli_usage(c, cmd, "--%s must be a duration like 5s or 2m (at most 1d)", flag);
    }
    *out = (long)ms;
    return CLI_OK;
}

/* ---- tenants ----------------------------------------------------------------------------------
 */

static json_t *tenant_json(const eqops_pg_tenant *t)
{
    const char *pw = eqops_pg_tenant_password(t), *db = eqops_pg_tenant_database(t);
    int64_t v = eqops_pg_tenant_schema_version(t), size = eqops_pg_tenant_size(t);
    json_t *o = json_pack("{s:s, s:s, s:s, s:b}", "name", eqops_pg_tenant_name(t), "role",
                          eqops_pg_tenant_role(t), "state", eqops_pg_tenant_state(t), "created",
                          eqops_pg_tenant_created(t));
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "database", db ? json_string(db) : json_null());
    json_object_set_new(o, "schema_version", v >= 0 ? json_integer(v) : json_null());
    json_object_set_new(o, "size", size >= 0 ? json_integer(size) : json_null());
    json_object_set_new(o, "conninfo", json_string(eqops_pg_tenant_conninfo(t)));
    json_object_set_new(o, "password", pw ? json_string(pw) : json_null());
    return o;
}

static int print_tenant(cli *c, const eqops_pg_tenant *t, const char *verb)
{
    if (c->output == CLI_JSON)
        return cli_print_json(c, tenant_json(t));
    const char *db = eqops_pg_tenant_database(t);
    printf("tenant %s: %s\n", eqops_pg_tenant_name(t), verb);
    printf("  database        %s\n", db ? db : "(none yet)");
    printf("  role            %s\n", eqops_pg_tenant_role(t));
    printf("  state           %s\n", eqops_pg_tenant_state(t));
    if (eqops_pg_tenant_schema_version(t) >= 0)
        printf("  schema version  %lld\n", (long long)eqops_pg_tenant_schema_version(t));
    if (eqops_pg_tenant_size(t) >= 0)
        printf("  size            %.1f MiB\n", (double)eqops_pg_tenant_size(t) / 1048576.0);
    if (eqops_pg_tenant_password(t)) {
        printf("  conninfo        %s\n", eqops_pg_tenant_conninfo(t));
        printf("The password is shown this once: store the conninfo in the secret store now.\n");
    }
    return CLI_OK;
}

typedef int (*tenant_fn)(eqops_pg_tenant **out, eqops_pg *pg, const char *name, eqops_error *err);

/* show and rotate: NAME, print the tenant */
static int db_tenant_simple(cli *c, int argc, char **argv, const char *cmd, tenant_fn fn,
                            const char *verb)
{
    db_common d = {0};
    const cli_flag flags[] = {DB_COMMON_FLAGS(d), {0}};
    const char *pos[1];
    int npos, rc = cli_parse(c, cmd, flags, argc, argv, pos, 1, &npos);
    if (rc != CLI_OK)
        return rc;
    char usage[64];
    snprintf(usage, sizeof(usage), "Usage: eqops %s NAME", cmd);
    eqops_pg *pg = NULL;
    DB_START(cmd, usage, npos == 1);
    eqops_pg_tenant *t = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    if (fn(&t, pg, pos[0], &e) != 0)
        rc = fail(c, &e);
    else
        rc = print_tenant(c, t, verb);
    eqops_pg_tenant_free(t);
    eqops_pg_free(pg);
    return rc;
}

static int db_create(cli *c, int argc, char **argv)
{
    db_common d = {0};
    const char *migrations = NULL, *limit = NULL;
    bool rotate = false;
    cli_list settings = {{0}, 0};
    const cli_flag flags[] = {
        {"migrations", 0, CLI_FLAG_STRING, &migrations,
         "migrations directory: bring the new database up to date (needed without a template)"},
        {"connection-limit", 0, CLI_FLAG_STRING, &limit,
         "connections of the database and role (default 20, -1 unlimited)"},
        {"set", 0, CLI_FLAG_LIST, &settings,
         "name=value database setting, e.g. statement_timeout=30s (repeatable)"},
        {"rotate", 0, CLI_FLAG_BOOL, &rotate, "set a new password when the role exists"},
        DB_COMMON_FLAGS(d),
        {0}};
    const char *pos[1];
    int npos, rc = cli_parse(c, "db create", flags, argc, argv, pos, 1, &npos);
    if (rc != CLI_OK)
        return rc;
    eqops_pg_tenant_options o = EQOPS_PG_TENANT_OPTIONS_INIT;
    long n = 0;
    if (limit && (rc = parse_int(c, "db create", "connection-limit", limit, -1, 10000, &n)) != 0)
        return rc;
    o.connection_limit = (int)n;
    o.settings = settings.n ? settings.v : NULL;
    o.rotate_existing = rotate;
    o.migrations_dir = migrations;
    eqops_pg *pg = NULL;
    DB_START("db create",
             "Usage: eqops db create NAME [--migrations DIR] [--set name=value]...\n\n"
             "Create the tenant's role and database (cloned from the template), or finish or\n"
             "converge them. An existing role keeps its password unless --rotate.",
             npos == 1);
    eqops_pg_tenant *t = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    size_t k = 0;
    int lrc = eqops_pg_tenant_create(&t, pg, pos[0], &o, &e);
    if (lrc == EQOPS_EINVAL && sscanf(e.field, "settings[%zu]", &k) == 1 &&
        k < (size_t)settings.n) {
        /* name the flag the user wrote ("--set role"), not the option's index; the name
         * only when it is a setting's name, not whatever was written */
        char detail[sizeof(e.message)], name[64];
        const char *colon = strstr(e.message, "]: ");
        snprintf(detail, sizeof(detail), "%s", colon ? colon + 3 : e.message);
        snprintf(name, sizeof(name), "%.*s", (int)strcspn(settings.v[k], "="), settings.v[k]);
        if (name[0] == '\0' ||
            strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_.") != strlen(name))
            snprintf(name, sizeof(name), "#%zu", k + 1);
        snprintf(e.field, sizeof(e.field), "--set");
        snprintf(e.message, sizeof(e.message), "--set %s: %.180s", name, detail);
    }
    if (lrc != 0)
        rc = fail(c, &e);
    else
        rc =
            print_tenant(c, t, eqops_pg_tenant_created(t) ? "created" : "already there, converged");
    eqops_pg_tenant_free(t);
    eqops_pg_free(pg);
    return rc;
}

static int db_drop(cli *c, int argc, char **argv)
{
    db_common d = {0};
    const char *confirm = NULL;
    const cli_flag flags[] = {
        {"confirm", 0, CLI_FLAG_STRING, &confirm, "the tenant name again: its data is deleted"},
        DB_COMMON_FLAGS(d),
        {0}};
    const char *pos[1];
    int npos, rc = cli_parse(c, "db drop", flags, argc, argv, pos, 1, &npos);
    if (rc != CLI_OK)
        return rc;
    eqops_pg *pg = NULL;
    DB_START("db drop", "Usage: eqops db drop NAME --confirm NAME", npos == 1);
    eqops_error e = EQOPS_ERROR_INIT;
    if (eqops_pg_tenant_drop(pg, pos[0], confirm, &e) != 0)
        rc = fail(c, &e);
    else if (c->output == CLI_JSON)
        rc = cli_print_json(c, json_pack("{s:s, s:s}", "name", pos[0], "state", "dropped"));
    else
        printf("tenant %s: dropped (database and role)\n", pos[0]);
    eqops_pg_free(pg);
    return rc;
}

static int db_list(cli *c, int argc, char **argv)
{
    db_common d = {0};
    bool versions = false;
    const cli_flag flags[] = {{"versions", 0, CLI_FLAG_BOOL, &versions,
                               "read each database's schema version (one connection per tenant)"},
                              DB_COMMON_FLAGS(d),
                              {0}};
    const char *pos[1];
    int npos, rc = cli_parse(c, "db list", flags, argc, argv, pos, 0, &npos);
    if (rc != CLI_OK)
        return rc;
    eqops_pg *pg = NULL;
    DB_START("db list", "Usage: eqops db list [--versions]", true);
    char *out = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    if (eqops_pg_tenant_list(&out, pg, versions, &e) != 0) {
        rc = fail(c, &e);
    } else if (c->output == CLI_JSON) {
        printf("%s\n", out);
    } else {
        json_t *list = json_loads(out, 0, NULL);
        size_t i;
        json_t *t;
        printf("%-24s %-32s %-9s %10s %8s\n", "NAME", "DATABASE", "STATE", "SIZE(MiB)", "VERSION");
        json_array_foreach(list, i, t)
        {
            json_t *db = json_object_get(t, "database"), *v = json_object_get(t, "schema_version");
            json_int_t size = json_integer_value(json_object_get(t, "size"));
            char vs[24] = "-", ss[24] = "-";
            if (json_is_integer(v))
                snprintf(vs, sizeof(vs), "%lld", (long long)json_integer_value(v));
            if (size >= 0)
                snprintf(ss, sizeof(ss), "%.1f", (double)size / 1048576.0);
            printf("%-24s %-32s %-9s %10s %8s\n", json_string_value(json_object_get(t, "name")),
                   json_is_string(db) ? json_string_value(db) : "-",
                   json_string_value(json_object_get(t, "state")), ss, vs);
        }
        printf("%zu tenant(s)\n", json_array_size(list));
        json_decref(list);
    }
    eqops_free(out);
    eqops_pg_free(pg);
    return rc;
}

/* ---- migrations ---------------------------------------------------------------------------------
 */

static int progress(const char *database, const char *status, size_t done, size_t total,
                    void *payload)
{
    (void)payload;
    fprintf(stderr, "\r\033[K[%zu/%zu] %s %s", done, total, database, status);
    if (done == total)
        fputc('\n', stderr);
    fflush(stderr);
    return 0;
}

static void version_text(json_t *v, char out[24])
{
    if (json_is_integer(v))
        snprintf(out, 24, "%lld", (long long)json_integer_value(v));
    else
        snprintf(out, 24, "-");
}

static void print_results(json_t *doc)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(doc, "databases"), i, r)
    {
        const char *err = json_string_value(json_object_get(r, "error"));
        json_t *applied = json_object_get(r, "applied");
        char from[24], to[24];
        version_text(json_object_get(r, "from"), from);
        version_text(json_object_get(r, "to"), to);
        printf("%-32s %-8s %s -> %s", json_string_value(json_object_get(r, "database")),
               json_string_value(json_object_get(r, "status")), from, to);
        if (json_array_size(applied))
            printf(" (%zu migration(s))", json_array_size(applied));
        if (err)
            printf(": %s", err);
        printf("\n");
    }
}

static int db_migrate(cli *c, int argc, char **argv)
{
    db_common d = {0};
    const char *migrations = NULL, *concurrency = NULL, *canary = NULL, *lock_wait = NULL,
               *lock_timeout = NULL, *stmt_timeout = NULL;
    bool dry_run = false, keep_going = false, skip_template = false, no_progress = false;
    cli_list tenants = {{0}, 0};
    const cli_flag flags[] = {
        {"migrations", 0, CLI_FLAG_STRING, &migrations, "migrations directory (required)"},
        {"concurrency", 'j', CLI_FLAG_STRING, &concurrency, "databases at once (default 4)"},
        {"canary", 0, CLI_FLAG_STRING, &canary, "migrate this many tenants first, then the rest"},
        {"continue-on-error", 0, CLI_FLAG_BOOL, &keep_going,
         "keep going when a tenant fails (not in the canary stage)"},
        {"dry-run", 0, CLI_FLAG_BOOL, &dry_run, "print the plan, change nothing"},
        {"tenant", 0, CLI_FLAG_LIST, &tenants, "only this tenant (repeatable)"},
        {"skip-template", 0, CLI_FLAG_BOOL, &skip_template, "leave the template alone"},
        {"lock-wait", 0, CLI_FLAG_STRING, &lock_wait,
         "how long to wait for a database's or the fleet's lock (default 30s)"},
        {"lock-timeout", 0, CLI_FLAG_STRING, &lock_timeout,
         "lock_timeout of each migration (default 5s)"},
        {"statement-timeout", 0, CLI_FLAG_STRING, &stmt_timeout,
         "statement_timeout of each migration (default none)"},
        {"no-progress", 0, CLI_FLAG_BOOL, &no_progress, "no progress line on a terminal"},
        DB_COMMON_FLAGS(d),
        {0}};
    const char *pos[1];
    int npos, rc = cli_parse(c, "db migrate", flags, argc, argv, pos, 0, &npos);
    if (rc != CLI_OK)
        return rc;
    eqops_pg_migrate_options o = EQOPS_PG_MIGRATE_OPTIONS_INIT;
    long n = 0;
    o.migrations_dir = migrations;
    o.dry_run = dry_run;
    o.continue_on_error = keep_going;
    o.skip_template = skip_template;
    o.tenants = tenants.n ? tenants.v : NULL;
    if (concurrency) {
        if ((rc = parse_int(c, "db migrate", "concurrency", concurrency, 1, 64, &n)) != 0)
            return rc;
        o.concurrency = (int)n;
    }
    if (canary) {
        if ((rc = parse_int(c, "db migrate", "canary", canary, 0, 1000000, &n)) != 0)
            return rc;
        o.canary = (int)n;
    }
    if ((lock_wait && (rc = parse_ms(c, "db migrate", "lock-wait", lock_wait, &o.lock_wait_ms))) ||
        (lock_timeout &&
         (rc = parse_ms(c, "db migrate", "lock-timeout", lock_timeout, &o.lock_timeout_ms))) ||
        (stmt_timeout && (rc = parse_ms(c, "db migrate", "statement-timeout", stmt_timeout,
                                        &o.statement_timeout_ms))))
        return rc;
    if (!no_progress && isatty(STDERR_FILENO))
        o.progress = progress;
    eqops_pg *pg = NULL;
    DB_START("db migrate",
             "Usage: eqops db migrate --migrations DIR [--canary N] [--dry-run] ...\n\n"
             "Migrate the template, then every tenant (or --tenant ones), under a fleet lock.\n"
             "Exit 1 when a database failed.",
             migrations != NULL);
    char *out = NULL;
    size_t failed = 0;
    eqops_error e = EQOPS_ERROR_INIT;
    if (eqops_pg_migrate(&out, &failed, pg, &o, &e) != 0) {
        rc = fail(c, &e);
    } else if (c->output == CLI_JSON) {
        printf("%s\n", out);
    } else {
        json_t *doc = json_loads(out, 0, NULL);
        print_results(doc);
        printf("%s to version %lld: %lld ok, %lld failed, %lld skipped\n",
               dry_run ? "plan" : "migrated",
               (long long)json_integer_value(json_object_get(doc, "target_version")),
               (long long)json_integer_value(json_object_get(doc, "ok")),
               (long long)json_integer_value(json_object_get(doc, "failed")),
               (long long)json_integer_value(json_object_get(doc, "skipped")));
        json_decref(doc);
    }
    if (rc == CLI_OK && failed > 0)
        rc = CLI_FAIL;
    eqops_free(out);
    eqops_pg_free(pg);
    return rc;
}

static int db_template(cli *c, int argc, char **argv)
{
    db_common d = {0};
    const char *migrations = NULL;
    const cli_flag flags[] = {
        {"migrations", 0, CLI_FLAG_STRING, &migrations, "migrations directory (required)"},
        DB_COMMON_FLAGS(d),
        {0}};
    const char *pos[1];
    int npos, rc = cli_parse(c, "db template", flags, argc, argv, pos, 0, &npos);
    if (rc != CLI_OK)
        return rc;
    eqops_pg *pg = NULL;
    DB_START("db template", "Usage: eqops db template --migrations DIR", migrations != NULL);
    eqops_error e = EQOPS_ERROR_INIT;
    if (eqops_pg_template_ensure(pg, migrations, &e) != 0)
        rc = fail(c, &e);
    else if (c->output == CLI_JSON)
        rc = cli_print_json(c, json_pack("{s:s}", "template", "ready"));
    else
        printf("template: up to date\n");
    eqops_pg_free(pg);
    return rc;
}

static int db_validate(cli *c, int argc, char **argv)
{
    db_common d = {0};
    const char *migrations = NULL, *database = NULL;
    const cli_flag flags[] = {
        {"migrations", 0, CLI_FLAG_STRING, &migrations, "migrations directory (required)"},
        {"database", 0, CLI_FLAG_STRING, &database, "only this database"},
        DB_COMMON_FLAGS(d),
        {0}};
    const char *pos[1];
    int npos, rc = cli_parse(c, "db validate", flags, argc, argv, pos, 0, &npos);
    if (rc != CLI_OK)
        return rc;
    eqops_pg *pg = NULL;
    DB_START("db validate",
             "Usage: eqops db validate --migrations DIR [--database DB]\n\n"
             "Exit 1 when a migration was edited after it was applied, or is missing.\n\n"
             "Flags:\n",
             migrations != NULL);
    char *out = NULL;
    size_t problems = 0;
    eqops_error e = EQOPS_ERROR_INIT;
    if (eqops_pg_validate(&out, &problems, pg, migrations, database, &e) != 0) {
        rc = fail(c, &e);
    } else if (c->output == CLI_JSON) {
        printf("%s\n", out);
    } else {
        json_t *doc = json_loads(out, 0, NULL);
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(doc, "databases"), i, r)
        {
            char *pending = json_dumps(json_object_get(r, "pending"), JSON_COMPACT);
            char *edited = json_dumps(json_object_get(r, "edited"), JSON_COMPACT);
            char *missing = json_dumps(json_object_get(r, "missing"), JSON_COMPACT);
            const char *err = json_string_value(json_object_get(r, "error"));
            printf("%-32s version %-6lld pending %s edited %s missing %s%s%s\n",
                   json_string_value(json_object_get(r, "database")),
                   (long long)json_integer_value(json_object_get(r, "version")), pending, edited,
                   missing, err ? " error: " : "", err ? err : "");
            free(pending);
            free(edited);
            free(missing);
        }
        printf("%zu problem(s)\n", problems);
        json_decref(doc);
    }
    if (rc == CLI_OK && problems > 0)
        rc = CLI_FAIL;
    eqops_free(out);
    eqops_pg_free(pg);
    return rc;
}

static int db_drift(cli *c, int argc, char **argv)
{
    db_common d = {0};
    cli_list tenants = {{0}, 0};
    const cli_flag flags[] = {
        {"tenant", 0, CLI_FLAG_LIST, &tenants, "only this tenant (repeatable)"},
        DB_COMMON_FLAGS(d),
        {0}};
    const char *pos[1];
    int npos, rc = cli_parse(c, "db drift", flags, argc, argv, pos, 0, &npos);
    if (rc != CLI_OK)
        return rc;
    eqops_pg *pg = NULL;
    DB_START("db drift",
             "Usage: eqops db drift [--tenant NAME]...\n\n"
             "Exit 1 when a tenant's schema or isolation differs from the template.",
             true);
    char *out = NULL;
    size_t drifted = 0;
    eqops_error e = EQOPS_ERROR_INIT;
    if (eqops_pg_drift(&out, &drifted, pg, tenants.n ? tenants.v : NULL, &e) != 0) {
        rc = fail(c, &e);
    } else if (c->output == CLI_JSON) {
        printf("%s\n", out);
    } else {
        json_t *doc = json_loads(out, 0, NULL);
        size_t i, k;
        json_t *t, *item;
        printf("template %.16s... (%lld objects)\n",
               json_string_value(json_object_get(doc, "template")),
               (long long)json_integer_value(json_object_get(doc, "template_objects")));
        json_array_foreach(json_object_get(doc, "tenants"), i, t)
        {
            printf("%-24s schema %-8s isolation %s\n",
                   json_string_value(json_object_get(t, "tenant")),
                   json_string_value(json_object_get(t, "schema")),
                   json_string_value(json_object_get(t, "isolation")));
            static const char *const lists[][2] = {{"only_in_template", "missing"},
                                                   {"only_in_tenant", "extra"},
                                                   {"changed", "changed"}};
            for (size_t l = 0; l < 3; l++)
                json_array_foreach(json_object_get(t, lists[l][0]), k, item)
                    printf("    %-8s %s\n", lists[l][1], json_string_value(item));
            const char *err = json_string_value(json_object_get(t, "error"));
            if (err)
                printf("    error    %s\n", err);
        }
        printf("%zu tenant(s) drifted\n", drifted);
        json_decref(doc);
    }
    if (rc == CLI_OK && drifted > 0)
        rc = CLI_FAIL;
    eqops_free(out);
    eqops_pg_free(pg);
    return rc;
}

static int db_fingerprint(cli *c, int argc, char **argv)
{
    db_common d = {0};
    const cli_flag flags[] = {DB_COMMON_FLAGS(d), {0}};
    const char *pos[1];
    int npos, rc = cli_parse(c, "db fingerprint", flags, argc, argv, pos, 1, &npos);
    if (rc != CLI_OK)
        return rc;
    eqops_pg *pg = NULL;
    DB_START("db fingerprint", "Usage: eqops db fingerprint DATABASE", npos == 1);
    char *out = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    if (eqops_pg_fingerprint(&out, pg, pos[0], &e) != 0)
        rc = fail(c, &e);
    else if (c->output == CLI_JSON)
        rc = cli_print_json(c, json_pack("{s:s, s:s}", "database", pos[0], "fingerprint", out));
    else
        printf("%s\n", out);
    eqops_free(out);
    eqops_pg_free(pg);
    return rc;
}

static int db_show(cli *c, int argc, char **argv)
{
    return db_tenant_simple(c, argc, argv, "db show", eqops_pg_tenant_show, "found");
}

static int db_rotate(cli *c, int argc, char **argv)
{
    return db_tenant_simple(c, argc, argv, "db rotate", eqops_pg_tenant_rotate, "password rotated");
}

int cmd_db(cli *c, int argc, char **argv)
{
    static const struct {
        const char *name;
        cli_run_fn run;
    } subs[] = {
        {"create", db_create},   {"drop", db_drop},
        {"list", db_list},       {"show", db_show},
        {"rotate", db_rotate},   {"template", db_template},
        {"migrate", db_migrate}, {"validate", db_validate},
        {"drift", db_drift},     {"fingerprint", db_fingerprint},
    };
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        db_usage();
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
        if (!strcmp(argv[1], subs[i].name))
            return subs[i].run(c, argc - 1, argv + 1);
    return cli_usage(c, "db", "unknown command '%s'", argv[1]);
}
