#ifndef DEVHOST_SPAWN_H
#define DEVHOST_SPAWN_H

#include <sys/types.h>

/// Starts `path` with `argv`/`envp` as the leader of a new session (pid == pgid), in `cwd`, with
/// stdin from `input_fd` (or /dev/null when it is -1) and stdout+stderr on `output_fd`. Every other descriptor is closed and
/// signal dispositions and the mask are reset, so the service does not inherit devhost's.
/// Returns the pid, or -1 with errno set (also when chdir or exec failed in the child).
pid_t devhost_spawn(const char *path, char *const argv[], char *const envp[], const char *cwd, int input_fd, int output_fd);

/// Makes the calling process a child subreaper: orphaned descendants are reparented to it.
int devhost_set_subreaper(void);

/// pipe2(fds, O_CLOEXEC): descriptors no spawned child inherits.
int devhost_pipe_cloexec(int fds[2]);

#endif
