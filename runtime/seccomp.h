/*
 * seccomp filters from OCI linux.seccomp, built with libseccomp.
 *
 * ct_seccomp_apply() loads the filter into the calling process. The kernel
 * accepts a filter only if no_new_privs is set or the caller has
 * CAP_SYS_ADMIN, so:
 *   - process.noNewPrivileges true: prctl(PR_SET_NO_NEW_PRIVS) then apply as
 *     the last step before execve (fewest syscalls need to be allowed);
 *   - otherwise apply while CAP_SYS_ADMIN is still effective, i.e. before
 *     ct_caps_apply() (the profile must then allow what follows: capset,
 *     setresuid, execve...). ct_seccomp_apply says so in its error if the
 *     order is wrong.
 * The library never sets no_new_privs on its own.
 *
 * SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath: after loading, the
 * listener fd is sent over that Unix socket (SCM_RIGHTS) with the
 * containerProcessState JSON (runtime-spec config-linux.md "seccomp").
 */
#ifndef VESSEL_RUNTIME_SECCOMP_H
#define VESSEL_RUNTIME_SECCOMP_H

#include <stdbool.h>
#include <json-c/json.h>

#include "vessel/err.h"

struct ct_seccomp;

/* Parses linux.seccomp (j NULL: *out = NULL, no filter). Unknown syscall
 * names are skipped (profiles name newer kernels' syscalls); an unknown
 * action, operator, architecture or flag is an error naming the field. */
int ct_seccomp_parse(struct json_object *j, const char *where, struct ct_seccomp **out,
		     struct vs_err *e);

/* Loads the filter into the calling thread (all threads with
 * SECCOMP_FILTER_FLAG_TSYNC). s NULL: nothing to do. */
int ct_seccomp_apply(const struct ct_seccomp *s, struct vs_err *e);

/* Whether the profile uses SCMP_ACT_NOTIFY (the caller must keep the
 * listener path reachable from the container's init). */
bool ct_seccomp_uses_notify(const struct ct_seccomp *s);

/* Container id and bundle for the state sent to the notify listener (the
 * message carries them only if set; call after parse, before apply). */
void ct_seccomp_set_container(struct ct_seccomp *s, const char *id, const char *bundle);

void ct_seccomp_free(struct ct_seccomp *s);

#endif
