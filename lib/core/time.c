/*
 * time.c - clocks, RFC 3339 timestamps and Prometheus-style durations.
 */
#include "core_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int64_t (*clock_override)(void);

static int64_t real_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t eqops__now_ms(void)
{
    return clock_override ? clock_override() : real_now_ms();
}

void eqops__set_clock(int64_t (*fn)(void))
{
    clock_override = fn;
}

int64_t eqops__mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void eqops__sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static unsigned days_in_month(int y, unsigned m)
{
    static const unsigned dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

/* Read exactly n digits. */
static bool digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool expect(const char **p, char a, char b)
{
    if (**p != a && **p != b)
        return false;
    (*p)++;
    return true;
}

int eqops__time_parse_rfc3339(const char *s, int64_t *out_ms, eqops_error *err)
{
    const char *p = s;
    int y, mo, d, h, mi, sec, oh = 0, om = 0, ms = 0;
    if (s == NULL)
        return eqops__err(err, EQOPS_EINVAL, "timestamp: missing");
    if (!digits(&p, 4, &y) || !expect(&p, '-', '-') || !digits(&p, 2, &mo) ||
        !expect(&p, '-', '-') || !digits(&p, 2, &d) || !expect(&p, 'T', 't') ||
        !digits(&p, 2, &h) || !expect(&p, ':', ':') || !digits(&p, 2, &mi) ||
        !expect(&p, ':', ':') || !digits(&p, 2, &sec))
        goto bad;
    if (*p == '.') {
        p++;
        int n = 0;
        for (; *p >= '0' && *p <= '9'; p++, n++) {
            if (n < 3)
                ms = ms * 10 + (*p - '0');
            if (n >= 9)
                goto bad;
        }
        if (n == 0)
            goto bad;
        for (; n < 3; n++)
            ms *= 10;
    }
    int sign = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '+' ? 1 : -1;
        p++;
        if (!digits(&p, 2, &oh) || !expect(&p, ':', ':') || !digits(&p, 2, &om))
            goto bad;
    } else {
        goto bad;
    }
    if (*p != '\0')
        goto bad;
    if (mo < 1 || mo > 12 || d < 1 || (unsigned)d > days_in_month(y, (unsigned)mo) || h > 23 ||
        mi > 59 || sec > 60 || oh > 23 || om > 59)
        goto bad;
    if (sec == 60) /* leap second: fold into the next second's start */
        sec = 59;
    int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - sign * (oh * 3600 + om * 60);
    *out_ms = secs * 1000 + ms;
    return 0;
bad:
    return eqops__err(err, EQOPS_EINVAL,
                      "timestamp: '%.40s' is not RFC 3339 (YYYY-MM-DDTHH:MM:SS[.frac]Z|+hh:mm)", s);
}

void eqops__time_format_rfc3339(int64_t unix_ms, char out[32])
{
    time_t t = (time_t)(unix_ms >= 0 ? unix_ms / 1000 : (unix_ms - 999) / 1000);
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, 32, "1970-01-01T00:00:00Z");
}

struct unit {
    const char *name;
    int64_t ms;
};

static const struct unit units[] = {
    {"y", 365LL * 86400000},
    {"w", 7LL * 86400000},
    {"d", 86400000},
    {"h", 3600000},
    {"m", 60000},
    {"s", 1000},
    {"ms", 1},
};

int eqops__duration_parse(const char *s, int64_t *out_ms, eqops_error *err)
{
    if (s == NULL || *s == '\0')
        return eqops__err(err, EQOPS_EINVAL, "duration: empty");
    if (strcmp(s, "0") == 0) {
        *out_ms = 0;
        return 0;
    }
    const char *p = s;
    int64_t total = 0;
    size_t next_unit = 0;
    while (*p) {
        if (*p < '0' || *p > '9')
            goto bad;
        int64_t v = 0;
        for (; *p >= '0' && *p <= '9'; p++) {
            if (v > (INT64_MAX - 9) / 10)
                goto range;
            v = v * 10 + (*p - '0');
        }
        size_t u = next_unit;
        for (; u < EQOPS__ARRAY_LEN(units); u++) {
            size_t n = strlen(units[u].name);
            /* "m" must not swallow the "m" of "ms" */
            if (strncmp(p, units[u].name, n) == 0 && !(n == 1 && p[0] == 'm' && p[1] == 's'))
                break;
        }
        if (u == EQOPS__ARRAY_LEN(units))
            goto bad;
        if (v > INT64_MAX / units[u].ms || total > INT64_MAX - v * units[u].ms)
            goto range;
        total += v * units[u].ms;
        p += strlen(units[u].name);
        next_unit = u + 1;
    }
    *out_ms = total;
    return 0;
bad:
    return eqops__err(err, EQOPS_EINVAL,
                      "duration: '%.40s' is not a duration like 30d, 1h30m or 500ms (units y w "
                      "d h m s ms, largest first)",
                      s);
range:
    return eqops__err(err, EQOPS_EINVAL, "duration: '%.40s' is out of range", s);
}

void eqops__duration_format(int64_t ms, char out[48])
{
    size_t off = 0;
    out[0] = '\0';
    if (ms <= 0) {
        snprintf(out, 48, "0s");
        return;
    }
    for (size_t u = 0; u < EQOPS__ARRAY_LEN(units); u++) {
        /* like Prometheus: years and weeks only when exact, so 90d is not 12w6d */
        bool exact_only = u < 2;
        if (exact_only && ms % units[u].ms != 0)
            continue;
        int64_t v = ms / units[u].ms;
        if (v > 0) {
            off += (size_t)snprintf(out + off, 48 - off, "%lld%s", (long long)v, units[u].name);
            ms -= v * units[u].ms;
        }
    }
}

int eqops_duration_parse(int64_t *out_ms, const char *text, eqops_error *err)
{
    if (out_ms == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "out_ms", "must not be NULL");
    *out_ms = 0;
    return eqops__duration_parse(text, out_ms, err);
}

int eqops_duration_format(char **out, int64_t ms, eqops_error *err)
{
    if (out == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "out", "must not be NULL");
    *out = NULL;
    if (ms < 0)
        return eqops__err_field(err, EQOPS_EINVAL, "ms", "a duration cannot be negative");
    char buf[48];
    eqops__duration_format(ms, buf);
    if ((*out = eqops__strdup(buf)) == NULL)
        return eqops__err(err, EQOPS_ENOMEM, "duration: out of memory");
    return 0;
}
