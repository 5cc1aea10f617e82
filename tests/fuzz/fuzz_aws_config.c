/*
 * Fuzz the shared config and credentials file parser: any text either parses into profiles
 * whose values read back, or is refused with a message naming the line; the first input byte
 * chooses the config or the credentials dialect.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    bool config = data[0] & 1;
    json_t *profiles = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    int rc = eqops__aws_ini_parse(&profiles, (const char *)data + 1, size - 1, config, "fuzz", &e);
    if (rc != 0) {
        if (rc != EQOPS_EINVAL || strncmp(e.field, "fuzz:", 5) != 0 || !e.message[0])
            abort(); /* a refusal names the file and line, and the rule */
        eqops_error_clear(&e);
        eqops__aws_profiles_free(profiles);
        return 0;
    }
    const char *name;
    json_t *profile;
    json_object_foreach(profiles, name, profile)
    {
        const char *key;
        json_t *value;
        if (!json_is_object(profile))
            abort();
        json_object_foreach(profile, key, value)
        {
            /* (an empty value reads as not set) */
            const char *v = eqops__aws_profile_get(profiles, name, key);
            const char *want = json_string_value(value);
            if (want == NULL || (*want ? v == NULL || strcmp(v, want) != 0 : v != NULL))
                abort();
        }
    }
    eqops__aws_profiles_free(profiles);
    return 0;
}
