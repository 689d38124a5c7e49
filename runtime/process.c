/* Process settings applied in the container before the user program runs. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vessel/cleanup.h"
#include "vessel/fs.h"
#include "runtime/caps.h"
#include "runtime/process.h"
#include "runtime/seccomp.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* sched_setattr(2): not in glibc 2.36 */
struct ct_sched_attr {
	uint32_t size;
	uint32_t sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime;
	uint64_t sched_deadline;
	uint64_t sched_period;
};

int ct_parse_cpu_list(const char *list, void *cpu_set, size_t setsize)
{
	cpu_set_t *set = cpu_set;
	const char *p = list;

	CPU_ZERO_S(setsize, set);
	while (*p) {
		char *end;
		unsigned long a = strtoul(p, &end, 10), b;

		if (end == p)
			return -1;
		b = a;
		p = end;
		if (*p == '-') {
			p++;
			b = strtoul(p, &end, 10);
			if (end == p || b < a)
				return -1;
			p = end;
		}
		if (b >= setsize * 8)
			return -1;
		for (unsigned long c = a; c <= b; c++)
			CPU_SET_S(c, setsize, set);
		if (*p == ',')
			p++;
		else if (*p)
			return -1;
	}
	return 0;
}

static int set_affinity(const char *list, const char *field, struct vs_err *e)
{
	cpu_set_t set;

	if (!list)
		return 0;
	if (ct_parse_cpu_list(list, &set, sizeof(set)) < 0)
		return vs_fail(e, EINVAL, "process.execCPUAffinity.%s: bad cpu list \"%s\"", field,
			       list);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		return vs_fail_errno(e, "process.execCPUAffinity.%s: \"%s\"", field, list);
	return 0;
}

int ct_process_setup(const struct ct_process *p, struct vs_err *e)
{
	for (size_t i = 0; i < p->n_rlimits; i++) {
		const struct ct_rlimit *r = &p->rlimits[i];
		struct rlimit rl = {.rlim_cur = r->soft, .rlim_max = r->hard};

		if (setrlimit(r->resource, &rl) < 0)
			return vs_fail_errno(e, "process.rlimits[%zu]: %s soft %llu hard %llu", i,
					     r->type, (unsigned long long)r->soft,
					     (unsigned long long)r->hard);
	}
	if (p->oom_score_adj_set) {
		char v[16];

		snprintf(v, sizeof(v), "%d", p->oom_score_adj);
		if (vs_write_str("/proc/self/oom_score_adj", v, e) < 0)
			return vs_err_prefix(e, "process.oomScoreAdj");
	}
	if (p->io_priority_set) {
		/* ioprio_set(IOPRIO_WHO_PROCESS, self, class << 13 | level) */
		int prio = (p->io_priority_class << 13) | p->io_priority;

		if (syscall(SYS_ioprio_set, 1, 0, prio) < 0)
			return vs_fail_errno(e, "process.ioPriority: class %d priority %d",
					     p->io_priority_class, p->io_priority);
	}
	if (p->scheduler_set) {
		struct ct_sched_attr a = {
			.size = sizeof(a),
			.sched_policy = (uint32_t)p->scheduler.policy,
			.sched_flags = p->scheduler.flags,
			.sched_nice = p->scheduler.nice,
			.sched_priority = (uint32_t)p->scheduler.priority,
			.sched_runtime = p->scheduler.runtime,
			.sched_deadline = p->scheduler.deadline,
			.sched_period = p->scheduler.period,
		};

		if (syscall(SYS_sched_setattr, 0, &a, 0) < 0)
			return vs_fail_errno(e, "process.scheduler: policy %d",
					     p->scheduler.policy);
	}
	if (p->umask_set)
		umask(p->umask);
	else
		umask(022);
	if (p->cwd && chdir(p->cwd) < 0)
		return vs_fail_errno(e, "process.cwd: %s", p->cwd);
	return set_affinity(p->exec_cpu_affinity_initial, "initial", e);
}

static const char *env_get(char *const *env, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; env && env[i]; i++)
		if (!strncmp(env[i], name, n) && env[i][n] == '=')
			return env[i] + n + 1;
	return NULL;
}

static bool is_exec_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

int ct_process_find_exec(const struct ct_process *p, char **out, struct vs_err *e)
{
	const char *name = p->args[0];

	if (strchr(name, '/')) {
		struct stat st;

		if (stat(name, &st) < 0)
			return vs_fail_errno(e, "exec: \"%s\"", name);
		if (!S_ISREG(st.st_mode) || !(st.st_mode & 0111))
			return vs_fail(e, EACCES, "exec: \"%s\": not an executable file", name);
		*out = strdup(name);
		if (!*out)
			abort();
		return 0;
	}
	const char *path = env_get(p->env, "PATH");

	if (!path)
		path = DEFAULT_PATH;
	autofree char *copy = strdup(path);

	if (!copy)
		abort();
	for (char *save = NULL, *dir = strtok_r(copy, ":", &save); dir;
	     dir = strtok_r(NULL, ":", &save)) {
		autofree char *cand = vs_path_join(*dir ? dir : ".", name);

		if (is_exec_file(cand)) {
			*out = vs_steal_ptr(cand);
			return 0;
		}
	}
	return vs_fail(e, 0, "exec: \"%s\": executable file not found in $PATH", name);
}

int ct_process_finish(const struct ct_process *p, const struct ct_seccomp *seccomp,
		      struct vs_err *e)
{
	/* Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: do it
	 * while we still hold it (the profile must allow what follows). */
	if (seccomp && !p->no_new_privileges && ct_seccomp_apply(seccomp, e) < 0)
		return vs_err_prefix(e, "linux.seccomp");
	if (ct_caps_drop_bounding(&p->caps, e) < 0)
		return vs_err_prefix(e, "process.capabilities.bounding");
	if (p->caps.set && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return vs_fail_errno(e, "prctl(PR_SET_KEEPCAPS)");
	if (setgroups(p->n_additional_gids, p->additional_gids) < 0 &&
	    !(errno == EPERM && !p->n_additional_gids))
		/* EPERM with nothing to set: a user namespace with setgroups
		 * denied; the process keeps no host groups there anyway */
		return vs_fail_errno(e, "process.user.additionalGids");
	if (setresgid(p->gid, p->gid, p->gid) < 0)
		return vs_fail_errno(e, "process.user.gid: %u", (unsigned)p->gid);
	if (setresuid(p->uid, p->uid, p->uid) < 0)
		return vs_fail_errno(e, "process.user.uid: %u", (unsigned)p->uid);
	if (ct_caps_apply(&p->caps, e) < 0)
		return vs_err_prefix(e, "process.capabilities");
	if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return vs_fail_errno(e, "process.noNewPrivileges");
	if (set_affinity(p->exec_cpu_affinity_final, "final", e) < 0)
		return -1;
	if (seccomp && p->no_new_privileges && ct_seccomp_apply(seccomp, e) < 0)
		return vs_err_prefix(e, "linux.seccomp");
	return 0;
}

char *ct_process_home(uid_t uid)
{
	autofclose FILE *f = fopen("/etc/passwd", "re");
	char line[1024];

	while (f && fgets(line, sizeof(line), f)) {
		/* name:pw:uid:gid:gecos:home:shell */
		char *fields[7] = {0};
		char *p = line;
		int n = 0;

		line[strcspn(line, "\n")] = '\0';
		while (n < 7) {
			fields[n++] = p;
			p = strchr(p, ':');
			if (!p)
				break;
			*p++ = '\0';
		}
		if (n < 6)
			continue;
		char *end;
		unsigned long u = strtoul(fields[2], &end, 10);

		if (*end || end == fields[2] || u != uid)
			continue;
		return strdup(*fields[5] ? fields[5] : "/");
	}
	return strdup("/");
}

char **ct_process_env(const struct ct_process *p, char *const *extra)
{
	size_t n = 0, ne = 0, k = 0;

	while (p->env && p->env[n])
		n++;
	while (extra && extra[ne])
		ne++;
	char **v = calloc(n + ne + 2, sizeof(*v));

	if (!v)
		abort();
	for (size_t i = 0; i < n; i++)
		v[k++] = strdup(p->env[i]);
	for (size_t i = 0; i < ne; i++)
		v[k++] = strdup(extra[i]);
	if (!env_get(p->env, "HOME")) {
		autofree char *home = ct_process_home(p->uid);

		v[k++] = vs_strdup_printf("HOME=%s", home ? home : "/");
	}
	for (size_t i = 0; i < k; i++)
		if (!v[i])
			abort();
	return v;
}
