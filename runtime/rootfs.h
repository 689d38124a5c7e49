/*
 * The container's filesystem: mounts, devices, the root switch, masked and
 * read-only paths, sysctls. Runs in the container's init process after
 * unshare(CLONE_NEWNS) (and inside the user namespace, if any): the caller
 * owns the namespaces, this module owns the filesystem.
 *
 * Order, per runtime-spec config.md "POSIX-platform Hooks": createContainer
 * hooks run in the container namespace "after the runtime environment has
 * been created ... but before the pivot_root or any equivalent operation",
 * so setup is split around them:
 *
 *	ct_rootfs_validate()	early, before any namespace work (parent)
 *	ct_rootfs_idmap_prepare() only for idmapped mounts: in the host user
 *				namespace, before entering the container's
 *	ct_rootfs_mount()	propagation, rootfs bind, mounts[], devices
 *	  ... createContainer hooks (cwd is the rootfs) ...
 *	ct_rootfs_pivot()	pivot_root (or MS_MOVE + chroot with no_pivot)
 *	ct_rootfs_finalize()	sysctl, maskedPaths, readonlyPaths, root.readonly
 *	  ... exec the user process ...
 */
#ifndef VESSEL_RUNTIME_ROOTFS_H
#define VESSEL_RUNTIME_ROOTFS_H

#include <stdbool.h>
#include "vessel/err.h"

struct ct_spec;
struct ct_idmap_mounts;

struct ct_rootfs_opts {
	const char *bundle;	  /* bundle dir: a relative root.path is relative to it */
	bool no_pivot;		  /* --no-pivot: MS_MOVE + chroot instead of pivot_root */
	const char *console_path; /* pty slave to bind on /dev/console, or NULL */
	const char *cgroup_path;  /* the container's cgroup path (for the cgroup mount), or NULL */
	bool in_userns;		  /* devices must be bind-mounted, not mknod'ed */
	/* idmapped mounts made by ct_rootfs_idmap_prepare(), or NULL when the
	 * config has none */
	const struct ct_idmap_mounts *idmaps;
};

/*
 * Idmapped mounts (runtime-spec 1.1: mounts[].uidMappings/gidMappings and
 * the "idmap"/"ridmap" options). mount_setattr(MOUNT_ATTR_IDMAP) needs
 * CAP_SYS_ADMIN over the source filesystem, i.e. in the host user namespace,
 * and works only on a detached mount. So the runtime calls
 * ct_rootfs_idmap_prepare() BEFORE entering the container's user namespace
 * (the fds are inherited by the init); ct_rootfs_mount() attaches them.
 * A mount with "idmap" but no mappings of its own uses linux.uidMappings /
 * gidMappings. Mappings are written as a user namespace map
 * ("containerID hostID size"): a file owned by containerID on the source is
 * seen as hostID through the mount.
 */
struct ct_idmap_mounts {
	int *fds; /* fds[i] for mounts[i]: a detached idmapped mount, or -1 */
	size_t n;
};
/* Returns 0 with out->fds NULL when no mount asks for an idmap. */
int ct_rootfs_idmap_prepare(const struct ct_spec *s, const char *bundle,
			    struct ct_idmap_mounts *out, struct vs_err *e);
void ct_rootfs_idmap_close(struct ct_idmap_mounts *m);
/* Whether mounts[i] is an idmapped mount. */
bool ct_mount_wants_idmap(const struct ct_spec *s, size_t i);

/*
 * Checks what can be checked before any namespace work: root.path exists and
 * is a directory, mount destinations are given, mount options parse, bind
 * sources exist, idmapped mounts are binds with mappings, sysctl keys are
 * namespaced by the namespaces the spec asks for.
 * Errors: "config.json: root.path: /b/rootfs: No such file or directory".
 */
int ct_rootfs_validate(const struct ct_spec *s, const char *bundle, struct vs_err *e);

/*
 * Makes the mount tree private (linux.rootfsPropagation, default rprivate),
 * binds the rootfs onto itself, performs mounts[] in order, creates the
 * default devices and linux.devices, /dev symlinks, /dev/console.
 * On return the cwd is the rootfs (hooks may rely on it).
 */
int ct_rootfs_mount(const struct ct_spec *s, const struct ct_rootfs_opts *o, struct vs_err *e);

/* Switches the root to the rootfs prepared by ct_rootfs_mount(). */
int ct_rootfs_pivot(const struct ct_spec *s, const struct ct_rootfs_opts *o, struct vs_err *e);

/* ct_rootfs_mount() + ct_rootfs_pivot(), for callers without hooks. */
int ct_rootfs_setup(const struct ct_spec *s, const struct ct_rootfs_opts *o, struct vs_err *e);

/*
 * After the root switch, before the user process (needs /proc): sysctls,
 * maskedPaths, readonlyPaths, then root.readonly.
 */
int ct_rootfs_finalize(const struct ct_spec *s, struct vs_err *e);

/*
 * Opens path (absolute or relative, ".." and symlinks allowed) resolved as if
 * root_fd were "/": nothing may escape it (openat2 RESOLVE_IN_ROOT).
 * flags are open(2) flags (O_PATH is fine). Returns an fd or -1.
 */
int ct_rootfs_open_in(int root_fd, const char *path, int flags, struct vs_err *e);

/*
 * Creates the mount target for a destination inside the rootfs: missing
 * parent directories, then a directory (or, when as_file, an empty file).
 * Every component is resolved inside root_fd. Returns an O_PATH fd on the
 * target, or -1.
 */
int ct_rootfs_mkpath_in(int root_fd, const char *path, bool as_file, struct vs_err *e);

#endif
