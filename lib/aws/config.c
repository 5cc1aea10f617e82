/*
 * config.c - the shared AWS config and credentials files (INI as botocore reads them):
 * "[profile name]" sections in the config file ("[default]" too), "[name]" in the
 * credentials file, "key = value" lines, '#' and ';' comment lines, and nested settings (a key
 * with an empty value followed by indented "sub = value" lines, stored as "key.sub").
 */
#include "aws_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#define AWS_CONFIG_MAX (1u << 20)

static bool blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static void trim(const char **s, const char **e)
{
    while (*s < *e && blank(**s))
        (*s)++;
    while (*e > *s && blank((*e)[-1]))
        (*e)--;
}

static int line_error(eqops_error *err, const char *path, size_t line, const char *rule)
{
    char field[160];
    snprintf(field, sizeof(field), "%s:%zu", path, line);
    return eqops__err_field(err, EQOPS_EINVAL, field, "%s", rule);
}

int eqops__aws_ini_parse(json_t **into, const char *text, size_t len, bool config, const char *path,
                         eqops_error *err)
{
    if (*into == NULL && (*into = json_object()) == NULL)
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    if (memchr(text, '\0', len) != NULL)
        return line_error(err, path, 1, "contains a NUL byte");
    json_t *section = NULL; /* the current profile, or NULL when outside of one */
    char parent[128] = "";  /* a key with an empty value: indented lines nest under it */
    size_t lineno = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        lineno++;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end, *s = p;
        p = nl ? nl + 1 : end;
        bool indented = s < e && (*s == ' ' || *s == '\t');
        trim(&s, &e);
        if (s == e || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            if (e[-1] != ']')
                return line_error(err, path, lineno, "a section header must end with ']'");
            const char *ns = s + 1, *ne = e - 1;
            trim(&ns, &ne);
            size_t n = (size_t)(ne - ns);
            char name[128];
            if (n == 0 || n >= sizeof(name))
                return line_error(err, path, lineno, "a section name must be 1 to 127 bytes");
            memcpy(name, ns, n);
            name[n] = '\0';
            const char *profile = name;
            section = NULL;
            parent[0] = '\0';
            if (config) {
                if (!strncmp(name, "profile", 7) && blank(name[7])) {
                    profile = name + 8;
                    while (blank(*profile))
                        profile++;
                } else if (strcmp(name, "default") != 0) {
                    continue; /* sso-session, services, ...: not profiles */
                }
            }
            if (*profile == '\0')
                return line_error(err, path, lineno, "a profile needs a name");
            json_t *utf8 = json_string(profile); /* NULL when not UTF-8 */
            json_decref(utf8);
            if (utf8 == NULL)
                return line_error(err, path, lineno, "a profile name must be UTF-8");
            section = json_object_get(*into, profile);
            if (section == NULL) {
                section = json_object();
                if (section == NULL || json_object_set_new(*into, profile, section) != 0)
                    return eqops__err(err, EQOPS_ENOMEM, "out of memory");
            }
            continue;
        }
        const char *eq = memchr(s, '=', (size_t)(e - s));
        if (eq == NULL)
            return line_error(err, path, lineno, "expected 'key = value' or '[section]'");
        const char *ks = s, *ke = eq, *vs = eq + 1, *ve = e;
        trim(&ks, &ke);
        trim(&vs, &ve);
        size_t kn = (size_t)(ke - ks), vn = (size_t)(ve - vs);
        if (kn == 0 || kn >= 64)
            return line_error(err, path, lineno, "a key must be 1 to 63 bytes");
        for (size_t i = 0; i < kn; i++)
            if ((unsigned char)ks[i] <= 0x20 || (unsigned char)ks[i] >= 0x7f)
                return line_error(err, path, lineno,
                                  "a key must be printable ASCII without spaces");
        if (section == NULL)
            continue; /* a setting outside of a profile section */
        char key[200];
        if (indented && parent[0]) {
            snprintf(key, sizeof(key), "%s.%.*s", parent, (int)kn, ks);
        } else {
            snprintf(key, sizeof(key), "%.*s", (int)kn, ks);
            parent[0] = '\0';
            if (vn == 0)
                snprintf(parent, sizeof(parent), "%.*s", (int)kn, ks);
        }
        for (char *c = key; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
        json_t *v = json_stringn(vs, vn);
        if (v == NULL) /* not UTF-8 */
            return line_error(err, path, lineno, "the value is not UTF-8");
        if (json_object_set_new(section, key, v) != 0)
            return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
    return 0;
}

static int load_one(json_t **into, const char *path, bool config, eqops_error *err)
{
    char *text = NULL;
    size_t len = 0;
    eqops_error e = EQOPS_ERROR_INIT;
    int rc = eqops__read_file(&text, &len, path, AWS_CONFIG_MAX, &e);
    if (rc == EQOPS_ENOTFOUND) {
        eqops_error_clear(&e);
        return 0;
    }
    if (rc != 0) {
        eqops__err_move(err, &e);
        return rc;
    }
    rc = eqops__aws_ini_parse(into, text, len, config, path, err);
    eqops__wipe_free(text, len); /* credentials files hold secrets */
    return rc;
}

int eqops__aws_profiles_load(json_t **out, const char *config_path, const char *creds_path,
                             eqops_error *err)
{
    *out = NULL;
    json_t *config = NULL, *creds = NULL;
    int rc = config_path ? load_one(&config, config_path, true, err) : 0;
    if (rc == 0 && creds_path)
        rc = load_one(&creds, creds_path, false, err);
    if (rc == 0 && config == NULL && (config = json_object()) == NULL)
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    /* the credentials file wins, key by key */
    const char *name;
    json_t *profile;
    json_object_foreach(creds, name, profile)
    {
        if (rc != 0)
            break;
        json_t *target = json_object_get(config, name);
        if (target == NULL) {
            if (json_object_set(config, name, profile) != 0)
                rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
        } else if (json_object_update(target, profile) != 0) {
            rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
        }
    }
    json_decref(creds);
    if (rc != 0) {
        json_decref(config);
        return rc;
    }
    *out = config;
    return 0;
}

const char *eqops__aws_profile_get(const json_t *profiles, const char *profile, const char *key)
{
    const char *v = json_string_value(json_object_get(json_object_get(profiles, profile), key));
    return v && *v ? v : NULL;
}

void eqops__aws_profiles_free(json_t *profiles)
{
    const char *name;
    json_t *profile;
    json_object_foreach(profiles, name, profile)
    {
        const char *key;
        json_t *v;
        json_object_foreach(profile, key, v)
        {
            if (strstr(key, "secret") || strstr(key, "token")) {
                char *text = (char *)json_string_value(v); /* jansson's own copy */
                if (text)
                    eqops__wipe(text, strlen(text));
            }
        }
    }
    json_decref(profiles);
}
