/*
 * hello.c - the smallest libeqops program: versions, a duration, and an error reported the
 * library's way. Built by the tests from the installed files with pkg-config and with CMake.
 */
#include <eqops.h>
#include <inttypes.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    const char *window = argc > 1 ? argv[1] : "30d";
    if (eqops_init() != 0) {
        fprintf(stderr, "libeqops failed to initialise\n");
        return 1;
    }
    printf("libeqops %s (built against %s)\n", eqops_version(), EQOPS_VERSION_STRING);

    eqops_error err = EQOPS_ERROR_INIT;
    int64_t ms = 0;
    int rc = eqops_duration_parse(&ms, window, &err);
    if (rc == 0) {
        char *text = NULL;
        if (eqops_duration_format(&text, ms, &err) == 0) {
            printf("window %s = %" PRId64 " ms = %s\n", window, ms, text);
            eqops_free(text);
        }
    } else {
        fprintf(stderr, "error %s: %s\n", eqops_code_name(err.code), err.message);
    }
    eqops_error_clear(&err);
    eqops_cleanup();
    return rc == 0 ? 0 : 1;
}
