/*
 * Idmapped bind mounts (runtime-spec 1.1 config.md "Mounts": uidMappings,
 * gidMappings; config-linux.md "idmap", "ridmap"), prepared in the host user
 * namespace as detached mounts, attached later by ct_rootfs_mount().
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/mount_opts.h"
#include "runtime/rootfs.h"
#include "runtime/spec.h"
#include "vessel/cleanup.h"
#include "vessel/fs.h"

bool ct_mount_wants_idmap(const struct ct_spec *s, size_t i)
{
	const struct ct_mount *m = &s->mounts[i];

	if (m->n_uid_mappings || m->n_gid_mappings)
		return true;
	for (size_t k = 0; m->options && m->options[k]; k++)
		if (!strcmp(m->options[k], "idmap") || !strcmp(m->options[k], "ridmap"))
			return true;
	return false;
}

static int write_map(pid_t pid, const char *file, const struct ct_id_map *m, size_t n,
		     struct vs_err *e)
{
	autofree char *path = vs_strdup_printf("/proc/%d/%s", (int)pid, file);
	autofree char *buf = NULL;
	size_t len = 0;

	for (size_t i = 0; i < n; i++) {
		autofree char *line =
			vs_strdup_printf("%u %u %u\n", m[i].container_id, m[i].host_id, m[i].size);
		char *nb = realloc(buf, len + strlen(line) + 1);

		if (!nb)
			return vs_fail(e, ENOMEM, "out of memory");
		buf = nb;
		memcpy(buf + len, line, strlen(line) + 1);
		len += strlen(line);
	}
	return vs_write_str(path, buf, e);
}

/*
 * A user namespace carrying the maps, as an fd: a helper child unshares it
 * and waits while we write its maps (we hold the privilege outside) and open
 * /proc/PID/ns/user; then it exits. The fd keeps the namespace alive.
 */
static int make_userns(const struct ct_id_map *uids, size_t nu, const struct ct_id_map *gids,
		       size_t ng, struct vs_err *e)
{
	int ready[2], go[2];
	char c;
	int fd = -1;

	if (pipe2(ready, O_CLOEXEC) < 0)
		return vs_fail_errno(e, "pipe");
	if (pipe2(go, O_CLOEXEC) < 0) {
		vs_fail_errno(e, "pipe");
		close(ready[0]);
		close(ready[1]);
		return -1;
	}
	pid_t pid = fork();

	if (pid < 0) {
		vs_fail_errno(e, "fork");
	} else if (pid == 0) {
		close(ready[0]);
		close(go[1]);
		if (unshare(CLONE_NEWUSER) < 0)
			_exit(1);
		if (write(ready[1], "u", 1) != 1)
			_exit(1);
		/* wait until the parent is done with us (EOF) */
		while (read(go[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	if (pid > 0) {
		if (vs_read_all(ready[0], &c, 1) != 1) {
			vs_fail(e, EPERM, "creating a user namespace for the idmap failed");
		} else if (write_map(pid, "uid_map", uids, nu, e) == 0 &&
			   write_map(pid, "gid_map", gids, ng, e) == 0) {
			autofree char *ns = vs_strdup_printf("/proc/%d/ns/user", (int)pid);

			fd = open(ns, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				vs_fail_errno(e, "open %s", ns);
		}
	}
	close(ready[0]);
	close(go[1]);
	if (pid > 0)
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	return fd;
}

static int prepare_one(const struct ct_spec *s, size_t i, const char *bundle, struct vs_err *e)
{
	const struct ct_mount *m = &s->mounts[i];
	struct ct_mount_opts mo __attribute__((cleanup(ct_mount_opts_free))) = {0};
	const struct ct_id_map *uids = m->uid_mappings, *gids = m->gid_mappings;
	size_t nu = m->n_uid_mappings, ng = m->n_gid_mappings;

	if (ct_mount_opts_parse(m->options, "options", &mo, e) < 0)
		return -1;
	if (!(mo.flags & MS_BIND) && !(m->type && !strcmp(m->type, "bind")))
		return vs_fail(e, EINVAL, "idmapped mounts must be bind mounts");
	if (!nu && !ng) {
		/* "idmap" alone: the container's own user namespace maps */
		uids = s->lnx.uid_mappings;
		nu = s->lnx.n_uid_mappings;
		gids = s->lnx.gid_mappings;
		ng = s->lnx.n_gid_mappings;
	}
	if (!nu || !ng)
		return vs_fail(
			e, EINVAL,
			"idmap: needs both uidMappings and gidMappings (on the mount or in linux)");
	if (!m->source || !*m->source)
		return vs_fail(e, EINVAL, "idmap: no source");
	autofree char *src = m->source[0] == '/' || !bundle ? strdup(m->source)
							    : vs_path_join(bundle, m->source);
	if (!src)
		return vs_fail(e, ENOMEM, "out of memory");

	/* only a detached mount may be given an idmap */
	autoclose int tree = open_tree(AT_FDCWD, src,
				       OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
					       ((mo.flags & MS_REC) ? AT_RECURSIVE : 0));
	if (tree < 0)
		return vs_fail_errno(e, "idmap: open_tree %s", src);
	autoclose int userns = make_userns(uids, nu, gids, ng, e);
	if (userns < 0)
		return vs_err_prefix(e, "idmap");
	struct mount_attr a = {.attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)userns};

	if (mount_setattr(tree, "", AT_EMPTY_PATH | (mo.idmap_recursive ? AT_RECURSIVE : 0), &a,
			  sizeof(a)) < 0)
		return vs_fail_errno(e, "idmap: mount_setattr on %s", src);
	return vs_steal_fd(tree);
}

int ct_rootfs_idmap_prepare(const struct ct_spec *s, const char *bundle,
			    struct ct_idmap_mounts *out, struct vs_err *e)
{
	struct ct_idmap_mounts r = {0};
	bool any = false;

	for (size_t i = 0; i < s->n_mounts; i++)
		any |= ct_mount_wants_idmap(s, i);
	*out = r;
	if (!any)
		return 0;
	r.fds = malloc(s->n_mounts * sizeof(*r.fds));
	if (!r.fds)
		return vs_fail(e, ENOMEM, "out of memory");
	r.n = s->n_mounts;
	for (size_t i = 0; i < r.n; i++)
		r.fds[i] = -1;
	for (size_t i = 0; i < r.n; i++) {
		if (!ct_mount_wants_idmap(s, i))
			continue;
		r.fds[i] = prepare_one(s, i, bundle, e);
		if (r.fds[i] < 0) {
			const struct ct_mount *m = &s->mounts[i];

			ct_rootfs_idmap_close(&r);
			return vs_err_prefix(e, "config.json: mounts[%zu] (%s -> %s, type %s)", i,
					     m->source ? m->source : "none", m->destination,
					     m->type ? m->type : "none");
		}
	}
	*out = r;
	return 0;
}

void ct_rootfs_idmap_close(struct ct_idmap_mounts *m)
{
	for (size_t i = 0; m->fds && i < m->n; i++)
		if (m->fds[i] >= 0)
			close(m->fds[i]);
	free(m->fds);
	m->fds = NULL;
	m->n = 0;
}
