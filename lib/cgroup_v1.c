/* cgroup v1: one hierarchy per controller (or co-mounted set). File names
 * and formats: Documentation/admin-guide/cgroup-v1/ in the kernel tree. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/cgroup_priv.h"
#include "vessel/cleanup.h"
#include "vessel/log.h"

/* The hierarchy for ctl, or an error saying which field needed it. */
static int need(struct vs_cgroup *cg, const char *ctl, const char *field,
		struct vs_cgroup_hier **out, struct vs_err *e)
{
	struct vs_cgroup_hier *h = vs_cg_find(cg, ctl);

	if (!h || h->v2)
		return vs_fail(e, ENOTSUP,
			       "cgroup %s: linux.resources.%s: the %s controller is not "
			       "available on this host",
			       cg->path, field, ctl);
	*out = h;
	return 0;
}

static int write_i64(const char *dir, const char *file, int64_t v, struct vs_err *e)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%" PRId64, v);
	return vs_cg_write_req(dir, file, buf, e);
}

static int write_u64(const char *dir, const char *file, uint64_t v, struct vs_err *e)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	return vs_cg_write_req(dir, file, buf, e);
}

static int read_i64(const char *dir, const char *file, int64_t *out, struct vs_err *e)
{
	autofree char *s = NULL;

	if (vs_cg_read(dir, file, &s, e) < 0)
		return -1;
	*out = strtoll(s, NULL, 10);
	return 0;
}

/* memory.limit_in_bytes must stay <= memory.memsw.limit_in_bytes at every
 * step, so the order of the two writes depends on the direction. */
static int v1_memory(struct vs_cgroup *cg, const struct vs_cgroup_resources *r, struct vs_err *e)
{
	struct vs_cgroup_hier *h = NULL;
	bool any = r->has_memory_limit || r->has_memory_reservation || r->has_memory_swap ||
		   r->has_memory_kernel_tcp || r->has_memory_swappiness ||
		   r->has_disable_oom_killer || r->has_use_hierarchy || r->has_memory_kernel;

	if (!any)
		return 0;
	if (need(cg, "memory", "memory", &h, e) < 0)
		return -1;
	if (r->has_memory_kernel)
		vs_warn("cgroup %s: linux.resources.memory.kernel is deprecated by the kernel; "
			"ignored",
			cg->path);
	if (r->check_before_update && r->has_memory_limit && r->memory_limit > 0) {
		int64_t usage;

		if (read_i64(h->dir, "memory.usage_in_bytes", &usage, e) < 0)
			return -1;
		if (r->memory_limit < usage)
			return vs_fail(e, EBUSY,
				       "cgroup %s: memory limit %" PRId64 " is below the current "
				       "usage %" PRId64 " (checkBeforeUpdate)",
				       h->dir, r->memory_limit, usage);
	}
	if (r->has_memory_swap) {
		int64_t cur = 0;
		bool swap_first;

		if (!vs_cg_has(h->dir, "memory.memsw.limit_in_bytes"))
			return vs_cg_missing(e, h->dir, "memory.memsw.limit_in_bytes");
		if (read_i64(h->dir, "memory.memsw.limit_in_bytes", &cur, e) < 0)
			return -1;
		/* raising (or unlimiting) memsw goes first, lowering goes last */
		swap_first = r->memory_swap == -1 || r->memory_swap >= cur;
		if (swap_first &&
		    write_i64(h->dir, "memory.memsw.limit_in_bytes", r->memory_swap, e) < 0)
			return -1;
		if (r->has_memory_limit &&
		    write_i64(h->dir, "memory.limit_in_bytes", r->memory_limit, e) < 0)
			return -1;
		if (!swap_first &&
		    write_i64(h->dir, "memory.memsw.limit_in_bytes", r->memory_swap, e) < 0)
			return -1;
	} else if (r->has_memory_limit) {
		struct vs_err e2;

		if (write_i64(h->dir, "memory.limit_in_bytes", r->memory_limit, &e2) < 0) {
			/* above the current memsw limit: raise memsw with it, as the
			 * OCI meaning of "no swap given" is "swap not limited apart" */
			if (e2.errnum != EINVAL ||
			    !vs_cg_has(h->dir, "memory.memsw.limit_in_bytes") ||
			    write_i64(h->dir, "memory.memsw.limit_in_bytes", r->memory_limit, e) <
				    0 ||
			    write_i64(h->dir, "memory.limit_in_bytes", r->memory_limit, e) < 0) {
				if (e2.errnum != EINVAL)
					*e = e2;
				return -1;
			}
		}
	}
	if (r->has_memory_reservation &&
	    write_i64(h->dir, "memory.soft_limit_in_bytes", r->memory_reservation, e) < 0)
		return -1;
	if (r->has_memory_kernel_tcp &&
	    write_i64(h->dir, "memory.kmem.tcp.limit_in_bytes", r->memory_kernel_tcp, e) < 0)
		return -1;
	if (r->has_memory_swappiness &&
	    write_u64(h->dir, "memory.swappiness", r->memory_swappiness, e) < 0)
		return -1;
	if (r->has_disable_oom_killer &&
	    vs_cg_write_req(h->dir, "memory.oom_control", r->disable_oom_killer ? "1" : "0", e) < 0)
		return -1;
	if (r->has_use_hierarchy &&
	    vs_cg_write_req(h->dir, "memory.use_hierarchy", r->use_hierarchy ? "1" : "0", e) < 0)
		return -1;
	return 0;
}

static int v1_cpu(struct vs_cgroup *cg, const struct vs_cgroup_resources *r, struct vs_err *e)
{
	struct vs_cgroup_hier *h = NULL;
	bool any = r->has_cpu_shares || r->has_cpu_quota || r->has_cpu_period || r->has_cpu_burst ||
		   r->has_cpu_rt_runtime || r->has_cpu_rt_period || r->has_cpu_idle;

	if (any) {
		if (need(cg, "cpu", "cpu", &h, e) < 0)
			return -1;
		if (r->has_cpu_shares && write_u64(h->dir, "cpu.shares", r->cpu_shares, e) < 0)
			return -1;
		/* period first: the quota is checked against it */
		if (r->has_cpu_period &&
		    write_u64(h->dir, "cpu.cfs_period_us", r->cpu_period, e) < 0)
			return -1;
		if (r->has_cpu_quota && write_i64(h->dir, "cpu.cfs_quota_us",
						  r->cpu_quota > 0 ? r->cpu_quota : -1, e) < 0)
			return -1;
		if (r->has_cpu_burst && write_u64(h->dir, "cpu.cfs_burst_us", r->cpu_burst, e) < 0)
			return -1;
		/* rt_runtime <= rt_period at every step: try both orders */
		if (r->has_cpu_rt_period && r->has_cpu_rt_runtime) {
			if (write_u64(h->dir, "cpu.rt_period_us", r->cpu_rt_period, NULL) < 0) {
				if (write_i64(h->dir, "cpu.rt_runtime_us", r->cpu_rt_runtime, e) <
					    0 ||
				    write_u64(h->dir, "cpu.rt_period_us", r->cpu_rt_period, e) < 0)
					return -1;
			} else if (write_i64(h->dir, "cpu.rt_runtime_us", r->cpu_rt_runtime, e) <
				   0) {
				return -1;
			}
		} else if (r->has_cpu_rt_period) {
			if (write_u64(h->dir, "cpu.rt_period_us", r->cpu_rt_period, e) < 0)
				return -1;
		} else if (r->has_cpu_rt_runtime) {
			if (write_i64(h->dir, "cpu.rt_runtime_us", r->cpu_rt_runtime, e) < 0)
				return -1;
		}
		if (r->has_cpu_idle && write_i64(h->dir, "cpu.idle", r->cpu_idle, e) < 0)
			return -1;
	}
	if (r->cpuset_cpus || r->cpuset_mems) {
		if (need(cg, "cpuset", "cpu.cpus", &h, e) < 0)
			return -1;
		if (r->cpuset_cpus && vs_cg_write_req(h->dir, "cpuset.cpus", r->cpuset_cpus, e) < 0)
			return -1;
		if (r->cpuset_mems && vs_cg_write_req(h->dir, "cpuset.mems", r->cpuset_mems, e) < 0)
			return -1;
	}
	return 0;
}

int vs_cg_v1_cpuset_inherit(const char *dir, struct vs_err *e)
{
	static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
	char parent[4096];
	char *slash;

	if (snprintf(parent, sizeof(parent), "%s", dir) >= (int)sizeof(parent))
		return vs_fail(e, ENAMETOOLONG, "cgroup %s: path too long", dir);
	slash = strrchr(parent, '/');
	if (!slash)
		return 0;
	*slash = '\0';
	for (size_t i = 0; i < 2; i++) {
		autofree char *mine = NULL, *theirs = NULL;

		if (vs_cg_read(dir, files[i], &mine, e) < 0)
			return -1;
		if (*mine)
			continue;
		if (vs_cg_read(parent, files[i], &theirs, e) < 0 ||
		    vs_cg_write(dir, files[i], theirs, e) < 0)
			return -1;
	}
	return 0;
}

static int v1_pids(struct vs_cgroup *cg, const struct vs_cgroup_resources *r, struct vs_err *e)
{
	struct vs_cgroup_hier *h = NULL;
	char buf[32];

	if (!r->has_pids_limit)
		return 0;
	if (need(cg, "pids", "pids", &h, e) < 0)
		return -1;
	if (r->pids_limit > 0)
		snprintf(buf, sizeof(buf), "%" PRId64, r->pids_limit);
	else
		strcpy(buf, "max");
	return vs_cg_write_req(h->dir, "pids.max", buf, e);
}

static int blkio_devs(const char *dir, const char *file, const struct vs_cgroup_blkio_dev *d,
		      size_t n, bool leaf, struct vs_err *e)
{
	for (size_t i = 0; i < n; i++) {
		char buf[96];

		if (leaf && !d[i].has_leaf_weight)
			continue;
		snprintf(buf, sizeof(buf), "%" PRId64 ":%" PRId64 " %" PRIu64, d[i].major,
			 d[i].minor, leaf ? d[i].leaf_weight : d[i].value);
		if (vs_cg_write_req(dir, file, buf, e) < 0)
			return -1;
	}
	return 0;
}

static int v1_blkio(struct vs_cgroup *cg, const struct vs_cgroup_resources *r, struct vs_err *e)
{
	struct vs_cgroup_hier *h = NULL;
	bool any = r->has_blkio_weight || r->has_blkio_leaf_weight || r->n_blkio_weight_dev ||
		   r->n_throttle_read_bps || r->n_throttle_write_bps || r->n_throttle_read_iops ||
		   r->n_throttle_write_iops;

	if (!any)
		return 0;
	if (need(cg, "blkio", "blockIO", &h, e) < 0)
		return -1;
	/* kernels whose only proportional I/O scheduler is BFQ have no
	 * blkio.weight: BFQ's files take the same values */
	bool bfq = !vs_cg_has(h->dir, "blkio.weight") && vs_cg_has(h->dir, "blkio.bfq.weight");
	const char *weight = bfq ? "blkio.bfq.weight" : "blkio.weight";
	const char *weight_dev = bfq ? "blkio.bfq.weight_device" : "blkio.weight_device";

	if (r->has_blkio_weight && write_u64(h->dir, weight, r->blkio_weight, e) < 0)
		return -1;
	if (r->has_blkio_leaf_weight &&
	    write_u64(h->dir, "blkio.leaf_weight", r->blkio_leaf_weight, e) < 0)
		return -1;
	if (blkio_devs(h->dir, weight_dev, r->blkio_weight_dev, r->n_blkio_weight_dev, false, e) <
		    0 ||
	    blkio_devs(h->dir, "blkio.leaf_weight_device", r->blkio_weight_dev,
		       r->n_blkio_weight_dev, true, e) < 0 ||
	    blkio_devs(h->dir, "blkio.throttle.read_bps_device", r->throttle_read_bps,
		       r->n_throttle_read_bps, false, e) < 0 ||
	    blkio_devs(h->dir, "blkio.throttle.write_bps_device", r->throttle_write_bps,
		       r->n_throttle_write_bps, false, e) < 0 ||
	    blkio_devs(h->dir, "blkio.throttle.read_iops_device", r->throttle_read_iops,
		       r->n_throttle_read_iops, false, e) < 0 ||
	    blkio_devs(h->dir, "blkio.throttle.write_iops_device", r->throttle_write_iops,
		       r->n_throttle_write_iops, false, e) < 0)
		return -1;
	return 0;
}

static int v1_hugetlb(struct vs_cgroup *cg, const struct vs_cgroup_resources *r, struct vs_err *e)
{
	struct vs_cgroup_hier *h = vs_cg_find(cg, "hugetlb");

	if (!r->n_hugetlb)
		return 0;
	if (h && h->v2)
		return 0; /* hybrid: the unified hierarchy has it (cgroup_v2.c) */
	if (!h)
		return vs_fail(e, ENOTSUP,
			       "cgroup %s: linux.resources.hugepageLimits: the "
			       "hugetlb controller is not available on this host",
			       cg->path);
	for (size_t i = 0; i < r->n_hugetlb; i++) {
		autofree char *f = NULL;

		if (asprintf(&f, "hugetlb.%s.limit_in_bytes", r->hugetlb[i].page_size) < 0)
			abort();
		if (write_u64(h->dir, f, r->hugetlb[i].limit, e) < 0)
			return -1;
	}
	return 0;
}

/* "c 1:3 rwm" as devices.allow / devices.deny take it. */
static void rule_str(const struct vs_cgroup_device_rule *d, char *buf, size_t len)
{
	char maj[24], min[24];

	if (d->major < 0)
		strcpy(maj, "*");
	else
		snprintf(maj, sizeof(maj), "%" PRId64, d->major);
	if (d->minor < 0)
		strcpy(min, "*");
	else
		snprintf(min, sizeof(min), "%" PRId64, d->minor);
	snprintf(buf, len, "%c %s:%s %s", d->type, maj, min, d->access[0] ? d->access : "rwm");
}

static int v1_devices(struct vs_cgroup *cg, const struct vs_cgroup_resources *r, struct vs_err *e)
{
	struct vs_cgroup_hier *h = NULL;

	if (!r->has_devices)
		return 0;
	if (need(cg, "devices", "devices", &h, e) < 0)
		return -1;
	/* OCI: the list is applied over "deny everything" (config-linux.md) */
	if (vs_cg_write(h->dir, "devices.deny", "a", e) < 0)
		return -1;
	for (size_t i = 0; i < r->n_devices; i++) {
		char buf[80];

		rule_str(&r->devices[i], buf, sizeof(buf));
		if (vs_cg_write(h->dir, r->devices[i].allow ? "devices.allow" : "devices.deny", buf,
				e) < 0)
			return vs_err_prefix(e, "linux.resources.devices[%zu]", i);
	}
	return 0;
}

static int v1_network(struct vs_cgroup *cg, const struct vs_cgroup_resources *r, struct vs_err *e)
{
	struct vs_cgroup_hier *h = NULL;

	if (r->has_net_class_id) {
		if (need(cg, "net_cls", "network.classID", &h, e) < 0 ||
		    write_u64(h->dir, "net_cls.classid", r->net_class_id, e) < 0)
			return -1;
	}
	if (r->n_net_prio) {
		if (need(cg, "net_prio", "network.priorities", &h, e) < 0)
			return -1;
		for (size_t i = 0; i < r->n_net_prio; i++) {
			autofree char *v = NULL;

			if (asprintf(&v, "%s %s", r->net_prio[i].key, r->net_prio[i].value) < 0)
				abort();
			if (vs_cg_write_req(h->dir, "net_prio.ifpriomap", v, e) < 0)
				return -1;
		}
	}
	return 0;
}

int vs_cg_v1_apply(struct vs_cgroup *cg, const struct vs_cgroup_resources *r, struct vs_err *e)
{
	if (v1_memory(cg, r, e) < 0 || v1_cpu(cg, r, e) < 0 || v1_pids(cg, r, e) < 0 ||
	    v1_blkio(cg, r, e) < 0 || v1_hugetlb(cg, r, e) < 0 || v1_devices(cg, r, e) < 0 ||
	    v1_network(cg, r, e) < 0)
		return -1;
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/*
 * freezer.state goes FREEZING -> FROZEN once every task has stopped; a task
 * in an uninterruptible sleep can keep it in FREEZING, and writing FROZEN
 * again retries the freeze (cgroup-v1/freezer-subsystem.rst). Bounded at
 * about ten seconds.
 */
int vs_cg_v1_freeze(const char *dir, bool frozen, struct vs_err *e)
{
	const char *want = frozen ? "FROZEN" : "THAWED";

	for (int i = 0; i < 2000; i++) {
		autofree char *state = NULL;

		if (i % 50 == 0 && vs_cg_write(dir, "freezer.state", want, e) < 0)
			return -1;
		if (vs_cg_read(dir, "freezer.state", &state, e) < 0)
			return -1;
		if (!strcmp(state, want))
			return 0;
		sleep_ms(5);
	}
	return vs_fail(e, ETIMEDOUT, "cgroup %s/freezer.state: still not %s", dir, want);
}

int vs_cg_v1_is_frozen(const char *dir, bool *out, struct vs_err *e)
{
	autofree char *state = NULL;

	if (vs_cg_read(dir, "freezer.state", &state, e) < 0)
		return -1;
	/* FREEZING counts as paused: the caller asked for it and it is under way */
	*out = strcmp(state, "THAWED") != 0;
	return 0;
}
