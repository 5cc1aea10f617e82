/*
 * Fuzz the YAML reader and writer: whatever reads must write, and what is written must read
 * back to the same value.
 */
#include <stdint.h>
#include <stdlib.h>

#include "core/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *v = NULL;
    if (eqops__yaml_parse(&v, (const char *)data, size, true, "fuzz", NULL) != 0)
        return 0;
    eqops_buf b = EQOPS_BUF_INIT;
    if (eqops__yaml_dump(v, &b, NULL) != 0)
        abort();
    json_t *back = NULL;
    if (eqops__yaml_parse(&back, eqops__buf_cstr(&b), b.len, true, "fuzz", NULL) != 0)
        abort();
    /* a dumped stream is one document holding the array of documents */
    if (!json_equal(json_array_get(back, 0), v))
        abort();
    json_decref(back);
    json_decref(v);
    eqops__buf_free(&b);
    return 0;
}
