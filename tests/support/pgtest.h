/*
 * pgtest.h - SQL for the Postgres integration tests, run beside the library (hand-made
 * changes, what the server sees).
 */
#ifndef EQOPS_PGTEST_H
#define EQOPS_PGTEST_H

#include <stdarg.h>

/* Run SQL in database `db` (NULL: postgres) as the conninfo `who`; the first value of the
 * answer ("" when none), in a static buffer until the next call. Fails the test on error. */
char *pgtest_vsql(const char *who, const char *db, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
char *pgtest_sql(const char *who, const char *db, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* EQOPS_PGTEST_H */
