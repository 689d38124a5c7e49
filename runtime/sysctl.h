/*
 * linux.sysctl (runtime-spec config-linux.md "Sysctl"): only namespaced
 * parameters may be set, and only when the container has the namespace that
 * scopes them; anything else would change the host.
 */
#ifndef VESSEL_RUNTIME_SYSCTL_H
#define VESSEL_RUNTIME_SYSCTL_H

#include <stddef.h>
#include "vessel/err.h"

struct ct_spec;

/*
 * Refuses keys that are malformed, not namespaced, or namespaced by a
 * namespace the container does not get:
 * "config.json: linux.sysctl: \"kernel.shmmax\": needs an ipc namespace".
 */
int ct_sysctl_check(const struct ct_spec *s, struct vs_err *e);

/* Writes every key to /proc/sys (after ct_sysctl_check; needs the
 * container's /proc). */
int ct_sysctl_apply(const struct ct_spec *s, struct vs_err *e);

/* "net.ipv4.ip_forward" (or "net/ipv4/ip_forward") -> "/proc/sys/net/ipv4/ip_forward".
 * -1 for an empty key, empty, "." or ".." components, or too long. */
int ct_sysctl_path(const char *key, char *buf, size_t len);

#endif
