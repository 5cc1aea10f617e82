/*
 * alloc.c - the allocator hook and the allocation helpers every module uses.
 */
#include "core_internal.h"

#include <jansson.h>
#include <malloc.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

static void *default_malloc(size_t size, void *payload)
{
    (void)payload;
    return malloc(size);
}

static void *default_realloc(void *ptr, size_t size, void *payload)
{
    (void)payload;
    return realloc(ptr, size);
}

static void default_free(void *ptr, void *payload)
{
    (void)payload;
    free(ptr);
}

static eqops_allocator current = {EQOPS_ALLOCATOR_VERSION, default_malloc, default_realloc,
                                  default_free, NULL};

int eqops_set_allocator(const eqops_allocator *allocator)
{
    if (allocator == NULL) {
        current = (eqops_allocator){EQOPS_ALLOCATOR_VERSION, default_malloc, default_realloc,
                                    default_free, NULL};
        return 0;
    }
    if (allocator->version != EQOPS_ALLOCATOR_VERSION || allocator->malloc_fn == NULL ||
        allocator->realloc_fn == NULL || allocator->free_fn == NULL)
        return EQOPS_EINVAL;
    /* copy only the fields of version 1, whatever the caller's struct holds beyond them */
    current = (eqops_allocator){EQOPS_ALLOCATOR_VERSION, allocator->malloc_fn,
                                allocator->realloc_fn, allocator->free_fn, allocator->payload};
    return 0;
}

void *eqops__malloc(size_t size)
{
    return current.malloc_fn(size ? size : 1, current.payload);
}

void *eqops__calloc(size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size)
        return NULL;
    void *p = eqops__malloc(n * size);
    if (p != NULL)
        memset(p, 0, n * size > 0 ? n * size : 1);
    return p;
}

void *eqops__realloc(void *ptr, size_t size)
{
    return current.realloc_fn(ptr, size ? size : 1, current.payload);
}

void eqops__free(void *ptr)
{
    if (ptr != NULL)
        current.free_fn(ptr, current.payload);
}

void eqops_free(void *ptr)
{
    eqops__free(ptr);
}

char *eqops__strndup(const char *s, size_t n)
{
    if (s == NULL)
        return NULL;
    size_t len = strnlen(s, n);
    char *p = eqops__malloc(len + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *eqops__strdup(const char *s)
{
    return s == NULL ? NULL : eqops__strndup(s, strlen(s));
}

void eqops__wipe(void *ptr, size_t n)
{
    if (ptr != NULL && n > 0)
        OPENSSL_cleanse(ptr, n);
}

void eqops__wipe_free(void *ptr, size_t n)
{
    eqops__wipe(ptr, n);
    eqops__free(ptr);
}

void eqops__secret_free(char *s)
{
    if (s != NULL)
        eqops__wipe_free(s, strlen(s));
}

void eqops_free_secret(char *secret)
{
    eqops__secret_free(secret);
}

/*
 * jansson takes malloc and free only; it never reallocates through the hook. With the default
 * allocator its blocks are wiped when freed (their size from the C library): parsed documents
 * hold tokens, secret keys and passwords, in strings and in the lexer's and dumper's buffers.
 * The blocks stay plain malloc blocks, so JSON values the host made before eqops_init() are
 * still freed correctly.
 */
static void *jansson_malloc(size_t size)
{
    return eqops__malloc(size);
}

static void jansson_free(void *ptr)
{
    if (ptr != NULL && current.free_fn == default_free) {
        OPENSSL_cleanse(ptr, malloc_usable_size(ptr));
        free(ptr);
        return;
    }
    eqops__free(ptr);
}

void eqops__alloc_install_jansson(void)
{
    json_set_alloc_funcs(jansson_malloc, jansson_free);
}

void *eqops__curl_malloc(size_t size)
{
    return eqops__malloc(size);
}

void eqops__curl_free(void *ptr)
{
    eqops__free(ptr);
}

void *eqops__curl_realloc(void *ptr, size_t size)
{
    return eqops__realloc(ptr, size);
}

char *eqops__curl_strdup(const char *s)
{
    return eqops__strdup(s);
}

void *eqops__curl_calloc(size_t n, size_t size)
{
    return eqops__calloc(n, size);
}
