// libgit2 authenticates with Kerberos (HTTP "Negotiate") through GSSAPI. Debian ships GSSAPI only as
// a shared library, and linking it would load seven libraries (Kerberos and its crypto) into every
// devhost command, so these stand-ins take libgit2's calls and load the library on the first one:
// only a clone from a server that asks for Negotiate ever does. Prototypes as in RFC 2744 and MIT's
// <gssapi/gssapi.h> (not installed with libgit2-dev, hence spelled out here).
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

typedef uint32_t OM_uint32;
typedef struct { OM_uint32 length; void *elements; } gss_OID_desc, *gss_OID;
typedef struct { size_t count; gss_OID elements; } gss_OID_set_desc, *gss_OID_set;
typedef struct { size_t length; void *value; } gss_buffer_desc, *gss_buffer_t;
typedef struct gss_name_struct *gss_name_t;
typedef struct gss_ctx_id_struct *gss_ctx_id_t;
typedef struct gss_cred_id_struct *gss_cred_id_t;
typedef struct gss_channel_bindings_struct *gss_channel_bindings_t;

// GSS_S_FAILURE: what every call answers when the library cannot be loaded.
#define DEVHOST_GSS_FAILURE ((OM_uint32)13 << 16)

// A variable, not a function, so it cannot wait for the library: the standard OID's value
// (1.2.840.113554.1.2.1.4), which GSSAPI compares by content.
static gss_OID_desc hostbased_service = {10, "\x2a\x86\x48\x86\xf7\x12\x01\x02\x01\x04"};
gss_OID GSS_C_NT_HOSTBASED_SERVICE = &hostbased_service;

static struct {
    OM_uint32 (*delete_sec_context)(OM_uint32 *, gss_ctx_id_t *, gss_buffer_t);
    OM_uint32 (*display_status)(OM_uint32 *, OM_uint32, int, gss_OID, OM_uint32 *, gss_buffer_t);
    OM_uint32 (*import_name)(OM_uint32 *, gss_buffer_t, gss_OID, gss_name_t *);
    OM_uint32 (*indicate_mechs)(OM_uint32 *, gss_OID_set *);
    OM_uint32 (*init_sec_context)(OM_uint32 *, gss_cred_id_t, gss_ctx_id_t *, gss_name_t, gss_OID, OM_uint32, OM_uint32,
                                  gss_channel_bindings_t, gss_buffer_t, gss_OID *, gss_buffer_t, OM_uint32 *, OM_uint32 *);
    OM_uint32 (*release_buffer)(OM_uint32 *, gss_buffer_t);
    OM_uint32 (*release_name)(OM_uint32 *, gss_name_t *);
    OM_uint32 (*release_oid_set)(OM_uint32 *, gss_OID_set *);
} gss;
static int loaded;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static void load(void) {
    void *library = dlopen("libgssapi_krb5.so.2", RTLD_LAZY | RTLD_LOCAL);
    if (library == NULL) return;
    *(void **)&gss.delete_sec_context = dlsym(library, "gss_delete_sec_context");
    *(void **)&gss.display_status = dlsym(library, "gss_display_status");
    *(void **)&gss.import_name = dlsym(library, "gss_import_name");
    *(void **)&gss.indicate_mechs = dlsym(library, "gss_indicate_mechs");
    *(void **)&gss.init_sec_context = dlsym(library, "gss_init_sec_context");
    *(void **)&gss.release_buffer = dlsym(library, "gss_release_buffer");
    *(void **)&gss.release_name = dlsym(library, "gss_release_name");
    *(void **)&gss.release_oid_set = dlsym(library, "gss_release_oid_set");
    loaded = gss.delete_sec_context && gss.display_status && gss.import_name && gss.indicate_mechs && gss.init_sec_context
        && gss.release_buffer && gss.release_name && gss.release_oid_set;
}

static int ready(OM_uint32 *minor) {
    pthread_once(&load_once, load);
    if (!loaded && minor != NULL) *minor = 0;
    return loaded;
}

OM_uint32 gss_delete_sec_context(OM_uint32 *minor, gss_ctx_id_t *context, gss_buffer_t output) {
    return ready(minor) ? gss.delete_sec_context(minor, context, output) : DEVHOST_GSS_FAILURE;
}

OM_uint32 gss_display_status(OM_uint32 *minor, OM_uint32 status, int type, gss_OID mech, OM_uint32 *message_context, gss_buffer_t text) {
    return ready(minor) ? gss.display_status(minor, status, type, mech, message_context, text) : DEVHOST_GSS_FAILURE;
}

OM_uint32 gss_import_name(OM_uint32 *minor, gss_buffer_t name, gss_OID type, gss_name_t *output) {
    return ready(minor) ? gss.import_name(minor, name, type, output) : DEVHOST_GSS_FAILURE;
}

OM_uint32 gss_indicate_mechs(OM_uint32 *minor, gss_OID_set *mechanisms) {
    return ready(minor) ? gss.indicate_mechs(minor, mechanisms) : DEVHOST_GSS_FAILURE;
}

OM_uint32 gss_init_sec_context(OM_uint32 *minor, gss_cred_id_t credentials, gss_ctx_id_t *context, gss_name_t target, gss_OID mech,
                               OM_uint32 flags, OM_uint32 time, gss_channel_bindings_t bindings, gss_buffer_t input,
                               gss_OID *actual_mech, gss_buffer_t output, OM_uint32 *actual_flags, OM_uint32 *actual_time) {
    return ready(minor) ? gss.init_sec_context(minor, credentials, context, target, mech, flags, time, bindings, input, actual_mech, output, actual_flags, actual_time)
                        : DEVHOST_GSS_FAILURE;
}

OM_uint32 gss_release_buffer(OM_uint32 *minor, gss_buffer_t buffer) {
    return ready(minor) ? gss.release_buffer(minor, buffer) : DEVHOST_GSS_FAILURE;
}

OM_uint32 gss_release_name(OM_uint32 *minor, gss_name_t *name) {
    return ready(minor) ? gss.release_name(minor, name) : DEVHOST_GSS_FAILURE;
}

OM_uint32 gss_release_oid_set(OM_uint32 *minor, gss_OID_set *set) {
    return ready(minor) ? gss.release_oid_set(minor, set) : DEVHOST_GSS_FAILURE;
}
