/*
 * spec.c - the tiers file and the tenant spec: every field checked (errors name it), defaults
 * filled in, Kubernetes quantities and label syntax.
 */
#include "tenant_internal.h"

#include "../pg/pg_seam.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- small syntax rules ---------------------------------------------------------------------- */

bool eqops__tn_quantity(const char *s, long double *out)
{
    /* <sign><digits>[.<digits>][suffix], suffix: Ki Mi Gi Ti Pi Ei | n u m k M G T P E |
     * e<exp> (the Kubernetes quantity syntax) */
    static const struct {
        const char *suffix;
        long double factor;
    } suffixes[] = {{"Ki", 1024.0L},
                    {"Mi", 1048576.0L},
                    {"Gi", 1073741824.0L},
                    {"Ti", 1099511627776.0L},
                    {"Pi", 1125899906842624.0L},
                    {"Ei", 1152921504606846976.0L},
                    {"n", 1e-9L},
                    {"u", 1e-6L},
                    {"m", 1e-3L},
                    {"k", 1e3L},
                    {"M", 1e6L},
                    {"G", 1e9L},
                    {"T", 1e12L},
                    {"P", 1e15L},
                    {"E", 1e18L},
                    {"", 1.0L}};
    const char *p = s;
    if (s == NULL || *s == '\0' || strlen(s) > 64)
        return false;
    if (*p == '+' || *p == '-')
        p++;
    const char *digits = p;
    while (isdigit((unsigned char)*p))
        p++;
    size_t before = (size_t)(p - digits);
    size_t after = 0;
    if (*p == '.') {
        p++;
        const char *d = p;
        while (isdigit((unsigned char)*p))
            p++;
        after = (size_t)(p - d);
    }
    if (before + after == 0)
        return false;
    long double value = strtold(s, NULL);
    /* an exponent is e/E followed by a digit or a signed digit; "E" and "Ei" alone are
     * suffixes (exa) */
    bool exponent = (*p == 'e' || *p == 'E') &&
                    (isdigit((unsigned char)p[1]) ||
                     ((p[1] == '+' || p[1] == '-') && isdigit((unsigned char)p[2])));
    if (exponent) {
        const char *e = p + 1;
        if (*e == '+' || *e == '-')
            e++;
        if (!isdigit((unsigned char)*e))
            return false;
        while (isdigit((unsigned char)*e))
            e++;
        if (*e != '\0')
            return false;
        /* strtold read the exponent too */
        char *end = NULL;
        value = strtold(s, &end);
        if (end == NULL || *end != '\0')
            return false;
        p = e;
    }
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
        if (strcmp(p, suffixes[i].suffix) == 0) {
            if (out)
                *out = value * suffixes[i].factor;
            return isfinite((double)value);
        }
    return false;
}

/* [a-z0-9]([-a-z0-9]*[a-z0-9])?, 1..max */
static bool dns_label(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-'))
            return false;
    return true;
}

/* a DNS subdomain: labels joined by '.', at most 253 */
static bool dns_subdomain(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253)
        return false;
    char part[254];
    const char *p = s;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        memcpy(part, p, len);
        part[len] = '\0';
        if (!dns_label(part, 63))
            return false;
        p += len;
        if (*p == '.')
            p++;
    }
    return s[n - 1] != '.';
}

/* a label value or the name part of a key: [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?, <= 63 */
static bool label_name(const char *s, bool empty_ok)
{
    size_t n = strlen(s);
    if (n == 0)
        return empty_ok;
    if (n > 63 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '-' || s[i] == '_' || s[i] == '.'))
            return false;
    return true;
}

static bool label_key(const char *key)
{
    const char *slash = strchr(key, '/');
    if (slash == NULL)
        return label_name(key, false);
    char prefix[254];
    size_t plen = (size_t)(slash - key);
    if (plen == 0 || plen > 253)
        return false;
    memcpy(prefix, key, plen);
    prefix[plen] = '\0';
    return dns_subdomain(prefix) && label_name(slash + 1, false);
}

/* A string value without a NUL inside (which strlen would cut short). */
static bool whole_string(const json_t *v)
{
    return json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v);
}

/* printable ASCII without spaces, 1..max */
static bool token(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] >= 0x7f)
            return false;
    return true;
}

static int bad(eqops_error *err, const eqops_jpath *p, const char *key, const char *fmt,
               const char *value)
{
    eqops_jpath f;
    if (key)
        eqops__jpath_key(&f, p, key);
    else
        f = *p;
    return eqops__err_field(err, EQOPS_EINVAL, f.text, "%s", fmt ? fmt : value);
}

/* A string field passing `ok`, or absent. */
static int str_rule(const json_t *o, const char *key, const eqops_jpath *p, bool required,
                    bool (*ok)(const char *), const char *rule, const char **out, eqops_error *err)
{
    const char *v = NULL;
    int rc = eqops__json_string(o, key, p, required, &v, err);
    if (rc != 0)
        return rc;
    if (v != NULL && !ok(v))
        return bad(err, p, key, rule, NULL);
    if (v != NULL)
        *out = v;
    return 0;
}

static int int_field(const json_t *o, const char *key, const eqops_jpath *p, long lo, long hi,
                     int *out, eqops_error *err)
{
    double d = 0;
    bool set = false;
    json_t *v = json_object_get(o, key);
    if (v == NULL)
        return 0;
    int rc = eqops__json_number(o, key, p, false, &d, err);
    if (rc != 0)
        return rc;
    set = d == floor(d) && d >= (double)lo && d <= (double)hi;
    if (!set) {
        char rule[96];
        snprintf(rule, sizeof(rule), "must be a whole number from %ld to %ld", lo, hi);
        return bad(err, p, key, rule, NULL);
    }
    *out = (int)d;
    return 0;
}

/* ---- tiers ------------------------------------------------------------------------------------
 */

static bool is_tier_name(const char *s)
{
    return dns_label(s, 40);
}

/* {resource: quantity}; numbers are accepted and rewritten as strings */
static int quantities(json_t *o, const eqops_jpath *p, eqops_error *err)
{
    if (!json_is_object(o))
        return bad(err, p, NULL, "must be an object of resource names to quantities", NULL);
    if (json_object_size(o) > 64)
        return bad(err, p, NULL, "has more than 64 entries", NULL);
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(o, tmp, k, v)
    {
        eqops_jpath f;
        eqops__jpath_key(&f, p, k);
        if (!label_key(k))
            return eqops__err_field(err, EQOPS_EINVAL, f.text,
                                    "not a resource name (like requests.cpu or pods)");
        if (json_is_integer(v) && json_integer_value(v) < 0)
            return eqops__err_field(err, EQOPS_EINVAL, f.text, "must not be negative");
        if (json_is_integer(v)) {
            char num[32];
            snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
            if (json_object_set_new(o, k, json_string(num)) != 0)
                return eqops__err(err, EQOPS_ENOMEM, "out of memory");
            continue;
        }
        long double q = 0;
        if (!json_is_string(v) || !eqops__tn_quantity(json_string_value(v), &q))
            return eqops__err_field(err, EQOPS_EINVAL, f.text,
                                    "not a Kubernetes quantity (like 500m, 2, 4Gi)");
        if (q < 0) /* quotas and limits are amounts */
            return eqops__err_field(err, EQOPS_EINVAL, f.text, "must not be negative");
    }
    return 0;
}

int eqops__tn_tiers_check(const json_t *doc, eqops_error *err)
{
    eqops_jpath root, tp;
    eqops__jpath_init(&root, "tiers file");
    static const char *const top[] = {"tiers", NULL};
    json_t *tiers = NULL;
    int rc = json_is_object(doc) ? 0 : bad(err, &root, NULL, "must be an object", NULL);
    if (rc == 0)
        rc = eqops__json_only_keys(doc, &root, top, err);
    if (rc == 0)
        rc = eqops__json_object(doc, "tiers", &root, true, &tiers, err);
    if (rc != 0)
        return rc;
    eqops__jpath_init(&tp, "tiers");
    if (json_object_size(tiers) == 0 || json_object_size(tiers) > 64)
        return bad(err, &tp, NULL, "must name 1 to 64 tiers", NULL);
    const char *name;
    json_t *t;
    json_object_foreach(tiers, name, t)
    {
        eqops_jpath p;
        eqops__jpath_key(&p, &tp, name);
        static const char *const keys[] = {"pod_security", "quota", "limits", "connection_limit",
                                           NULL};
        static const char *const lkeys[] = {"default", "default_request", "max", "min", NULL};
        if (!is_tier_name(name))
            return bad(err, &p, NULL, "a tier name is 1 to 40 lowercase letters, digits and '-'",
                       NULL);
        if (!json_is_object(t))
            return bad(err, &p, NULL, "must be an object", NULL);
        rc = eqops__json_only_keys(t, &p, keys, err);
        const char *psa = "restricted";
        if (rc == 0)
            rc = eqops__json_string(t, "pod_security", &p, false, &psa, err);
        if (rc == 0 && strcmp(psa, "restricted") != 0 && strcmp(psa, "baseline") != 0 &&
            strcmp(psa, "privileged") != 0)
            rc = bad(err, &p, "pod_security", "must be restricted, baseline or privileged", NULL);
        json_t *quota = NULL, *limits = NULL;
        if (rc == 0)
            rc = eqops__json_object(t, "quota", &p, true, &quota, err);
        if (rc == 0) {
            eqops_jpath q;
            eqops__jpath_key(&q, &p, "quota");
            rc = json_object_size(quota) ? quantities(quota, &q, err)
                                         : bad(err, &q, NULL, "must not be empty", NULL);
        }
        if (rc == 0)
            rc = eqops__json_object(t, "limits", &p, false, &limits, err);
        if (rc == 0 && limits) {
            eqops_jpath l;
            eqops__jpath_key(&l, &p, "limits");
            rc = eqops__json_only_keys(limits, &l, lkeys, err);
            const char *lk;
            json_t *lv;
            json_object_foreach(limits, lk, lv)
            {
                eqops_jpath q;
                eqops__jpath_key(&q, &l, lk);
                if (rc == 0)
                    rc = quantities(lv, &q, err);
            }
        }
        int limit = 20;
        if (rc == 0)
            rc = int_field(t, "connection_limit", &p, -1, 10000, &limit, err);
        if (rc == 0 && limit == 0)
            rc = bad(err, &p, "connection_limit", "0 would let nobody in: 1 to 10000, or -1", NULL);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- the spec ---------------------------------------------------------------------------------
 */

static bool cluster_name_ok(const char *s)
{
    return dns_label(s, 40);
}
static bool context_ok(const char *s)
{
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < ' ' || *p == 0x7f)
            return false;
    return *s != '\0' && strlen(s) <= 253;
}
static bool eks_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 100 || !isalnum((unsigned char)s[0]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '-' || s[i] == '_'))
            return false;
    return true;
}
static bool region_ok(const char *s)
{
    return dns_label(s, 32) && strchr(s, '-') != NULL;
}
static bool host_ok(const char *s)
{
    return token(s, 253) && strpbrk(s, "'\\/@?#") == NULL;
}
static bool secret_name_ok(const char *s)
{
    return dns_subdomain(s);
}
static bool aws_secret_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 512)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || strchr("/_+=.@-", s[i])))
            return false;
    return true;
}
static bool repo_ok(const char *s)
{
    return token(s, 2048) && (strncmp(s, "https://", 8) == 0 || strncmp(s, "ssh://", 6) == 0 ||
                              strncmp(s, "git@", 4) == 0 || strncmp(s, "http://", 7) == 0);
}
static bool path_ok(const char *s)
{
    if (!token(s, 1024) || s[0] == '/')
        return false;
    for (const char *p = s; (p = strstr(p, "..")) != NULL; p += 2)
        if ((p == s || p[-1] == '/') && (p[2] == '\0' || p[2] == '/'))
            return false;
    return true;
}
static bool revision_ok(const char *s)
{
    return token(s, 255);
}
static bool server_ok(const char *s)
{
    return token(s, 2048) && strncmp(s, "https://", 8) == 0;
}
static bool cidr_ok(const char *s)
{
    char addr[64];
    const char *slash = strchr(s, '/');
    if (slash == NULL || (size_t)(slash - s) >= sizeof(addr))
        return false;
    memcpy(addr, s, (size_t)(slash - s));
    addr[slash - s] = '\0';
    unsigned char buf[16];
    int family = strchr(addr, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(family, addr, buf) != 1)
        return false;
    size_t ndigits = strspn(slash + 1, "0123456789");
    if (ndigits == 0 || ndigits > 3 || slash[1 + ndigits] != '\0')
        return false;
    long bits = strtol(slash + 1, NULL, 10);
    return bits <= (family == AF_INET ? 32 : 128);
}
static bool setting_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63 || !islower((unsigned char)s[0]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '_' ||
              s[i] == '.'))
            return false;
    return true;
}

static int spec_clusters(tn_spec *s, json_t *doc, const eqops_jpath *root, eqops_error *err)
{
    json_t *arr = NULL;
    int rc = eqops__json_array(doc, "clusters", root, true, &arr, err);
    if (rc != 0)
        return rc;
    eqops_jpath cp;
    eqops__jpath_key(&cp, root, "clusters");
    if (json_array_size(arr) == 0 || json_array_size(arr) > TN_MAX_CLUSTERS)
        return bad(err, &cp, NULL, "must list 1 to 16 clusters", NULL);
    size_t i;
    json_t *c;
    json_array_foreach(arr, i, c)
    {
        static const char *const keys[] = {"name", "context", "eks", NULL};
        static const char *const ekeys[] = {"cluster", "region", NULL};
        eqops_jpath p;
        eqops__jpath_index(&p, &cp, i);
        tn_cluster *tc = &s->clusters[i];
        if (!json_is_object(c))
            return bad(err, &p, NULL, "must be an object", NULL);
        rc = eqops__json_only_keys(c, &p, keys, err);
        if (rc == 0)
            rc = str_rule(c, "name", &p, true, cluster_name_ok,
                          "1 to 40 lowercase letters, digits and '-'", &tc->name, err);
        if (rc == 0)
            rc = str_rule(c, "context", &p, false, context_ok, "1 to 253 printable characters",
                          &tc->context, err);
        json_t *eks = NULL;
        if (rc == 0)
            rc = eqops__json_object(c, "eks", &p, false, &eks, err);
        if (rc == 0 && (eks != NULL) == (tc->context != NULL))
            rc = bad(err, &p, NULL, "give either context or eks", NULL);
        if (rc == 0 && eks) {
            eqops_jpath ep;
            eqops__jpath_key(&ep, &p, "eks");
            rc = eqops__json_only_keys(eks, &ep, ekeys, err);
            if (rc == 0)
                rc = str_rule(eks, "cluster", &ep, true, eks_name_ok,
                              "an EKS cluster name: letters, digits, '-' and '_'", &tc->eks_cluster,
                              err);
            if (rc == 0)
                rc = str_rule(eks, "region", &ep, true, region_ok, "an AWS region like eu-west-1",
                              &tc->eks_region, err);
        }
        if (rc != 0)
            return rc;
        for (size_t j = 0; j < i; j++) {
            const tn_cluster *o = &s->clusters[j];
            bool same_target =
                tc->context ? (o->context && strcmp(o->context, tc->context) == 0)
                            : (o->eks_cluster && strcmp(o->eks_cluster, tc->eks_cluster) == 0 &&
                               strcmp(o->eks_region, tc->eks_region) == 0);
            if (strcmp(o->name, tc->name) == 0)
                return bad(err, &p, "name", "names another cluster of this list again", NULL);
            if (same_target)
                return bad(err, &p, NULL, "is the same cluster as another one of this list", NULL);
        }
        s->nclusters = i + 1;
    }
    return 0;
}

static int spec_database(tn_spec *s, json_t *doc, const eqops_jpath *root, eqops_error *err)
{
    static const char *const keys[] = {"enabled", "connection_limit", "settings", "host",
                                       "port",    "egress_cidr",      NULL};
    json_t *db = json_object_get(doc, "database");
    eqops_jpath p;
    eqops__jpath_key(&p, root, "database");
    if (db == NULL) {
        db = json_object();
        if (db == NULL || json_object_set_new(doc, "database", db) != 0)
            return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
    if (!json_is_object(db))
        return bad(err, &p, NULL, "must be an object", NULL);
    int rc = eqops__json_only_keys(db, &p, keys, err);
    s->db_enabled = true;
    s->connection_limit = 20;
    json_t *tl = json_object_get(s->tier_doc, "connection_limit");
    if (json_is_number(tl)) /* a whole number from -1 to 10000: checked with the tiers */
        s->connection_limit = (int)json_number_value(tl);
    if (rc == 0)
        rc = eqops__json_bool(db, "enabled", &p, false, &s->db_enabled, err);
    if (rc == 0)
        rc = int_field(db, "connection_limit", &p, -1, 10000, &s->connection_limit, err);
    if (rc == 0 && s->connection_limit == 0)
        rc = bad(err, &p, "connection_limit", "0 would let nobody in: 1 to 10000, or -1", NULL);
    if (rc == 0)
        rc = str_rule(db, "host", &p, false, host_ok, "a host name or address", &s->db_host, err);
    if (rc == 0)
        rc = int_field(db, "port", &p, 1, 65535, &s->db_port, err);
    if (rc == 0)
        rc = str_rule(db, "egress_cidr", &p, false, cidr_ok, "a CIDR like 10.0.0.0/16",
                      &s->egress_cidr, err);
    json_t *settings = NULL;
    if (rc == 0)
        rc = eqops__json_object(db, "settings", &p, false, &settings, err);
    if (rc == 0 && settings) {
        eqops_jpath sp;
        eqops__jpath_key(&sp, &p, "settings");
        if (json_object_size(settings) > 32)
            return bad(err, &sp, NULL, "has more than 32 settings", NULL);
        const char *k;
        json_t *v;
        json_object_foreach(settings, k, v)
        {
            eqops_jpath f;
            eqops__jpath_key(&f, &sp, k);
            if (!setting_name_ok(k))
                return bad(err, &f, NULL, "not a setting name (like statement_timeout)", NULL);
            /* the pg module's allow-list: nothing that changes who sessions run as */
            if ((rc = eqops__pg_setting_check(k, f.text, err)) != 0)
                return rc;
            if (!json_is_string(v) && !json_is_number(v) && !json_is_boolean(v))
                return bad(err, &f, NULL, "must be a string, number or boolean", NULL);
            if (json_is_string(v) && !whole_string(v))
                return bad(err, &f, NULL, "must not contain NUL", NULL);
            if (json_is_string(v) && (strlen(json_string_value(v)) > 1000 ||
                                      strpbrk(json_string_value(v), "\n\r") != NULL))
                return bad(err, &f, NULL, "at most 1000 characters on one line", NULL);
        }
    }
    if (rc != 0)
        return rc;
    bool ok = eqops__jset(db, "enabled", json_boolean(s->db_enabled)) &&
              eqops__jset(db, "connection_limit", json_integer(s->connection_limit));
    return ok ? 0 : eqops__err(err, EQOPS_ENOMEM, "out of memory");
}

static int spec_secrets(tn_spec *s, json_t *doc, const eqops_jpath *root, eqops_error *err)
{
    static const char *const keys[] = {"kubernetes", "aws", NULL};
    static const char *const kkeys[] = {"name", NULL};
    static const char *const akeys[] = {"name", "region", NULL};
    eqops_jpath p, kp, ap;
    eqops__jpath_key(&p, root, "secrets");
    eqops__jpath_key(&kp, &p, "kubernetes");
    eqops__jpath_key(&ap, &p, "aws");
    json_t *sec = json_object_get(doc, "secrets"), *k8s = NULL, *aws = NULL;
    if (sec == NULL) {
        sec = json_object();
        if (sec == NULL || json_object_set_new(doc, "secrets", sec) != 0)
            return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
    int rc = json_is_object(sec) ? eqops__json_only_keys(sec, &p, keys, err)
                                 : bad(err, &p, NULL, "must be an object", NULL);
    if (rc == 0)
        rc = eqops__json_object(sec, "kubernetes", &p, false, &k8s, err);
    if (rc == 0 && k8s == NULL) {
        k8s = json_object();
        if (k8s == NULL || json_object_set_new(sec, "kubernetes", k8s) != 0)
            return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
    s->k8s_secret = "db-credentials";
    if (rc == 0)
        rc = eqops__json_only_keys(k8s, &kp, kkeys, err);
    if (rc == 0)
        rc = str_rule(k8s, "name", &kp, false, secret_name_ok,
                      "a Secret name: lowercase DNS subdomain", &s->k8s_secret, err);
    if (rc == 0)
        rc = eqops__json_object(sec, "aws", &p, false, &aws, err);
    if (rc == 0 && aws) {
        rc = eqops__json_only_keys(aws, &ap, akeys, err);
        if (rc == 0)
            rc = str_rule(aws, "name", &ap, true, aws_secret_ok,
                          "1 to 512 letters, digits and /_+=.@-", &s->aws_secret, err);
        if (rc == 0)
            rc = str_rule(aws, "region", &ap, false, region_ok, "an AWS region like eu-west-1",
                          &s->aws_region, err);
    }
    /* defaults go into the document; pointers always borrow from it */
    if (rc == 0 && json_object_get(k8s, "name") == NULL &&
        !eqops__jset(k8s, "name", json_string(s->k8s_secret)))
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    if (rc == 0)
        s->k8s_secret = json_string_value(json_object_get(k8s, "name"));
    return rc;
}

static int spec_argocd(tn_spec *s, json_t *doc, const eqops_jpath *root, eqops_error *err)
{
    static const char *const keys[] = {"repo", "path", "revision", "server", NULL};
    json_t *a = NULL;
    int rc = eqops__json_object(doc, "argocd", root, false, &a, err);
    if (rc != 0 || a == NULL)
        return rc;
    eqops_jpath p;
    eqops__jpath_key(&p, root, "argocd");
    s->argocd = true;
    s->argo_revision = "HEAD";
    s->argo_server = "https://kubernetes.default.svc";
    rc = eqops__json_only_keys(a, &p, keys, err);
    if (rc == 0)
        rc = str_rule(a, "repo", &p, true, repo_ok,
                      "a repository URL (https://, ssh:// or git@), no spaces", &s->argo_repo, err);
    if (rc == 0)
        rc = str_rule(a, "path", &p, true, path_ok, "a relative path without '..'", &s->argo_path,
                      err);
    if (rc == 0)
        rc = str_rule(a, "revision", &p, false, revision_ok, "a revision without spaces",
                      &s->argo_revision, err);
    if (rc == 0)
        rc = str_rule(a, "server", &p, false, server_ok, "an https:// URL", &s->argo_server, err);
    if (rc == 0 && json_object_get(a, "revision") == NULL &&
        !eqops__jset(a, "revision", json_string(s->argo_revision)))
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    if (rc == 0 && json_object_get(a, "server") == NULL &&
        !eqops__jset(a, "server", json_string(s->argo_server)))
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    if (rc == 0) {
        s->argo_revision = json_string_value(json_object_get(a, "revision"));
        s->argo_server = json_string_value(json_object_get(a, "server"));
    }
    return rc;
}

/* Keys eqops sets, and the prefixes Kubernetes keeps for itself (kubernetes.io, k8s.io and
 * their subdomains), except the recommended app.kubernetes.io/ labels, which are the user's. */
static bool reserved_label(const char *key)
{
    if (strncmp(key, "eqops.io/", 9) == 0 || strcmp(key, TN_LABEL_MANAGED) == 0)
        return true;
    if (strncmp(key, "app.kubernetes.io/", 18) == 0)
        return false;
    const char *slash = strchr(key, '/');
    if (slash == NULL)
        return false;
    size_t n = (size_t)(slash - key);
    static const char *const kept[] = {"kubernetes.io", "k8s.io"};
    for (size_t i = 0; i < 2; i++) {
        size_t k = strlen(kept[i]);
        if (n == k && strncmp(key, kept[i], k) == 0)
            return true;
        if (n > k && key[n - k - 1] == '.' && strncmp(slash - k, kept[i], k) == 0)
            return true;
    }
    return false;
}

static int spec_labels(json_t *doc, const eqops_jpath *root, eqops_error *err)
{
    json_t *labels = NULL;
    int rc = eqops__json_object(doc, "labels", root, false, &labels, err);
    if (rc != 0)
        return rc;
    eqops_jpath p;
    eqops__jpath_key(&p, root, "labels");
    if (labels == NULL) {
        labels = json_object();
        return labels && json_object_set_new(doc, "labels", labels) == 0
                   ? 0
                   : eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
    if (json_object_size(labels) > 32)
        return bad(err, &p, NULL, "has more than 32 labels", NULL);
    const char *k;
    json_t *v;
    json_object_foreach(labels, k, v)
    {
        eqops_jpath f;
        eqops__jpath_key(&f, &p, k);
        if (!label_key(k))
            return bad(err, &f, NULL, "not a label key ([prefix/]name, name <= 63 characters)",
                       NULL);
        if (reserved_label(k))
            return bad(err, &f, NULL, "this key is set by eqops or kept by Kubernetes", NULL);
        if (!whole_string(v) || !label_name(json_string_value(v), true))
            return bad(err, &f, NULL,
                       "a label value is at most 63 letters, digits, '-', '_' and '.'", NULL);
    }
    return 0;
}

/* A field given as null is absent: remove null members of objects, so defaults fill them and
 * every pointer into the document is a string. */
static void strip(json_t *v, int depth)
{
    if (depth > EQOPS__DOC_MAX_DEPTH)
        return;
    if (json_is_object(v)) {
        const char *k;
        json_t *m;
        void *tmp;
        json_object_foreach_safe(v, tmp, k, m)
        {
            if (json_is_null(m))
                json_object_del(v, k);
            else
                strip(m, depth + 1);
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *m;
        json_array_foreach(v, i, m)
        {
            strip(m, depth + 1);
        }
    }
}

void eqops__tn_strip_nulls(json_t *doc)
{
    strip(doc, 0);
}

int eqops__tn_spec_parse(tn_spec *s, const json_t *tiers, const char *text, size_t len,
                         const char *what, eqops_error *err)
{
    memset(s, 0, sizeof(*s));
    json_t *doc = NULL;
    int rc = eqops__yaml_parse(&doc, text, len, false, what, err);
    return rc == 0 ? eqops__tn_spec_from_doc(s, tiers, doc, what, err) : rc;
}

int eqops__tn_spec_from_doc(tn_spec *s, const json_t *tiers, json_t *doc, const char *what,
                            eqops_error *err)
{
    static const char *const keys[] = {"apiVersion", "kind",    "name",   "tier",   "clusters",
                                       "database",   "secrets", "argocd", "labels", NULL};
    memset(s, 0, sizeof(*s));
    int rc = 0;
    s->doc = doc;
    eqops__tn_strip_nulls(doc);
    eqops_jpath root;
    eqops__jpath_init(&root, "");
    if (!json_is_object(doc)) {
        rc = eqops__err(err, EQOPS_EINVAL, "%s: must be an object", what);
        goto out;
    }
    rc = eqops__json_only_keys(doc, &root, keys, err);
    const char *api = "eqops.io/v1", *kind = "Tenant";
    if (rc == 0)
        rc = eqops__json_string(doc, "apiVersion", &root, false, &api, err);
    if (rc == 0 && strcmp(api, "eqops.io/v1") != 0)
        rc = bad(err, &root, "apiVersion", "must be eqops.io/v1", NULL);
    if (rc == 0)
        rc = eqops__json_string(doc, "kind", &root, false, &kind, err);
    if (rc == 0 && strcmp(kind, "Tenant") != 0)
        rc = bad(err, &root, "kind", "must be Tenant", NULL);
    if (rc == 0)
        rc = eqops__json_string(doc, "name", &root, true, &s->name, err);
    if (rc == 0) {
        eqops_error e = EQOPS_ERROR_INIT;
        if (eqops_pg_tenant_name_check(s->name, &e) != 0) {
            /* the rule's message already starts with the field */
            const char *msg = strncmp(e.message, "name: ", 6) == 0 ? e.message + 6 : e.message;
            rc = eqops__err_field(err, EQOPS_EINVAL, "name", "%s", msg);
            eqops_error_clear(&e);
        }
    }
    if (rc == 0)
        rc = eqops__json_string(doc, "tier", &root, true, &s->tier, err);
    if (rc == 0 && tiers == NULL)
        rc = eqops__err_field(err, EQOPS_EINVAL, "tier", "no tiers file was given (tiers_file)");
    if (rc == 0) {
        s->tier_doc = json_object_get(json_object_get(tiers, "tiers"), s->tier);
        if (s->tier_doc == NULL)
            rc = eqops__err_field(err, EQOPS_EINVAL, "tier",
                                  "\"%.64s\" is not a tier of the tiers file", s->tier);
    }
    if (rc == 0)
        rc = spec_clusters(s, doc, &root, err);
    if (rc == 0)
        rc = spec_database(s, doc, &root, err);
    if (rc == 0)
        rc = spec_secrets(s, doc, &root, err);
    if (rc == 0)
        rc = spec_argocd(s, doc, &root, err);
    if (rc == 0)
        rc = spec_labels(doc, &root, err);
    if (rc == 0 && json_object_get(doc, "apiVersion") == NULL &&
        !eqops__jset(doc, "apiVersion", json_string(api)))
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    if (rc == 0 && json_object_get(doc, "kind") == NULL &&
        !eqops__jset(doc, "kind", json_string(kind)))
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
out:
    if (rc != 0) {
        json_decref(doc);
        memset(s, 0, sizeof(*s));
    }
    return rc;
}

void eqops__tn_spec_free(tn_spec *s)
{
    if (s == NULL)
        return;
    json_decref(s->doc);
    memset(s, 0, sizeof(*s));
}
