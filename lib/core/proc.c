/*
 * proc.c - run a helper program (credential_process, kubeconfig exec plugins) without a shell,
 * collecting its standard output with a deadline and a size limit.
 */
#define _GNU_SOURCE /* pipe2, posix_spawn_file_actions_addclosefrom_np (glibc 2.34) */
#include "core_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int eqops__run(eqops_buf *out, const char *const *argv, const char *const *envp, int64_t timeout_ms,
               size_t max_out, const char *what, eqops_error *err)
{
    if (argv == NULL || argv[0] == NULL || argv[0][0] == '\0')
        return eqops__err(err, EQOPS_EINVAL, "%s: no command", what);
    int fds[2];
    /* close-on-exec from the start: no other thread's child inherits it */
    if (pipe2(fds, O_CLOEXEC) != 0)
        return eqops__err(err, EQOPS_EIO, "%s: pipe: %s", what, strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO); /* dup2 drops CLOEXEC */
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    /* nothing else of ours: not the caller's connections, not other threads' pipes */
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    /* its own process group, so a timeout kills whatever it started too */
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    pid_t pid;
    int sp = posix_spawnp(&pid, argv[0], &fa, &attr, (char *const *)argv,
                          envp ? (char *const *)envp : environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(fds[1]);
    if (sp != 0) {
        close(fds[0]);
        return eqops__err(err, EQOPS_EIO, "%s: cannot run %s: %s", what, argv[0], strerror(sp));
    }
    int64_t deadline = eqops__mono_ms() + timeout_ms;
    /* the output may be a secret: room for all of it at once, so growing leaves no copies */
    if (eqops__buf_reserve(out, max_out + 1) != 0) {
        close(fds[0]);
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
    bool timed_out = false, too_big = false;
    for (;;) {
        int64_t left = deadline - eqops__mono_ms();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        struct pollfd pfd = {fds[0], POLLIN, 0};
        int pr = poll(&pfd, 1, left > 1000000 ? 1000000 : (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0)
            break;
        if (pr == 0)
            continue; /* the deadline is checked above */
        char chunk[4096];
        ssize_t r = read(fds[0], chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (out->len + (size_t)r > max_out) {
            too_big = true;
            break;
        }
        eqops__buf_put(out, chunk, (size_t)r);
    }
    close(fds[0]);
    /* stdout closed: it still has until the deadline to exit */
    int status = 0;
    pid_t done = 0;
    while (!timed_out && !too_big) {
        done = waitpid(pid, &status, WNOHANG);
        if (done < 0 && errno == EINTR)
            continue;
        if (done != 0)
            break;
        if (eqops__mono_ms() >= deadline) {
            timed_out = true;
            break;
        }
        eqops__sleep_ms(10);
    }
    if (timed_out || too_big || done < 0) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    if (timed_out)
        return eqops__err(err, EQOPS_ETIMEOUT, "%s: %s did not finish in %lld ms", what, argv[0],
                          (long long)timeout_ms);
    if (too_big)
        return eqops__err(err, EQOPS_ETOOBIG, "%s: more than %zu bytes of output", what, max_out);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127) /* exec failed in the child */
        return eqops__err(err, EQOPS_EIO,
                          "%s: cannot run %s (exit 127: not found or not executable)", what,
                          argv[0]);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return eqops__err(err, EQOPS_EIO, "%s: %s failed (exit %d)", what, argv[0],
                          WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    if (eqops__buf_ok(out) != 0)
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    return 0;
}
