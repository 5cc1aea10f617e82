/*
 * calendar.c - calendar SLO windows (week, month, quarter) in an IANA time zone.
 */
#include "slo_internal.h"

#include "../core/tz.h"

int eqops_slo_calendar_period(int64_t *start_ms, int64_t *end_ms, const char *unit,
                              const char *timezone, int64_t at_ms, eqops_error *err)
{
    if (start_ms == NULL || end_ms == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "out", "must not be NULL");
    *start_ms = *end_ms = 0;
    eqops_calendar_unit u;
    if (unit != NULL && strcmp(unit, "week") == 0)
        u = EQOPS_CAL_WEEK;
    else if (unit != NULL && strcmp(unit, "month") == 0)
        u = EQOPS_CAL_MONTH;
    else if (unit != NULL && strcmp(unit, "quarter") == 0)
        u = EQOPS_CAL_QUARTER;
    else
        return eqops__err_field(err, EQOPS_EINVAL, "unit", "must be week, month or quarter");
    eqops_tz *tz = NULL;
    int rc = eqops__tz_load(&tz, timezone ? timezone : "UTC", err);
    if (rc != 0)
        return rc;
    rc = eqops__calendar_period(start_ms, end_ms, u, tz, at_ms, err);
    eqops__tz_free(tz);
    return rc;
}
