/*
 * pgtest.c - SQL for the Postgres integration tests (pgtest.h).
 */
#include "pgtest.h"

#include <libpq-fe.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

char *pgtest_vsql(const char *who, const char *db, const char *fmt, va_list ap)
{
    static char value[512];
    char sql[2048], dsn[512];
    vsnprintf(sql, sizeof(sql), fmt, ap);
    snprintf(dsn, sizeof(dsn), "%s dbname=%s", who, db ? db : "postgres");
    PGconn *c = PQconnectdb(dsn);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("connect to %s: %s", db ? db : "postgres", PQerrorMessage(c));
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        fail_msg("sql %s: %s", sql, PQerrorMessage(c));
    snprintf(value, sizeof(value), "%s",
             st == PGRES_TUPLES_OK && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    PQfinish(c);
    return value;
}

char *pgtest_sql(const char *who, const char *db, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *v = pgtest_vsql(who, db, fmt, ap);
    va_end(ap);
    return v;
}
