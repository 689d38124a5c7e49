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

struct ct_rootfs_opts {
	const char *bundle;	  /* bundle dir: a relative root.path is relative to it */
	bool no_pivot;		  /* --no-pivot: MS_MOVE + chroot instead of pivot_root */
	const char *console_path; /* pty slave to bind on /dev/console, or NULL */
	const char *cgroup_path;  /* the container's cgroup path (for the cgroup mount), or NULL */
	bool in_userns;		  /* devices must be bind-mounted, not mknod'ed */
};

/*
 * Checks what can be checked before any namespace work: root.path exists and
 * is a directory, mount destinations are absolute, mount options parse,
 * sysctl keys are namespaced by the namespaces the spec asks for.
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
