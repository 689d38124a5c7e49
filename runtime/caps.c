/* Capabilities: OCI process.capabilities parsed into bit sets, applied with
 * prctl(2) (bounding, ambient) and capset(2) (effective/permitted/inheritable). */
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/caps.h"
#include "vessel/cleanup.h"
#include "vessel/fs.h"
#include "vessel/json.h"
#include "vessel/log.h"

/* Numbers from linux/capability.h; the order is the kernel ABI. */
static const char *const cap_names[] = {
	"CAP_CHOWN",
	"CAP_DAC_OVERRIDE",
	"CAP_DAC_READ_SEARCH",
	"CAP_FOWNER",
	"CAP_FSETID",
	"CAP_KILL",
	"CAP_SETGID",
	"CAP_SETUID",
	"CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST",
	"CAP_NET_ADMIN",
	"CAP_NET_RAW",
	"CAP_IPC_LOCK",
	"CAP_IPC_OWNER",
	"CAP_SYS_MODULE",
	"CAP_SYS_RAWIO",
	"CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE",
	"CAP_SYS_PACCT",
	"CAP_SYS_ADMIN",
	"CAP_SYS_BOOT",
	"CAP_SYS_NICE",
	"CAP_SYS_RESOURCE",
	"CAP_SYS_TIME",
	"CAP_SYS_TTY_CONFIG",
	"CAP_MKNOD",
	"CAP_LEASE",
	"CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL",
	"CAP_SETFCAP",
	"CAP_MAC_OVERRIDE",
	"CAP_MAC_ADMIN",
	"CAP_SYSLOG",
	"CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND",
	"CAP_AUDIT_READ",
	"CAP_PERFMON",
	"CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
};
#define N_CAPS ((int)(sizeof(cap_names) / sizeof(cap_names[0])))

int ct_caps_from_name(const char *name)
{
	if (!strncasecmp(name, "CAP_", 4))
		name += 4;
	for (int i = 0; i < N_CAPS; i++)
		if (!strcasecmp(cap_names[i] + 4, name))
			return i;
	return -1;
}

const char *ct_caps_name(int cap)
{
	return cap >= 0 && cap < N_CAPS ? cap_names[cap] : NULL;
}

int ct_caps_last_cap(void)
{
	static int last = -1;
	autofree char *s = NULL;

	if (last >= 0)
		return last;
	if (vs_read_file("/proc/sys/kernel/cap_last_cap", &s, NULL, NULL) == 0)
		last = atoi(s);
	if (last <= 0 || last > 63)
		last = CAP_LAST_CAP;
	return last;
}

static int parse_set(struct json_object *j, const char *where, const char *key, uint64_t *out,
		     struct vs_err *e)
{
	struct json_object *arr = NULL;
	int last = ct_caps_last_cap();

	*out = 0;
	if (vs_json_get_array(j, where, key, false, &arr, e) < 0)
		return -1;
	if (!arr)
		return 0;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *it = json_object_array_get_idx(arr, i);
		const char *name;
		int cap;

		if (!json_object_is_type(it, json_type_string))
			return vs_fail(e, EINVAL, "%s.%s[%zu]: expected string", where, key, i);
		name = json_object_get_string(it);
		cap = ct_caps_from_name(name);
		if (cap < 0)
			return vs_fail(e, EINVAL, "%s.%s[%zu]: unknown capability \"%s\"", where,
				       key, i, name);
		if (cap > last) {
			vs_warn("%s.%s[%zu]: %s is not known to this kernel; skipped", where, key,
				i, name);
			continue;
		}
		*out |= 1ull << cap;
	}
	return 0;
}

int ct_caps_parse(struct json_object *j, const char *where, struct ct_caps *out, struct vs_err *e)
{
	memset(out, 0, sizeof(*out));
	if (!j)
		return 0;
	if (!json_object_is_type(j, json_type_object))
		return vs_fail(e, EINVAL, "%s: expected object", where);
	if (parse_set(j, where, "bounding", &out->bounding, e) < 0 ||
	    parse_set(j, where, "effective", &out->effective, e) < 0 ||
	    parse_set(j, where, "inheritable", &out->inheritable, e) < 0 ||
	    parse_set(j, where, "permitted", &out->permitted, e) < 0 ||
	    parse_set(j, where, "ambient", &out->ambient, e) < 0)
		return -1;
	out->set = true;
	return 0;
}

int ct_caps_drop_bounding(const struct ct_caps *c, struct vs_err *e)
{
	int last = ct_caps_last_cap();

	if (!c->set)
		return 0;
	for (int cap = 0; cap <= last; cap++) {
		if (c->bounding & (1ull << cap))
			continue;
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 1)
			continue; /* not there anyway */
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			return vs_fail_errno(e, "capabilities: drop %s from the bounding set",
					     ct_caps_name(cap) ? ct_caps_name(cap) : "?");
	}
	return 0;
}

static int cap_get(struct __user_cap_data_struct d[2], struct vs_err *e)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};

	if (syscall(SYS_capget, &h, d) < 0)
		return vs_fail_errno(e, "capabilities: capget");
	return 0;
}

/* One warning per capability asked for but not given. */
static void warn_lost(uint64_t lost)
{
	for (int cap = 0; cap < 64; cap++)
		if (lost & (1ull << cap))
			vs_warn("capabilities: %s is not held by the runtime (bounding/permitted "
				"set); left out of the container's sets",
				ct_caps_name(cap) ? ct_caps_name(cap) : "?");
}

int ct_caps_apply(const struct ct_caps *c, struct vs_err *e)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	uint64_t held, bset = 0, eff, prm, inh, amb;
	int last = ct_caps_last_cap();

	if (!c->set)
		return 0;
	if (cap_get(d, e) < 0)
		return -1;
	held = (uint64_t)d[0].permitted | ((uint64_t)d[1].permitted << 32);
	for (int cap = 0; cap <= last; cap++)
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1)
			bset |= 1ull << cap;

	/* only what the runtime holds can be kept (capabilities(7)) */
	prm = c->permitted & held;
	eff = c->effective & prm;
	/* a new inheritable cap must be in the bounding set, and (without
	 * CAP_SETPCAP in effect, as after a user switch) permitted already */
	uint64_t old_inh = (uint64_t)d[0].inheritable | ((uint64_t)d[1].inheritable << 32);

	inh = c->inheritable & (bset | old_inh) & (held | old_inh);
	/* an ambient cap must be permitted and inheritable */
	amb = c->ambient & prm & inh;
	warn_lost(((c->permitted | c->effective) & ~prm) | (c->inheritable & ~inh) |
		  (c->ambient & c->permitted & c->inheritable & ~amb));

	d[0].effective = (uint32_t)eff;
	d[1].effective = (uint32_t)(eff >> 32);
	d[0].permitted = (uint32_t)prm;
	d[1].permitted = (uint32_t)(prm >> 32);
	d[0].inheritable = (uint32_t)inh;
	d[1].inheritable = (uint32_t)(inh >> 32);
	if (syscall(SYS_capset, &h, d) < 0)
		return vs_fail_errno(e,
				     "capabilities: capset (effective %#llx, permitted %#llx, "
				     "inheritable %#llx)",
				     (unsigned long long)eff, (unsigned long long)prm,
				     (unsigned long long)inh);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return vs_fail_errno(e, "capabilities: clear the ambient set");
	for (int cap = 0; cap <= last; cap++) {
		if (!(amb & (1ull << cap)))
			continue;
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
			return vs_fail_errno(e, "capabilities: raise ambient %s",
					     ct_caps_name(cap) ? ct_caps_name(cap) : "?");
	}
	return 0;
}
