/* config.json "linux" (runtime-spec config-linux.md). */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/sysmacros.h>

#include "vessel/cleanup.h"
#include "runtime/spec_priv.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static const struct {
	const char *name; /* config-linux.md "Namespaces" type */
	const char *proc; /* /proc/PID/ns entry */
	int flag;
} ns_types[CT_NS_COUNT] = {
	[CT_NS_PID] = {"pid", "pid", CLONE_NEWPID},
	[CT_NS_NET] = {"network", "net", CLONE_NEWNET},
	[CT_NS_MOUNT] = {"mount", "mnt", CLONE_NEWNS},
	[CT_NS_IPC] = {"ipc", "ipc", CLONE_NEWIPC},
	[CT_NS_UTS] = {"uts", "uts", CLONE_NEWUTS},
	[CT_NS_USER] = {"user", "user", CLONE_NEWUSER},
	[CT_NS_CGROUP] = {"cgroup", "cgroup", CLONE_NEWCGROUP},
	[CT_NS_TIME] = {"time", "time", CLONE_NEWTIME},
};

const char *ct_ns_name(enum ct_ns_type t)
{
	return (unsigned)t < CT_NS_COUNT ? ns_types[t].name : NULL;
}

const char *ct_ns_proc_name(enum ct_ns_type t)
{
	return (unsigned)t < CT_NS_COUNT ? ns_types[t].proc : NULL;
}

int ct_ns_clone_flag(enum ct_ns_type t)
{
	return (unsigned)t < CT_NS_COUNT ? ns_types[t].flag : 0;
}

static const struct ct_namespace *find_ns(const struct ct_linux *l, enum ct_ns_type t)
{
	for (size_t i = 0; i < l->n_namespaces; i++)
		if (l->namespaces[i].type == t)
			return &l->namespaces[i];
	return NULL;
}

bool ct_spec_has_ns(const struct ct_spec *s, enum ct_ns_type t)
{
	return find_ns(&s->lnx, t) != NULL;
}

const char *ct_spec_ns_path(const struct ct_spec *s, enum ct_ns_type t)
{
	const struct ct_namespace *ns = find_ns(&s->lnx, t);

	return ns ? ns->path : NULL;
}

void ct_linux_clear(struct ct_linux *l)
{
	for (size_t i = 0; i < l->n_namespaces; i++)
		free(l->namespaces[i].path);
	free(l->namespaces);
	free(l->uid_mappings);
	free(l->gid_mappings);
	for (size_t i = 0; i < l->n_devices; i++)
		free(l->devices[i].path);
	free(l->devices);
	free(l->cgroups_path);
	if (l->resources_json)
		json_object_put(l->resources_json);
	vs_cgroup_resources_free(&l->resources);
	if (l->seccomp_json)
		json_object_put(l->seccomp_json);
	ct_seccomp_free(l->seccomp);
	free(l->rootfs_propagation);
	ct_kv_free(l->sysctl, l->n_sysctl);
	vs_strvfreep(&l->masked_paths);
	vs_strvfreep(&l->readonly_paths);
	free(l->mount_label);
	vs_strvfreep(&l->personality_flags);
	free(l->intel_rdt_clos_id);
	free(l->intel_rdt_l3_cache_schema);
	free(l->intel_rdt_mem_bw_schema);
	vs_strvfreep(&l->intel_rdt_schemata);
	free(l->memory_policy_nodes);
	memset(l, 0, sizeof(*l));
}

static int parse_namespaces(struct json_object *j, const char *where, struct ct_linux *l,
			    struct vs_err *e)
{
	struct json_object *arr = NULL;
	size_t n;

	if (vs_json_get_array(j, where, "namespaces", false, &arr, e) < 0)
		return -1;
	if (!arr)
		return 0;
	n = json_object_array_length(arr);
	l->namespaces = calloc(n ? n : 1, sizeof(*l->namespaces));
	if (!l->namespaces)
		return vs_fail(e, ENOMEM, "%s.namespaces: out of memory", where);
	for (size_t i = 0; i < n; i++) {
		struct ct_namespace *ns = &l->namespaces[i];
		struct json_object *o;
		const char *type = NULL;
		char w[CT_WHERE_MAX];
		int t;

		if (ct_json_elem_obj(arr, where, "namespaces", i, &o, e) < 0)
			return -1;
		snprintf(w, sizeof(w), "%s.namespaces[%zu]", where, i);
		if (vs_json_get_str(o, w, "type", true, &type, e) < 0)
			return -1;
		for (t = 0; t < CT_NS_COUNT; t++)
			if (!strcmp(type, ns_types[t].name))
				break;
		if (t == CT_NS_COUNT)
			return vs_fail(e, EINVAL, "%s.type: unknown namespace type \"%s\"", w,
				       type);
		/* config-linux.md: duplicated namespaces MUST generate an error */
		if (find_ns(l, (enum ct_ns_type)t))
			return vs_fail(e, EINVAL, "%s.type: namespace \"%s\" is listed twice", w,
				       type);
		ns->type = (enum ct_ns_type)t;
		l->n_namespaces++;
		if (ct_json_dup_str(o, w, "path", false, &ns->path, e) < 0)
			return -1;
		if (ns->path && ns->path[0] != '/')
			return vs_fail(e, EINVAL, "%s.path: \"%s\" must be an absolute path", w,
				       ns->path);
	}
	return 0;
}

static int parse_time_offset(struct json_object *offs, const char *where, const char *key,
			     struct ct_time_offset *t, struct vs_err *e)
{
	struct json_object *o = NULL;
	char w[CT_WHERE_MAX];
	int64_t ns = 0;

	if (vs_json_get_obj(offs, where, key, false, &o, e) < 0)
		return -1;
	if (!o)
		return 0;
	snprintf(w, sizeof(w), "%s.%s", where, key);
	if (vs_json_get_i64(o, w, "secs", false, &t->secs, e) < 0 ||
	    vs_json_get_range(o, w, "nanosecs", false, 0, 999999999, &ns, e) < 0)
		return -1;
	t->nanosecs = (uint32_t)ns;
	t->set = true;
	return 0;
}

static int parse_devices(struct json_object *j, const char *where, struct ct_linux *l,
			 struct vs_err *e)
{
	struct json_object *arr = NULL;
	size_t n;

	if (vs_json_get_array(j, where, "devices", false, &arr, e) < 0)
		return -1;
	if (!arr)
		return 0;
	n = json_object_array_length(arr);
	l->devices = calloc(n ? n : 1, sizeof(*l->devices));
	if (!l->devices)
		return vs_fail(e, ENOMEM, "%s.devices: out of memory", where);
	for (size_t i = 0; i < n; i++) {
		struct ct_device *d = &l->devices[i];
		struct json_object *o;
		const char *type = NULL;
		char w[CT_WHERE_MAX];
		uint32_t v;

		if (ct_json_elem_obj(arr, where, "devices", i, &o, e) < 0)
			return -1;
		snprintf(w, sizeof(w), "%s.devices[%zu]", where, i);
		l->n_devices++;
		if (ct_json_dup_str(o, w, "path", true, &d->path, e) < 0 ||
		    vs_json_get_str(o, w, "type", true, &type, e) < 0)
			return -1;
		if (d->path[0] != '/')
			return vs_fail(e, EINVAL, "%s.path: \"%s\" must be an absolute path", w,
				       d->path);
		if (strlen(type) != 1 || !strchr("cbup", type[0]))
			return vs_fail(e, EINVAL,
				       "%s.type: unknown device type \"%s\" (c, b, u or p)", w,
				       type);
		d->type = type[0];
		/* config-linux.md: major and minor are required except for fifos */
		if (vs_json_get_range(o, w, "major", d->type != 'p', 0, 0xfff, &d->major, e) < 0 ||
		    vs_json_get_range(o, w, "minor", d->type != 'p', 0, 0xfffff, &d->minor, e) < 0)
			return -1;
		if (ct_json_has(o, "fileMode")) {
			int64_t m = 0;

			/* podman sends the file type bits too (020600 for a char
			 * device); the type comes from "type", keep the permissions */
			if (vs_json_get_range(o, w, "fileMode", false, 0, 0177777, &m, e) < 0)
				return -1;
			d->file_mode = (mode_t)m & 07777;
			d->file_mode_set = true;
		}
		if (ct_json_has(o, "uid")) {
			if (ct_json_get_u32(o, w, "uid", false, &v, e) < 0)
				return -1;
			d->uid = v;
			d->uid_set = true;
		}
		if (ct_json_has(o, "gid")) {
			if (ct_json_get_u32(o, w, "gid", false, &v, e) < 0)
				return -1;
			d->gid = v;
			d->gid_set = true;
		}
	}
	return 0;
}

static int parse_propagation(struct json_object *j, const char *where, struct ct_linux *l,
			     struct vs_err *e)
{
	static const struct {
		const char *name;
		unsigned long flags;
	} props[] = {
		{"shared", MS_SHARED},
		{"slave", MS_SLAVE},
		{"private", MS_PRIVATE},
		{"unbindable", MS_UNBINDABLE},
		{"rshared", MS_SHARED | MS_REC},
		{"rslave", MS_SLAVE | MS_REC},
		{"rprivate", MS_PRIVATE | MS_REC},
		{"runbindable", MS_UNBINDABLE | MS_REC},
	};

	if (ct_json_dup_str(j, where, "rootfsPropagation", false, &l->rootfs_propagation, e) < 0)
		return -1;
	if (!l->rootfs_propagation || !l->rootfs_propagation[0])
		return 0;
	for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++) {
		if (!strcmp(props[i].name, l->rootfs_propagation)) {
			l->rootfs_propagation_flags = props[i].flags;
			return 0;
		}
	}
	return vs_fail(e, EINVAL, "%s.rootfsPropagation: unknown propagation \"%s\"", where,
		       l->rootfs_propagation);
}

static int parse_personality(struct json_object *j, const char *where, struct ct_linux *l,
			     struct vs_err *e)
{
	struct json_object *o = NULL;
	const char *dom = NULL;
	char w[CT_WHERE_MAX];

	if (vs_json_get_obj(j, where, "personality", false, &o, e) < 0)
		return -1;
	if (!o)
		return 0;
	snprintf(w, sizeof(w), "%s.personality", where);
	if (vs_json_get_str(o, w, "domain", true, &dom, e) < 0)
		return -1;
	if (!strcmp(dom, "LINUX"))
		l->personality_domain = PER_LINUX;
	else if (!strcmp(dom, "LINUX32"))
		l->personality_domain = PER_LINUX32;
	else
		return vs_fail(e, EINVAL,
			       "%s.domain: unknown execution domain \"%s\" (LINUX or LINUX32)", w,
			       dom);
	if (vs_json_get_strv(o, w, "flags", false, &l->personality_flags, e) < 0)
		return -1;
	l->personality_set = true;
	return 0;
}

static int parse_intel_rdt(struct json_object *j, const char *where, struct ct_linux *l,
			   struct vs_err *e)
{
	struct json_object *o = NULL;
	char w[CT_WHERE_MAX];

	if (vs_json_get_obj(j, where, "intelRdt", false, &o, e) < 0)
		return -1;
	if (!o)
		return 0;
	snprintf(w, sizeof(w), "%s.intelRdt", where);
	if (ct_json_dup_str(o, w, "closID", false, &l->intel_rdt_clos_id, e) < 0 ||
	    ct_json_dup_str(o, w, "l3CacheSchema", false, &l->intel_rdt_l3_cache_schema, e) < 0 ||
	    ct_json_dup_str(o, w, "memBwSchema", false, &l->intel_rdt_mem_bw_schema, e) < 0 ||
	    vs_json_get_strv(o, w, "schemata", false, &l->intel_rdt_schemata, e) < 0 ||
	    vs_json_get_bool(o, w, "enableMonitoring", false, &l->intel_rdt_enable_monitoring, e) <
		    0 ||
	    vs_json_get_bool(o, w, "enableCMT", false, &l->intel_rdt_enable_cmt, e) < 0 ||
	    vs_json_get_bool(o, w, "enableMBM", false, &l->intel_rdt_enable_mbm, e) < 0)
		return -1;
	l->intel_rdt_set = true;
	return 0;
}

static int parse_memory_policy(struct json_object *j, const char *where, struct ct_linux *l,
			       struct vs_err *e)
{
	/* set_mempolicy(2) modes and flags, <linux/mempolicy.h> */
	static const struct {
		const char *name;
		int val;
	} modes[] =
		{
			{"MPOL_DEFAULT", 0},
			{"MPOL_PREFERRED", 1},
			{"MPOL_BIND", 2},
			{"MPOL_INTERLEAVE", 3},
			{"MPOL_LOCAL", 4},
			{"MPOL_PREFERRED_MANY", 5},
			{"MPOL_WEIGHTED_INTERLEAVE", 6},
		},
	  flags[] = {
		  {"MPOL_F_NUMA_BALANCING", 1 << 13},
		  {"MPOL_F_RELATIVE_NODES", 1 << 14},
		  {"MPOL_F_STATIC_NODES", 1 << 15},
	  };
	struct json_object *o = NULL;
	const char *mode = NULL;
	autostrv char **fl = NULL;
	char w[CT_WHERE_MAX];
	size_t i;

	if (vs_json_get_obj(j, where, "memoryPolicy", false, &o, e) < 0)
		return -1;
	if (!o)
		return 0;
	snprintf(w, sizeof(w), "%s.memoryPolicy", where);
	if (vs_json_get_str(o, w, "mode", true, &mode, e) < 0)
		return -1;
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (!strcmp(modes[i].name, mode))
			break;
	if (i == sizeof(modes) / sizeof(modes[0]))
		return vs_fail(e, EINVAL, "%s.mode: unknown memory policy \"%s\"", w, mode);
	l->memory_policy_mode = modes[i].val;
	if (ct_json_dup_str(o, w, "nodes", false, &l->memory_policy_nodes, e) < 0 ||
	    vs_json_get_strv(o, w, "flags", false, &fl, e) < 0)
		return -1;
	for (size_t k = 0; fl && fl[k]; k++) {
		for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
			if (!strcmp(flags[i].name, fl[k]))
				break;
		if (i == sizeof(flags) / sizeof(flags[0]))
			return vs_fail(e, EINVAL,
				       "%s.flags[%zu]: unknown memory policy flag \"%s\"", w, k,
				       fl[k]);
		l->memory_policy_flags |= (unsigned int)flags[i].val;
	}
	l->memory_policy_set = true;
	return 0;
}

int ct_linux_parse(struct json_object *j, const char *where, struct ct_linux *l, struct vs_err *e)
{
	struct json_object *o = NULL;
	char w[CT_WHERE_MAX];

	if (parse_namespaces(j, where, l, e) < 0)
		return -1;

	if (ct_id_maps_parse(j, where, "uidMappings", &l->uid_mappings, &l->n_uid_mappings, e) <
		    0 ||
	    ct_id_maps_parse(j, where, "gidMappings", &l->gid_mappings, &l->n_gid_mappings, e) < 0)
		return -1;
	/* mappings only mean something for a user namespace we create */
	if (l->n_uid_mappings && !find_ns(l, CT_NS_USER))
		return vs_fail(e, EINVAL, "%s.uidMappings: set but no user namespace is requested",
			       where);
	if (l->n_gid_mappings && !find_ns(l, CT_NS_USER))
		return vs_fail(e, EINVAL, "%s.gidMappings: set but no user namespace is requested",
			       where);

	if (vs_json_get_obj(j, where, "timeOffsets", false, &o, e) < 0)
		return -1;
	if (o) {
		snprintf(w, sizeof(w), "%s.timeOffsets", where);
		if (parse_time_offset(o, w, "monotonic", &l->monotonic, e) < 0 ||
		    parse_time_offset(o, w, "boottime", &l->boottime, e) < 0)
			return -1;
		/* config-linux.md: timeOffsets need a time namespace */
		if ((l->monotonic.set || l->boottime.set) && !find_ns(l, CT_NS_TIME))
			return vs_fail(e, EINVAL,
				       "%s.timeOffsets: set but no time namespace is requested",
				       where);
	}

	if (parse_devices(j, where, l, e) < 0)
		return -1;
	if (ct_json_dup_str(j, where, "cgroupsPath", false, &l->cgroups_path, e) < 0)
		return -1;

	o = NULL;
	if (vs_json_get_obj(j, where, "resources", false, &o, e) < 0)
		return -1;
	snprintf(w, sizeof(w), "%s.resources", where);
	if (o)
		l->resources_json = json_object_get(o);
	if (ct_resources_parse(o, w, &l->resources, e) < 0)
		return -1;

	o = NULL;
	if (vs_json_get_obj(j, where, "seccomp", false, &o, e) < 0)
		return -1;
	snprintf(w, sizeof(w), "%s.seccomp", where);
	if (o)
		l->seccomp_json = json_object_get(o);
	if (ct_seccomp_parse(o, w, &l->seccomp, e) < 0)
		return -1;

	if (parse_propagation(j, where, l, e) < 0)
		return -1;
	if (ct_kv_parse(j, where, "sysctl", &l->sysctl, &l->n_sysctl, e) < 0)
		return -1;
	if (ct_abs_strv_parse(j, where, "maskedPaths", &l->masked_paths, e) < 0 ||
	    ct_abs_strv_parse(j, where, "readonlyPaths", &l->readonly_paths, e) < 0)
		return -1;
	if (ct_json_dup_str(j, where, "mountLabel", false, &l->mount_label, e) < 0)
		return -1;
	if (parse_personality(j, where, l, e) < 0 || parse_intel_rdt(j, where, l, e) < 0 ||
	    parse_memory_policy(j, where, l, e) < 0)
		return -1;
	return 0;
}
