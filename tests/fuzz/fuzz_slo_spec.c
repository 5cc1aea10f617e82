/*
 * Fuzz the SLO spec readers (JSON, YAML and OpenSLO) and everything downstream of a spec
 * that parses: normalised JSON, rules and the promtool test file.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "slo/slo_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int initialised;
    if (!initialised) {
        eqops_init();
        initialised = 1;
    }
    for (int format = EQOPS_SLO_FORMAT_JSON; format <= EQOPS_SLO_FORMAT_YAML; format++) {
        eqops_slo_set *set = NULL;
        eqops_error e = EQOPS_ERROR_INIT;
        if (eqops_slo_set_parse(&set, (const char *)data, size, (eqops_slo_format)format, &e) ==
            0) {
            char *out = NULL;
            if (eqops_slo_set_to_json(&out, set, NULL) == 0) {
                /* the normalised spec must read back */
                eqops_slo_set *again = NULL;
                if (eqops_slo_set_parse(&again, out, strlen(out), EQOPS_SLO_FORMAT_JSON, &e) != 0)
                    abort();
                eqops_slo_set_free(again);
            }
            eqops_free(out);
            out = NULL;
            eqops_slo_rules(&out, set, NULL, NULL);
            eqops_free(out);
            out = NULL;
            eqops_slo_rules_test(&out, set, NULL, NULL);
            eqops_free(out);
            eqops_slo_set_free(set);
        }
        eqops_error_clear(&e);
    }
    return 0;
}
