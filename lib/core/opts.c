/*
 * opts.c - reading a caller's versioned options struct.
 *
 * Every public options struct starts with `unsigned version` and only ever grows at its end.
 * A caller compiled against an older header hands a smaller struct: only as many bytes as its
 * version has are read, into a full local copy whose newer fields stay zero (their defaults).
 * A version newer than this library's, or 0, is refused rather than guessed at.
 */
#include "core_internal.h"

static int check_version(unsigned version, size_t nsizes, const char *what, const char *field,
                         eqops_error *err)
{
    if (version == 0)
        return eqops__err_field(err, EQOPS_EINVAL, field,
                                "%s: version 0 is not a version (start from the *_OPTIONS_INIT "
                                "macro or the *_options_init function)",
                                what);
    if (version > nsizes)
        return eqops__err_field(err, EQOPS_EINVAL, field,
                                "%s: version %u is newer than this library's %zu (libeqops %s)",
                                what, version, nsizes, eqops_version());
    return 0;
}

int eqops__opts_read(void *dst, size_t dst_size, const void *src, const size_t *sizes,
                     size_t nsizes, const char *what, const char *field, eqops_error *err)
{
    memset(dst, 0, dst_size);
    unsigned version = (unsigned)nsizes;
    if (src) {
        memcpy(&version, src, sizeof(version));
        int rc = check_version(version, nsizes, what, field, err);
        if (rc != 0)
            return rc;
        size_t n = sizes[version - 1] < dst_size ? sizes[version - 1] : dst_size;
        memcpy(dst, src, n);
    }
    memcpy(dst, &version, sizeof(version));
    return 0;
}

int eqops__opts_init(void *opts, unsigned version, const size_t *sizes, size_t nsizes)
{
    if (opts == NULL || check_version(version, nsizes, "options", "version", NULL) != 0)
        return EQOPS_EINVAL;
    memset(opts, 0, sizes[version - 1]);
    memcpy(opts, &version, sizeof(version));
    return 0;
}
