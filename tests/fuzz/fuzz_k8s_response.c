/*
 * Fuzz what the k8s module reads from an API server: Status errors of any body and status, and
 * watch event lines. Nothing may crash or leak; an error always has a message; an error about
 * a Secret never keeps the server's body.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "k8s/k8s_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    eqops_error e = EQOPS_ERROR_INIT;
    long status = size ? 400 + data[0] % 200 : 0;
    for (int secret = 0; secret < 2; secret++) {
        int rc = eqops__k8s_status_error(text, size, status, 0, "fuzz", secret, &e);
        if (rc >= 0 || e.message[0] == '\0' || (secret && e.body != NULL))
            abort();
        eqops_error_clear(&e);
    }
    const char *type = NULL;
    json_t *ev = NULL;
    int rc = eqops__k8s_event_parse(text, size, &type, &ev, &e);
    if (rc == 0 && (type == NULL || ev == NULL || !json_is_object(json_object_get(ev, "object"))))
        abort();
    if (rc != 0 && (ev != NULL || e.message[0] == '\0'))
        abort();
    json_decref(ev);
    eqops_error_clear(&e);
    return 0;
}
