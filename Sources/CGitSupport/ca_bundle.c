// libgit2 built on mbedTLS parses the system's whole CA bundle inside git_libgit2_init: about
// 3 ms of base64 decoding, a third of a `devhost init`, for certificates only an https clone uses.
// The link wraps this one mbedTLS function (linker flag --wrap, Package.swift), so libgit2's call
// reaches the stand-in below: while libgit2 starts up, the parse is recorded instead of done, and
// devhost_git_load_ca_bundle() does it, into the same chain, before anything talks https.
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "git_start.h"

typedef struct mbedtls_x509_crt mbedtls_x509_crt;
int __real_mbedtls_x509_crt_parse_file(mbedtls_x509_crt *chain, const char *path);

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int deferring;
static mbedtls_x509_crt *deferred_chain;
static char *deferred_path;

void devhost_git_defer_ca_bundle(int on) {
    pthread_mutex_lock(&lock);
    deferring = on;
    pthread_mutex_unlock(&lock);
}

int __wrap_mbedtls_x509_crt_parse_file(mbedtls_x509_crt *chain, const char *path) {
    pthread_mutex_lock(&lock);
    if (deferring && deferred_chain == NULL && path != NULL) {
        deferred_chain = chain;
        deferred_path = strdup(path);
        pthread_mutex_unlock(&lock);
        return 0;
    }
    pthread_mutex_unlock(&lock);
    return __real_mbedtls_x509_crt_parse_file(chain, path);
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
    int result = __real_mbedtls_x509_crt_parse_file(chain, path);
    free(path);
    return result < 0 ? result : 0;
}
