/*
 * init.c - version and global initialisation.
 */
#include "core_internal.h"

#include <curl/curl.h>
#include <libxml/parser.h>
#include <jansson.h>
#include <openssl/crypto.h>

static unsigned init_count;

const char *eqops_version(void)
{
    return EQOPS_VERSION_STRING;
}

unsigned eqops_version_number(void)
{
    return EQOPS_VERSION_NUMBER;
}

bool eqops__initialized(void)
{
    return init_count > 0;
}

int eqops_init(void)
{
    if (init_count > 0) {
        init_count++;
        return 0;
    }
    eqops__alloc_install_jansson();
    xmlInitParser(); /* before any thread parses (never cleaned up: the host may use it too) */
    uint32_t seed = 0;
    if (eqops__random_bytes(&seed, sizeof(seed)) != 0)
        return EQOPS_EINTERNAL;
    json_object_seed(seed ? seed : 1);
    CURLcode c = curl_global_init_mem(CURL_GLOBAL_DEFAULT, eqops__curl_malloc, eqops__curl_free,
                                      eqops__curl_realloc, eqops__curl_strdup, eqops__curl_calloc);
    if (c == CURLE_OUT_OF_MEMORY)
        return EQOPS_ENOMEM;
    if (c != CURLE_OK)
        return EQOPS_EINTERNAL;
    init_count = 1;
    eqops__log(EQOPS_LOG_DEBUG, "core", "libeqops %s initialised (%s)", EQOPS_VERSION_STRING,
               curl_version());
    return 0;
}

void eqops_cleanup(void)
{
    if (init_count == 0)
        return;
    if (--init_count == 0)
        curl_global_cleanup();
}
