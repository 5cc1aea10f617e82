/*
 * testserver.h - start a real server process for a test (it prints one JSON line when ready).
 */
#ifndef EQOPS_TEST_SERVER_H
#define EQOPS_TEST_SERVER_H

#include <sys/types.h>

typedef struct ts_server {
    pid_t pid;
    char dir[256];   /* a temporary directory the server may use; removed by ts_stop */
    char info[4096]; /* the JSON line the server printed */
} ts_server;

/* Start `argv` (argv[0] looked up in PATH) with "--dir DIR" appended; wait up to 60 s for its
 * JSON line. Returns 0 or -1 (with a message on stderr). */
int ts_start(ts_server *s, const char *const *argv);
void ts_stop(ts_server *s);

/* ts_start() of "python3 tests/support/<script>". */
int ts_start_support(ts_server *s, const char *script);

/* Integer / string member of the JSON line (strings copied into out). */
/* GET base + path + arg (plain HTTP) and read the answer as a number: the stand-in servers'
 * /count and /mode routes. Fails the test when the server does not answer. */
long ts_get_number(const char *base, const char *path, const char *arg);
long ts_int(const ts_server *s, const char *key);
const char *ts_str(const ts_server *s, const char *key, char *out, size_t out_len);

/* Read a whole file (NUL-terminated, malloc'd); NULL on error. */
char *ts_read_file(const char *path, size_t *len);

/* Remove a test's temporary directory and everything in it (a message when it cannot). */
void ts_rmtree(const char *dir);

/* Path of a file in tests/support. */
const char *ts_support(const char *name, char *out, size_t out_len);

#endif
