/*
 * Fuzz the kubeconfig reader: YAML or JSON text merged as kubectl merges files; then the
 * current context resolved from it when the text is a whole file (as a one-file KUBECONFIG).
 * The file is an anonymous memory file (memfd) reached through /proc/self/fd: nothing is left
 * behind on disk, even when the fuzzer is killed.
 * Nothing may crash or leak; a refusal is an error with a message.
 */
#define _GNU_SOURCE /* memfd_create */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "k8s/k8s_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *merged = json_object();
    eqops_error e = EQOPS_ERROR_INIT;
    int rc = eqops__k8s_config_merge(merged, (const char *)data, size, "fuzz.yaml", &e);
    if (rc != 0 && e.message[0] == '\0')
        abort();
    eqops_error_clear(&e);
    json_decref(merged);
    /* resolve the current context from the same text, as a file */
    static char path[64];
    static int fd = -1;
    if (fd < 0) {
        fd = memfd_create("eqops-fuzz-kubeconfig", MFD_CLOEXEC);
        if (fd < 0)
            abort();
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();
    k8s_config cfg;
    rc = eqops__k8s_config_load(&cfg, path, NULL, &e);
    if (rc == 0)
        eqops__k8s_config_clear(&cfg);
    else if (e.message[0] == '\0')
        abort();
    eqops_error_clear(&e);
    return 0;
}
