/* linux.sysctl: checked against the container's namespaces, written to /proc/sys. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "runtime/spec.h"
#include "runtime/sysctl.h"
#include "vessel/cleanup.h"
#include "vessel/fs.h"

static bool has_ns(const struct ct_spec *s, enum ct_ns_type t)
{
	for (size_t i = 0; i < s->lnx.n_namespaces; i++)
		if (s->lnx.namespaces[i].type == t)
			return true;
	return false;
}

/*
 * The namespaced parameters, as the kernel scopes them (ipc_sysctl.c,
 * mq_sysctl.c, utsname_sysctl.c, net/, user_namespace sysctls) and as
 * runtime-spec config-linux.md "Sysctl" asks runtimes to check.
 */
static const struct {
	const char *key; /* exact key, or a prefix when it ends in '.' or '*' */
	enum ct_ns_type ns;
	const char *ns_name;
} scoped[] = {
	{"kernel.msg*", CT_NS_IPC, "ipc"},
	{"kernel.sem", CT_NS_IPC, "ipc"},
	{"kernel.sem_next_id", CT_NS_IPC, "ipc"},
	{"kernel.shm*", CT_NS_IPC, "ipc"},
	{"fs.mqueue.", CT_NS_IPC, "ipc"},
	{"net.", CT_NS_NET, "network"},
	{"kernel.hostname", CT_NS_UTS, "uts"},
	{"kernel.domainname", CT_NS_UTS, "uts"},
	{"user.", CT_NS_USER, "user"},
};

static bool key_matches(const char *key, const char *pat)
{
	size_t n = strlen(pat);

	if (pat[n - 1] == '*')
		return !strncmp(key, pat, n - 1);
	if (pat[n - 1] == '.')
		return !strncmp(key, pat, n);
	return !strcmp(key, pat);
}

int ct_sysctl_path(const char *key, char *buf, size_t len)
{
	/* a key is dotted or slashed, never both: "net/ipv4/conf/eth0.1/..." keeps
	 * its dots, as sysctl(8) does for interface names with a VLAN dot */
	char sep = strchr(key, '/') ? '/' : '.';
	size_t pre = strlen("/proc/sys/"), klen = strlen(key);
	const char *p = key;

	if (!*key || pre + klen + 1 > len)
		return -1;
	for (;;) {
		const char *end = strchr(p, sep);
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return -1;
		if (sep == '.' && memchr(p, '/', n))
			return -1;
		if (!end)
			break;
		p = end + 1;
	}
	memcpy(buf, "/proc/sys/", pre);
	for (size_t i = 0; i <= klen; i++)
		buf[pre + i] = key[i] == sep ? '/' : key[i];
	return 0;
}

/* The dotted form, for the namespace table. */
static void dotted(const char *key, char *buf, size_t len)
{
	bool slashed = strchr(key, '/') != NULL;

	snprintf(buf, len, "%s", key);
	if (slashed)
		for (char *c = buf; *c; c++)
			if (*c == '/')
				*c = '.';
}

int ct_sysctl_check(const struct ct_spec *s, struct vs_err *e)
{
	for (size_t i = 0; i < s->lnx.n_sysctl; i++) {
		const char *key = s->lnx.sysctl[i].key;
		char path[512], dot[512];
		bool known = false;

		if (ct_sysctl_path(key, path, sizeof(path)) < 0)
			return vs_fail(e, EINVAL,
				       "config.json: linux.sysctl: \"%s\": not a valid key", key);
		dotted(key, dot, sizeof(dot));
		for (size_t k = 0; k < sizeof(scoped) / sizeof(scoped[0]); k++) {
			if (!key_matches(dot, scoped[k].key))
				continue;
			known = true;
			if (!has_ns(s, scoped[k].ns))
				return vs_fail(
					e, EINVAL,
					"config.json: linux.sysctl: \"%s\": needs a %s namespace",
					key, scoped[k].ns_name);
			break;
		}
		if (!known)
			return vs_fail(
				e, EINVAL,
				"config.json: linux.sysctl: \"%s\": not namespaced, it would change the host",
				key);
	}
	return 0;
}

int ct_sysctl_apply(const struct ct_spec *s, struct vs_err *e)
{
	if (ct_sysctl_check(s, e) < 0)
		return -1;
	for (size_t i = 0; i < s->lnx.n_sysctl; i++) {
		const struct ct_kv *kv = &s->lnx.sysctl[i];
		char path[512];

		ct_sysctl_path(kv->key, path, sizeof(path));
		/* O_NOFOLLOW: /proc/sys has no symlinks, a link here is not ours */
		autoclose int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
		size_t n = strlen(kv->value);

		if (fd < 0)
			return vs_fail_errno(e, "config.json: linux.sysctl: \"%s\": open %s",
					     kv->key, path);
		ssize_t w = write(fd, kv->value, n);

		/* /proc/sys takes a value in one write(); a short one is a failure */
		if (w != (ssize_t)n)
			return vs_fail(e, w < 0 ? errno : EIO,
				       "config.json: linux.sysctl: \"%s\": write \"%s\"", kv->key,
				       kv->value);
	}
	return 0;
}
