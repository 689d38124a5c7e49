/*
 * The container's filesystem (runtime-spec config.md "Root", "Mounts";
 * config-linux.md "Mount Propagation", "Masked Paths", "Readonly Paths").
 * Every path inside the rootfs is resolved with openat2(RESOLVE_IN_ROOT), and
 * mounts are made on the resolved fd through /proc/self/fd/N, so a symlink in
 * the image cannot send a mount outside the rootfs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/devices.h"
#include "runtime/mount_opts.h"
#include "runtime/rootfs.h"
#include "runtime/spec.h"
#include "runtime/sysctl.h"
#include "vessel/cgroup.h"
#include "vessel/cleanup.h"
#include "vessel/fs.h"

#define FD_PATH_MAX 32

static const char *fd_path(int fd, char buf[FD_PATH_MAX])
{
	snprintf(buf, FD_PATH_MAX, "/proc/self/fd/%d", fd);
	return buf;
}

static bool has_ns(const struct ct_spec *s, enum ct_ns_type t)
{
	for (size_t i = 0; i < s->lnx.n_namespaces; i++)
		if (s->lnx.namespaces[i].type == t)
			return true;
	return false;
}

/* ---- safe resolution inside the rootfs ------------------------------------ */

int ct_rootfs_open_in(int root_fd, const char *path, int flags, struct vs_err *e)
{
	struct open_how how = {
		.flags = (unsigned)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, root_fd, *path ? path : ".", &how, sizeof(how));

	if (fd < 0)
		return vs_fail_errno(e, "%s", path);
	return fd;
}

/* Splits "a/b/c/" into "a/b" and "c" (both malloc'ed). Root ("/", "") gives
 * an empty last. */
static void split_last(const char *path, char **parent, char **last)
{
	size_t n = strlen(path), end, start;

	while (n > 0 && path[n - 1] == '/')
		n--;
	end = n;
	while (n > 0 && path[n - 1] != '/')
		n--;
	start = n;
	while (n > 0 && path[n - 1] == '/')
		n--;
	*parent = strndup(path, n ? n : (path[0] == '/' ? 1 : 0));
	*last = strndup(path + start, end - start);
	if (!*parent || !*last)
		abort();
}

static int mkpath_depth(int root_fd, const char *path, bool as_file, int depth, struct vs_err *e);

/* Creates `last` in the directory `parent_path` (resolved in root_fd). */
static int create_last(int root_fd, const char *parent_path, const char *last, bool as_file,
		       int depth, struct vs_err *e)
{
	autoclose int dir = mkpath_depth(root_fd, parent_path, false, depth, e);
	int r;

	if (dir < 0)
		return -1;
	if (as_file) {
		r = mknodat(dir, last, S_IFREG | 0644, 0);
	} else {
		r = mkdirat(dir, last, 0755);
	}
	if (r < 0 && errno == EEXIST) {
		/* Something is there that openat2 could not resolve: a dangling
		 * symlink. Follow it inside the rootfs, as the kernel would
		 * after the root switch. */
		char target[PATH_MAX];
		ssize_t n = readlinkat(dir, last, target, sizeof(target) - 1);

		if (n < 0)
			return vs_fail_errno(e, "%s/%s", parent_path, last);
		target[n] = '\0';
		autofree char *next =
			target[0] == '/' ? strdup(target) : vs_path_join(parent_path, target);
		if (!next)
			abort();
		return mkpath_depth(root_fd, next, as_file, depth + 1, e);
	}
	if (r < 0)
		return vs_fail_errno(e, "create %s/%s", parent_path, last);
	r = openat(dir, last, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (r < 0)
		return vs_fail_errno(e, "open %s/%s", parent_path, last);
	return r;
}

static int mkpath_depth(int root_fd, const char *path, bool as_file, int depth, struct vs_err *e)
{
	autofree char *parent = NULL;
	autofree char *last = NULL;
	int fd;

	if (depth > 40)
		return vs_fail(e, ELOOP, "%s", path);
	fd = ct_rootfs_open_in(root_fd, path, O_PATH, e);
	if (fd >= 0 || e->errnum != ENOENT)
		return fd;
	split_last(path, &parent, &last);
	if (!*last || !strcmp(last, ".") || !strcmp(last, "..")) {
		/* "a/b/.." exists once "a/b" does */
		autoclose int made = mkpath_depth(root_fd, parent, false, depth, e);

		if (made < 0)
			return -1;
		return ct_rootfs_open_in(root_fd, path, O_PATH, e);
	}
	return create_last(root_fd, parent, last, as_file, depth, e);
}

int ct_rootfs_mkpath_in(int root_fd, const char *path, bool as_file, struct vs_err *e)
{
	return mkpath_depth(root_fd, path, as_file, 0, e);
}

/* ---- validation ------------------------------------------------------------ */

static char *rootfs_path(const struct ct_spec *s, const char *bundle)
{
	if (s->root_path[0] == '/' || !bundle)
		return strdup(s->root_path);
	return vs_path_join(bundle, s->root_path);
}

static bool is_bind(const struct ct_mount *m, const struct ct_mount_opts *mo)
{
	return (mo->flags & MS_BIND) || (m->type && !strcmp(m->type, "bind"));
}

static char *bind_source(const struct ct_mount *m, const char *bundle)
{
	/* config.md "Mounts": a bind source is absolute or relative to the bundle */
	if (m->source[0] == '/' || !bundle)
		return strdup(m->source);
	return vs_path_join(bundle, m->source);
}

static int mount_where(const struct ct_spec *s, size_t i, struct vs_err *e)
{
	const struct ct_mount *m = &s->mounts[i];

	return vs_err_prefix(e, "config.json: mounts[%zu] (%s -> %s, type %s)", i,
			     m->source ? m->source : "none", m->destination,
			     m->type ? m->type : "none");
}

int ct_rootfs_validate(const struct ct_spec *s, const char *bundle, struct vs_err *e)
{
	struct stat st;

	if (!s->root_path || !*s->root_path)
		return vs_fail(e, EINVAL, "config.json: root.path: missing");
	autofree char *root = rootfs_path(s, bundle);
	if (!root)
		return vs_fail(e, ENOMEM, "config.json: root.path: out of memory");
	if (stat(root, &st) < 0)
		return vs_fail_errno(e, "config.json: root.path: %s", root);
	if (!S_ISDIR(st.st_mode))
		return vs_fail(e, ENOTDIR, "config.json: root.path: %s", root);

	for (size_t i = 0; i < s->n_mounts; i++) {
		const struct ct_mount *m = &s->mounts[i];
		struct ct_mount_opts mo;
		char where[64];

		snprintf(where, sizeof(where), "config.json: mounts[%zu]", i);
		if (!m->destination || !*m->destination)
			return vs_fail(e, EINVAL, "%s.destination: missing", where);
		if (ct_mount_opts_parse(m->options, where, &mo, e) < 0)
			return -1;
		bool bind = is_bind(m, &mo);
		ct_mount_opts_free(&mo);
		if (ct_mount_wants_idmap(s, i)) {
			if (!bind)
				return vs_fail(e, EINVAL,
					       "%s (%s): idmapped mounts must be bind mounts",
					       where, m->destination);
			if (!(m->n_uid_mappings && m->n_gid_mappings) &&
			    !(s->lnx.n_uid_mappings && s->lnx.n_gid_mappings))
				return vs_fail(
					e, EINVAL,
					"%s (%s): idmap needs uidMappings and gidMappings (on the mount or in linux)",
					where, m->destination);
		}
		if (bind) {
			if (!m->source || !*m->source)
				return vs_fail(e, EINVAL, "%s.source: a bind mount needs a source",
					       where);
			autofree char *src = bind_source(m, bundle);
			if (!src)
				return vs_fail(e, ENOMEM, "%s: out of memory", where);
			if (stat(src, &st) < 0)
				return vs_fail_errno(e, "%s.source: %s", where, src);
		} else if (!m->type || !*m->type) {
			return vs_fail(e, EINVAL, "%s.type: missing for a mount that is not a bind",
				       where);
		}
	}
	for (size_t i = 0; i < s->lnx.n_devices; i++) {
		const struct ct_device *d = &s->lnx.devices[i];

		if (!d->path || d->path[0] != '/')
			return vs_fail(e, EINVAL,
				       "config.json: linux.devices[%zu].path: not absolute", i);
	}
	return ct_sysctl_check(s, e);
}

/* ---- mounting -------------------------------------------------------------- */

/* Applies propagation and recursive attributes of one mount (already made). */
static int apply_propagation_attrs(int fd, const struct ct_mount_opts *mo, struct vs_err *e)
{
	char p[FD_PATH_MAX];

	if (mo->propagation && mount(NULL, fd_path(fd, p), NULL, mo->propagation, NULL) < 0)
		return vs_fail_errno(e, "set propagation");
	if (mo->attr_set || mo->attr_clr) {
		struct mount_attr a = {.attr_set = mo->attr_set, .attr_clr = mo->attr_clr};

		/* runtime-spec 1.1: the r* options apply to the whole subtree */
		if (mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof(a)) < 0)
			return vs_fail_errno(e, "mount_setattr");
	}
	return 0;
}

/* A bind mount keeps the source's flags; ro, nosuid... need a remount of
 * the new mount (target names its root, see reopen_top()). */
static int bind_remount(const char *target, const struct ct_mount_opts *mo, struct vs_err *e)
{
	struct statvfs sv;
	unsigned long flags;

	if (statvfs(target, &sv) < 0)
		return vs_fail_errno(e, "statvfs");
	flags = ct_mount_opts_remount_flags(mo, sv.f_flag);
	if (flags && mount(NULL, target, NULL, flags, NULL) < 0)
		return vs_fail_errno(e, "remount");
	return 0;
}

/*
 * The mount just made on path. An fd opened before the mount (and its
 * /proc/self/fd link) still names the covered directory: only a fresh lookup
 * of the last component steps onto the new mount, and remount and
 * mount_setattr need the mount's own root.
 */
static int reopen_top(int root_fd, const char *path, struct vs_err *e)
{
	int fd = ct_rootfs_open_in(root_fd, path, O_PATH, e);

	if (fd < 0)
		return vs_err_prefix(e, "reopen after mount");
	return fd;
}

/* Bind src onto target (root_fd/path, already opened as target_fd), then
 * flags, propagation, attributes. */
static int do_bind(const char *src, int root_fd, const char *path, int target_fd,
		   const struct ct_mount_opts *mo, struct vs_err *e)
{
	char p[FD_PATH_MAX];
	unsigned long flags = MS_BIND | (mo->flags & MS_REC);

	if (mount(src, fd_path(target_fd, p), NULL, flags, NULL) < 0)
		return vs_fail_errno(e, "mount");
	autoclose int top = reopen_top(root_fd, path, e);
	if (top < 0)
		return -1;
	if (bind_remount(fd_path(top, p), mo, e) < 0)
		return -1;
	return apply_propagation_attrs(top, mo, e);
}

/* Attaches a detached idmapped mount (ct_rootfs_idmap_prepare()) at the
 * target, then the same flags, propagation and attributes as a bind. */
static int attach_idmapped(int tree, int root_fd, const char *path, int target_fd,
			   const struct ct_mount_opts *mo, struct vs_err *e)
{
	char p[FD_PATH_MAX];

	if (move_mount(tree, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) <
	    0)
		return vs_fail_errno(e, "attach idmapped mount");
	autoclose int top = reopen_top(root_fd, path, e);
	if (top < 0)
		return -1;
	if (bind_remount(fd_path(top, p), mo, e) < 0)
		return -1;
	return apply_propagation_attrs(top, mo, e);
}

/* ---- tmpcopyup: the tmpfs starts with what the image had there ----------- */

static int copy_tree(int src, int dst, struct vs_err *e);

static int copy_entry(int src, int dst, const char *name, struct vs_err *e)
{
	struct stat st;

	if (fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return vs_fail_errno(e, "tmpcopyup: stat %s", name);
	if (S_ISDIR(st.st_mode)) {
		if (mkdirat(dst, name, st.st_mode & 07777) < 0 && errno != EEXIST)
			return vs_fail_errno(e, "tmpcopyup: mkdir %s", name);
		autoclose int s2 =
			openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		autoclose int d2 =
			openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (s2 < 0 || d2 < 0)
			return vs_fail_errno(e, "tmpcopyup: open %s", name);
		if (copy_tree(s2, d2, e) < 0)
			return vs_err_prefix(e, "%s", name);
		if (fchmod(d2, st.st_mode & 07777) < 0 || fchown(d2, st.st_uid, st.st_gid) < 0)
			return vs_fail_errno(e, "tmpcopyup: chmod/chown %s", name);
		return 0;
	}
	if (S_ISLNK(st.st_mode)) {
		char t[PATH_MAX];
		ssize_t n = readlinkat(src, name, t, sizeof(t) - 1);

		if (n < 0)
			return vs_fail_errno(e, "tmpcopyup: readlink %s", name);
		t[n] = '\0';
		if (symlinkat(t, dst, name) < 0)
			return vs_fail_errno(e, "tmpcopyup: symlink %s", name);
	} else if (S_ISREG(st.st_mode)) {
		autoclose int in = openat(src, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		autoclose int out = openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
					   st.st_mode & 07777);
		char buf[65536];
		ssize_t n;

		if (in < 0 || out < 0)
			return vs_fail_errno(e, "tmpcopyup: open %s", name);
		while ((n = read(in, buf, sizeof(buf))) > 0)
			if (vs_write_all(out, buf, n) < 0)
				return vs_fail_errno(e, "tmpcopyup: write %s", name);
		if (n < 0)
			return vs_fail_errno(e, "tmpcopyup: read %s", name);
	} else if (mknodat(dst, name, st.st_mode, st.st_rdev) < 0) {
		return vs_fail_errno(e, "tmpcopyup: mknod %s", name);
	}
	if (fchownat(dst, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
		return vs_fail_errno(e, "tmpcopyup: chown %s", name);
	if (!S_ISLNK(st.st_mode) && fchmodat(dst, name, st.st_mode & 07777, 0) < 0)
		return vs_fail_errno(e, "tmpcopyup: chmod %s", name);
	return 0;
}

static int copy_tree(int src, int dst, struct vs_err *e)
{
	int dfd = dup(src);
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (dfd < 0 || !(d = fdopendir(dfd))) {
		if (dfd >= 0)
			close(dfd);
		return vs_fail_errno(e, "tmpcopyup: opendir");
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if ((r = copy_entry(src, dst, de->d_name, e)) < 0)
			break;
	}
	closedir(d);
	return r;
}

/* ---- cgroup ---------------------------------------------------------------- */

/*
 * runtime-spec config-linux.md has no "cgroup" type of its own: runc and crun
 * give the container its own cgroup. v1: a tmpfs at the destination and one
 * bind per hierarchy of the container's directory; v2 or a cgroup namespace:
 * a fresh cgroup/cgroup2 mount (the namespace root is the container's
 * cgroup), else a bind of the container's directory.
 */
/* One hierarchy at root_fd/path (opened as fd): a fresh mount in a cgroup
 * namespace, whose root is the container's cgroup; otherwise, or when the
 * kernel refuses it, a bind of the container's directory. */
static int cgroup_one(bool cgns, const struct vs_cgroup_mount *cm, int root_fd, const char *path,
		      int fd, const struct ct_mount_opts *mo, struct vs_err *e)
{
	struct ct_mount_opts b = *mo;
	char p[FD_PATH_MAX];

	if (cgns) {
		unsigned long flags = mo->flags & ~(MS_BIND | MS_REC | MS_REMOUNT);

		if (mount("cgroup", fd_path(fd, p), cm->fstype, flags, cm->options) == 0)
			return 0;
		if (errno != EPERM && errno != EACCES)
			return vs_fail_errno(e, "mount %s %s", cm->fstype, cm->options);
	}
	b.flags |= MS_BIND | MS_REC;
	if (do_bind(cm->host_dir, root_fd, path, fd, &b, e) < 0)
		return vs_err_prefix(e, "bind %s", cm->host_dir);
	return 0;
}

static int mount_cgroup(const struct ct_spec *s, const struct ct_mount *m,
			const struct ct_mount_opts *mo, int root_fd, int target_fd,
			const struct ct_rootfs_opts *o, struct vs_err *e)
{
	autocgroup struct vs_cgroup *cg = NULL;
	struct vs_cgroup_mount *cm = NULL;
	size_t n = 0;
	char p[FD_PATH_MAX];
	bool cgns = has_ns(s, CT_NS_CGROUP);
	autoclose int top = -1;
	int r = -1;

	if (!o->cgroup_path)
		return vs_fail(e, EINVAL, "no cgroup path given for the cgroup mount");
	if (vs_cgroup_open(o->cgroup_path, &cg, e) < 0 || vs_cgroup_mount_info(cg, &cm, &n, e) < 0)
		return -1;

	if (n == 1 && !cm[0].target[0]) {
		/* pure v2: one mount at the destination itself */
		r = cgroup_one(cgns, &cm[0], root_fd, m->destination, target_fd, mo, e);
		goto out;
	}

	/* v1 or hybrid: a tmpfs holding one directory per hierarchy */
	if (mount("tmpfs", fd_path(target_fd, p), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "mode=755") < 0) {
		vs_fail_errno(e, "mount tmpfs");
		goto out;
	}
	top = reopen_top(root_fd, m->destination, e);
	if (top < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (mkdirat(top, cm[i].target, 0755) < 0 && errno != EEXIST) {
			vs_fail_errno(e, "mkdir %s", cm[i].target);
			goto out;
		}
		autoclose int dir = openat(top, cm[i].target, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (dir < 0) {
			vs_fail_errno(e, "open %s", cm[i].target);
			goto out;
		}
		if (cgroup_one(cgns, &cm[i], top, cm[i].target, dir, mo, e) < 0)
			goto out;
		/* co-mounted controllers: "cpu" and "cpuacct" lead to "cpu,cpuacct" */
		if (strchr(cm[i].target, ',')) {
			autofree char *names = strdup(cm[i].target);

			for (char *save = NULL, *t = strtok_r(names, ",", &save); t;
			     t = strtok_r(NULL, ",", &save))
				if (symlinkat(cm[i].target, top, t) < 0 && errno != EEXIST) {
					vs_fail_errno(e, "symlink %s", t);
					goto out;
				}
		}
	}
	/* the tmpfs itself gets the mount's read-only flag too */
	if ((mo->flags & MS_RDONLY) &&
	    mount(NULL, fd_path(top, p), NULL,
		  MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755") < 0) {
		vs_fail_errno(e, "remount tmpfs read-only");
		goto out;
	}
	r = 0;
out:
	vs_cgroup_mount_info_free(cm, n);
	return r;
}

/*
 * devpts "gid=5" (tty) fails with EINVAL in a user namespace that does not
 * map gid 5; ptys then belong to the creator's group, as with runc.
 */
static int devpts_without_gid(const char *source, const char *target, unsigned long flags,
			      const char *data)
{
	autofree char *copy = data ? strdup(data) : NULL;
	autofree char *kept = calloc(1, data ? strlen(data) + 1 : 1);
	bool had_gid = false;

	if (!kept || (data && !copy)) {
		errno = ENOMEM;
		return -1;
	}
	for (char *save = NULL, *t = copy ? strtok_r(copy, ",", &save) : NULL; t;
	     t = strtok_r(NULL, ",", &save)) {
		if (!strncmp(t, "gid=", 4)) {
			had_gid = true;
			continue;
		}
		if (*kept)
			strcat(kept, ",");
		strcat(kept, t);
	}
	if (!had_gid) {
		errno = EINVAL;
		return -1;
	}
	return mount(source, target, "devpts", flags, kept);
}

/* ---- one mount ------------------------------------------------------------- */

static int mount_one(const struct ct_spec *s, size_t i, int root_fd, const struct ct_rootfs_opts *o,
		     struct vs_err *e)
{
	const struct ct_mount *m = &s->mounts[i];
	struct ct_mount_opts mo __attribute__((cleanup(ct_mount_opts_free))) = {0};
	char where[64], p[FD_PATH_MAX];
	autofree char *src = NULL;
	autoclose int target = -1;
	bool bind, as_file = false;
	int idmap_fd = -1;
	struct stat st;

	snprintf(where, sizeof(where), "config.json: mounts[%zu]", i);
	if (ct_mount_opts_parse(m->options, where, &mo, e) < 0)
		return -1;
	bind = is_bind(m, &mo);
	if (ct_mount_wants_idmap(s, i)) {
		if (!o->idmaps || i >= o->idmaps->n || o->idmaps->fds[i] < 0)
			return vs_fail(
				e, ENOTSUP,
				"idmapped mount not prepared (the runtime calls ct_rootfs_idmap_prepare() before entering the user namespace)");
		idmap_fd = o->idmaps->fds[i];
	}
	if (bind) {
		mo.flags |= MS_BIND;
		src = bind_source(m, o->bundle);
		if (!src)
			return vs_fail(e, ENOMEM, "out of memory");
		if (stat(src, &st) < 0)
			return vs_fail_errno(e, "source %s", src);
		as_file = !S_ISDIR(st.st_mode);
	}

	target = ct_rootfs_mkpath_in(root_fd, m->destination, as_file, e);
	if (target < 0)
		return vs_err_prefix(e, "destination");

	if (idmap_fd >= 0)
		return attach_idmapped(idmap_fd, root_fd, m->destination, target, &mo, e);
	if (bind)
		return do_bind(src, root_fd, m->destination, target, &mo, e);

	if (!strcmp(m->type, "cgroup"))
		return mount_cgroup(s, m, &mo, root_fd, target, o, e);

	const char *source = m->source && *m->source ? m->source : m->type;
	unsigned long flags = mo.flags & ~(MS_REC);
	autoclose int old = -1;

	if (mo.tmpcopyup) {
		if (strcmp(m->type, "tmpfs"))
			return vs_fail(e, EINVAL, "tmpcopyup needs type tmpfs");
		/* target still names the directory the tmpfs will cover */
		old = openat(target, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (old < 0)
			return vs_fail_errno(e, "tmpcopyup: open");
	}
	if (mount(source, fd_path(target, p), m->type, flags, mo.data) < 0 &&
	    !(errno == EINVAL && o->in_userns && !strcmp(m->type, "devpts") &&
	      devpts_without_gid(source, fd_path(target, p), flags, mo.data) == 0)) {
		/* In a user namespace without its own network namespace the
		 * kernel refuses sysfs; give the host's, read-only as asked
		 * (runc does the same). */
		if (!strcmp(m->type, "sysfs") && (errno == EPERM || errno == EACCES) &&
		    o->in_userns) {
			struct ct_mount_opts b = mo;

			b.flags |= MS_BIND | MS_REC;
			return do_bind("/sys", root_fd, m->destination, target, &b, e);
		}
		return vs_fail_errno(e, "mount");
	}
	autoclose int top = reopen_top(root_fd, m->destination, e);
	if (top < 0)
		return -1;
	if (mo.tmpcopyup) {
		autoclose int dst_dir = openat(top, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (dst_dir < 0)
			return vs_fail_errno(e, "tmpcopyup: open");
		if (copy_tree(old, dst_dir, e) < 0)
			return -1;
	}
	return apply_propagation_attrs(top, &mo, e);
}

/* ---- the whole sequence ---------------------------------------------------- */

static int prepare_root(const struct ct_spec *s, const char *root, struct vs_err *e)
{
	unsigned long prop = s->lnx.rootfs_propagation_flags;
	unsigned long first = prop ? prop : MS_REC | MS_PRIVATE;

	/*
	 * config-linux.md "Rootfs Mount Propagation": default rprivate, so
	 * nothing the container mounts reaches the host. pivot_root(2) refuses
	 * shared mounts (the new root, its parent, the current root), so a
	 * "shared" request starts as rslave and is applied to the new root
	 * after the switch (ct_rootfs_pivot). So does "unbindable": the rootfs
	 * could not be bound onto itself under an unbindable parent.
	 */
	if (prop & (MS_SHARED | MS_UNBINDABLE))
		first = MS_REC | MS_SLAVE;
	if (mount(NULL, "/", NULL, first, NULL) < 0)
		return vs_fail_errno(e, "set propagation of /");
	/* the rootfs must be a mount point for pivot_root */
	if (mount(root, root, NULL, MS_BIND | MS_REC, NULL) < 0)
		return vs_fail_errno(e, "bind %s onto itself", root);
	return 0;
}

int ct_rootfs_mount(const struct ct_spec *s, const struct ct_rootfs_opts *o, struct vs_err *e)
{
	autofree char *rel = NULL;
	char root[PATH_MAX];

	if (!s->root_path || !*s->root_path)
		return vs_fail(e, EINVAL, "config.json: root.path: missing");
	rel = rootfs_path(s, o->bundle);
	if (!rel)
		return vs_fail(e, ENOMEM, "config.json: root.path: out of memory");
	if (!realpath(rel, root))
		return vs_fail_errno(e, "config.json: root.path: %s", rel);
	if (prepare_root(s, root, e) < 0)
		return vs_err_prefix(e, "config.json: root.path: %s", root);

	autoclose int root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		return vs_fail_errno(e, "config.json: root.path: %s", root);

	for (size_t i = 0; i < s->n_mounts; i++)
		if (mount_one(s, i, root_fd, o, e) < 0)
			return mount_where(s, i, e);
	if (ct_devices_create(s, root_fd, o, e) < 0)
		return -1;
	if (chdir(root) < 0)
		return vs_fail_errno(e, "chdir %s", root);
	return 0;
}

int ct_rootfs_pivot(const struct ct_spec *s, const struct ct_rootfs_opts *o, struct vs_err *e)
{
	autofree char *rel = NULL;
	char root[PATH_MAX];

	if (!s->root_path || !*s->root_path)
		return vs_fail(e, EINVAL, "config.json: root.path: missing");
	rel = rootfs_path(s, o->bundle);
	if (!rel || !realpath(rel, root))
		return vs_fail_errno(e, "config.json: root.path: %s", rel ? rel : "");
	if (chdir(root) < 0)
		return vs_fail_errno(e, "chdir %s", root);

	if (o->no_pivot) {
		/* --no-pivot: move the rootfs over / and chroot into it */
		if (mount(root, "/", NULL, MS_MOVE, NULL) < 0)
			return vs_fail_errno(e, "move %s to /", root);
		if (chroot(".") < 0)
			return vs_fail_errno(e, "chroot %s", root);
	} else {
		autoclose int old_root = open("/", O_DIRECTORY | O_PATH | O_CLOEXEC);
		autoclose int new_root = open(".", O_DIRECTORY | O_PATH | O_CLOEXEC);

		if (old_root < 0 || new_root < 0)
			return vs_fail_errno(e, "open / and %s", root);
		/* pivot_root(".", "."): the old root ends up stacked under the
		 * new one at "/", and is detached from there */
		if (syscall(SYS_pivot_root, ".", ".") < 0)
			return vs_fail_errno(e, "pivot_root %s", root);
		if (fchdir(old_root) < 0)
			return vs_fail_errno(e, "fchdir old root");
		/* slave first, so the unmount never propagates to the host */
		if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
			return vs_fail_errno(e, "make old root slave");
		if (umount2(".", MNT_DETACH) < 0)
			return vs_fail_errno(e, "detach old root");
	}
	if (chdir("/") < 0)
		return vs_fail_errno(e, "chdir /");
	if (s->lnx.rootfs_propagation_flags &&
	    mount(NULL, "/", NULL, s->lnx.rootfs_propagation_flags, NULL) < 0)
		return vs_fail_errno(e, "config.json: linux.rootfsPropagation: %s",
				     s->lnx.rootfs_propagation);
	return 0;
}

int ct_rootfs_setup(const struct ct_spec *s, const struct ct_rootfs_opts *o, struct vs_err *e)
{
	if (ct_rootfs_mount(s, o, e) < 0)
		return -1;
	return ct_rootfs_pivot(s, o, e);
}

/* ---- after the root switch ------------------------------------------------- */

/*
 * After the root switch, paths are plain paths: "/" is the rootfs, so no
 * symlink can leave it, and no container process runs yet to race us. This
 * also works when the config mounts no /proc (no /proc/self/fd).
 */

/* Makes the mount at path read-only, keeping its other (maybe locked) flags. */
static int remount_ro(const char *path, struct vs_err *e)
{
	struct ct_mount_opts ro = {.flags = MS_BIND | MS_RDONLY};

	return bind_remount(path, &ro, e);
}

static int mask_path(const char *path, struct vs_err *e)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return errno == ENOENT ? 0 : vs_fail_errno(e, "stat");
	/* config-linux.md "Masked Paths": not readable by the container */
	if (S_ISDIR(st.st_mode)) {
		if (mount("tmpfs", path, "tmpfs", MS_RDONLY, "size=0,mode=555") < 0)
			return vs_fail_errno(e, "mount read-only tmpfs");
	} else if (mount("/dev/null", path, NULL, MS_BIND, NULL) < 0) {
		return vs_fail_errno(e, "bind /dev/null");
	}
	return 0;
}

static int readonly_path(const char *path, struct vs_err *e)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return errno == ENOENT ? 0 : vs_fail_errno(e, "stat");
	if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0)
		return vs_fail_errno(e, "bind onto itself");
	return remount_ro(path, e);
}

int ct_rootfs_finalize(const struct ct_spec *s, struct vs_err *e)
{
	/* sysctl first: readonlyPaths usually include /proc/sys */
	if (ct_sysctl_apply(s, e) < 0)
		return -1;
	for (size_t i = 0; s->lnx.readonly_paths && s->lnx.readonly_paths[i]; i++)
		if (readonly_path(s->lnx.readonly_paths[i], e) < 0)
			return vs_err_prefix(e, "config.json: linux.readonlyPaths[%zu] (%s)", i,
					     s->lnx.readonly_paths[i]);
	for (size_t i = 0; s->lnx.masked_paths && s->lnx.masked_paths[i]; i++)
		if (mask_path(s->lnx.masked_paths[i], e) < 0)
			return vs_err_prefix(e, "config.json: linux.maskedPaths[%zu] (%s)", i,
					     s->lnx.masked_paths[i]);
	if (s->root_readonly && remount_ro("/", e) < 0)
		return vs_err_prefix(e, "config.json: root.readonly");
	return 0;
}
