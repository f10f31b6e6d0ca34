// libgit2 built on mbedTLS parses the system's whole CA bundle inside git_libgit2_init: about
// 3 ms of base64 decoding, a third of a `devhost init`, for certificates only an https clone uses.
// devhost's executable exports this one mbedTLS function (linker flag --export-dynamic-symbol), so
// libgit2's call reaches it first: while libgit2 starts up, the parse is recorded instead of done,
// and devhost_git_load_ca_bundle() does it, into the same chain, before anything talks https.
// With a libgit2 on OpenSSL, or without the export (test binaries), nothing is deferred.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "git_loader.h"

typedef struct mbedtls_x509_crt mbedtls_x509_crt;
typedef int (*parse_file_fn)(mbedtls_x509_crt *, const char *);

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int deferring;
static mbedtls_x509_crt *deferred_chain;
static char *deferred_path;

static parse_file_fn real_parse_file(void) {
    static parse_file_fn real;
    if (real == NULL) real = (parse_file_fn)dlsym(RTLD_NEXT, "mbedtls_x509_crt_parse_file");
    return real;
}

void devhost_git_defer_ca_bundle(int on) {
    pthread_mutex_lock(&lock);
    deferring = on;
    pthread_mutex_unlock(&lock);
}

__attribute__((visibility("default"))) int mbedtls_x509_crt_parse_file(mbedtls_x509_crt *chain, const char *path) {
    pthread_mutex_lock(&lock);
    if (deferring && deferred_chain == NULL && path != NULL) {
        deferred_chain = chain;
        deferred_path = strdup(path);
        pthread_mutex_unlock(&lock);
        return 0;
    }
    pthread_mutex_unlock(&lock);
    parse_file_fn real = real_parse_file();
    return real == NULL ? -1 : real(chain, path);
}

int devhost_git_load_ca_bundle(void) {
    pthread_mutex_lock(&lock);
    mbedtls_x509_crt *chain = deferred_chain;
    char *path = deferred_path;
    deferred_chain = NULL;
    deferred_path = NULL;
    deferring = 0;
    pthread_mutex_unlock(&lock);
    if (chain == NULL) return 0;
    parse_file_fn real = real_parse_file();
    int result = real == NULL ? -1 : real(chain, path);
    free(path);
    return result < 0 ? result : 0;
}
