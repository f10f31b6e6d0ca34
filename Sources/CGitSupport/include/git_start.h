#ifndef DEVHOST_GIT_START_H
#define DEVHOST_GIT_START_H

/// Initialises libgit2 (once; safe from any thread): git_libgit2_init with the CA bundle parse
/// deferred. NULL on success, else libgit2's message.
const char *devhost_git_start(void);

/// Waits for a start `devhost init` began before main (start.c), if any; call before exiting.
void devhost_git_settle(void);

/// While on, libgit2's start-up records its CA bundle parse instead of doing it (see ca_bundle.c).
void devhost_git_defer_ca_bundle(int on);

/// Parses a deferred CA bundle now; call before any https transfer. 0 on success (or nothing deferred).
int devhost_git_load_ca_bundle(void);

#endif
