/* Namespaces: create, join by path, id maps, time offsets. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/nsfs.h>

#include "vessel/cleanup.h"
#include "vessel/fs.h"
#include "runtime/ns.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static void join_init(struct ct_ns_join *j)
{
	for (int t = 0; t < CT_NS_COUNT; t++)
		j->fds[t] = -1;
}

void ct_ns_join_close(struct ct_ns_join *j)
{
	for (int t = 0; t < CT_NS_COUNT; t++) {
		if (j->fds[t] >= 0)
			close(j->fds[t]);
		j->fds[t] = -1;
	}
}

int ct_ns_open_joins(const struct ct_spec *s, struct ct_ns_join *j, struct vs_err *e)
{
	join_init(j);
	for (size_t i = 0; i < s->lnx.n_namespaces; i++) {
		const struct ct_namespace *ns = &s->lnx.namespaces[i];

		if (!ns->path)
			continue;
		int fd = open(ns->path, O_RDONLY | O_CLOEXEC);

		if (fd < 0) {
			vs_fail_errno(e, "config.json: linux.namespaces[%zu].path: %s", i,
				      ns->path);
			ct_ns_join_close(j);
			return -1;
		}
		/* NS_GET_NSTYPE tells the namespace kind: refuse a path of another
		 * kind (or not a namespace at all) before any setns */
		int type = ioctl(fd, NS_GET_NSTYPE);

		if (type < 0 || type != ct_ns_clone_flag(ns->type)) {
			vs_fail(e, EINVAL,
				"config.json: linux.namespaces[%zu].path: %s is not a %s namespace",
				i, ns->path, ct_ns_name(ns->type));
			close(fd);
			ct_ns_join_close(j);
			return -1;
		}
		j->fds[ns->type] = fd;
	}
	return 0;
}

int ct_ns_open_pid(pid_t pid, struct ct_ns_join *j, struct vs_err *e)
{
	join_init(j);
	for (int t = 0; t < CT_NS_COUNT; t++) {
		char theirs[64], ours[64];
		struct stat a, b;

		snprintf(theirs, sizeof(theirs), "/proc/%d/ns/%s", (int)pid, ct_ns_proc_name(t));
		snprintf(ours, sizeof(ours), "/proc/self/ns/%s", ct_ns_proc_name(t));
		if (stat(theirs, &a) < 0) {
			if (errno == ENOENT && t == CT_NS_TIME)
				continue; /* kernel without time namespaces */
			vs_fail_errno(e, "%s", theirs);
			ct_ns_join_close(j);
			return -1;
		}
		if (stat(ours, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
			continue; /* same as ours: nothing to join */
		j->fds[t] = open(theirs, O_RDONLY | O_CLOEXEC);
		if (j->fds[t] < 0) {
			vs_fail_errno(e, "%s", theirs);
			ct_ns_join_close(j);
			return -1;
		}
	}
	return 0;
}

int ct_ns_join_all(struct ct_ns_join *j, bool user_only, struct vs_err *e)
{
	if (j->fds[CT_NS_USER] >= 0) {
		if (setns(j->fds[CT_NS_USER], CLONE_NEWUSER) < 0)
			return vs_fail_errno(e, "joining the user namespace");
		close(j->fds[CT_NS_USER]);
		j->fds[CT_NS_USER] = -1;
	}
	if (user_only)
		return 0;
	for (int t = 0; t < CT_NS_COUNT; t++) {
		if (j->fds[t] < 0)
			continue;
		if (setns(j->fds[t], ct_ns_clone_flag(t)) < 0)
			return vs_fail_errno(e, "joining the %s namespace", ct_ns_name(t));
		close(j->fds[t]);
		j->fds[t] = -1;
	}
	return 0;
}

int ct_ns_new_flags(const struct ct_spec *s)
{
	int flags = 0;

	for (size_t i = 0; i < s->lnx.n_namespaces; i++)
		if (!s->lnx.namespaces[i].path)
			flags |= ct_ns_clone_flag(s->lnx.namespaces[i].type);
	return flags;
}

char *ct_ns_format_map(const struct ct_id_map *m, size_t n)
{
	size_t cap = n * 40 + 1, len = 0;
	char *buf = malloc(cap);

	if (!buf)
		abort();
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, cap - len, "%u %u %u\n", m[i].container_id,
					m[i].host_id, m[i].size);
	return buf;
}

static int write_map(pid_t pid, const char *file, const struct ct_id_map *m, size_t n,
		     const char *field, struct vs_err *e)
{
	autofree char *path = vs_strdup_printf("/proc/%d/%s", (int)pid, file);
	autofree char *map = ct_ns_format_map(m, n);

	if (vs_write_str(path, map, e) < 0)
		return vs_err_prefix(e, "config.json: linux.%s", field);
	return 0;
}

int ct_ns_write_id_maps(pid_t pid, const struct ct_spec *s, struct vs_err *e)
{
	if (s->lnx.n_uid_mappings && write_map(pid, "uid_map", s->lnx.uid_mappings,
					       s->lnx.n_uid_mappings, "uidMappings", e) < 0)
		return -1;
	/* user_namespaces(7): without CAP_SETGID in the parent namespace a
	 * gid_map can only be written once setgroups(2) is denied */
	if (s->lnx.n_gid_mappings && geteuid() != 0) {
		autofree char *sg = vs_strdup_printf("/proc/%d/setgroups", (int)pid);

		if (vs_write_str(sg, "deny", e) < 0)
			return vs_err_prefix(e, "config.json: linux.gidMappings");
	}
	if (s->lnx.n_gid_mappings && write_map(pid, "gid_map", s->lnx.gid_mappings,
					       s->lnx.n_gid_mappings, "gidMappings", e) < 0)
		return -1;
	return 0;
}

bool ct_ns_id_mapped(const struct ct_id_map *m, size_t n, uint32_t id)
{
	if (!n)
		return true;
	for (size_t i = 0; i < n; i++)
		if (id >= m[i].container_id && id - m[i].container_id < m[i].size)
			return true;
	return false;
}

int ct_ns_write_time_offsets(const struct ct_spec *s, struct vs_err *e)
{
	char buf[128];
	size_t len = 0;

	/* man 7 time_namespaces: "<clock-id> <offset-secs> <offset-nanosecs>" */
	if (s->lnx.monotonic.set)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "monotonic %lld %u\n",
					(long long)s->lnx.monotonic.secs,
					s->lnx.monotonic.nanosecs);
	if (s->lnx.boottime.set)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "boottime %lld %u\n",
					(long long)s->lnx.boottime.secs, s->lnx.boottime.nanosecs);
	if (!len)
		return 0;
	if (vs_write_str("/proc/self/timens_offsets", buf, e) < 0)
		return vs_err_prefix(e, "config.json: linux.timeOffsets");
	return 0;
}
