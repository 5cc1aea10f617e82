/*
 * log.c - the log hook. The library is silent unless a callback is installed.
 */
#include "core_internal.h"

#include <stdio.h>

static eqops_log_fn log_fn;
static eqops_log_level log_max = EQOPS_LOG_NONE;
static void *log_payload;

void eqops_set_log(eqops_log_fn fn, eqops_log_level max_level, void *payload)
{
    log_fn = fn;
    log_max = fn ? max_level : EQOPS_LOG_NONE;
    log_payload = payload;
}

const char *eqops_log_level_name(eqops_log_level level)
{
    switch (level) {
    case EQOPS_LOG_NONE:
        return "none";
    case EQOPS_LOG_ERROR:
        return "error";
    case EQOPS_LOG_WARN:
        return "warn";
    case EQOPS_LOG_INFO:
        return "info";
    case EQOPS_LOG_DEBUG:
        return "debug";
    case EQOPS_LOG_TRACE:
        return "trace";
    }
    return "unknown";
}

bool eqops__log_enabled(eqops_log_level level)
{
    return log_fn != NULL && level != EQOPS_LOG_NONE && level <= log_max;
}

void eqops__log(eqops_log_level level, const char *module, const char *fmt, ...)
{
    if (!eqops__log_enabled(level))
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    for (char *p = line; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
    log_fn(level, module, line, log_payload);
}
