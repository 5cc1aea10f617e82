/*
 * cli.h - shared pieces of the eqops command-line tool: output mode, errors, flag parsing.
 *
 * Exit codes: 0 success, 1 failure, 2 usage error. Errors go to stderr (as JSON with -o json).
 */
#ifndef EQOPS_CLI_H
#define EQOPS_CLI_H

#include <eqops.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

typedef enum cli_output { CLI_TEXT, CLI_JSON } cli_output;

typedef struct cli {
    cli_output output;
    int verbosity; /* -v count */
    const char *prog;
} cli;

typedef int (*cli_run_fn)(cli *c, int argc, char **argv);

typedef struct cli_command {
    const char *name;
    const char *summary;
    cli_run_fn run;
} cli_command;

typedef enum cli_flag_kind { CLI_FLAG_BOOL, CLI_FLAG_STRING, CLI_FLAG_LIST } cli_flag_kind;

/* Values of a repeatable flag (CLI_FLAG_LIST), NULL-terminated. */
#define CLI_LIST_MAX 256
typedef struct cli_list {
    const char *v[CLI_LIST_MAX + 1];
    int n;
} cli_list;

typedef struct cli_flag {
    const char *name; /* long name without dashes */
    char shorthand;   /* 0 if none */
    cli_flag_kind kind;
    void *dest; /* bool *, const char ** or cli_list * */
    const char *help;
} cli_flag;

/*
 * Parse `argv` (argv[0] is the command name) against `flags`; the common -o/--output and
 * -v/--verbose flags are accepted anywhere. Positional arguments are gathered into `pos`
 * (at most max_pos). Returns CLI_OK or CLI_USAGE after printing the problem.
 */
int cli_parse(cli *c, const char *cmd, const cli_flag *flags, int argc, char **argv,
              const char **pos, int max_pos, int *npos);

/* Print help for a command's flags to stdout. */
void cli_print_flags(const cli_flag *flags);

/* Report a library error on stderr; returns CLI_FAIL. */
int cli_fail(cli *c, const eqops_error *e);
/* Report a usage problem on stderr; returns CLI_USAGE. */
int cli_usage(cli *c, const char *cmd, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Print a JSON value on stdout (steals the reference). Returns CLI_OK or CLI_FAIL. */
int cli_print_json(cli *c, json_t *value);
/*
 * Read the text input `path` ("-": standard input, which can be read once) whole, at most
 * `max` bytes, into a new NUL-terminated buffer (free(); *len may be NULL). A file is opened as
 * the library opens files: stat() first, so a device or a directory is refused without being
 * opened; a FIFO (`<(sops -d spec.yaml)`) is read until its writer closes it, for at most
 * EQOPS_FIFO_WAIT seconds (default 60). A NUL byte is refused (the library takes C strings,
 * and would see only what comes before it). Returns CLI_OK, or CLI_FAIL / CLI_USAGE after
 * printing the problem.
 */
int cli_read_input(cli *c, const char *path, size_t max, char **out, size_t *len);
/*
 * A file input the library reads by its path (kubeconfig, tiers, spec, series): "-" (standard
 * input) and a FIFO are read once here, as cli_read_input() reads them, and `*out` names an
 * in-memory copy the library may open as often as it needs (a tenant's clusters each read the
 * kubeconfig); messages name what the user wrote. Anything else is given as it is (`*out` =
 * `path`, NULL stays NULL). Returns CLI_OK, or CLI_FAIL / CLI_USAGE after printing the problem.
 */
int cli_input_file(cli *c, const char *path, size_t max, const char **out);
/*
 * Write `text` to `path` (given with --`flag`) as a whole: a new file in the same directory,
 * renamed over `path` once written and synced, so a reader never sees half a file and a
 * failure leaves the old one. An existing file keeps its mode (a new one: 0666 less the
 * umask). A symbolic link is refused (it would be replaced, not followed), and so is anything
 * that is not a regular file (a FIFO would block). Returns CLI_OK, or CLI_FAIL / CLI_USAGE
 * after printing the problem.
 */
int cli_write_file(cli *c, const char *flag, const char *path, const char *text);
/* Install the stderr logger according to -v. */
void cli_setup_log(cli *c);

/* Subcommands (one file each). */
int cmd_version(cli *c, int argc, char **argv);
int cmd_slo(cli *c, int argc, char **argv);
int cmd_db(cli *c, int argc, char **argv);
int cmd_aws(cli *c, int argc, char **argv);
int cmd_k8s(cli *c, int argc, char **argv);
int cmd_tenant(cli *c, int argc, char **argv);

#endif
