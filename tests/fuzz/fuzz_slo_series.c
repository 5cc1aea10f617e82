/*
 * Fuzz the series file reader (CSV and JSON), and run the series math on what it accepts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "slo/slo_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    eqops_slo_series_data *d = NULL;
    if (eqops__slo_series_parse(&d, text, size, NULL) == 0) {
        const eqops_slo_series *s = eqops_slo_series_view(d);
        double *out = malloc((s->n ? s->n : 1) * sizeof(double));
        if (out != NULL && eqops_slo_burn_rate_series(out, s->n, s, 60000, 0.99, 1, NULL) == 0)
            for (size_t i = 0; i < s->n; i++)
                if (!(out[i] >= 0 && out[i] <= 100.0000001)) /* burn of a ratio in [0,1] */
                    abort();
        free(out);
        if (s->n > 1) {
            eqops_slo_budget b;
            eqops_slo_timeslices ts;
            eqops_slo_period_budget(&b, s, s->t_ms[0], s->t_ms[s->n - 1], 60000, 0.99, 1, NULL);
            if (s->t_ms[s->n - 1] - s->t_ms[0] < 100LL * 86400000)
                eqops_slo_timeslice_budget(&ts, s, s->t_ms[0], s->t_ms[s->n - 1], 3600000, 0.9,
                                           0.99, 0, NULL);
        }
        eqops_slo_series_data_free(d);
    }
    free(text);
    return 0;
}
