/*
 * tz.h - IANA time zones read from TZif files (RFC 8536) and calendar periods (week, month,
 * quarter) in a zone, without touching the process-wide TZ state (no setenv/tzset/localtime).
 * Internal: nothing here is exported from the shared library.
 *
 * Threads: a loaded eqops_tz is immutable; any number of threads may use it at once.
 */
#ifndef EQOPS_CORE_TZ_H
#define EQOPS_CORE_TZ_H

#include "core_internal.h"

typedef struct eqops_tz eqops_tz;

/*
 * Load a zone by IANA name ("Europe/Berlin", "UTC") from $TZDIR, else /usr/share/zoneinfo.
 * "UTC" and "Etc/UTC" are built in and need no file. On success *out is new (free it with
 * eqops__tz_free); on failure it is NULL. Returns 0, EQOPS_EINVAL (bad name, malformed
 * file), EQOPS_ENOTFOUND (no such zone), EQOPS_ENOMEM, or rarely EQOPS_EIO/EQOPS_EFORBIDDEN
 * when the file exists but cannot be read.
 */
int eqops__tz_load(eqops_tz **out, const char *name, eqops_error *err);

/*
 * Parse the bytes of a TZif file (versions 1 to 3; the 64-bit data block and the footer TZ
 * string are used when present). `name` only labels error messages (may be NULL). On success
 * *out is new; on failure it is NULL. Returns 0, EQOPS_EINVAL (malformed) or EQOPS_ENOMEM.
 */
int eqops__tz_parse(eqops_tz **out, const unsigned char *data, size_t len, const char *name,
                    eqops_error *err);

/* NULL-safe. */
void eqops__tz_free(eqops_tz *tz);

/* UTC offset in seconds (local = utc + offset) in force at the UTC instant unix_s. */
int32_t eqops__tz_offset(const eqops_tz *tz, int64_t unix_s);

/*
 * The UTC instant of a local wall-clock time given as seconds since 1970-01-01T00:00:00 local.
 * In a gap (spring forward) return the instant the wall clock jumps past it; in an overlap
 * (fall back) return the earlier instant.
 */
int64_t eqops__tz_local_to_utc(const eqops_tz *tz, int64_t local_s);

typedef enum eqops_calendar_unit {
    EQOPS_CAL_WEEK,
    EQOPS_CAL_MONTH,
    EQOPS_CAL_QUARTER
} eqops_calendar_unit;

/*
 * The calendar period (ISO weeks start Monday 00:00 local; months at the 1st 00:00 local;
 * quarters at Jan/Apr/Jul/Oct 1st 00:00 local) containing the UTC instant at_ms, as UTC
 * milliseconds [*start_ms, *end_ms). at_ms must lie in the years 0001-9999. Returns 0 or
 * EQOPS_EINVAL (NULL argument, unknown unit, instant out of range, inconsistent zone data).
 */
int eqops__calendar_period(int64_t *start_ms, int64_t *end_ms, eqops_calendar_unit unit,
                           const eqops_tz *tz, int64_t at_ms, eqops_error *err);

#endif /* EQOPS_CORE_TZ_H */
