/*
 * tz.c - a small reader of TZif files (RFC 8536, versions 1-3) and calendar periods in an IANA
 * time zone. Nothing touches the process-wide TZ state; a loaded zone is immutable.
 *
 * Every count and offset of a file is checked against its length before it is read, so any
 * byte string parses to a zone or to EQOPS_EINVAL. Leap-second ("right/") zones are refused.
 */
#include "tz.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TZ_NAME_MAX   128
#define TZ_FILE_MAX   (1024 * 1024)
#define TZ_FOOTER_MAX 255
#define TZ_HDR_LEN    44
#define TZ_TYPES_MAX  256
#define TZ_DEFAULTDIR "/usr/share/zoneinfo"
#define DAY_S         86400
/* POSIX TZ rules follow the Gregorian calendar, which repeats every 400 years. */
#define CYCLE_S 12622780800LL
/* RFC 8536 3.2: utoff SHOULD lie in [-89999, 93599] (-24:59:59 .. +25:59:59). */
#define UTOFF_MIN (-89999)
#define UTOFF_MAX 93599
/* calendar periods: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999Z */
#define CAL_MIN_MS (-62135596800000LL)
#define CAL_MAX_MS 253402300799999LL

/* A date of a POSIX TZ rule: Jn (1..365, Feb 29 never counted), n (0..365), Mm.w.d. */
struct tz_date {
    char kind; /* 'J', 'N' or 'M' */
    int n, m, w, d;
    int32_t time; /* seconds after local midnight, -167h..+167h (RFC 8536 3.3.1) */
};

struct tz_rule {
    int32_t std_off, dst_off; /* local = utc + off */
    bool has_dst;
    struct tz_date start, end; /* start in standard time, end in daylight time */
};

struct eqops_tz {
    size_t ntrans;
    int64_t *trans; /* UTC seconds, strictly ascending; one block with tidx */
    uint8_t *tidx;  /* the type in force from trans[i] on */
    int32_t utoff[TZ_TYPES_MAX];
    bool has_rule; /* the footer governs instants after the last transition */
    struct tz_rule rule;
};

/* ---- calendar arithmetic --------------------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static int64_t floor_mod(int64_t a, int64_t b)
{
    int64_t r = a % b;
    return r != 0 && (r < 0) != (b < 0) ? r + b : r;
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    const int64_t era = floor_div(y, 400);
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The inverse (civil_from_days). */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    const int64_t era = floor_div(z, 146097);
    const int64_t doe = z - era * 146097;
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int64_t sat_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

/* ---- POSIX TZ strings (the TZif footer) ------------------------------------------------ */

#define IS_DIGIT(c) ((c) >= '0' && (c) <= '9')
#define IS_ALPHA(c) (((c) >= 'A' && (c) <= 'Z') || ((c) >= 'a' && (c) <= 'z'))

/* An unsigned decimal of at most max_digits digits in [lo, hi]. */
static bool p_int(const char **pp, int max_digits, int lo, int hi, int *out)
{
    const char *p = *pp;
    int v = 0, n = 0;
    for (; IS_DIGIT(*p); p++) {
        if (++n > max_digits)
            return false;
        v = v * 10 + (*p - '0');
    }
    if (n == 0 || v < lo || v > hi)
        return false;
    *pp = p;
    *out = v;
    return true;
}

/* A zone abbreviation: three or more letters, or <...> of letters, digits, '+' and '-'. */
static bool p_name(const char **pp)
{
    const char *p = *pp;
    size_t n = 0;
    if (*p == '<') {
        for (p++; IS_ALPHA(*p) || IS_DIGIT(*p) || *p == '+' || *p == '-'; p++)
            n++;
        if (*p++ != '>')
            return false;
    } else {
        for (; IS_ALPHA(*p); p++)
            n++;
    }
    if (n < 3)
        return false;
    *pp = p;
    return true;
}

/* [+-]h[h][:mm[:ss]] with hours <= max_h, as signed seconds. */
static bool p_hms(const char **pp, int max_h, int32_t *out)
{
    const char *p = *pp;
    int sign = 1, v[3] = {0, 0, 0};
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    if (!p_int(&p, 3, 0, max_h, &v[0]))
        return false;
    for (int i = 1; i < 3 && *p == ':'; i++) {
        p++;
        if (!p_int(&p, 2, 0, 59, &v[i]))
            return false;
    }
    *out = sign * (v[0] * 3600 + v[1] * 60 + v[2]);
    *pp = p;
    return true;
}

static bool p_date(const char **pp, struct tz_date *d)
{
    const char *p = *pp;
    memset(d, 0, sizeof(*d));
    d->kind = *p == 'J' || *p == 'M' ? *p++ : 'N';
    bool ok = d->kind != 'M'
                  ? p_int(&p, 3, d->kind == 'J', 365, &d->n)
                  : p_int(&p, 2, 1, 12, &d->m) && *p++ == '.' && p_int(&p, 1, 1, 5, &d->w) &&
                        *p++ == '.' && p_int(&p, 1, 0, 6, &d->d);
    if (!ok)
        return false;
    d->time = 7200; /* 02:00 by default */
    if (*p == '/') {
        p++;
        if (!p_hms(&p, 167, &d->time))
            return false;
    }
    *pp = p;
    return true;
}

/* std offset [dst [offset] ,start[/time],end[/time]] */
static bool parse_posix(const char *s, struct tz_rule *r)
{
    const char *p = s;
    int32_t off;
    memset(r, 0, sizeof(*r));
    if (!p_name(&p) || !p_hms(&p, 24, &off))
        return false;
    r->std_off = -off; /* POSIX offsets count west of Greenwich */
    if (*p == '\0')
        return true;
    if (!p_name(&p))
        return false;
    r->has_dst = true;
    r->dst_off = r->std_off + 3600;
    if (*p != ',' && *p != '\0') {
        if (!p_hms(&p, 24, &off))
            return false;
        r->dst_off = -off;
    }
    if (*p != ',') /* a daylight-saving name needs a rule (zic always writes one) */
        return false;
    p++;
    if (!p_date(&p, &r->start) || *p != ',')
        return false;
    p++;
    return p_date(&p, &r->end) && *p == '\0';
}

/* Days since the epoch of the rule date in year y. */
static int64_t rule_day(int64_t y, const struct tz_date *d)
{
    int64_t jan1 = days_from_civil(y, 1, 1);
    if (d->kind == 'J')
        return jan1 + d->n - 1 + (is_leap(y) && d->n >= 60);
    if (d->kind == 'N')
        return jan1 + d->n;
    int64_t first = days_from_civil(y, d->m, 1);
    int64_t wd_first = floor_mod(first + 4, 7); /* 1970-01-01 was a Thursday; Sunday = 0 */
    int64_t day = first + floor_mod(d->d - wd_first, 7) + (int64_t)(d->w - 1) * 7;
    int64_t next = d->m == 12 ? days_from_civil(y + 1, 1, 1) : days_from_civil(y, d->m + 1, 1);
    while (day >= next)
        day -= 7; /* week 5 means the last one */
    return day;
}

static int32_t rule_offset(const struct tz_rule *r, int64_t t)
{
    if (!r->has_dst)
        return r->std_off;
    int64_t u = floor_mod(t, CYCLE_S); /* 1970..2370: same answer, no overflow */
    int64_t y;
    int m, d;
    civil_from_days(floor_div(u + r->std_off, DAY_S), &y, &m, &d);
    /* The last change at or before u among the years around it; a start wins a tie with an
     * end, so "DST all year" rules (0/0,J365/25) stay in daylight time. */
    int64_t best = INT64_MIN;
    bool dst = false;
    for (int64_t yy = y - 2; yy <= y + 1; yy++) {
        int64_t s = rule_day(yy, &r->start) * DAY_S + r->start.time - r->std_off;
        int64_t e = rule_day(yy, &r->end) * DAY_S + r->end.time - r->dst_off;
        if (e <= u && e > best) {
            best = e;
            dst = false;
        }
        if (s <= u && s >= best) {
            best = s;
            dst = true;
        }
    }
    return dst ? r->dst_off : r->std_off;
}

/* ---- TZif parsing ---------------------------------------------------------------------- */

struct hdr {
    unsigned char version;
    uint32_t isut, isstd, leap, time, type, chars;
};

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Two's complement: GCC and clang define the conversion to a signed type as modular. */
static int64_t be32s(const unsigned char *p)
{
    return (int32_t)be32(p);
}

static int64_t be64s(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* Read and check the header at data[off]; NULL or what is wrong. */
static const char *read_hdr(const unsigned char *data, size_t len, size_t off, struct hdr *h)
{
    if (len - off < TZ_HDR_LEN)
        return "truncated header";
    const unsigned char *p = data + off;
    if (memcmp(p, "TZif", 4) != 0)
        return "bad magic (not a TZif file)";
    h->version = p[4];
    if (h->version != 0 && h->version != '2' && h->version != '3' && h->version != '4')
        return "unsupported version";
    h->isut = be32(p + 20);
    h->isstd = be32(p + 24);
    h->leap = be32(p + 28);
    h->time = be32(p + 32);
    h->type = be32(p + 36);
    h->chars = be32(p + 40);
    if (h->type == 0 || h->type > TZ_TYPES_MAX)
        return "local time type count must be 1..256";
    if (h->chars == 0)
        return "designation character count is zero";
    if ((h->isut != 0 && h->isut != h->type) || (h->isstd != 0 && h->isstd != h->type))
        return "indicator counts must be zero or the type count";
    return NULL;
}

static uint64_t block_len(const struct hdr *h, unsigned tsize)
{
    return (uint64_t)h->time * (tsize + 1) + (uint64_t)h->type * 6 + h->chars +
           (uint64_t)h->leap * (tsize + 4) + h->isstd + h->isut;
}

/* Check the data block at p (whose length was checked) and fill tz's types and rule-free
 * fields; allocates tz->trans. NULL, "" (out of memory) or what is wrong. */
static const char *read_block(eqops_tz *tz, const struct hdr *h, const unsigned char *p,
                              unsigned tsize)
{
    const unsigned char *ptrans = p, *pidx = p + (size_t)h->time * tsize;
    const unsigned char *ptype = pidx + h->time, *pchars = ptype + (size_t)h->type * 6;
    const unsigned char *pstd = pchars + h->chars + (size_t)h->leap * (tsize + 4);
    const unsigned char *put = pstd + h->isstd;

    for (uint32_t i = 0; i < h->type; i++) {
        const unsigned char *t = ptype + (size_t)i * 6;
        int64_t off = be32s(t);
        if (off < UTOFF_MIN || off > UTOFF_MAX)
            return "UT offset out of range (RFC 8536: -24:59:59..+25:59:59)";
        if (t[4] > 1)
            return "isdst flag must be 0 or 1";
        if (t[5] >= h->chars || memchr(pchars + t[5], '\0', h->chars - t[5]) == NULL)
            return "designation index out of range or unterminated";
        tz->utoff[i] = (int32_t)off;
    }
    for (uint32_t i = 0; i < h->isstd; i++)
        if (pstd[i] > 1)
            return "standard/wall indicator must be 0 or 1";
    for (uint32_t i = 0; i < h->isut; i++)
        if (put[i] > 1 || (put[i] == 1 && h->isstd != 0 && pstd[i] != 1))
            return "UT/local indicator must be 0 or 1 (and 1 only with standard time)";
    if (h->time == 0)
        return NULL;
    tz->trans = eqops__malloc((size_t)h->time * (sizeof(int64_t) + 1));
    if (tz->trans == NULL)
        return "";
    tz->tidx = (uint8_t *)(tz->trans + h->time);
    tz->ntrans = h->time;
    for (uint32_t i = 0; i < h->time; i++) {
        const unsigned char *t = ptrans + (size_t)i * tsize;
        tz->trans[i] = tsize == 8 ? be64s(t) : be32s(t);
        if (i > 0 && tz->trans[i] <= tz->trans[i - 1])
            return "transition times are not strictly ascending";
        if (pidx[i] >= h->type)
            return "transition type index out of range";
        tz->tidx[i] = pidx[i];
    }
    return NULL;
}

/* The footer "\n<POSIX TZ>\n" at data[off], which must end the file. */
static const char *read_footer(eqops_tz *tz, const unsigned char *data, size_t len, size_t off)
{
    if (off >= len || data[off] != '\n')
        return "missing footer";
    off++;
    const unsigned char *nl = memchr(data + off, '\n', len - off);
    if (nl == NULL)
        return "unterminated footer";
    size_t n = (size_t)(nl - (data + off));
    if (n > TZ_FOOTER_MAX)
        return "footer TZ string too long";
    if ((size_t)(nl + 1 - data) != len)
        return "trailing data after the footer";
    if (n == 0)
        return NULL; /* no rule: the last transition's type stays in force */
    char s[TZ_FOOTER_MAX + 1];
    memcpy(s, data + off, n);
    s[n] = '\0';
    if (strlen(s) != n || !parse_posix(s, &tz->rule))
        return "footer is not a valid POSIX TZ string";
    tz->has_rule = true;
    return NULL;
}

void eqops__tz_free(eqops_tz *tz)
{
    if (tz == NULL)
        return;
    eqops__free(tz->trans);
    eqops__free(tz);
}

/* Parse into *tzp (allocated here, freed by the caller); NULL, "" (out of memory) or what is
 * wrong with the data. */
static const char *parse(eqops_tz **tzp, const unsigned char *data, size_t len)
{
    struct hdr h;
    size_t off = TZ_HDR_LEN;
    unsigned tsize = 4;
    const char *why;
    if (len > TZ_FILE_MAX)
        return "larger than 1 MiB";
    if ((why = read_hdr(data, len, 0, &h)) != NULL)
        return why;
    uint64_t blen = block_len(&h, 4);
    if (blen > len - off)
        return "truncated version 1 data block";
    if (h.version >= '2') { /* skip the 32-bit block: the 64-bit one follows */
        unsigned char v1 = h.version;
        off += (size_t)blen;
        if ((why = read_hdr(data, len, off, &h)) != NULL)
            return why;
        if (h.version != v1)
            return "second header's version differs from the first";
        off += TZ_HDR_LEN;
        tsize = 8;
        if ((blen = block_len(&h, 8)) > len - off)
            return "truncated 64-bit data block";
    }
    if (h.leap != 0)
        return "leap-second zones ('right/') are not supported";
    eqops_tz *tz = *tzp = eqops__calloc(1, sizeof(*tz));
    if (tz == NULL)
        return "";
    if ((why = read_block(tz, &h, data + off, tsize)) != NULL)
        return why;
    return tsize == 8 ? read_footer(tz, data, len, off + (size_t)blen) : NULL;
}

int eqops__tz_parse(eqops_tz **out, const unsigned char *data, size_t len, const char *name,
                    eqops_error *err)
{
    if (out == NULL)
        return eqops__err(err, EQOPS_EINVAL, "tz parse: out must not be NULL");
    *out = NULL;
    name = name ? name : "(data)";
    eqops_tz *tz = NULL;
    const char *why = parse(&tz, data, data ? len : 0);
    if (why == NULL) {
        *out = tz;
        return 0;
    }
    eqops__tz_free(tz);
    if (*why == '\0')
        return eqops__err(err, EQOPS_ENOMEM, "time zone '%.64s': out of memory", name);
    return eqops__err(err, EQOPS_EINVAL, "time zone '%.64s': malformed TZif file: %s", name, why);
}

/* ---- loading --------------------------------------------------------------------------- */

/* ^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*$, no "..", at most 128 bytes. */
static bool valid_name(const char *name)
{
    size_t n = strnlen(name, TZ_NAME_MAX + 1);
    if (n == 0 || n > TZ_NAME_MAX || strstr(name, "..") != NULL)
        return false;
    bool at_start = true; /* of a part: parts are never empty */
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!(IS_ALPHA(c) || IS_DIGIT(c) || c == '_' || c == '+' || c == '-') &&
            (c != '/' || at_start))
            return false;
        at_start = c == '/';
    }
    return !at_start;
}

/* strerror() may share a buffer between threads; the XSI strerror_r does not. */
static const char *errtext(int e, char *buf, size_t n)
{
    return strerror_r(e, buf, n) == 0 ? buf : "I/O error";
}

static int read_zone(unsigned char **out, size_t *out_len, const char *dir, const char *name,
                     eqops_error *err)
{
    char path[4096], etext[128];
    int n = snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof(path))
        return eqops__err_field(err, EQOPS_EINVAL, "TZDIR", "path too long");
    /* a FIFO planted in TZDIR must not hang us (it is refused below) */
    struct stat st;
    int fd = eqops__file_open(path, &st);
    if (fd == EQOPS__FILE_SPECIAL)
        return eqops__err(err, EQOPS_EINVAL, "time zone '%s': %s is %s", name, path,
                          eqops__file_kind(st.st_mode));
    if (fd == EQOPS__FILE_CHANGED)
        return eqops__err(err, EQOPS_EIO, "time zone '%s': %s was replaced while being opened",
                          name, path);
    if (fd < 0) {
        int e = -fd;
        if (e == ENOENT || e == ENOTDIR)
            return eqops__err(err, EQOPS_ENOTFOUND, "unknown time zone '%s' (no such file in %s)",
                              name, dir);
        return eqops__err(err, eqops__errno_code(e), "time zone '%s': %s: %s", name, path,
                          errtext(e, etext, sizeof(etext)));
    }
    int rc = 0;
    size_t size = (size_t)st.st_size, got = 0;
    unsigned char *buf = NULL;
    if (S_ISDIR(st.st_mode))
        rc = eqops__err(err, EQOPS_ENOTFOUND, "unknown time zone '%s' (a directory)", name);
    else if (!S_ISREG(st.st_mode) || st.st_size > TZ_FILE_MAX)
        rc = eqops__err(err, EQOPS_EINVAL, "time zone '%s': %s is %s", name, path,
                        S_ISREG(st.st_mode) ? "larger than 1 MiB" : eqops__file_kind(st.st_mode));
    else if ((buf = eqops__malloc(size ? size : 1)) == NULL)
        rc = eqops__err(err, EQOPS_ENOMEM, "time zone '%s': out of memory", name);
    while (rc == 0 && got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno != EINTR)
            rc = eqops__err(err, EQOPS_EIO, "time zone '%s': reading %s: %s", name, path,
                            errtext(errno, etext, sizeof(etext)));
        else if (r == 0)
            break; /* shrank under us: parse what is there */
        else if (r > 0)
            got += (size_t)r;
    }
    close(fd);
    if (rc != 0) {
        eqops__free(buf);
        return rc;
    }
    *out = buf;
    *out_len = got;
    return 0;
}

int eqops__tz_load(eqops_tz **out, const char *name, eqops_error *err)
{
    if (out == NULL)
        return eqops__err(err, EQOPS_EINVAL, "tz load: out must not be NULL");
    *out = NULL;
    if (name == NULL || !valid_name(name))
        return eqops__err_field(err, EQOPS_EINVAL, "time_zone",
                                "'%.64s' is not an IANA zone name (letters, digits, _ + - in "
                                "parts joined by single '/', at most 128 bytes)",
                                name ? name : "(null)");
    if (strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0) {
        eqops_tz *tz = eqops__calloc(1, sizeof(*tz));
        if (tz == NULL)
            return eqops__err(err, EQOPS_ENOMEM, "time zone '%s': out of memory", name);
        /* utoff[0] = 0, no transitions, no rule */
        *out = tz;
        return 0;
    }
    const char *dir = getenv("TZDIR");
    if (dir == NULL || *dir == '\0')
        dir = TZ_DEFAULTDIR;
    unsigned char *data = NULL;
    size_t len = 0;
    int rc = read_zone(&data, &len, dir, name, err);
    if (rc != 0)
        return rc;
    rc = eqops__tz_parse(out, data, len, name, err);
    eqops__free(data);
    return rc;
}

/* ---- queries --------------------------------------------------------------------------- */

int32_t eqops__tz_offset(const eqops_tz *tz, int64_t unix_s)
{
    if (tz == NULL)
        return 0;
    size_t n = tz->ntrans;
    if (n == 0)
        return tz->has_rule ? rule_offset(&tz->rule, unix_s) : tz->utoff[0];
    if (unix_s < tz->trans[0])
        return tz->utoff[0]; /* RFC 8536: type 0 before the first transition */
    size_t lo = 0, hi = n;   /* the last transition at or before unix_s */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->trans[mid] <= unix_s)
            lo = mid;
        else
            hi = mid;
    }
    if (lo == n - 1 && unix_s > tz->trans[lo] && tz->has_rule)
        return rule_offset(&tz->rule, unix_s);
    return tz->utoff[tz->tidx[lo]];
}

int64_t eqops__tz_local_to_utc(const eqops_tz *tz, int64_t local_s)
{
    /* Offsets are within +-26h, so the offsets two days either side are the candidates. */
    int32_t oa = eqops__tz_offset(tz, sat_add(local_s, -2 * DAY_S));
    int32_t ob = eqops__tz_offset(tz, sat_add(local_s, 2 * DAY_S));
    int64_t ua = sat_add(local_s, -(int64_t)oa), ub = sat_add(local_s, -(int64_t)ob);
    bool va = eqops__tz_offset(tz, ua) == oa, vb = eqops__tz_offset(tz, ub) == ob;
    if (va && vb)
        return ua < ub ? ua : ub; /* an overlap (or no change): the earlier instant */
    if (va)
        return ua;
    if (vb)
        return ub;
    /* A gap: the clock jumps past local_s at the first instant in (lo, hi] whose offset
     * differs from lo's. */
    int64_t lo = ua < ub ? ua : ub, hi = ua < ub ? ub : ua;
    int32_t o_lo = eqops__tz_offset(tz, lo);
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (eqops__tz_offset(tz, mid) == o_lo)
            lo = mid;
        else
            hi = mid;
    }
    return hi;
}

int eqops__calendar_period(int64_t *start_ms, int64_t *end_ms, eqops_calendar_unit unit,
                           const eqops_tz *tz, int64_t at_ms, eqops_error *err)
{
    if (start_ms == NULL || end_ms == NULL || tz == NULL)
        return eqops__err(err, EQOPS_EINVAL,
                          "calendar period: start_ms, end_ms and tz must not be NULL");
    *start_ms = *end_ms = 0;
    if (unit != EQOPS_CAL_WEEK && unit != EQOPS_CAL_MONTH && unit != EQOPS_CAL_QUARTER)
        return eqops__err_field(err, EQOPS_EINVAL, "unit", "must be week, month or quarter");
    if (at_ms < CAL_MIN_MS || at_ms > CAL_MAX_MS)
        return eqops__err_field(err, EQOPS_EINVAL, "at_ms", "outside the years 0001-9999");
    int64_t at_s = floor_div(at_ms, 1000);
    int64_t day = floor_div(at_s + eqops__tz_offset(tz, at_s), DAY_S);
    int64_t y, first, next;
    int m, d;
    civil_from_days(day, &y, &m, &d);
    if (unit == EQOPS_CAL_WEEK) {
        first = day - floor_mod(day + 3, 7); /* ISO: Monday; 1970-01-01 was a Thursday */
        next = first + 7;
    } else {
        int fm = unit == EQOPS_CAL_MONTH ? m : (m - 1) / 3 * 3 + 1;
        int nm = fm + (unit == EQOPS_CAL_MONTH ? 1 : 3);
        first = days_from_civil(y, fm, 1);
        next = nm > 12 ? days_from_civil(y + 1, nm - 12, 1) : days_from_civil(y, nm, 1);
    }
    int64_t s = eqops__tz_local_to_utc(tz, first * DAY_S) * 1000;
    int64_t e = eqops__tz_local_to_utc(tz, next * DAY_S) * 1000;
    if (!(s <= at_ms && at_ms < e)) { /* only hostile zone data gets here */
        char when[32];
        eqops__time_format_rfc3339(at_ms, when);
        return eqops__err(err, EQOPS_EINVAL,
                          "calendar period: the time zone data is inconsistent around %s", when);
    }
    *start_ms = s;
    *end_ms = e;
    return 0;
}
