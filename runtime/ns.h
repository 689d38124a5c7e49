/*
 * Namespaces of a container (runtime-spec config-linux.md "Namespaces",
 * "User namespace mappings", "Offset for Time Namespace"): which ones to
 * create, which to join by path, the user namespace id maps (written by the
 * parent, which holds the privilege in the parent namespace) and time offsets.
 */
#ifndef VESSEL_RT_NS_H
#define VESSEL_RT_NS_H

#include <stdbool.h>
#include <sys/types.h>

#include "vessel/err.h"
#include "runtime/spec.h"

/* Namespaces to join, opened in the runtime before forking (paths are host
 * paths). fds[t] is -1 for a type not joined. */
struct ct_ns_join {
	int fds[CT_NS_COUNT];
};

/* Opens every linux.namespaces[].path; checks each is a namespace of the
 * right type. Errors name the field. */
int ct_ns_open_joins(const struct ct_spec *s, struct ct_ns_join *j, struct vs_err *e);
/* Opens /proc/<pid>/ns/<name> of every type the process is in a different
 * namespace from ours (for exec). */
int ct_ns_open_pid(pid_t pid, struct ct_ns_join *j, struct vs_err *e);
void ct_ns_join_close(struct ct_ns_join *j);

/* setns() into every opened namespace; the user namespace first, because the
 * others are owned by it and joining them needs its capabilities. When
 * skip_user is set, the user namespace is left out (already joined). */
int ct_ns_join_all(struct ct_ns_join *j, bool user_only, struct vs_err *e);

/* CLONE_NEW* flags of the namespaces the spec asks to create (no path). */
int ct_ns_new_flags(const struct ct_spec *s);

/* Writes /proc/<pid>/{uid_map,setgroups,gid_map} from linux.uidMappings and
 * gidMappings. setgroups is set to "deny" only when the gid map cannot be
 * written otherwise (a runtime that is not root); a root runtime keeps it
 * "allow" so the container process may call setgroups(2). */
int ct_ns_write_id_maps(pid_t pid, const struct ct_spec *s, struct vs_err *e);

/* Formats a map for /proc/PID/uid_map ("inside outside count\n" lines). */
char *ct_ns_format_map(const struct ct_id_map *m, size_t n);

/* Writes /proc/self/timens_offsets (after unshare(CLONE_NEWTIME), before the
 * first child is forked: the offsets apply to children). */
int ct_ns_write_time_offsets(const struct ct_spec *s, struct vs_err *e);

/* Whether id (container side) is mapped by maps; with no maps, true. */
bool ct_ns_id_mapped(const struct ct_id_map *m, size_t n, uint32_t id);

#endif
