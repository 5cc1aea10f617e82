/*
 * test_file.c - the one reader of user-named files: regular files read, a FIFO, a device or a
 * directory refused at once (never waited on), through the core reader and through the public
 * entry points that read files (SLO specs and series, tenant tiers, kubeconfigs, AWS config);
 * the files of a directory in kubectl's order.
 *
 * Every case runs under an alarm: a reader that blocks on a FIFO fails the test instead of
 * hanging it.
 */
#include "core/json.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <eqops.h>

#include "fail_alloc.h"
#include "testserver.h"

typedef struct fx {
    char dir[64];
} fx;

static void put(const fx *f, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", f->dir, name);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    assert_int_equal(fclose(fp), 0);
}

static const char *at(const fx *f, const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", f->dir, name);
    return out;
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/eqops-test-file-XXXXXX");
    if (f == NULL || mkdtemp(f->dir) == NULL)
        return -1;
    char p[256];
    if (mkfifo(at(f, "fifo", p, sizeof(p)), 0600) != 0)
        return -1;
    alarm(60); /* a reader waiting on the FIFO fails the run instead of hanging it */
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    alarm(0);
    ts_rmtree(f->dir);
    free(f);
    return 0;
}

static void read_kinds(void **state)
{
    fx *f = *state;
    char p[256], *text = NULL;
    size_t len = 0;
    eqops_error e = EQOPS_ERROR_INIT;
    put(f, "plain", "hello\n");
    assert_int_equal(eqops__read_file(&text, &len, at(f, "plain", p, sizeof(p)), 100, &e), 0);
    assert_string_equal(text, "hello\n");
    assert_int_equal(len, 6);
    eqops__free(text);
    put(f, "empty", "");
    assert_int_equal(eqops__read_file(&text, &len, at(f, "empty", p, sizeof(p)), 100, &e), 0);
    assert_string_equal(text, "");
    eqops__free(text);

    assert_int_equal(eqops__read_file(&text, &len, at(f, "plain", p, sizeof(p)), 3, &e),
                     EQOPS_ETOOBIG);
    assert_null(text);
    assert_int_equal(eqops__read_file(&text, &len, at(f, "missing", p, sizeof(p)), 100, &e),
                     EQOPS_ENOTFOUND);
    assert_non_null(strstr(e.message, p));

    /* a FIFO without a writer: refused at once (a blocking open would wait for ever) */
    assert_int_equal(eqops__read_file(&text, &len, at(f, "fifo", p, sizeof(p)), 100, &e),
                     EQOPS_EIO);
    assert_null(text);
    assert_non_null(strstr(e.message, "is a FIFO, not a regular file"));
    assert_non_null(strstr(e.message, p));
    assert_int_equal(eqops__read_file(&text, &len, f->dir, 100, &e), EQOPS_EIO);
    assert_non_null(strstr(e.message, "is a directory"));
    assert_int_equal(eqops__read_file(&text, &len, "/dev/null", 100, &e), EQOPS_EIO);
    assert_non_null(strstr(e.message, "a character device"));
    assert_int_equal(eqops__read_file(&text, &len, NULL, 100, &e), EQOPS_EINVAL);
    eqops_error_clear(&e);
}

static void open_modes(void **state)
{
    fx *f = *state;
    char p[256];
    struct stat st;
    int fd = eqops__file_open(at(f, "fifo", p, sizeof(p)), &st);
    assert_true(fd >= 0);
    assert_true(S_ISFIFO(st.st_mode));
    assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    close(fd);
    put(f, "plain", "x");
    fd = eqops__file_open(at(f, "plain", p, sizeof(p)), &st);
    assert_true(fd >= 0);
    assert_true(S_ISREG(st.st_mode));
    assert_false(fcntl(fd, F_GETFL) & O_NONBLOCK); /* cleared once known to be regular */
    close(fd);
    assert_int_equal(eqops__file_open(at(f, "missing", p, sizeof(p)), &st), -ENOENT);
    assert_string_equal(eqops__file_kind(S_IFSOCK), "a socket");
    assert_string_equal(eqops__file_kind(S_IFBLK), "a block device");
}

/* Every public function that reads a file the caller names refuses a FIFO at once. */
static void entry_points_refuse_fifos(void **state)
{
    fx *f = *state;
    char fifo[256];
    at(f, "fifo", fifo, sizeof(fifo));
    eqops_error e = EQOPS_ERROR_INIT;

    eqops_slo_set *set = NULL;
    assert_int_equal(eqops_slo_set_load(&set, fifo, &e), EQOPS_EIO);
    assert_null(set);
    assert_non_null(strstr(e.message, "FIFO"));

    eqops_slo_series_data *series = NULL;
    assert_int_equal(eqops_slo_series_load(&series, fifo, &e), EQOPS_EIO);
    assert_null(series);
    assert_non_null(strstr(e.message, "FIFO"));

    eqops_tenant_env *env = NULL;
    eqops_tenant_env_options to = EQOPS_TENANT_ENV_OPTIONS_INIT;
    to.tiers_file = fifo;
    assert_int_equal(eqops_tenant_env_new(&env, &to, &e), EQOPS_EIO);
    assert_null(env);
    assert_non_null(strstr(e.message, "FIFO"));

    eqops_k8s *k = NULL;
    eqops_k8s_options ko = EQOPS_K8S_OPTIONS_INIT;
    ko.kubeconfig = fifo;
    assert_int_equal(eqops_k8s_new(&k, &ko, &e), EQOPS_EIO);
    assert_null(k);
    assert_non_null(strstr(e.message, "FIFO"));

    /* the AWS shared config file */
    setenv("AWS_CONFIG_FILE", fifo, 1);
    setenv("AWS_PROFILE", "nowhere", 1);
    eqops_aws *aws = NULL;
    int rc = eqops_aws_new(&aws, NULL, &e);
    unsetenv("AWS_CONFIG_FILE");
    unsetenv("AWS_PROFILE");
    assert_int_not_equal(rc, 0);
    assert_null(aws);
    assert_non_null(strstr(e.message, "FIFO"));

    /* a CA bundle: read by the library, not by libcurl (OpenSSL's fopen would wait) */
    eqops_aws_options ao = EQOPS_AWS_OPTIONS_INIT;
    ao.ca_file = fifo;
    ao.region = "eu-west-1";
    assert_int_equal(eqops_aws_new(&aws, &ao, &e), EQOPS_EIO);
    assert_null(aws);
    if (strstr(e.message, "CA bundle") == NULL || strstr(e.message, "is a FIFO") == NULL)
        fail_msg("%s", e.message);
    eqops_error_clear(&e);
}

static void dir_files(void **state)
{
    fx *f = *state;
    char p[256], q[256];
    assert_int_equal(mkdir(at(f, "d", p, sizeof(p)), 0700), 0);
    assert_int_equal(mkdir(at(f, "d/sub", p, sizeof(p)), 0700), 0);
    assert_int_equal(mkdir(at(f, "d/sub/deeper", p, sizeof(p)), 0700), 0);
    const char *files[] = {"d/b.yaml",     "d/a.json",          "d/c.yml", "d/notes.txt",
                           "d/.hide.yaml", "d/sub/x.yaml",      "d/yaml",  "d/sub/deeper/y.json",
                           "d/Z.YAML",     "d/sub/deeper/z.txt"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        put(f, files[i], "x: 1\n");
    assert_int_equal(symlink(at(f, "d/sub", q, sizeof(q)), at(f, "d/link.yaml.d", p, sizeof(p))),
                     0);
    assert_int_equal(mkfifo(at(f, "d/pipe.yaml", p, sizeof(p)), 0600), 0);
    static const char *const exts[] = {".json", ".yaml", ".yml", NULL};

    eqops_paths l;
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(eqops__dir_files(&l, at(f, "d/", p, sizeof(p)), exts, false, 100, &e), 0);
    const char *flat[] = {".hide.yaml", "a.json", "b.yaml", "c.yml", "pipe.yaml"};
    assert_int_equal(l.n, 5);
    for (size_t i = 0; i < l.n; i++) {
        snprintf(q, sizeof(q), "%s/d/%s", f->dir, flat[i]);
        assert_string_equal(l.v[i], q);
    }
    eqops__paths_free(&l);

    /* recursive: a directory's files at the place of its name; the link is not followed */
    assert_int_equal(eqops__dir_files(&l, at(f, "d", p, sizeof(p)), exts, true, 100, &e), 0);
    const char *deep[] = {".hide.yaml",        "a.json",    "b.yaml", "c.yml", "pipe.yaml",
                          "sub/deeper/y.json", "sub/x.yaml"};
    assert_int_equal(l.n, 7);
    for (size_t i = 0; i < l.n; i++) {
        snprintf(q, sizeof(q), "%s/d/%s", f->dir, deep[i]);
        assert_string_equal(l.v[i], q);
    }
    eqops__paths_free(&l);

    assert_int_equal(eqops__dir_files(&l, p, exts, true, 6, &e), EQOPS_ETOOBIG);
    assert_int_equal(l.n, 0);
    assert_int_equal(eqops__dir_files(&l, at(f, "nowhere", p, sizeof(p)), exts, true, 9, &e),
                     EQOPS_ENOTFOUND);
    assert_non_null(strstr(e.message, "nowhere"));
    assert_int_equal(eqops__dir_files(&l, at(f, "d/a.json", p, sizeof(p)), exts, true, 9, &e),
                     EQOPS_EINVAL);
    assert_non_null(strstr(e.message, "is a regular file, not a directory"));
    assert_int_equal(eqops__dir_files(&l, at(f, "fifo", p, sizeof(p)), exts, true, 9, &e),
                     EQOPS_EINVAL);
    assert_non_null(strstr(e.message, "is a FIFO, not a directory"));
    assert_int_equal(eqops__dir_files(&l, "", exts, true, 9, &e), EQOPS_EINVAL);
    eqops_error_clear(&e);
}

struct actx {
    const char *dir;
    eqops_paths l;
    char *text;
    eqops_error err;
};

static int op_dir(void *p)
{
    static const char *const exts[] = {".yaml", NULL};
    struct actx *c = p;
    return eqops__dir_files(&c->l, c->dir, exts, true, 100, &c->err);
}

static int op_read(void *p)
{
    struct actx *c = p;
    char path[256];
    snprintf(path, sizeof(path), "%s/a.yaml", c->dir);
    return eqops__read_file(&c->text, NULL, path, 100, &c->err);
}

static void cleanup(void *p)
{
    struct actx *c = p;
    eqops__paths_free(&c->l);
    eqops__free(c->text);
    c->text = NULL;
    eqops_error_clear(&c->err);
}

static void allocation_failures(void **state)
{
    fx *f = *state;
    char p[256];
    assert_int_equal(mkdir(at(f, "af", p, sizeof(p)), 0700), 0);
    assert_int_equal(mkdir(at(f, "af/s", p, sizeof(p)), 0700), 0);
    put(f, "af/a.yaml", "a");
    put(f, "af/b.yaml", "b");
    put(f, "af/s/c.yaml", "c");
    struct actx c = {at(f, "af", p, sizeof(p)), {0}, NULL, EQOPS_ERROR_INIT};
    fa_install();
    assert_true(fa_loop(op_dir, cleanup, &c, EQOPS_ENOMEM, false) >= 8);
    assert_int_equal(fa_loop(op_read, cleanup, &c, EQOPS_ENOMEM, false), 1);
    fa_uninstall();
}

int main(void)
{
    eqops_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(read_kinds, setup, teardown),
        cmocka_unit_test_setup_teardown(open_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(entry_points_refuse_fifos, setup, teardown),
        cmocka_unit_test_setup_teardown(dir_files, setup, teardown),
        cmocka_unit_test_setup_teardown(allocation_failures, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    eqops_cleanup();
    return rc;
}
