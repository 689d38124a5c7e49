/* Device nodes and /dev symlinks in the container's rootfs. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "runtime/devices.h"
#include "runtime/rootfs.h"
#include "runtime/spec.h"
#include "vessel/cleanup.h"
#include "vessel/fs.h"

struct dev_node {
	const char *path; /* in the container */
	const char *host; /* bind source when mknod is not possible */
	mode_t type;	  /* S_IFCHR, S_IFBLK, S_IFIFO */
	dev_t rdev;
	mode_t mode;
	uid_t uid;
	gid_t gid;
};

/* config-linux.md "Default Devices" (/dev/console and /dev/ptmx are handled apart). */
static const struct {
	const char *path;
	unsigned major, minor;
} default_devices[] = {
	{"/dev/null", 1, 3},   {"/dev/zero", 1, 5},    {"/dev/full", 1, 7},
	{"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0},
};

/* The parent directory of a /dev path (created inside root) and the last name. */
static int open_parent(int root_fd, const char *path, const char **name, struct vs_err *e)
{
	const char *slash = strrchr(path, '/');

	if (!slash || !slash[1])
		return vs_fail(e, EINVAL, "%s: not a file path", path);
	autofree char *dir = slash == path ? strdup("/") : strndup(path, slash - path);
	if (!dir)
		return vs_fail(e, ENOMEM, "out of memory");
	*name = slash + 1;
	return ct_rootfs_mkpath_in(root_fd, dir, false, e);
}

/* Clears the way for a new node: 1 when the entry must be kept (a mount
 * point: mounts[] put it there on purpose, and it may be the host's own
 * node, never to be chmod'ed), 0 when the name is free. */
static int clear_entry(int dir, const char *name, struct vs_err *e)
{
	struct stat st;

	if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : vs_fail_errno(e, "stat");
	if (S_ISDIR(st.st_mode))
		return vs_fail(e, EISDIR, "a directory is in the way");
	if (unlinkat(dir, name, 0) < 0) {
		if (errno == EBUSY)
			return 1;
		return vs_fail_errno(e, "remove the old entry");
	}
	return 0;
}

static int bind_node(int root_fd, const struct dev_node *d, struct vs_err *e)
{
	char p[32];
	autoclose int fd = ct_rootfs_mkpath_in(root_fd, d->path, true, e);

	if (fd < 0)
		return -1;
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	if (mount(d->host, p, NULL, MS_BIND, NULL) < 0)
		return vs_fail_errno(e, "bind %s", d->host);
	return 0;
}

static int make_node(int root_fd, const struct dev_node *d, bool bind, struct vs_err *e)
{
	const char *name;
	autoclose int dir = open_parent(root_fd, d->path, &name, e);
	int keep;

	if (dir < 0)
		return -1;
	keep = clear_entry(dir, name, e);
	if (keep)
		return keep < 0 ? -1 : 0;
	if (!bind && mknodat(dir, name, d->type | (d->mode & 07777), d->rdev) < 0) {
		if (errno != EPERM)
			return vs_fail_errno(e, "mknod");
		bind = true; /* no CAP_MKNOD: fall back to the host's node */
	}
	if (bind)
		return bind_node(root_fd, d, e);
	/* mknod's mode went through the umask; fileMode is exact */
	if (fchownat(dir, name, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0)
		return vs_fail_errno(e, "chown");
	if (fchmodat(dir, name, d->mode & 07777, 0) < 0)
		return vs_fail_errno(e, "chmod");
	return 0;
}

static int make_symlink(int root_fd, const char *path, const char *target, bool replace,
			struct vs_err *e)
{
	const char *name;
	autoclose int dir = open_parent(root_fd, path, &name, e);

	if (dir < 0)
		return -1;
	if (replace && unlinkat(dir, name, 0) < 0 && errno != ENOENT && errno != EBUSY)
		return vs_fail_errno(e, "%s: remove", path);
	if (symlinkat(target, dir, name) < 0 && errno != EEXIST)
		return vs_fail_errno(e, "%s: symlink to %s", path, target);
	return 0;
}

static bool has_device(const struct ct_spec *s, const char *path)
{
	for (size_t i = 0; i < s->lnx.n_devices; i++)
		if (!strcmp(s->lnx.devices[i].path, path))
			return true;
	return false;
}

int ct_devices_create(const struct ct_spec *s, int root_fd, const struct ct_rootfs_opts *o,
		      struct vs_err *e)
{
	/* linux.devices entries override the defaults of the same path */
	for (size_t i = 0; i < sizeof(default_devices) / sizeof(default_devices[0]); i++) {
		struct dev_node d = {
			.path = default_devices[i].path,
			.host = default_devices[i].path,
			.type = S_IFCHR,
			.rdev = makedev(default_devices[i].major, default_devices[i].minor),
			.mode = 0666,
		};

		if (has_device(s, d.path))
			continue;
		if (make_node(root_fd, &d, o->in_userns, e) < 0)
			return vs_err_prefix(e, "default device %s", d.path);
	}

	for (size_t i = 0; i < s->lnx.n_devices; i++) {
		const struct ct_device *cd = &s->lnx.devices[i];
		struct dev_node d = {
			.path = cd->path,
			.host = cd->path,
			.mode = cd->file_mode_set ? cd->file_mode : 0666,
			.uid = cd->uid_set ? cd->uid : 0,
			.gid = cd->gid_set ? cd->gid : 0,
		};

		switch (cd->type) {
		case 'c':
		case 'u': d.type = S_IFCHR; break;
		case 'b': d.type = S_IFBLK; break;
		case 'p': d.type = S_IFIFO; break;
		default:
			return vs_fail(e, EINVAL, "config.json: linux.devices[%zu].type: \"%c\"", i,
				       cd->type);
		}
		if (d.type != S_IFIFO)
			d.rdev = makedev((unsigned)cd->major, (unsigned)cd->minor);
		/* a FIFO needs no privilege and has no host node to bind */
		if (make_node(root_fd, &d, o->in_userns && d.type != S_IFIFO, e) < 0)
			return vs_err_prefix(e, "config.json: linux.devices[%zu] (%s)", i,
					     cd->path);
	}

	/* the symlinks runtimes give every container (config-linux.md "Default
	 * Devices" lists /dev/ptmx as a link into the devpts instance) */
	static const struct {
		const char *path, *target;
	} links[] = {
		{"/dev/fd", "/proc/self/fd"},
		{"/dev/stdin", "/proc/self/fd/0"},
		{"/dev/stdout", "/proc/self/fd/1"},
		{"/dev/stderr", "/proc/self/fd/2"},
	};
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		if (make_symlink(root_fd, links[i].path, links[i].target, false, e) < 0)
			return -1;
	if (access("/proc/kcore", F_OK) == 0 &&
	    make_symlink(root_fd, "/dev/core", "/proc/kcore", false, e) < 0)
		return -1;
	if (!has_device(s, "/dev/ptmx") &&
	    make_symlink(root_fd, "/dev/ptmx", "pts/ptmx", true, e) < 0)
		return -1;

	if (o->console_path) {
		struct dev_node d = {.path = "/dev/console", .host = o->console_path};

		if (bind_node(root_fd, &d, e) < 0)
			return vs_err_prefix(e, "/dev/console");
	}
	return 0;
}
