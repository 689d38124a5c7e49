/* config.json "process" (runtime-spec config.md "Process"), also the
 * standalone process JSON of `exec --process FILE`. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "vessel/cleanup.h"
#include "vessel/fs.h"
#include "runtime/spec_priv.h"

struct name_val {
	const char *name;
	long val;
};

static const struct name_val rlimits[] = {
	{"RLIMIT_AS", RLIMIT_AS},
	{"RLIMIT_CORE", RLIMIT_CORE},
	{"RLIMIT_CPU", RLIMIT_CPU},
	{"RLIMIT_DATA", RLIMIT_DATA},
	{"RLIMIT_FSIZE", RLIMIT_FSIZE},
	{"RLIMIT_LOCKS", RLIMIT_LOCKS},
	{"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
	{"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
	{"RLIMIT_NICE", RLIMIT_NICE},
	{"RLIMIT_NOFILE", RLIMIT_NOFILE},
	{"RLIMIT_NPROC", RLIMIT_NPROC},
	{"RLIMIT_RSS", RLIMIT_RSS},
	{"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
	{"RLIMIT_RTTIME", RLIMIT_RTTIME},
	{"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
	{"RLIMIT_STACK", RLIMIT_STACK},
};

/* ioprio_set(2) classes */
static const struct name_val io_classes[] = {
	{"IOPRIO_CLASS_RT", 1},
	{"IOPRIO_CLASS_BE", 2},
	{"IOPRIO_CLASS_IDLE", 3},
};

/* sched(7) policies; SCHED_ISO is reserved (4) but named by the spec */
static const struct name_val sched_policies[] = {
	{"SCHED_OTHER", 0}, {"SCHED_FIFO", 1}, {"SCHED_RR", 2},	      {"SCHED_BATCH", 3},
	{"SCHED_ISO", 4},   {"SCHED_IDLE", 5}, {"SCHED_DEADLINE", 6},
};

/* sched_setattr(2) flags, from <linux/sched.h> */
static const struct name_val sched_flags[] = {
	{"SCHED_FLAG_RESET_ON_FORK", 0x01},  {"SCHED_FLAG_RECLAIM", 0x02},
	{"SCHED_FLAG_DL_OVERRUN", 0x04},     {"SCHED_FLAG_KEEP_POLICY", 0x08},
	{"SCHED_FLAG_KEEP_PARAMS", 0x10},    {"SCHED_FLAG_UTIL_CLAMP_MIN", 0x20},
	{"SCHED_FLAG_UTIL_CLAMP_MAX", 0x40},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static long lookup_name(const struct name_val *t, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(t[i].name, name))
			return t[i].val;
	return -1;
}

int ct_rlimit_resource(const char *name)
{
	return (int)lookup_name(rlimits, N(rlimits), name);
}

void ct_process_free(struct ct_process *p)
{
	if (!p)
		return;
	free(p->additional_gids);
	vs_strvfreep(&p->args);
	vs_strvfreep(&p->env);
	free(p->cwd);
	if (p->capabilities_json)
		json_object_put(p->capabilities_json);
	for (size_t i = 0; i < p->n_rlimits; i++)
		free(p->rlimits[i].type);
	free(p->rlimits);
	free(p->apparmor_profile);
	free(p->selinux_label);
	free(p->exec_cpu_affinity_initial);
	free(p->exec_cpu_affinity_final);
	free(p);
}

static int parse_user(struct json_object *j, const char *where, struct ct_process *p,
		      struct vs_err *e)
{
	struct json_object *u = NULL, *gids = NULL;
	char w[CT_WHERE_MAX];
	uint32_t v;

	if (vs_json_get_obj(j, where, "user", false, &u, e) < 0)
		return -1;
	if (!u)
		return 0;
	snprintf(w, sizeof(w), "%s.user", where);
	v = 0;
	if (ct_json_get_u32(u, w, "uid", false, &v, e) < 0)
		return -1;
	p->uid = v;
	v = 0;
	if (ct_json_get_u32(u, w, "gid", false, &v, e) < 0)
		return -1;
	p->gid = v;
	if (ct_json_has(u, "umask")) {
		int64_t m;

		if (vs_json_get_range(u, w, "umask", true, 0, 0777, &m, e) < 0)
			return -1;
		p->umask = (mode_t)m;
		p->umask_set = true;
	}
	if (vs_json_get_array(u, w, "additionalGids", false, &gids, e) < 0)
		return -1;
	if (gids) {
		size_t n = json_object_array_length(gids);

		p->additional_gids = calloc(n ? n : 1, sizeof(gid_t));
		if (!p->additional_gids)
			return vs_fail(e, ENOMEM, "%s.additionalGids: out of memory", w);
		for (size_t i = 0; i < n; i++) {
			struct json_object *g = json_object_array_get_idx(gids, i);
			int64_t x;

			if (!g || !json_object_is_type(g, json_type_int))
				return vs_fail(e, EINVAL,
					       "%s.additionalGids[%zu]: expected integer, got %s",
					       w, i, g ? vs_json_type_name(g) : "null");
			x = json_object_get_int64(g);
			if (x < 0 || x > UINT32_MAX)
				return vs_fail(e, ERANGE,
					       "%s.additionalGids[%zu]: %lld is not a valid gid", w,
					       i, (long long)x);
			p->additional_gids[i] = (gid_t)x;
		}
		p->n_additional_gids = n;
	}
	return 0;
}

static int parse_rlimits(struct json_object *j, const char *where, struct ct_process *p,
			 struct vs_err *e)
{
	struct json_object *arr = NULL;
	size_t n;

	if (vs_json_get_array(j, where, "rlimits", false, &arr, e) < 0)
		return -1;
	if (!arr)
		return 0;
	n = json_object_array_length(arr);
	p->rlimits = calloc(n ? n : 1, sizeof(*p->rlimits));
	if (!p->rlimits)
		return vs_fail(e, ENOMEM, "%s.rlimits: out of memory", where);
	for (size_t i = 0; i < n; i++) {
		struct ct_rlimit *r = &p->rlimits[p->n_rlimits];
		struct json_object *o;
		char w[CT_WHERE_MAX];

		if (ct_json_elem_obj(arr, where, "rlimits", i, &o, e) < 0)
			return -1;
		snprintf(w, sizeof(w), "%s.rlimits[%zu]", where, i);
		if (ct_json_dup_str(o, w, "type", true, &r->type, e) < 0)
			return -1;
		p->n_rlimits++;
		r->resource = ct_rlimit_resource(r->type);
		if (r->resource < 0)
			return vs_fail(e, EINVAL, "%s.type: unknown rlimit \"%s\"", w, r->type);
		/* config.md: "a duplicate type MUST generate an error" */
		for (size_t k = 0; k < i; k++)
			if (p->rlimits[k].resource == r->resource)
				return vs_fail(e, EINVAL, "%s.type: %s repeats %s.rlimits[%zu]", w,
					       r->type, where, k);
		if (vs_json_get_u64(o, w, "hard", true, &r->hard, e) < 0 ||
		    vs_json_get_u64(o, w, "soft", true, &r->soft, e) < 0)
			return -1;
		if (r->soft > r->hard)
			return vs_fail(e, EINVAL, "%s: soft limit %llu exceeds hard limit %llu", w,
				       (unsigned long long)r->soft, (unsigned long long)r->hard);
	}
	return 0;
}

static int parse_io_priority(struct json_object *j, const char *where, struct ct_process *p,
			     struct vs_err *e)
{
	struct json_object *o = NULL;
	const char *cls = NULL;
	char w[CT_WHERE_MAX];
	int64_t prio = 0;

	if (vs_json_get_obj(j, where, "ioPriority", false, &o, e) < 0)
		return -1;
	if (!o)
		return 0;
	snprintf(w, sizeof(w), "%s.ioPriority", where);
	if (vs_json_get_str(o, w, "class", true, &cls, e) < 0)
		return -1;
	p->io_priority_class = (int)lookup_name(io_classes, N(io_classes), cls);
	if (p->io_priority_class < 0)
		return vs_fail(e, EINVAL, "%s.class: unknown I/O priority class \"%s\"", w, cls);
	/* ioprio_set(2): levels 0 (highest) to 7 */
	if (vs_json_get_range(o, w, "priority", false, 0, 7, &prio, e) < 0)
		return -1;
	p->io_priority = (int)prio;
	p->io_priority_set = true;
	return 0;
}

static int parse_scheduler(struct json_object *j, const char *where, struct ct_process *p,
			   struct vs_err *e)
{
	struct json_object *o = NULL;
	struct ct_scheduler *s = &p->scheduler;
	const char *pol = NULL;
	autostrv char **flags = NULL;
	char w[CT_WHERE_MAX];
	int64_t v;
	long x;

	if (vs_json_get_obj(j, where, "scheduler", false, &o, e) < 0)
		return -1;
	if (!o)
		return 0;
	snprintf(w, sizeof(w), "%s.scheduler", where);
	if (vs_json_get_str(o, w, "policy", true, &pol, e) < 0)
		return -1;
	x = lookup_name(sched_policies, N(sched_policies), pol);
	if (x < 0)
		return vs_fail(e, EINVAL, "%s.policy: unknown scheduling policy \"%s\"", w, pol);
	s->policy = (int)x;
	v = 0;
	if (vs_json_get_range(o, w, "nice", false, -20, 19, &v, e) < 0)
		return -1;
	s->nice = (int)v;
	v = 0;
	if (vs_json_get_range(o, w, "priority", false, 0, 99, &v, e) < 0)
		return -1;
	s->priority = (int)v;
	if (vs_json_get_strv(o, w, "flags", false, &flags, e) < 0)
		return -1;
	for (size_t i = 0; flags && flags[i]; i++) {
		x = lookup_name(sched_flags, N(sched_flags), flags[i]);
		if (x < 0)
			return vs_fail(e, EINVAL, "%s.flags[%zu]: unknown scheduler flag \"%s\"", w,
				       i, flags[i]);
		s->flags |= (uint64_t)x;
	}
	if (vs_json_get_u64(o, w, "runtime", false, &s->runtime, e) < 0 ||
	    vs_json_get_u64(o, w, "deadline", false, &s->deadline, e) < 0 ||
	    vs_json_get_u64(o, w, "period", false, &s->period, e) < 0)
		return -1;
	p->scheduler_set = true;
	return 0;
}

/* A cpuset-style list: "0-3,7,9-10". */
static bool valid_cpu_list(const char *s)
{
	if (!*s)
		return false;
	while (*s) {
		char *end;
		unsigned long a = strtoul(s, &end, 10), b;

		if (end == s || *s == '-' || *s == '+')
			return false;
		s = end;
		if (*s == '-') {
			s++;
			if (*s < '0' || *s > '9')
				return false;
			b = strtoul(s, &end, 10);
			if (b < a)
				return false;
			s = end;
		}
		if (*s == ',') {
			s++;
			if (!*s)
				return false;
		} else if (*s) {
			return false;
		}
	}
	return true;
}

static int parse_cpu_affinity(struct json_object *j, const char *where, struct ct_process *p,
			      struct vs_err *e)
{
	struct json_object *o = NULL;
	char w[CT_WHERE_MAX];

	if (vs_json_get_obj(j, where, "execCPUAffinity", false, &o, e) < 0)
		return -1;
	if (!o)
		return 0;
	snprintf(w, sizeof(w), "%s.execCPUAffinity", where);
	if (ct_json_dup_str(o, w, "initial", false, &p->exec_cpu_affinity_initial, e) < 0 ||
	    ct_json_dup_str(o, w, "final", false, &p->exec_cpu_affinity_final, e) < 0)
		return -1;
	if (p->exec_cpu_affinity_initial && !valid_cpu_list(p->exec_cpu_affinity_initial))
		return vs_fail(e, EINVAL, "%s.initial: \"%s\" is not a CPU list", w,
			       p->exec_cpu_affinity_initial);
	if (p->exec_cpu_affinity_final && !valid_cpu_list(p->exec_cpu_affinity_final))
		return vs_fail(e, EINVAL, "%s.final: \"%s\" is not a CPU list", w,
			       p->exec_cpu_affinity_final);
	return 0;
}

static int parse_process(struct json_object *j, const char *where, struct ct_process *p,
			 struct vs_err *e)
{
	struct json_object *o = NULL;
	char w[CT_WHERE_MAX];

	if (!json_object_is_type(j, json_type_object))
		return vs_fail(e, EINVAL, "%s: expected object, got %s", where,
			       j ? vs_json_type_name(j) : "null");
	if (vs_json_get_bool(j, where, "terminal", false, &p->terminal, e) < 0)
		return -1;
	if (vs_json_get_obj(j, where, "consoleSize", false, &o, e) < 0)
		return -1;
	if (o) {
		uint32_t h = 0, wd = 0;

		snprintf(w, sizeof(w), "%s.consoleSize", where);
		if (ct_json_get_u32(o, w, "height", true, &h, e) < 0 ||
		    ct_json_get_u32(o, w, "width", true, &wd, e) < 0)
			return -1;
		p->console_height = h;
		p->console_width = wd;
		p->console_size_set = true;
	}
	if (parse_user(j, where, p, e) < 0)
		return -1;

	if (ct_json_has(j, "commandLine"))
		return vs_fail(e, EINVAL, "%s.commandLine: only supported on Windows; use args",
			       where);
	if (vs_json_get_strv(j, where, "args", true, &p->args, e) < 0)
		return -1;
	if (!p->args[0])
		return vs_fail(e, EINVAL, "%s.args: must not be empty", where);
	if (vs_json_get_strv(j, where, "env", false, &p->env, e) < 0)
		return -1;
	for (size_t i = 0; p->env && p->env[i]; i++)
		if (!strchr(p->env[i], '=') || p->env[i][0] == '=')
			return vs_fail(e, EINVAL,
				       "%s.env[%zu]: \"%s\" is not of the form KEY=value", where, i,
				       p->env[i]);
	if (ct_json_dup_str(j, where, "cwd", true, &p->cwd, e) < 0)
		return -1;
	if (p->cwd[0] != '/')
		return vs_fail(e, EINVAL, "%s.cwd: \"%s\" must be an absolute path", where, p->cwd);

	if (vs_json_get_obj(j, where, "capabilities", false, &o, e) < 0)
		return -1;
	if (o)
		p->capabilities_json = json_object_get(o);
	snprintf(w, sizeof(w), "%s.capabilities", where);
	if (ct_caps_parse(o, w, &p->caps, e) < 0)
		return -1;

	if (parse_rlimits(j, where, p, e) < 0)
		return -1;
	if (vs_json_get_bool(j, where, "noNewPrivileges", false, &p->no_new_privileges, e) < 0 ||
	    ct_json_dup_str(j, where, "apparmorProfile", false, &p->apparmor_profile, e) < 0 ||
	    ct_json_dup_str(j, where, "selinuxLabel", false, &p->selinux_label, e) < 0)
		return -1;
	if (ct_json_has(j, "oomScoreAdj")) {
		int64_t v;

		if (vs_json_get_range(j, where, "oomScoreAdj", true, -1000, 1000, &v, e) < 0)
			return -1;
		p->oom_score_adj = (int)v;
		p->oom_score_adj_set = true;
	}
	if (parse_io_priority(j, where, p, e) < 0 || parse_scheduler(j, where, p, e) < 0 ||
	    parse_cpu_affinity(j, where, p, e) < 0)
		return -1;
	return 0;
}

int ct_process_parse(struct json_object *j, const char *where, struct ct_process **out,
		     struct vs_err *e)
{
	struct ct_process *p = calloc(1, sizeof(*p));

	if (!p)
		return vs_fail(e, ENOMEM, "%s: out of memory", where);
	if (parse_process(j, where, p, e) < 0) {
		ct_process_free(p);
		return -1;
	}
	*out = p;
	return 0;
}

int ct_process_load(const char *path, struct ct_process **out, struct vs_err *e)
{
	autojson struct json_object *j = NULL;

	autofree char *where = NULL;

	if (vs_json_load_file(path, &j, e) < 0)
		return -1;
	where = vs_strdup_printf("%s: process", path);
	return ct_process_parse(j, where, out, e);
}
