/*
 * names.c - the tenant name rule and the database/role names derived from it.
 */
#include "pg_internal.h"

#include <stdio.h>
#include <stdlib.h>

/* PostgreSQL's reserved key words (both reserved categories of the SQL key words appendix)
 * and names that would confuse an operator. Sorted for bsearch. */
static const char *const reserved[] = {
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "binary",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current-catalog",
    "current-date",
    "current-role",
    "current-schema",
    "current-time",
    "current-timestamp",
    "current-user",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "group",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "intersect",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "natural",
    "not",
    "notnull",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "outer",
    "overlaps",
    "placing",
    "postgres",
    "primary",
    "public",
    "references",
    "returning",
    "right",
    "select",
    "session-user",
    "similar",
    "some",
    "symmetric",
    "table",
    "tablesample",
    "template0",
    "template1",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int eqops_pg_tenant_name_check(const char *name, eqops_error *err)
{
    eqops_error_clear(err);
    return eqops__pg_name_check(name, "name", err);
}

int eqops__pg_name_check(const char *name, const char *field, eqops_error *err)
{
    if (name == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, field, "is required");
    size_t n = strnlen(name, 256);
    if (n < 2 || n > 40)
        return eqops__err_field(err, EQOPS_EINVAL, field, "must be 2 to 40 characters, not %s%zu",
                                n >= 256 ? "over " : "", n);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)name[i];
        bool lower = ch >= 'a' && ch <= 'z', digit = ch >= '0' && ch <= '9';
        if (i == 0 && !lower)
            return eqops__err_field(err, EQOPS_EINVAL, field, "must start with a lowercase letter");
        if (lower || digit)
            continue;
        if (ch == '-') {
            if (i == n - 1)
                return eqops__err_field(err, EQOPS_EINVAL, field, "must not end with '-'");
            if (name[i + 1] == '-')
                return eqops__err_field(err, EQOPS_EINVAL, field, "must not contain \"--\"");
            continue;
        }
        if (ch >= 0x21 && ch < 0x7f)
            return eqops__err_field(err, EQOPS_EINVAL, field,
                                    "character '%c' at position %zu is not allowed: use "
                                    "lowercase letters, digits and '-'",
                                    ch, i + 1);
        return eqops__err_field(err, EQOPS_EINVAL, field,
                                "byte 0x%02x at position %zu is not allowed: use lowercase "
                                "letters, digits and '-'",
                                ch, i + 1);
    }
    const char *key = name;
    if (bsearch(&key, reserved, EQOPS__ARRAY_LEN(reserved), sizeof(reserved[0]), cmp_str))
        return eqops__err_field(err, EQOPS_EINVAL, field,
                                "'%s' is an SQL reserved word or a system name", name);
    return 0;
}

int eqops__pg_object_name(const eqops_pg *pg, const char *tenant, char *out, size_t out_len)
{
    int n = snprintf(out, out_len, "%s%s", pg->prefix, tenant);
    if (n < 0 || (size_t)n >= out_len)
        return EQOPS_EINVAL;
    for (char *p = out + strlen(pg->prefix); *p; p++)
        if (*p == '-')
            *p = '_';
    return 0;
}

/* The tenant name back from an object name; false when it is not one of ours. */
bool eqops__pg_tenant_from_object(const eqops_pg *pg, const char *object, char *out, size_t out_len)
{
    size_t plen = strlen(pg->prefix);
    if (strncmp(object, pg->prefix, plen) != 0 || strlen(object + plen) >= out_len)
        return false;
    snprintf(out, out_len, "%s", object + plen);
    for (char *p = out; *p; p++)
        if (*p == '_')
            *p = '-';
    return eqops__pg_name_check(out, "name", NULL) == 0;
}

bool eqops__pg_sorted(const char *const *v, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (strcmp(v[i - 1], v[i]) >= 0)
            return false;
    return true;
}

bool eqops__pg_reserved_sorted(void)
{
    return eqops__pg_sorted(reserved, EQOPS__ARRAY_LEN(reserved)) && eqops__pg_settings_sorted();
}
