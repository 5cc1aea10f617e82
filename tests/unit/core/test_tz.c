/* IANA time zones from TZif files and calendar periods. Expected values were checked against
 * python3's zoneinfo (an independent reader of the same tzdata). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/tz.h"
#include "fail_alloc.h"

static int64_t ts(const char *s)
{
    int64_t v = -1;
    eqops_error e = EQOPS_ERROR_INIT;
    if (eqops__time_parse_rfc3339(s, &v, &e) != 0)
        fail_msg("%s: %s", s, e.message);
    return v / 1000;
}

/* The system tzdata is needed for the named zones: a loud skip locally, a failure in CI. */
static bool have_tzdata(void)
{
    const char *dir = getenv("TZDIR");
    char path[4096];
    snprintf(path, sizeof(path), "%s/Europe/Berlin", dir && *dir ? dir : "/usr/share/zoneinfo");
    if (access(path, R_OK) == 0)
        return true;
    const char *ci = getenv("CI");
    if (ci != NULL && strcmp(ci, "true") == 0)
        fail_msg("%s is missing: install tzdata", path);
    fprintf(stderr,
            "\n*** SKIPPING: %s is missing; install tzdata (apt-get install tzdata) ***\n\n", path);
    return false;
}

static eqops_tz *load(const char *name)
{
    eqops_tz *tz = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    if (eqops__tz_load(&tz, name, &e) != 0)
        fail_msg("%s: %s", name, e.message);
    assert_non_null(tz);
    return tz;
}

/* ---- synthetic TZif files -------------------------------------------------------------- */

struct zf {
    unsigned char b[8192];
    size_t n;
};

static void put32(struct zf *z, uint32_t v)
{
    for (int i = 3; i >= 0; i--)
        z->b[z->n++] = (unsigned char)(v >> (8 * i));
}

static void put64(struct zf *z, int64_t v)
{
    put32(z, (uint32_t)((uint64_t)v >> 32));
    put32(z, (uint32_t)v);
}

static void put_hdr(struct zf *z, char version, uint32_t ntrans, uint32_t ntypes)
{
    memcpy(z->b + z->n, "TZif", 4);
    z->b[z->n + 4] = (unsigned char)version;
    memset(z->b + z->n + 5, 0, 15);
    z->n += 20;
    put32(z, 0);      /* isutcnt */
    put32(z, 0);      /* isstdcnt */
    put32(z, 0);      /* leapcnt */
    put32(z, ntrans); /* timecnt */
    put32(z, ntypes); /* typecnt */
    put32(z, 4);      /* charcnt: "XYZ\0" */
}

static void put_block(struct zf *z, bool wide, uint32_t ntrans, const int64_t *trans,
                      const uint8_t *idx, uint32_t ntypes, const int32_t *utoff)
{
    for (uint32_t i = 0; i < ntrans; i++) {
        if (wide)
            put64(z, trans[i]);
        else
            put32(z, (uint32_t)trans[i]);
    }
    for (uint32_t i = 0; i < ntrans; i++)
        z->b[z->n++] = idx[i];
    for (uint32_t i = 0; i < ntypes; i++) {
        put32(z, (uint32_t)utoff[i]);
        z->b[z->n++] = 0; /* isdst */
        z->b[z->n++] = 0; /* desigidx */
    }
    memcpy(z->b + z->n, "XYZ", 4);
    z->n += 4;
}

/* A TZif file of `version` (0 = version 1 only) with the footer `footer` (v2+). */
static void make(struct zf *z, char version, uint32_t ntrans, const int64_t *trans,
                 const uint8_t *idx, uint32_t ntypes, const int32_t *utoff, const char *footer)
{
    z->n = 0;
    put_hdr(z, version, ntrans, ntypes);
    put_block(z, false, ntrans, trans, idx, ntypes, utoff);
    if (version == 0)
        return;
    put_hdr(z, version, ntrans, ntypes);
    put_block(z, true, ntrans, trans, idx, ntypes, utoff);
    z->n += (size_t)sprintf((char *)z->b + z->n, "\n%s\n", footer);
}

static eqops_tz *parse_ok(const struct zf *z)
{
    eqops_tz *tz = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    if (eqops__tz_parse(&tz, z->b, z->n, "synthetic", &e) != 0)
        fail_msg("synthetic: %s", e.message);
    return tz;
}

/* A file whose only content is the footer rule (what Debian's "slim" files do after 2007). */
static eqops_tz *rule_zone(const char *footer)
{
    static const int32_t utc[] = {0};
    struct zf z;
    make(&z, '3', 0, NULL, NULL, 1, utc, footer);
    return parse_ok(&z);
}

/* ---- tests ----------------------------------------------------------------------------- */

static void utc_builtin(void **state)
{
    static const char *names[] = {"UTC", "Etc/UTC"};
    char *old = getenv("TZDIR") ? strdup(getenv("TZDIR")) : NULL;
    setenv("TZDIR", "/nonexistent-zoneinfo", 1); /* built in: no file needed */
    for (size_t i = 0; i < 2; i++) {
        eqops_tz *tz = load(names[i]);
        assert_int_equal(eqops__tz_offset(tz, 0), 0);
        assert_int_equal(eqops__tz_offset(tz, ts("2026-07-15T12:00:00Z")), 0);
        assert_int_equal(eqops__tz_offset(tz, INT64_MIN), 0);
        assert_int_equal(eqops__tz_local_to_utc(tz, 1795773600), 1795773600);
        int64_t s, e;
        assert_int_equal(eqops__calendar_period(&s, &e, EQOPS_CAL_WEEK, tz, 1767225600000LL, NULL),
                         0);
        assert_int_equal(s, 1766966400000LL); /* Monday 2025-12-29 */
        assert_int_equal(e, 1767571200000LL);
        assert_int_equal(
            eqops__calendar_period(&s, &e, EQOPS_CAL_QUARTER, tz, 1767225600000LL, NULL), 0);
        assert_int_equal(s, 1767225600000LL);
        assert_int_equal(e, 1775001600000LL);
        eqops__tz_free(tz);
    }
    if (old) {
        setenv("TZDIR", old, 1);
        free(old);
    } else {
        unsetenv("TZDIR");
    }
    eqops__tz_free(NULL);
}

static void berlin(void **state)
{
    if (!have_tzdata())
        skip();
    eqops_tz *tz = load("Europe/Berlin");
    assert_int_equal(eqops__tz_offset(tz, ts("2026-01-15T12:00:00Z")), 3600);
    assert_int_equal(eqops__tz_offset(tz, ts("2026-07-15T12:00:00Z")), 7200);
    assert_int_equal(eqops__tz_offset(tz, ts("2026-03-29T00:59:59Z")), 3600);
    assert_int_equal(eqops__tz_offset(tz, ts("2026-03-29T01:00:00Z")), 7200);
    assert_int_equal(eqops__tz_offset(tz, ts("2026-10-25T00:59:59Z")), 7200);
    assert_int_equal(eqops__tz_offset(tz, ts("2026-10-25T01:00:00Z")), 3600);
    /* far beyond any transition table: the footer rule decides */
    assert_int_equal(eqops__tz_offset(tz, ts("2100-01-01T00:00:00Z")), 3600);
    assert_int_equal(eqops__tz_offset(tz, ts("2100-07-01T00:00:00Z")), 7200);
    assert_int_equal(eqops__tz_offset(tz, ts("2100-03-28T00:59:59Z")), 3600);
    assert_int_equal(eqops__tz_offset(tz, ts("2100-03-28T01:00:00Z")), 7200);
    assert_int_equal(eqops__tz_offset(tz, ts("9999-07-01T00:00:00Z")), 7200);
    /* history: no DST in 1960, local mean time before 1893 */
    assert_int_equal(eqops__tz_offset(tz, ts("1960-07-01T00:00:00Z")), 3600);
    assert_int_equal(eqops__tz_offset(tz, ts("1890-01-01T00:00:00Z")), 3208);
    eqops__tz_free(tz);
}

static void other_zones(void **state)
{
    if (!have_tzdata())
        skip();
    static const struct {
        const char *zone, *at;
        int32_t off;
    } cases[] = {
        {"America/New_York", "2026-01-15T12:00:00Z", -18000},
        {"America/New_York", "2026-07-15T12:00:00Z", -14400},
        {"America/New_York", "2026-03-08T06:59:59Z", -18000},
        {"America/New_York", "2026-03-08T07:00:00Z", -14400},
        {"America/New_York", "2026-11-01T05:59:59Z", -14400},
        {"America/New_York", "2026-11-01T06:00:00Z", -18000},
        {"America/New_York", "2100-07-15T12:00:00Z", -14400},
        {"America/New_York", "1900-01-01T00:00:00Z", -18000},
        {"Australia/Lord_Howe", "2026-01-15T12:00:00Z", 39600},
        {"Australia/Lord_Howe", "2026-07-15T12:00:00Z", 37800},
        {"Australia/Lord_Howe", "2100-01-15T12:00:00Z", 39600},
        {"Australia/Lord_Howe", "2100-07-15T12:00:00Z", 37800},
        {"Australia/Lord_Howe", "1900-01-01T00:00:00Z", 36000},
        {"Asia/Kathmandu", "2026-01-15T12:00:00Z", 20700},
        {"Asia/Kathmandu", "2100-07-15T12:00:00Z", 20700},
        {"Asia/Kathmandu", "1900-01-01T00:00:00Z", 20476},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        eqops_tz *tz = load(cases[i].zone);
        int32_t got = eqops__tz_offset(tz, ts(cases[i].at));
        if (got != cases[i].off)
            fail_msg("%s at %s: %d, want %d", cases[i].zone, cases[i].at, got, cases[i].off);
        eqops__tz_free(tz);
    }
}

static void local_to_utc(void **state)
{
    if (!have_tzdata())
        skip();
    static const struct {
        const char *zone, *local, *utc;
    } cases[] = {
        {"Europe/Berlin", "2026-01-15T12:00:00Z", "2026-01-15T11:00:00Z"},
        {"Europe/Berlin", "2026-07-15T12:00:00Z", "2026-07-15T10:00:00Z"},
        /* gap 02:00-03:00: the instant the clock jumps */
        {"Europe/Berlin", "2026-03-29T02:30:00Z", "2026-03-29T01:00:00Z"},
        {"Europe/Berlin", "2026-03-29T02:00:00Z", "2026-03-29T01:00:00Z"},
        {"Europe/Berlin", "2026-03-29T03:00:00Z", "2026-03-29T01:00:00Z"},
        {"Europe/Berlin", "2026-03-29T01:59:59Z", "2026-03-29T00:59:59Z"},
        /* overlap 02:00-03:00: the earlier instant */
        {"Europe/Berlin", "2026-10-25T02:30:00Z", "2026-10-25T00:30:00Z"},
        {"Europe/Berlin", "2026-10-25T03:00:00Z", "2026-10-25T02:00:00Z"},
        {"Europe/Berlin", "2100-03-28T02:30:00Z", "2100-03-28T01:00:00Z"},
        {"America/New_York", "2026-03-08T02:30:00Z", "2026-03-08T07:00:00Z"},
        {"America/New_York", "2026-11-01T01:30:00Z", "2026-11-01T05:30:00Z"},
        {"Australia/Lord_Howe", "2026-10-04T02:15:00Z", "2026-10-03T15:30:00Z"},
        {"Australia/Lord_Howe", "2026-04-05T01:45:00Z", "2026-04-04T14:45:00Z"},
        {"Asia/Kathmandu", "2026-01-01T00:00:00Z", "2025-12-31T18:15:00Z"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        eqops_tz *tz = load(cases[i].zone);
        int64_t got = eqops__tz_local_to_utc(tz, ts(cases[i].local));
        if (got != ts(cases[i].utc))
            fail_msg("%s local %s: %lld, want %s", cases[i].zone, cases[i].local, (long long)got,
                     cases[i].utc);
        eqops__tz_free(tz);
    }
    /* round trip over 2026 every 15 minutes: the earliest instant of each wall time */
    eqops_tz *tz = load("Europe/Berlin");
    for (int64_t u = ts("2026-01-01T00:00:00Z"); u < ts("2027-01-01T00:00:00Z"); u += 900) {
        int64_t back = eqops__tz_local_to_utc(tz, u + eqops__tz_offset(tz, u));
        bool second = u >= ts("2026-10-25T01:00:00Z") && u < ts("2026-10-25T02:00:00Z");
        assert_int_equal(back, second ? u - 3600 : u);
    }
    eqops__tz_free(tz);
}

static void footer_rules(void **state)
{
    eqops_tz *tz = rule_zone("CET-1CEST,M3.5.0,M10.5.0/3");
    assert_int_equal(eqops__tz_offset(tz, ts("2026-03-29T00:59:59Z")), 3600);
    assert_int_equal(eqops__tz_offset(tz, ts("2026-03-29T01:00:00Z")), 7200);
    assert_int_equal(eqops__tz_offset(tz, ts("2026-10-25T00:59:59Z")), 7200);
    assert_int_equal(eqops__tz_offset(tz, ts("2026-10-25T01:00:00Z")), 3600);
    assert_int_equal(eqops__tz_offset(tz, ts("1970-01-01T00:00:00Z")), 3600);
    assert_int_equal(eqops__tz_offset(tz, ts("1900-07-01T00:00:00Z")), 7200);
    assert_int_equal(eqops__tz_offset(tz, INT64_MAX), 3600);
    assert_int_equal(eqops__tz_offset(tz, INT64_MIN), 3600);
    (void)eqops__tz_local_to_utc(tz, INT64_MAX);
    (void)eqops__tz_local_to_utc(tz, INT64_MIN);
    eqops__tz_free(tz);

    /* southern hemisphere, 30-minute DST */
    tz = rule_zone("<+1030>-10:30<+11>-11,M10.1.0,M4.1.0");
    assert_int_equal(eqops__tz_offset(tz, ts("2027-01-15T00:00:00Z")), 39600);
    assert_int_equal(eqops__tz_offset(tz, ts("2027-07-15T00:00:00Z")), 37800);
    assert_int_equal(eqops__tz_offset(tz, ts("2026-10-03T15:29:59Z")), 37800);
    assert_int_equal(eqops__tz_offset(tz, ts("2026-10-03T15:30:00Z")), 39600);
    eqops__tz_free(tz);

    /* RFC 8536 version 3: DST all year, and negative / >24h transition times */
    tz = rule_zone("EST5EDT,0/0,J365/25");
    static const char *always[] = {"2026-01-01T00:00:00Z", "2026-01-01T05:00:00Z",
                                   "2026-07-01T00:00:00Z", "2028-12-31T23:59:59Z",
                                   "2029-01-01T04:59:59Z"};
    for (size_t i = 0; i < sizeof(always) / sizeof(always[0]); i++)
        assert_int_equal(eqops__tz_offset(tz, ts(always[i])), -14400);
    eqops__tz_free(tz);
    tz = rule_zone("<-03>3<-02>,M3.5.0/-2,M10.5.0/-1");
    assert_int_equal(eqops__tz_offset(tz, ts("2026-03-29T00:59:59Z")), -10800);
    assert_int_equal(eqops__tz_offset(tz, ts("2026-03-29T01:00:00Z")), -7200);
    assert_int_equal(eqops__tz_offset(tz, ts("2026-10-25T00:59:59Z")), -7200);
    assert_int_equal(eqops__tz_offset(tz, ts("2026-10-25T01:00:00Z")), -10800);
    eqops__tz_free(tz);

    /* Jn never counts Feb 29; zero-based n does (checked with glibc: python's zoneinfo is a
     * day early for the zero-based form) */
    tz = rule_zone("AAA0BBB,J60/0,J300/0");
    assert_int_equal(eqops__tz_offset(tz, ts("2028-02-29T23:59:59Z")), 0);
    assert_int_equal(eqops__tz_offset(tz, ts("2028-03-01T00:00:00Z")), 3600);
    eqops__tz_free(tz);
    tz = rule_zone("AAA0BBB,59/0,299/0");
    assert_int_equal(eqops__tz_offset(tz, ts("2028-02-28T23:59:59Z")), 0);
    assert_int_equal(eqops__tz_offset(tz, ts("2028-02-29T00:00:00Z")), 3600);
    assert_int_equal(eqops__tz_offset(tz, ts("2027-02-28T23:59:59Z")), 0);
    assert_int_equal(eqops__tz_offset(tz, ts("2027-03-01T00:00:00Z")), 3600);
    eqops__tz_free(tz);

    tz = rule_zone("<+0545>-5:45");
    assert_int_equal(eqops__tz_offset(tz, ts("2026-07-01T00:00:00Z")), 20700);
    eqops__tz_free(tz);
}

static void table_and_footer(void **state)
{
    /* a "slim" file: one transition, then the footer takes over */
    static const int64_t trans[] = {0};
    static const uint8_t idx[] = {1};
    static const int32_t offs[] = {1800, 3600};
    struct zf z;
    make(&z, '2', 1, trans, idx, 2, offs, "CET-1CEST,M3.5.0,M10.5.0/3");
    eqops_tz *tz = parse_ok(&z);
    assert_int_equal(eqops__tz_offset(tz, -1), 1800); /* type 0 before the first transition */
    assert_int_equal(eqops__tz_offset(tz, 0), 3600);
    assert_int_equal(eqops__tz_offset(tz, ts("2026-07-15T12:00:00Z")), 7200);
    eqops__tz_free(tz);
    /* an empty footer: the last transition's type stays in force */
    make(&z, '2', 1, trans, idx, 2, offs, "");
    tz = parse_ok(&z);
    assert_int_equal(eqops__tz_offset(tz, ts("2026-07-15T12:00:00Z")), 3600);
    eqops__tz_free(tz);
    /* version 1: 32-bit times, no footer */
    make(&z, 0, 1, trans, idx, 2, offs, NULL);
    tz = parse_ok(&z);
    assert_int_equal(eqops__tz_offset(tz, -1), 1800);
    assert_int_equal(eqops__tz_offset(tz, ts("2026-07-15T12:00:00Z")), 3600);
    eqops__tz_free(tz);
}

static void period(const char *zone, eqops_calendar_unit unit, const char *at, const char *start,
                   const char *end)
{
    eqops_tz *tz = load(zone);
    int64_t s = -1, e = -1;
    eqops_error err = EQOPS_ERROR_INIT;
    if (eqops__calendar_period(&s, &e, unit, tz, ts(at) * 1000, &err) != 0)
        fail_msg("%s %s: %s", zone, at, err.message);
    char gs[32], ge[32];
    eqops__time_format_rfc3339(s, gs);
    eqops__time_format_rfc3339(e, ge);
    if (s != ts(start) * 1000 || e != ts(end) * 1000)
        fail_msg("%s unit %d at %s: [%s, %s), want [%s, %s)", zone, (int)unit, at, gs, ge, start,
                 end);
    eqops__tz_free(tz);
}

static void calendar_periods(void **state)
{
    if (!have_tzdata())
        skip();
    const char *b = "Europe/Berlin", *ny = "America/New_York";
    period(b, EQOPS_CAL_MONTH, "2026-11-27T10:00:00Z", "2026-10-31T23:00:00Z",
           "2026-11-30T23:00:00Z");
    period(b, EQOPS_CAL_WEEK, "2026-11-27T10:00:00Z", "2026-11-22T23:00:00Z",
           "2026-11-29T23:00:00Z");
    period(b, EQOPS_CAL_QUARTER, "2026-11-27T10:00:00Z", "2026-09-30T22:00:00Z",
           "2026-12-31T23:00:00Z");
    /* March 2026 is 743 hours long in Berlin */
    period(b, EQOPS_CAL_MONTH, "2026-03-15T10:00:00Z", "2026-02-28T23:00:00Z",
           "2026-03-31T22:00:00Z");
    period(b, EQOPS_CAL_QUARTER, "2026-03-15T10:00:00Z", "2025-12-31T23:00:00Z",
           "2026-03-31T22:00:00Z");
    /* ISO weeks start on Monday 00:00 local; the boundary belongs to the new week */
    period(b, EQOPS_CAL_WEEK, "2026-11-29T22:59:59Z", "2026-11-22T23:00:00Z",
           "2026-11-29T23:00:00Z");
    period(b, EQOPS_CAL_WEEK, "2026-11-29T23:00:00Z", "2026-11-29T23:00:00Z",
           "2026-12-06T23:00:00Z");
    period(b, EQOPS_CAL_WEEK, "2026-03-29T12:00:00Z", "2026-03-22T23:00:00Z",
           "2026-03-29T22:00:00Z");
    period("UTC", EQOPS_CAL_WEEK, "2027-01-03T23:59:59Z", "2026-12-28T00:00:00Z",
           "2027-01-04T00:00:00Z");
    /* Q4 2026 in New York: EDT at the start, EST at the end */
    period(ny, EQOPS_CAL_QUARTER, "2026-11-27T10:00:00Z", "2026-10-01T04:00:00Z",
           "2027-01-01T05:00:00Z");
    period(ny, EQOPS_CAL_QUARTER, "2026-10-01T04:00:00Z", "2026-10-01T04:00:00Z",
           "2027-01-01T05:00:00Z");
    period(ny, EQOPS_CAL_QUARTER, "2026-10-01T03:59:59Z", "2026-07-01T04:00:00Z",
           "2026-10-01T04:00:00Z");
    period(ny, EQOPS_CAL_MONTH, "2026-11-27T10:00:00Z", "2026-11-01T04:00:00Z",
           "2026-12-01T05:00:00Z");
    period(ny, EQOPS_CAL_WEEK, "2026-11-27T10:00:00Z", "2026-11-23T05:00:00Z",
           "2026-11-30T05:00:00Z");
    period("Australia/Lord_Howe", EQOPS_CAL_WEEK, "2026-04-05T12:00:00Z", "2026-03-29T13:00:00Z",
           "2026-04-05T13:30:00Z");
    period("Asia/Kathmandu", EQOPS_CAL_MONTH, "2026-11-30T18:15:00Z", "2026-11-30T18:15:00Z",
           "2026-12-31T18:15:00Z");

    /* milliseconds and instants before 1970 */
    eqops_tz *tz = load(b);
    int64_t s, e;
    assert_int_equal(eqops__calendar_period(&s, &e, EQOPS_CAL_MONTH, tz, 1793487599999LL, NULL), 0);
    assert_int_equal(s, ts("2026-09-30T22:00:00Z") * 1000);
    assert_int_equal(e, 1793487600000LL);
    assert_int_equal(eqops__calendar_period(&s, &e, EQOPS_CAL_MONTH, tz, -3600001, NULL), 0);
    assert_int_equal(s, ts("1969-11-30T23:00:00Z") * 1000);
    assert_int_equal(e, ts("1969-12-31T23:00:00Z") * 1000);

    eqops_error err = EQOPS_ERROR_INIT;
    assert_int_equal(eqops__calendar_period(&s, &e, (eqops_calendar_unit)7, tz, 0, &err),
                     EQOPS_EINVAL);
    assert_string_equal(err.field, "unit");
    assert_int_equal(eqops__calendar_period(&s, &e, EQOPS_CAL_WEEK, tz, INT64_MAX, &err),
                     EQOPS_EINVAL);
    assert_string_equal(err.field, "at_ms");
    assert_int_equal(eqops__calendar_period(&s, &e, EQOPS_CAL_WEEK, tz, INT64_MIN, &err),
                     EQOPS_EINVAL);
    assert_int_equal(eqops__calendar_period(NULL, &e, EQOPS_CAL_WEEK, tz, 0, &err), EQOPS_EINVAL);
    assert_int_equal(eqops__calendar_period(&s, &e, EQOPS_CAL_WEEK, NULL, 0, &err), EQOPS_EINVAL);
    eqops__tz_free(tz);
}

static void hostile_names(void **state)
{
    char longname[301];
    memset(longname, 'A', 300);
    longname[300] = '\0';
    const char *bad[] = {"../etc/passwd",
                         "",
                         longname,
                         "Europe//Berlin",
                         "/etc/passwd",
                         "Europe/Berlin/",
                         "Europe/../Berlin",
                         "..",
                         "Europe/Ber lin",
                         "Europe/Berlin\n",
                         "Europe\\Berlin",
                         "Europe/Berlin.tab",
                         "%s%n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        eqops_tz *tz = (eqops_tz *)&tz;
        eqops_error e = EQOPS_ERROR_INIT;
        assert_int_equal(eqops__tz_load(&tz, bad[i], &e), EQOPS_EINVAL);
        assert_null(tz);
        assert_string_equal(e.field, "time_zone");
        assert_non_null(strstr(e.message, "IANA"));
    }
    eqops_tz *tz = NULL;
    assert_int_equal(eqops__tz_load(&tz, NULL, NULL), EQOPS_EINVAL);
    assert_int_equal(eqops__tz_load(NULL, "UTC", NULL), EQOPS_EINVAL);
    /* 128 bytes is allowed by the syntax (and then simply not found) */
    longname[128] = '\0';
    assert_int_equal(eqops__tz_load(&tz, longname, NULL), EQOPS_ENOTFOUND);
}

static void unknown_zone(void **state)
{
    if (!have_tzdata())
        skip();
    static const char *names[] = {"Mars/Olympus_Mons", "Europe", "Europe/Berlin/x"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        eqops_tz *tz = (eqops_tz *)&tz;
        eqops_error e = EQOPS_ERROR_INIT;
        assert_int_equal(eqops__tz_load(&tz, names[i], &e), EQOPS_ENOTFOUND);
        assert_null(tz);
        assert_non_null(strstr(e.message, names[i]));
    }
}

/* ---- malformed files ------------------------------------------------------------------- */

struct tmp {
    char dir[64];
    char *old_tzdir;
};

static int tmp_setup(void **state)
{
    struct tmp *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return -1;
    snprintf(t->dir, sizeof(t->dir), "/tmp/eqops-tz-XXXXXX");
    if (mkdtemp(t->dir) == NULL) {
        free(t);
        return -1;
    }
    const char *old = getenv("TZDIR");
    t->old_tzdir = old ? strdup(old) : NULL;
    setenv("TZDIR", t->dir, 1);
    *state = t;
    return 0;
}

static int tmp_teardown(void **state)
{
    struct tmp *t = *state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", t->dir);
    if (t->old_tzdir) {
        setenv("TZDIR", t->old_tzdir, 1);
        free(t->old_tzdir);
    } else {
        unsetenv("TZDIR");
    }
    free(t);
    return 0;
}

static void write_file(const struct tmp *t, const char *name, const void *data, size_t len)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", t->dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static int load_code(const char *name, eqops_error *e)
{
    eqops_tz *tz = (eqops_tz *)&tz;
    int rc = eqops__tz_load(&tz, name, e);
    if (rc != 0)
        assert_null(tz);
    eqops__tz_free(tz);
    return rc;
}

/* Patch a 32-bit field of the second (64-bit) header of a synthetic file. */
static void patch_v2_count(struct zf *z, size_t v1_len, size_t field, uint32_t v)
{
    size_t at = v1_len + 20 + 4 * field, n = z->n;
    z->n = at;
    put32(z, v);
    z->n = n;
}

static void malformed_files(void **state)
{
    struct tmp *t = *state;
    static const int64_t trans[] = {0, 1000};
    static const uint8_t idx[] = {1, 0};
    static const int32_t offs[] = {0, 3600};
    eqops_error e = EQOPS_ERROR_INIT;
    struct zf good;
    make(&good, '2', 2, trans, idx, 2, offs, "CET-1CEST,M3.5.0,M10.5.0/3");
    const size_t v1_len = 44 + 2 * 5 + 2 * 6 + 4; /* header + 32-bit block */

    /* a good file under TZDIR loads (and TZDIR is honoured) */
    char sub[128];
    snprintf(sub, sizeof(sub), "%s/Test", t->dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    write_file(t, "Test/Good", good.b, good.n);
    assert_int_equal(load_code("Test/Good", &e), 0);

    /* every truncation is refused, through a file and in memory */
    for (size_t n = 0; n < good.n; n++) {
        write_file(t, "Test/Bad", good.b, n);
        assert_int_equal(load_code("Test/Bad", &e), EQOPS_EINVAL);
        assert_non_null(strstr(e.message, "Test/Bad"));
        assert_non_null(strstr(e.message, "malformed"));
    }

    struct {
        const char *what;
        struct zf z;
    } cases[16];
    size_t nc = 0;
#define CASE(label) (cases[nc].what = (label), cases[nc].z = good, &cases[nc++].z)
    CASE("bad magic")->b[0] = 'X';
    CASE("bad version")->b[4] = '9';
    CASE("second version differs")->b[v1_len + 4] = '3';
    patch_v2_count(CASE("no types"), v1_len, 4, 0);
    patch_v2_count(CASE("huge timecnt"), v1_len, 3, 0xFFFFFFFFu);
    patch_v2_count(CASE("huge typecnt"), v1_len, 4, 0x40000000u);
    patch_v2_count(CASE("no chars"), v1_len, 5, 0);
    patch_v2_count(CASE("leap seconds"), v1_len, 2, 1);
    CASE("descending times")->b[v1_len + 44 + 8] = 0x80; /* trans[1] < 0 */
    CASE("type index")->b[v1_len + 44 + 16] = 2;
    CASE("isdst 2")->b[v1_len + 44 + 18 + 4] = 2;
    CASE("utoff")->b[v1_len + 44 + 18] = 0x7F;
    CASE("trailing data")->b[good.n] = 'x';
    cases[nc - 1].z.n++;
    CASE("footer")->b[good.n - 5] = '\0';
#undef CASE
    for (size_t i = 0; i < nc; i++) {
        write_file(t, "Test/Bad", cases[i].z.b, cases[i].z.n);
        if (load_code("Test/Bad", &e) != EQOPS_EINVAL)
            fail_msg("%s: not refused", cases[i].what);
    }

    static const char *footers[] = {"CET-1CEST",
                                    "CET",
                                    "C-1",
                                    "CET-25",
                                    "CET-1CEST,M3.5.0",
                                    "CET-1CEST,M13.5.0,M10.5.0/3",
                                    "CET-1CEST,M3.6.0,M10.5.0",
                                    "CET-1CEST,M3.5.7,M10.5.0",
                                    "CET-1CEST,J0,J365",
                                    "CET-1CEST,366,1",
                                    "CET-1CEST,1/168,2",
                                    "CET-1:60",
                                    "<CET-1",
                                    "CET-1CEST,M3.5.0,M10.5.0/3x",
                                    "CET-1\001",
                                    "CET-00000000001"};
    for (size_t i = 0; i < sizeof(footers) / sizeof(footers[0]); i++) {
        struct zf z;
        make(&z, '2', 2, trans, idx, 2, offs, footers[i]);
        write_file(t, "Test/Bad", z.b, z.n);
        if (load_code("Test/Bad", &e) != EQOPS_EINVAL)
            fail_msg("footer '%s': not refused", footers[i]);
        assert_non_null(strstr(e.message, "footer"));
    }

    /* larger than 1 MiB, and not a regular file (a FIFO must not hang the reader) */
    unsigned char *big = calloc(1, 1024 * 1024 + 1);
    assert_non_null(big);
    memcpy(big, good.b, good.n);
    write_file(t, "Test/Big", big, 1024 * 1024 + 1);
    assert_int_equal(load_code("Test/Big", &e), EQOPS_EINVAL);
    assert_non_null(strstr(e.message, "1 MiB"));
    eqops_tz *tz = NULL;
    assert_int_equal(eqops__tz_parse(&tz, big, 1024 * 1024 + 1, NULL, NULL), EQOPS_EINVAL);
    assert_null(tz);
    free(big);
    char fifo[128];
    snprintf(fifo, sizeof(fifo), "%s/Test/Fifo", t->dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(load_code("Test/Fifo", &e), EQOPS_EINVAL);
    assert_int_equal(load_code("Test/Missing", &e), EQOPS_ENOTFOUND);
    assert_non_null(strstr(e.message, "Test/Missing"));
    eqops_error_clear(&e);
}

/* Every byte of a real file overwritten in turn: parse or refuse, never crash; whatever parses
 * answers queries. */
static void corrupted_real_file(void **state)
{
    if (!have_tzdata())
        skip();
    const char *dir = getenv("TZDIR");
    char path[4096];
    snprintf(path, sizeof(path), "%s/Europe/Berlin", dir && *dir ? dir : "/usr/share/zoneinfo");
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static unsigned char data[1 << 16];
    size_t n = fread(data, 1, sizeof(data), f);
    fclose(f);
    assert_true(n > 44 && n < sizeof(data));
    static const unsigned char vals[] = {0x00, 0xFF, 0x80, '\n'};
    for (size_t i = 0; i < n; i++) {
        unsigned char keep = data[i];
        for (size_t v = 0; v < sizeof(vals); v++) {
            data[i] = vals[v];
            eqops_tz *tz = NULL;
            int rc = eqops__tz_parse(&tz, data, n, "corrupt", NULL);
            assert_true(rc == 0 || rc == EQOPS_EINVAL);
            if (rc != 0) {
                assert_null(tz);
                continue;
            }
            int64_t s, e;
            (void)eqops__tz_offset(tz, ts("2026-07-01T00:00:00Z"));
            (void)eqops__tz_local_to_utc(tz, ts("2026-03-29T02:30:00Z"));
            (void)eqops__calendar_period(&s, &e, EQOPS_CAL_MONTH, tz, 1795773600000LL, NULL);
            eqops__tz_free(tz);
        }
        data[i] = keep;
    }
}

/* ---- allocation failures --------------------------------------------------------------- */

struct actx {
    const char *name;
    eqops_tz *tz;
    eqops_error err;
};

static int op_load(void *p)
{
    struct actx *c = p;
    int rc = eqops__tz_load(&c->tz, c->name, &c->err);
    if (rc != 0 && c->tz != NULL)
        return EQOPS_EINTERNAL;
    return rc;
}

static void cleanup_load(void *p)
{
    struct actx *c = p;
    eqops__tz_free(c->tz);
    c->tz = NULL;
    eqops_error_clear(&c->err);
}

static void alloc_failures(void **state)
{
    struct actx c = {"UTC", NULL, EQOPS_ERROR_INIT};
    fa_install();
    assert_int_equal(fa_loop(op_load, cleanup_load, &c, EQOPS_ENOMEM, false), 1);
    if (have_tzdata()) {
        c.name = "Europe/Berlin";
        assert_int_equal(fa_loop(op_load, cleanup_load, &c, EQOPS_ENOMEM, false), 3);
        c.name = "Asia/Kathmandu";
        assert_true(fa_loop(op_load, cleanup_load, &c, EQOPS_ENOMEM, false) >= 2);
    }
    fa_uninstall();
}

static int setup(void **state)
{
    return eqops_init();
}

static int teardown(void **state)
{
    eqops_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(utc_builtin),
        cmocka_unit_test(berlin),
        cmocka_unit_test(other_zones),
        cmocka_unit_test(local_to_utc),
        cmocka_unit_test(footer_rules),
        cmocka_unit_test(table_and_footer),
        cmocka_unit_test(calendar_periods),
        cmocka_unit_test(hostile_names),
        cmocka_unit_test(unknown_zone),
        cmocka_unit_test_setup_teardown(malformed_files, tmp_setup, tmp_teardown),
        cmocka_unit_test(corrupted_real_file),
        cmocka_unit_test(alloc_failures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
