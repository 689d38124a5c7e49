/* OCI linux.resources (runtime-spec config-linux.md "Control groups") into
 * struct vs_cgroup_resources. Numbers that the Go reference implementation
 * treats as "unset" when zero (memory limits, cpu shares/quota/period, pids
 * limit) are treated the same way, so specs written for runc mean the same. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/resources.h"
#include "vessel/cleanup.h"
#include "vessel/fs.h"
#include "vessel/json.h"
#include "vessel/log.h"

#define W(fmt, ...) autofree char *w = vs_strdup_printf(fmt, __VA_ARGS__)

/* Optional integer: *has set when present and (if zero_unset) non-zero. */
static int opt_i64(struct json_object *o, const char *where, const char *key, bool zero_unset,
		   bool *has, int64_t *out, struct vs_err *e)
{
	struct json_object *v;
	int64_t x = 0;

	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (vs_json_get_i64(o, where, key, true, &x, e) < 0)
		return -1;
	if (zero_unset && x == 0)
		return 0;
	*has = true;
	*out = x;
	return 0;
}

static int opt_u64(struct json_object *o, const char *where, const char *key, bool zero_unset,
		   bool *has, uint64_t *out, struct vs_err *e)
{
	struct json_object *v;
	uint64_t x = 0;

	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (vs_json_get_u64(o, where, key, true, &x, e) < 0)
		return -1;
	if (zero_unset && x == 0)
		return 0;
	*has = true;
	*out = x;
	return 0;
}

static int opt_bool(struct json_object *o, const char *where, const char *key, bool *has, bool *out,
		    struct vs_err *e)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (vs_json_get_bool(o, where, key, true, out, e) < 0)
		return -1;
	if (has)
		*has = true;
	return 0;
}

/* Memory values: -1 (unlimited) or a byte count. */
static int mem_value(struct json_object *o, const char *where, const char *key, bool *has,
		     int64_t *out, struct vs_err *e)
{
	if (opt_i64(o, where, key, true, has, out, e) < 0)
		return -1;
	if (*has && *out < -1)
		return vs_fail(e, EINVAL, "%s.%s: %lld is not a byte count or -1", where, key,
			       (long long)*out);
	return 0;
}

static int parse_memory(struct json_object *m, const char *where, struct vs_cgroup_resources *r,
			struct vs_err *e)
{
	if (mem_value(m, where, "limit", &r->has_memory_limit, &r->memory_limit, e) < 0 ||
	    mem_value(m, where, "reservation", &r->has_memory_reservation, &r->memory_reservation,
		      e) < 0 ||
	    mem_value(m, where, "swap", &r->has_memory_swap, &r->memory_swap, e) < 0 ||
	    mem_value(m, where, "kernel", &r->has_memory_kernel, &r->memory_kernel, e) < 0 ||
	    mem_value(m, where, "kernelTCP", &r->has_memory_kernel_tcp, &r->memory_kernel_tcp, e) <
		    0 ||
	    opt_u64(m, where, "swappiness", false, &r->has_memory_swappiness, &r->memory_swappiness,
		    e) < 0 ||
	    opt_bool(m, where, "disableOOMKiller", &r->has_disable_oom_killer,
		     &r->disable_oom_killer, e) < 0 ||
	    opt_bool(m, where, "useHierarchy", &r->has_use_hierarchy, &r->use_hierarchy, e) < 0 ||
	    opt_bool(m, where, "checkBeforeUpdate", NULL, &r->check_before_update, e) < 0)
		return -1;
	if (r->has_memory_swappiness && r->memory_swappiness > 100)
		return vs_fail(e, EINVAL, "%s.swappiness: %llu is not in 0..100", where,
			       (unsigned long long)r->memory_swappiness);
	if (r->has_memory_limit && r->has_memory_swap && r->memory_limit > 0 &&
	    r->memory_swap > 0 && r->memory_swap < r->memory_limit)
		return vs_fail(e, EINVAL,
			       "%s.swap: %lld is below limit %lld (swap counts memory "
			       "plus swap)",
			       where, (long long)r->memory_swap, (long long)r->memory_limit);
	return 0;
}

static int opt_str(struct json_object *o, const char *where, const char *key, char **out,
		   struct vs_err *e)
{
	const char *s = NULL;

	if (vs_json_get_str(o, where, key, false, &s, e) < 0)
		return -1;
	if (s && *s) {
		/* cpuset lists: digits, commas and ranges only */
		for (const char *p = s; *p; p++)
			if (!isdigit((unsigned char)*p) && *p != ',' && *p != '-')
				return vs_fail(e, EINVAL,
					       "%s.%s: \"%s\" is not a list like "
					       "\"0-3,6\"",
					       where, key, s);
		*out = strdup(s);
	}
	return 0;
}

static int parse_cpu(struct json_object *c, const char *where, struct vs_cgroup_resources *r,
		     struct vs_err *e)
{
	if (opt_u64(c, where, "shares", true, &r->has_cpu_shares, &r->cpu_shares, e) < 0 ||
	    opt_i64(c, where, "quota", true, &r->has_cpu_quota, &r->cpu_quota, e) < 0 ||
	    opt_u64(c, where, "period", true, &r->has_cpu_period, &r->cpu_period, e) < 0 ||
	    opt_u64(c, where, "burst", false, &r->has_cpu_burst, &r->cpu_burst, e) < 0 ||
	    opt_i64(c, where, "realtimeRuntime", true, &r->has_cpu_rt_runtime, &r->cpu_rt_runtime,
		    e) < 0 ||
	    opt_u64(c, where, "realtimePeriod", true, &r->has_cpu_rt_period, &r->cpu_rt_period, e) <
		    0 ||
	    opt_i64(c, where, "idle", false, &r->has_cpu_idle, &r->cpu_idle, e) < 0 ||
	    opt_str(c, where, "cpus", &r->cpuset_cpus, e) < 0 ||
	    opt_str(c, where, "mems", &r->cpuset_mems, e) < 0)
		return -1;
	if (r->has_cpu_quota && r->cpu_quota < -1)
		return vs_fail(e, EINVAL, "%s.quota: %lld is not microseconds or -1", where,
			       (long long)r->cpu_quota);
	return 0;
}

static int parse_devices(struct json_object *arr, const char *where, struct vs_cgroup_resources *r,
			 struct vs_err *e)
{
	r->has_devices = true;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *d = json_object_array_get_idx(arr, i);
		struct vs_cgroup_device_rule rule = {.type = 'a', .major = -1, .minor = -1};
		const char *type = NULL, *access = NULL;
		bool has_major = false, has_minor = false;
		W("%s[%zu]", where, i);

		if (!json_object_is_type(d, json_type_object))
			return vs_fail(e, EINVAL, "%s: expected object", w);
		if (vs_json_get_bool(d, w, "allow", true, &rule.allow, e) < 0 ||
		    vs_json_get_str(d, w, "type", false, &type, e) < 0 ||
		    opt_i64(d, w, "major", false, &has_major, &rule.major, e) < 0 ||
		    opt_i64(d, w, "minor", false, &has_minor, &rule.minor, e) < 0 ||
		    vs_json_get_str(d, w, "access", false, &access, e) < 0)
			return -1;
		if (type) {
			if (strcmp(type, "a") && strcmp(type, "b") && strcmp(type, "c"))
				return vs_fail(e, EINVAL, "%s.type: \"%s\" is not a, b or c", w,
					       type);
			rule.type = type[0];
		}
		if (rule.major < -1 || rule.minor < -1 || rule.major > 0xfffff ||
		    rule.minor > 0xfffff)
			return vs_fail(e, EINVAL, "%s: device number out of range", w);
		if (access) {
			if (strlen(access) > 3 || strspn(access, "rwm") != strlen(access))
				return vs_fail(e, EINVAL,
					       "%s.access: \"%s\" is not a subset of "
					       "\"rwm\"",
					       w, access);
			strcpy(rule.access, access);
		}
		vs_cgroup_resources_add_device(r, &rule);
	}
	return 0;
}

static int parse_blkio_list(struct json_object *b, const char *where, const char *key, bool weight,
			    struct vs_cgroup_blkio_dev **out, size_t *n, struct vs_err *e)
{
	struct json_object *arr = NULL;
	size_t len;

	if (vs_json_get_array(b, where, key, false, &arr, e) < 0)
		return -1;
	if (!arr || !(len = json_object_array_length(arr)))
		return 0;
	*out = calloc(len, sizeof(**out));
	if (!*out)
		abort();
	for (size_t i = 0; i < len; i++) {
		struct json_object *d = json_object_array_get_idx(arr, i);
		struct vs_cgroup_blkio_dev *x = &(*out)[i];
		bool has_w = false;
		W("%s.%s[%zu]", where, key, i);

		if (!json_object_is_type(d, json_type_object))
			return vs_fail(e, EINVAL, "%s: expected object", w);
		if (vs_json_get_range(d, w, "major", true, 0, 0xfffff, &x->major, e) < 0 ||
		    vs_json_get_range(d, w, "minor", true, 0, 0xfffff, &x->minor, e) < 0)
			return -1;
		if (weight) {
			if (opt_u64(d, w, "weight", false, &has_w, &x->value, e) < 0 ||
			    opt_u64(d, w, "leafWeight", false, &x->has_leaf_weight, &x->leaf_weight,
				    e) < 0)
				return -1;
			if (!has_w)
				return vs_fail(e, EINVAL, "%s.weight: missing", w);
		} else if (vs_json_get_u64(d, w, "rate", true, &x->value, e) < 0) {
			return -1;
		}
		(*n)++;
	}
	return 0;
}

static int parse_blkio(struct json_object *b, const char *where, struct vs_cgroup_resources *r,
		       struct vs_err *e)
{
	if (opt_u64(b, where, "weight", false, &r->has_blkio_weight, &r->blkio_weight, e) < 0 ||
	    opt_u64(b, where, "leafWeight", false, &r->has_blkio_leaf_weight, &r->blkio_leaf_weight,
		    e) < 0 ||
	    parse_blkio_list(b, where, "weightDevice", true, &r->blkio_weight_dev,
			     &r->n_blkio_weight_dev, e) < 0 ||
	    parse_blkio_list(b, where, "throttleReadBpsDevice", false, &r->throttle_read_bps,
			     &r->n_throttle_read_bps, e) < 0 ||
	    parse_blkio_list(b, where, "throttleWriteBpsDevice", false, &r->throttle_write_bps,
			     &r->n_throttle_write_bps, e) < 0 ||
	    parse_blkio_list(b, where, "throttleReadIOPSDevice", false, &r->throttle_read_iops,
			     &r->n_throttle_read_iops, e) < 0 ||
	    parse_blkio_list(b, where, "throttleWriteIOPSDevice", false, &r->throttle_write_iops,
			     &r->n_throttle_write_iops, e) < 0)
		return -1;
	if (r->has_blkio_weight && (r->blkio_weight < 10 || r->blkio_weight > 1000))
		return vs_fail(e, EINVAL, "%s.weight: %llu is not in 10..1000", where,
			       (unsigned long long)r->blkio_weight);
	return 0;
}

static int parse_hugetlb(struct json_object *arr, const char *where, struct vs_cgroup_resources *r,
			 struct vs_err *e)
{
	size_t len = json_object_array_length(arr);

	if (!len)
		return 0;
	r->hugetlb = calloc(len, sizeof(*r->hugetlb));
	if (!r->hugetlb)
		abort();
	for (size_t i = 0; i < len; i++) {
		struct json_object *h = json_object_array_get_idx(arr, i);
		const char *ps = NULL, *p;
		W("%s[%zu]", where, i);

		if (!json_object_is_type(h, json_type_object))
			return vs_fail(e, EINVAL, "%s: expected object", w);
		if (vs_json_get_str(h, w, "pageSize", true, &ps, e) < 0 ||
		    vs_json_get_u64(h, w, "limit", true, &r->hugetlb[i].limit, e) < 0)
			return -1;
		/* "2MB", "1GB", "64KB": it becomes part of a file name */
		for (p = ps; isdigit((unsigned char)*p); p++)
			;
		if (p == ps || strlen(ps) >= sizeof(r->hugetlb[i].page_size) ||
		    !strchr("KMG", p[0] ? p[0] : 'x') || strcmp(p + 1, "B"))
			return vs_fail(e, EINVAL, "%s.pageSize: \"%s\" is not like \"2MB\"", w, ps);
		strcpy(r->hugetlb[i].page_size, ps);
		r->n_hugetlb++;
	}
	return 0;
}

static int parse_network(struct json_object *n, const char *where, struct vs_cgroup_resources *r,
			 struct vs_err *e)
{
	struct json_object *prio = NULL;
	uint64_t cls = 0;

	if (opt_u64(n, where, "classID", false, &r->has_net_class_id, &cls, e) < 0 ||
	    vs_json_get_array(n, where, "priorities", false, &prio, e) < 0)
		return -1;
	if (cls > UINT32_MAX)
		return vs_fail(e, EINVAL, "%s.classID: out of range", where);
	r->net_class_id = (uint32_t)cls;
	for (size_t i = 0; prio && i < json_object_array_length(prio); i++) {
		struct json_object *p = json_object_array_get_idx(prio, i);
		const char *name = NULL;
		int64_t v = 0;
		W("%s.priorities[%zu]", where, i);

		if (!json_object_is_type(p, json_type_object))
			return vs_fail(e, EINVAL, "%s: expected object", w);
		if (vs_json_get_str(p, w, "name", true, &name, e) < 0 ||
		    vs_json_get_range(p, w, "priority", true, 0, UINT32_MAX, &v, e) < 0)
			return -1;
		r->net_prio = realloc(r->net_prio, (r->n_net_prio + 1) * sizeof(*r->net_prio));
		if (!r->net_prio)
			abort();
		r->net_prio[r->n_net_prio].key = strdup(name);
		r->net_prio[r->n_net_prio++].value = vs_strdup_printf("%lld", (long long)v);
	}
	return 0;
}

static int parse_unified(struct json_object *u, const char *where, struct vs_cgroup_resources *r,
			 struct vs_err *e)
{
	json_object_object_foreach(u, key, val)
	{
		if (!json_object_is_type(val, json_type_string))
			return vs_fail(e, EINVAL, "%s.%s: expected string", where, key);
		if (!*key || strchr(key, '/') || key[0] == '.')
			return vs_fail(e, EINVAL, "%s: \"%s\" is not a cgroup file name", where,
				       key);
		r->unified = realloc(r->unified, (r->n_unified + 1) * sizeof(*r->unified));
		if (!r->unified)
			abort();
		r->unified[r->n_unified].key = strdup(key);
		r->unified[r->n_unified++].value = strdup(json_object_get_string(val));
	}
	return 0;
}

int ct_resources_parse(struct json_object *j, const char *where, struct vs_cgroup_resources *out,
		       struct vs_err *e)
{
	struct json_object *o = NULL;

	memset(out, 0, sizeof(*out));
	if (!j)
		return 0;
	if (!json_object_is_type(j, json_type_object))
		return vs_fail(e, EINVAL, "%s: expected object", where);

	if (vs_json_get_array(j, where, "devices", false, &o, e) < 0)
		return -1;
	if (o) {
		W("%s.devices", where);
		if (parse_devices(o, w, out, e) < 0)
			return -1;
	}
	o = NULL;
	if (vs_json_get_obj(j, where, "memory", false, &o, e) < 0)
		return -1;
	if (o) {
		W("%s.memory", where);
		if (parse_memory(o, w, out, e) < 0)
			return -1;
	}
	o = NULL;
	if (vs_json_get_obj(j, where, "cpu", false, &o, e) < 0)
		return -1;
	if (o) {
		W("%s.cpu", where);
		if (parse_cpu(o, w, out, e) < 0)
			return -1;
	}
	o = NULL;
	if (vs_json_get_obj(j, where, "pids", false, &o, e) < 0)
		return -1;
	if (o) {
		W("%s.pids", where);
		if (opt_i64(o, w, "limit", true, &out->has_pids_limit, &out->pids_limit, e) < 0)
			return -1;
	}
	o = NULL;
	if (vs_json_get_obj(j, where, "blockIO", false, &o, e) < 0)
		return -1;
	if (o) {
		W("%s.blockIO", where);
		if (parse_blkio(o, w, out, e) < 0)
			return -1;
	}
	o = NULL;
	if (vs_json_get_array(j, where, "hugepageLimits", false, &o, e) < 0)
		return -1;
	if (o) {
		W("%s.hugepageLimits", where);
		if (parse_hugetlb(o, w, out, e) < 0)
			return -1;
	}
	o = NULL;
	if (vs_json_get_obj(j, where, "network", false, &o, e) < 0)
		return -1;
	if (o) {
		W("%s.network", where);
		if (parse_network(o, w, out, e) < 0)
			return -1;
	}
	o = NULL;
	if (vs_json_get_obj(j, where, "unified", false, &o, e) < 0)
		return -1;
	if (o) {
		W("%s.unified", where);
		if (parse_unified(o, w, out, e) < 0)
			return -1;
	}
	o = NULL;
	if (vs_json_get_obj(j, where, "rdma", false, &o, e) < 0)
		return -1;
	if (o && json_object_object_length(o) > 0)
		return vs_fail(e, ENOTSUP, "%s.rdma: rdma limits are not supported", where);
	return 0;
}

int ct_resources_load_file(const char *path, struct vs_cgroup_resources *out, struct vs_err *e)
{
	autojson struct json_object *j = NULL;

	memset(out, 0, sizeof(*out));
	if (!strcmp(path, "-")) {
		autofree char *buf = NULL;
		size_t len;

		if (vs_read_file("/dev/stdin", &buf, &len, e) < 0 ||
		    vs_json_parse("resources (stdin)", buf, len, &j, e) < 0)
			return -1;
		return ct_resources_parse(j, "resources (stdin)", out, e);
	}
	if (vs_json_load_file(path, &j, e) < 0)
		return -1;
	return ct_resources_parse(j, path, out, e);
}

void ct_resources_add_default_devices(struct vs_cgroup_resources *r)
{
	static const struct vs_cgroup_device_rule defaults[] = {
		/* mknod of anything; access is what the rules below grant */
		{true, 'c', -1, -1, "m"},    {true, 'b', -1, -1, "m"},
		{true, 'c', 1, 3, "rwm"},    /* null */
		{true, 'c', 1, 5, "rwm"},    /* zero */
		{true, 'c', 1, 7, "rwm"},    /* full */
		{true, 'c', 1, 8, "rwm"},    /* random */
		{true, 'c', 1, 9, "rwm"},    /* urandom */
		{true, 'c', 5, 0, "rwm"},    /* tty */
		{true, 'c', 5, 1, "rwm"},    /* console */
		{true, 'c', 5, 2, "rwm"},    /* ptmx */
		{true, 'c', 136, -1, "rwm"}, /* /dev/pts/N */
	};

	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
		vs_cgroup_resources_add_device(r, &defaults[i]);
}
