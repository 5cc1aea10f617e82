/*
 * Fuzz the TZif reader (RFC 8536) with arbitrary bytes. Whatever parses must answer offset,
 * local-time and calendar-period queries without crashing, and an offset stays within the
 * range the parser accepts (-24:59:59..+25:59:59).
 */
#include <stdint.h>
#include <stdlib.h>

#include "core/tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int64_t instants[] = {
        INT64_MIN,    -2208988800LL,  -1,        0, 1774746000LL, 1792890000LL, 1795773600LL,
        4118083200LL, 253402300799LL, INT64_MAX,
    };
    eqops_tz *tz = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    int rc = eqops__tz_parse(&tz, data, size, "fuzz", &e);
    if ((rc == 0) != (tz != NULL) || (rc != 0 && rc != EQOPS_EINVAL && rc != EQOPS_ENOMEM))
        abort();
    for (size_t i = 0; tz != NULL && i < sizeof(instants) / sizeof(instants[0]); i++) {
        int32_t off = eqops__tz_offset(tz, instants[i]);
        if (off < -89999 || off > 93599)
            abort();
        (void)eqops__tz_local_to_utc(tz, instants[i]);
        int64_t at_ms = instants[i] < -62135596800LL || instants[i] > 253402300799LL
                            ? instants[i] / 1000000
                            : instants[i] * 1000;
        for (int u = EQOPS_CAL_WEEK; u <= EQOPS_CAL_QUARTER; u++) {
            int64_t s, end;
            if (eqops__calendar_period(&s, &end, (eqops_calendar_unit)u, tz, at_ms, &e) == 0 &&
                !(s <= at_ms && at_ms < end))
                abort();
        }
    }
    eqops__tz_free(tz);
    eqops_error_clear(&e);
    return 0;
}
