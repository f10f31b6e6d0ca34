#define _GNU_SOURCE
#include "devhost_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

// The child may only call async-signal-safe functions between fork and exec: devhost is multithreaded.
static void child_fail(int report_fd) {
    int error = errno;
    ssize_t ignored = write(report_fd, &error, sizeof error);
    (void)ignored;
    _exit(127);
}

// close_range(2) closes thousands of descriptors in one call; a loop is the fallback on old kernels.
static void close_from(int first, int keep) {
#ifdef SYS_close_range
    if (keep > first) syscall(SYS_close_range, (unsigned)first, (unsigned)(keep - 1), 0);
    if (syscall(SYS_close_range, (unsigned)(keep + 1), ~0U, 0) == 0) return;
#endif
    int max_fd = (int)sysconf(_SC_OPEN_MAX);
    if (max_fd < 0 || max_fd > 65536) max_fd = 65536;
    for (int fd = first; fd < max_fd; fd++) {
        if (fd != keep) close(fd);
    }
}

pid_t devhost_spawn(const char *path, char *const argv[], char *const envp[], const char *cwd, int input_fd, int output_fd) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return -1;
    pid_t pid = fork();
    if (pid < 0) {
        int error = errno;
        close(report[0]);
        close(report[1]);
        errno = error;
        return -1;
    }
    if (pid == 0) {
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL);
        if (setsid() < 0) child_fail(report[1]);
        int in_fd = input_fd >= 0 ? input_fd : open("/dev/null", O_RDONLY);
        if (in_fd < 0 || dup2(in_fd, 0) < 0) child_fail(report[1]);
        if (dup2(output_fd, 1) < 0 || dup2(output_fd, 2) < 0) child_fail(report[1]);
        if (cwd != NULL && chdir(cwd) != 0) child_fail(report[1]);
        // Close everything else (NIO sockets, other services' pipes) except the report pipe,
        // which is close-on-exec and so tells the parent that exec succeeded.
        close_from(3, report[1]);
        execve(path, argv, envp);
        child_fail(report[1]);
    }
    close(report[1]);
    int child_error = 0;
    ssize_t got;
    do {
        got = read(report[0], &child_error, sizeof child_error);
    } while (got < 0 && errno == EINTR);
    close(report[0]);
    if (got == sizeof child_error) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        errno = child_error;
        return -1;
    }
    return pid;
}

int devhost_set_subreaper(void) {
    return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}

int devhost_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}
