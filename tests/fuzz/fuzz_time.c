/*
 * Fuzz the core's text parsers: RFC 3339 timestamps and durations. A parsed duration must
 * format and parse back to the same value.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    eqops_error e = EQOPS_ERROR_INIT;
    int64_t v = 0;
    if (eqops__time_parse_rfc3339(s, &v, &e) == 0) {
        char out[32];
        eqops__time_format_rfc3339(v, out);
    }
    if (eqops__duration_parse(s, &v, &e) == 0) {
        char out[48];
        int64_t back = -1;
        eqops__duration_format(v, out);
        if (eqops__duration_parse(out, &back, NULL) != 0 || back != v)
            abort();
    }
    eqops_error_clear(&e);
    free(s);
    return 0;
}
