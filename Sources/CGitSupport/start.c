// libgit2 is linked in statically (Package.swift says why) and initialised once per process, from
// whichever thread asks first, with its CA bundle parse deferred (ca_bundle.c).
//
// `devhost init` needs git only at its end, and git_libgit2_init (SSH, TLS and random-number set-up)
// takes ~0.4 ms. A constructor sees the arguments before the Swift runtime starts (glibc passes argc
// and argv to ELF constructors), so for `init` without --no-git the start begins here, on a thread
// of its own, and the first git call finds it done or under way (~0.1 ms off the command).
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <git2.h>
#include "git_start.h"

static pthread_once_t start_once = PTHREAD_ONCE_INIT;
static char start_error[512];

static void start(void) {
    devhost_git_defer_ca_bundle(1);
    if (git_libgit2_init() < 0) {
        const git_error *error = git_error_last();
        snprintf(start_error, sizeof start_error, "%s", error != NULL && error->message != NULL ? error->message : "git_libgit2_init failed");
    }
    devhost_git_defer_ca_bundle(0);
}

const char *devhost_git_start(void) {
    pthread_once(&start_once, start);
    return start_error[0] == 0 ? NULL : start_error;
}

static int started_early;

static void *start_thread(void *unused) {
    (void)unused;
    devhost_git_start();
    return NULL;
}

void devhost_git_settle(void) {
    // exit() runs atexit handlers (OpenSSL's among them), which must not race a start still under
    // way on the early thread.
    if (__atomic_load_n(&started_early, __ATOMIC_ACQUIRE)) devhost_git_start();
}

// Only glibc is known to pass the arguments to constructors.
#ifdef __GLIBC__
__attribute__((constructor)) static void start_early(int argc, char **argv, char **envp) {
    (void)envp;
    if (argc < 2 || strcmp(argv[1], "init") != 0) return;
    for (int index = 2; index < argc; index++) {
        const char *argument = argv[index];
        if (strcmp(argument, "--no-git") == 0 || strcmp(argument, "--help") == 0 || strcmp(argument, "-h") == 0) return;
    }
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    pthread_t thread;
    if (pthread_create(&thread, &attributes, start_thread, NULL) == 0) __atomic_store_n(&started_early, 1, __ATOMIC_RELEASE);
    pthread_attr_destroy(&attributes);
}
#endif
