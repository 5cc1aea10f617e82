/*
 * testserver.c - see testserver.h.
 */
#include "testserver.h"

#include "net/http.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef EQOPS_TEST_SUPPORT_DIR
#error "EQOPS_TEST_SUPPORT_DIR must be defined"
#endif

const char *ts_support(const char *name, char *out, size_t out_len)
{
    snprintf(out, out_len, "%s/%s", EQOPS_TEST_SUPPORT_DIR, name);
    return out;
}

int ts_start(ts_server *s, const char *const *argv)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->dir, sizeof(s->dir), "/tmp/eqops-test-XXXXXX");
    if (mkdtemp(s->dir) == NULL) {
        perror("mkdtemp");
        return -1;
    }
    const char *args[32];
    size_t n = 0;
    for (; argv[n] && n < 28; n++)
        args[n] = argv[n];
    args[n++] = "--dir";
    args[n++] = s->dir;
    args[n] = NULL;
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        setpgid(0, 0);
        execvp(args[0], (char *const *)args);
        _exit(127);
    }
    close(fds[1]);
    s->pid = pid;
    size_t got = 0;
    for (;;) {
        struct pollfd p = {fds[0], POLLIN, 0};
        int r = poll(&p, 1, 60000);
        if (r <= 0) {
            fprintf(stderr, "testserver: %s did not become ready within 60 s\n", args[0]);
            break;
        }
        ssize_t k = read(fds[0], s->info + got, sizeof(s->info) - 1 - got);
        if (k <= 0) {
            fprintf(stderr, "testserver: %s exited before it was ready\n", args[0]);
            break;
        }
        got += (size_t)k;
        s->info[got] = '\0';
        if (strchr(s->info, '\n') != NULL) {
            close(fds[0]);
            return 0;
        }
    }
    close(fds[0]);
    ts_stop(s);
    return -1;
}

int ts_start_support(ts_server *s, const char *script)
{
    char path[512];
    const char *argv[] = {"python3", ts_support(script, path, sizeof(path)), NULL};
    return ts_start(s, argv);
}

void ts_stop(ts_server *s)
{
    if (s->pid > 0) {
        kill(-s->pid, SIGKILL);
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
    if (s->dir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "testserver: could not remove %s\n", s->dir);
        s->dir[0] = '\0';
    }
}

static json_t *info_json(const ts_server *s)
{
    return json_loads(s->info, JSON_DISABLE_EOF_CHECK, NULL);
}

long ts_int(const ts_server *s, const char *key)
{
    json_t *j = info_json(s);
    long v = (long)json_integer_value(json_object_get(j, key));
    json_decref(j);
    return v;
}

const char *ts_str(const ts_server *s, const char *key, char *out, size_t out_len)
{
    json_t *j = info_json(s);
    const char *v = json_string_value(json_object_get(j, key));
    snprintf(out, out_len, "%s", v ? v : "");
    json_decref(j);
    return out;
}

void ts_rmtree(const char *dir)
{
    if (dir == NULL || dir[0] == '\0')
        return;
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

char *ts_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t k;
    while (buf && (k = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += k;
        if (cap - n < 2) {
            char *nb = realloc(buf, cap *= 2);
            if (nb == NULL) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
        }
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        if (len)
            *len = n;
    }
    return buf;
}

long ts_get_number(const char *base, const char *path, const char *arg)
{
    char url[512];
    snprintf(url, sizeof(url), "%s%s%s", base, path, arg ? arg : "");
    eqops_http *h = NULL;
    eqops_http_options ho = EQOPS_HTTP_OPTIONS_INIT;
    eqops_http_response resp = EQOPS_HTTP_RESPONSE_INIT;
    eqops_http_request req = {0};
    req.method = "GET";
    req.url = url;
    if (eqops__http_new(&h, &ho, NULL) != 0 || eqops__http_do(h, &req, &resp, NULL) != 0 ||
        resp.status != 200) {
        fprintf(stderr, "testserver: GET %s failed\n", url);
        abort();
    }
    long n = atol(eqops__buf_cstr(&resp.body));
    eqops__http_response_clear(&resp);
    eqops__http_free(h);
    return n;
}
