/*
 * mounts[].options of config.json -> what mount(2) and mount_setattr(2) take.
 * runtime-spec config.md "Mounts" and config-linux.md "Mount Options":
 * every mount(8) flag option, propagation options, the recursive "r*" forms
 * (runtime-spec 1.1, applied with mount_setattr AT_RECURSIVE), "idmap",
 * "ridmap", "tmpcopyup"; anything else is filesystem data ("size=64m").
 */
#ifndef VESSEL_RUNTIME_MOUNT_OPTS_H
#define VESSEL_RUNTIME_MOUNT_OPTS_H

#include <stdbool.h>
#include <stdint.h>
#include "vessel/err.h"

struct ct_mount_opts {
	unsigned long flags;	   /* MS_* to set (MS_BIND, MS_REC for rbind, MS_RDONLY ...) */
	unsigned long cleared;	   /* MS_* explicitly turned off ("rw", "suid", "dev" ...) */
	unsigned long propagation; /* MS_SHARED/SLAVE/PRIVATE/UNBINDABLE [|MS_REC], or 0 */
	uint64_t attr_set;	   /* MOUNT_ATTR_* for the recursive options ("rro") */
	uint64_t attr_clr;	   /* MOUNT_ATTR_* cleared by them ("rrw") */
	bool tmpcopyup;		   /* copy the target's old content into the new tmpfs */
	bool idmap;		   /* "idmap" / "ridmap" */
	bool idmap_recursive;	   /* "ridmap" */
	char *data;		   /* leftover options joined by ",", or NULL */
};

/*
 * Parses a NULL-terminated option vector (NULL means none). Later options
 * win over earlier ones ("ro", "rw" -> rw). Returns 0, or -1 on an empty
 * option or out of memory; what names the mount in messages.
 */
int ct_mount_opts_parse(char *const *options, const char *what, struct ct_mount_opts *out,
			struct vs_err *e);
void ct_mount_opts_free(struct ct_mount_opts *o);

/*
 * Flags to give mount(MS_REMOUNT|MS_BIND|...) after a bind: the requested
 * flags plus the per-mount flags the source already has (statfs f_flags:
 * nosuid, nodev, noexec, atime flags, ro) unless the options turned them
 * off. A user namespace locks those flags: dropping them fails with EPERM.
 * Returns 0 when the bind needs no remount.
 */
unsigned long ct_mount_opts_remount_flags(const struct ct_mount_opts *o,
					  unsigned long statfs_flags);

/*
 * "shared", "rshared", "slave", "rslave", "private", "rprivate",
 * "unbindable", "runbindable" -> MS_* (with MS_REC for the r forms).
 * linux.rootfsPropagation uses the same names. -1 if unknown.
 */
int ct_propagation_parse(const char *s, unsigned long *out);

#endif
