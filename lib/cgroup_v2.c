/* cgroup v2: one unified hierarchy. File names and formats:
 * Documentation/admin-guide/cgroup-v2.rst in the kernel tree. Devices are
 * controlled by an eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE) built here. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "lib/cgroup_priv.h"
#include "vessel/cleanup.h"
#include "vessel/log.h"

static bool has_word(const char *list, const char *w)
{
	size_t n = strlen(w);

	for (const char *p = list; (p = strstr(p, w)); p += n)
		if ((p == list || p[-1] == ' ' || p[-1] == '\n') &&
		    (p[n] == '\0' || p[n] == ' ' || p[n] == '\n'))
			return true;
	return false;
}

int vs_cg_v2_enable_controllers(const char *dir, struct vs_err *e)
{
	autofree char *avail = NULL, *on = NULL;
	char *save = NULL;

	if (vs_cg_read(dir, "cgroup.controllers", &avail, e) < 0 ||
	    vs_cg_read(dir, "cgroup.subtree_control", &on, e) < 0)
		return -1;
	for (char *c = strtok_r(avail, " ", &save); c; c = strtok_r(NULL, " ", &save)) {
		char buf[64];

		if (has_word(on, c))
			continue;
		snprintf(buf, sizeof(buf), "+%s", c);
		/* best effort, one by one: a controller that cannot be enabled
		 * (processes in a non-root parent) fails later at the write of
		 * one of its files, naming that file, if the user asked for it */
		vs_cg_write(dir, "cgroup.subtree_control", buf, NULL);
	}
	return 0;
}

/* Formats a value and writes it to dir/file (which must exist). */
static int put(struct vs_err *e, const char *dir, const char *file, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int put(struct vs_err *e, const char *dir, const char *file, const char *fmt, ...)
{
	autofree char *v = NULL;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vasprintf(&v, fmt, ap);
	va_end(ap);
	if (rc < 0)
		abort();
	return vs_cg_write_req(dir, file, v, e);
}

static void limit_str(int64_t v, char *buf, size_t len)
{
	if (v < 0)
		snprintf(buf, len, "max");
	else
		snprintf(buf, len, "%" PRId64, v);
}

static int v2_memory(const char *dir, const struct vs_cgroup_resources *r, struct vs_err *e)
{
	char buf[32];

	if (r->has_memory_kernel || r->has_memory_kernel_tcp)
		vs_warn("cgroup %s: kernel memory limits do not exist on cgroup v2; ignored", dir);
	if (r->has_memory_swappiness)
		return vs_fail(e, ENOTSUP,
			       "cgroup %s: linux.resources.memory.swappiness: not "
			       "supported on cgroup v2",
			       dir);
	if (r->has_disable_oom_killer && r->disable_oom_killer)
		return vs_fail(e, ENOTSUP,
			       "cgroup %s: linux.resources.memory.disableOOMKiller: "
			       "not supported on cgroup v2",
			       dir);
	if (r->check_before_update && r->has_memory_limit && r->memory_limit > 0) {
		autofree char *cur = NULL;

		if (vs_cg_read(dir, "memory.current", &cur, e) < 0)
			return -1;
		if (r->memory_limit < strtoll(cur, NULL, 10))
			return vs_fail(e, EBUSY,
				       "cgroup %s: memory limit %" PRId64 " is below "
				       "the current usage %s (checkBeforeUpdate)",
				       dir, r->memory_limit, cur);
	}
	if (r->has_memory_swap && r->memory_swap != 0) {
		/* OCI swap is memory+swap; memory.swap.max is swap alone */
		if (r->memory_swap < 0) {
			strcpy(buf, "max");
		} else if (!r->has_memory_limit || r->memory_limit < 0) {
			return vs_fail(e, EINVAL,
				       "cgroup %s: linux.resources.memory.swap: a swap "
				       "limit needs a memory limit on cgroup v2",
				       dir);
		} else if (r->memory_swap < r->memory_limit) {
			return vs_fail(e, EINVAL,
				       "cgroup %s: linux.resources.memory.swap %" PRId64
				       " is below memory.limit %" PRId64,
				       dir, r->memory_swap, r->memory_limit);
		} else {
			snprintf(buf, sizeof(buf), "%" PRId64, r->memory_swap - r->memory_limit);
		}
		if (put(e, dir, "memory.swap.max", "%s", buf) < 0)
			return -1;
	}
	if (r->has_memory_limit) {
		limit_str(r->memory_limit, buf, sizeof(buf));
		if (put(e, dir, "memory.max", "%s", buf) < 0)
			return -1;
	}
	if (r->has_memory_reservation) {
		limit_str(r->memory_reservation, buf, sizeof(buf));
		if (put(e, dir, "memory.low", "%s", buf) < 0)
			return -1;
	}
	return 0;
}

static int v2_cpu(const char *dir, const struct vs_cgroup_resources *r, struct vs_err *e)
{
	if (r->has_cpu_rt_period || r->has_cpu_rt_runtime)
		return vs_fail(e, ENOTSUP,
			       "cgroup %s: linux.resources.cpu.realtime*: not "
			       "supported on cgroup v2",
			       dir);
	if (r->has_cpu_shares && r->cpu_shares &&
	    put(e, dir, "cpu.weight", "%" PRIu64, vs_cgroup_shares_to_weight(r->cpu_shares)) < 0)
		return -1;
	if (r->has_cpu_quota || r->has_cpu_period) {
		char quota[32] = "max";
		uint64_t period = r->cpu_period;

		if (r->has_cpu_quota && r->cpu_quota > 0)
			snprintf(quota, sizeof(quota), "%" PRId64, r->cpu_quota);
		if (!r->has_cpu_quota || !r->has_cpu_period) {
			/* cpu.max holds both: keep the half not given */
			autofree char *cur = NULL;
			char q[32] = "max";
			uint64_t p = 100000;

			if (vs_cg_has(dir, "cpu.max") &&
			    vs_cg_read(dir, "cpu.max", &cur, NULL) == 0)
				sscanf(cur, "%31s %" SCNu64, q, &p);
			if (!r->has_cpu_quota)
				snprintf(quota, sizeof(quota), "%s", q);
			if (!r->has_cpu_period)
				period = p;
		}
		if (put(e, dir, "cpu.max", "%s %" PRIu64, quota, period) < 0)
			return -1;
	}
	if (r->has_cpu_burst && put(e, dir, "cpu.max.burst", "%" PRIu64, r->cpu_burst) < 0)
		return -1;
	if (r->has_cpu_idle && put(e, dir, "cpu.idle", "%" PRId64, r->cpu_idle) < 0)
		return -1;
	if (r->cpuset_cpus && put(e, dir, "cpuset.cpus", "%s", r->cpuset_cpus) < 0)
		return -1;
	if (r->cpuset_mems && put(e, dir, "cpuset.mems", "%s", r->cpuset_mems) < 0)
		return -1;
	return 0;
}

/* blkio weight 10..1000 -> io.weight 1..10000 */
static uint64_t io_weight(uint64_t w)
{
	if (w < 10)
		w = 10;
	if (w > 1000)
		w = 1000;
	return 1 + (w - 10) * 9999 / 990;
}

static int io_max(const char *dir, const char *key, const struct vs_cgroup_blkio_dev *d, size_t n,
		  struct vs_err *e)
{
	for (size_t i = 0; i < n; i++)
		if (put(e, dir, "io.max", "%" PRId64 ":%" PRId64 " %s=%" PRIu64, d[i].major,
			d[i].minor, key, d[i].value) < 0)
			return -1;
	return 0;
}

static int v2_io(const char *dir, const struct vs_cgroup_resources *r, struct vs_err *e)
{
	if (r->has_blkio_leaf_weight)
		return vs_fail(e, ENOTSUP,
			       "cgroup %s: linux.resources.blockIO.leafWeight: not "
			       "supported on cgroup v2",
			       dir);
	if (r->has_blkio_weight &&
	    put(e, dir, "io.weight", "default %" PRIu64, io_weight(r->blkio_weight)) < 0)
		return -1;
	for (size_t i = 0; i < r->n_blkio_weight_dev; i++) {
		const struct vs_cgroup_blkio_dev *d = &r->blkio_weight_dev[i];

		if (put(e, dir, "io.weight", "%" PRId64 ":%" PRId64 " %" PRIu64, d->major, d->minor,
			io_weight(d->value)) < 0)
			return -1;
	}
	if (io_max(dir, "rbps", r->throttle_read_bps, r->n_throttle_read_bps, e) < 0 ||
	    io_max(dir, "wbps", r->throttle_write_bps, r->n_throttle_write_bps, e) < 0 ||
	    io_max(dir, "riops", r->throttle_read_iops, r->n_throttle_read_iops, e) < 0 ||
	    io_max(dir, "wiops", r->throttle_write_iops, r->n_throttle_write_iops, e) < 0)
		return -1;
	return 0;
}

static int v2_hugetlb(const char *dir, const struct vs_cgroup_resources *r, struct vs_err *e)
{
	for (size_t i = 0; i < r->n_hugetlb; i++) {
		autofree char *f = NULL;

		if (asprintf(&f, "hugetlb.%s.max", r->hugetlb[i].page_size) < 0)
			abort();
		if (put(e, dir, f, "%" PRIu64, r->hugetlb[i].limit) < 0)
			return -1;
	}
	return 0;
}

static int v2_unified(const char *dir, const struct vs_cgroup_resources *r, struct vs_err *e)
{
	for (size_t i = 0; i < r->n_unified; i++) {
		const char *k = r->unified[i].key;

		/* a file of this cgroup, never a path out of it */
		if (!*k || strchr(k, '/') || k[0] == '.')
			return vs_fail(e, EINVAL,
				       "cgroup %s: linux.resources.unified: bad key "
				       "\"%s\"",
				       dir, k);
		if (put(e, dir, k, "%s", r->unified[i].value) < 0)
			return -1;
	}
	return 0;
}

int vs_cg_v2_apply(struct vs_cgroup_hier *h, const struct vs_cgroup_resources *r,
		   bool only_missing_v1, struct vs_err *e)
{
	const char *dir = h->dir;

	if (only_missing_v1) {
		/* hybrid: a controller is in v1 or in v2, never both */
		bool hugetlb = false;

		for (char **c = h->controllers; c && *c; c++)
			hugetlb |= !strcmp(*c, "hugetlb");
		if (hugetlb && v2_hugetlb(dir, r, e) < 0)
			return -1;
		return v2_unified(dir, r, e);
	}
	if (v2_memory(dir, r, e) < 0 || v2_cpu(dir, r, e) < 0)
		return -1;
	if (r->has_pids_limit) {
		char buf[32];

		limit_str(r->pids_limit > 0 ? r->pids_limit : -1, buf, sizeof(buf));
		if (put(e, dir, "pids.max", "%s", buf) < 0)
			return -1;
	}
	if (v2_io(dir, r, e) < 0 || v2_hugetlb(dir, r, e) < 0)
		return -1;
	if (r->has_net_class_id || r->n_net_prio)
		return vs_fail(e, ENOTSUP,
			       "cgroup %s: linux.resources.network: net_cls/net_prio "
			       "do not exist on cgroup v2",
			       dir);
	if (r->has_devices && vs_cg_v2_set_devices(dir, r->devices, r->n_devices, e) < 0)
		return -1;
	return v2_unified(dir, r, e);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

int vs_cg_v2_is_frozen(const char *dir, bool *out, struct vs_err *e)
{
	autofree char *ev = NULL;
	char *p;

	if (vs_cg_read(dir, "cgroup.events", &ev, e) < 0)
		return -1;
	p = strstr(ev, "frozen ");
	*out = p && p[7] == '1';
	return 0;
}

/* cgroup.freeze asks; cgroup.events "frozen 1" says it is done. */
int vs_cg_v2_freeze(const char *dir, bool frozen, struct vs_err *e)
{
	if (!vs_cg_has(dir, "cgroup.freeze"))
		return vs_cg_missing(e, dir, "cgroup.freeze");
	if (vs_cg_write(dir, "cgroup.freeze", frozen ? "1" : "0", e) < 0)
		return -1;
	for (int i = 0; i < 2000; i++) {
		bool now;

		if (vs_cg_v2_is_frozen(dir, &now, e) < 0)
			return -1;
		if (now == frozen)
			return 0;
		sleep_ms(5);
	}
	return vs_fail(e, ETIMEDOUT, "cgroup %s/cgroup.events: still not %s", dir,
		       frozen ? "frozen" : "thawed");
}

int vs_cg_v2_kill(const char *dir, struct vs_err *e)
{
	if (!vs_cg_has(dir, "cgroup.kill"))
		return vs_cg_missing(e, dir, "cgroup.kill");
	return vs_cg_write(dir, "cgroup.kill", "1", e);
}

/* ---- device control: a BPF_PROG_TYPE_CGROUP_DEVICE program --------------- */

#define INSN(c, d, s, o, i)                                                                        \
	((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})

struct prog {
	struct bpf_insn *v;
	size_t n, cap;
};

static size_t emit(struct prog *p, struct bpf_insn insn)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 64;
		p->v = realloc(p->v, p->cap * sizeof(*p->v));
		if (!p->v)
			abort();
	}
	p->v[p->n] = insn;
	return p->n++;
}

static int access_bits(const char *a)
{
	int bits = 0;

	if (!*a)
		return BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE;
	for (; *a; a++)
		bits |= *a == 'r'   ? BPF_DEVCG_ACC_READ
			: *a == 'w' ? BPF_DEVCG_ACC_WRITE
			: *a == 'm' ? BPF_DEVCG_ACC_MKNOD
				    : 0;
	return bits;
}

/*
 * The OCI list is "deny all, then each rule in order, a later rule winning"
 * (v1 semantics). The program checks the rules from the last to the first
 * and returns the verdict of the first that matches; nothing matched: deny.
 * Context (struct bpf_cgroup_dev_ctx): access_type = (access << 16) | type,
 * major, minor. An allow rule matches when every requested access is in it;
 * a deny rule when any requested access is in it.
 * Registers: r2 type, r3 access, r4 major, r5 minor, r6 scratch.
 */
int vs_cg_v2_device_prog(const struct vs_cgroup_device_rule *rules, size_t n, struct bpf_insn **out,
			 size_t *count)
{
	struct prog p = {0};
	bool always = false;

	emit(&p, INSN(BPF_LDX | BPF_MEM | BPF_W, 2, 1, 0, 0));
	emit(&p, INSN(BPF_ALU | BPF_AND | BPF_K, 2, 0, 0, 0xffff));
	emit(&p, INSN(BPF_LDX | BPF_MEM | BPF_W, 3, 1, 0, 0));
	emit(&p, INSN(BPF_ALU | BPF_RSH | BPF_K, 3, 0, 0, 16));
	emit(&p, INSN(BPF_LDX | BPF_MEM | BPF_W, 4, 1, 4, 0));
	emit(&p, INSN(BPF_LDX | BPF_MEM | BPF_W, 5, 1, 8, 0));
	for (size_t i = n; i-- > 0 && !always;) {
		const struct vs_cgroup_device_rule *r = &rules[i];
		int acc = access_bits(r->access),
		    all = BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE;
		size_t jumps[4], nj = 0;

		if (acc == 0)
			continue; /* grants or denies nothing */
		if (r->type == 'c' || r->type == 'b')
			jumps[nj++] = emit(&p, INSN(BPF_JMP | BPF_JNE | BPF_K, 2, 0, 0,
						    r->type == 'c' ? BPF_DEVCG_DEV_CHAR
								   : BPF_DEVCG_DEV_BLOCK));
		if (r->major >= 0)
			jumps[nj++] = emit(
				&p, INSN(BPF_JMP | BPF_JNE | BPF_K, 4, 0, 0, (int32_t)r->major));
		if (r->minor >= 0)
			jumps[nj++] = emit(
				&p, INSN(BPF_JMP | BPF_JNE | BPF_K, 5, 0, 0, (int32_t)r->minor));
		if (acc != all) {
			emit(&p, INSN(BPF_ALU | BPF_MOV | BPF_X, 6, 3, 0, 0));
			emit(&p, INSN(BPF_ALU | BPF_AND | BPF_K, 6, 0, 0,
				      r->allow ? (~acc & all) : acc));
			jumps[nj++] =
				emit(&p, INSN(BPF_JMP | (r->allow ? BPF_JNE : BPF_JEQ) | BPF_K, 6,
					      0, 0, 0));
		}
		emit(&p, INSN(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, r->allow ? 1 : 0));
		emit(&p, INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
		for (size_t j = 0; j < nj; j++)
			p.v[jumps[j]].off = (int16_t)(p.n - jumps[j] - 1);
		/* the verifier refuses unreachable code after a catch-all */
		always = nj == 0;
	}
	if (!always) {
		emit(&p, INSN(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0));
		emit(&p, INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
	}
	*out = p.v;
	*count = p.n;
	return 0;
}

static int bpf(int cmd, union bpf_attr *attr)
{
	return (int)syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

int vs_cg_v2_set_devices(const char *dir, const struct vs_cgroup_device_rule *rules, size_t n,
			 struct vs_err *e)
{
	autofree struct bpf_insn *insns = NULL;
	char log[8192] = "";
	size_t count;
	union bpf_attr a;
	uint32_t old[64];
	uint32_t nold = 64;
	autoclose int cg = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	autoclose int prog = -1;

	if (cg < 0)
		return vs_fail_errno(e, "cgroup %s: open", dir);
	vs_cg_v2_device_prog(rules, n, &insns, &count);

	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	a.insns = (uintptr_t)insns;
	a.insn_cnt = (uint32_t)count;
	a.license = (uintptr_t) "GPL";
	a.log_buf = (uintptr_t)log;
	a.log_size = sizeof(log);
	a.log_level = 1;
	prog = bpf(BPF_PROG_LOAD, &a);
	if (prog < 0 && errno == ENOSPC) {
		/* the verifier log did not fit; load again without it */
		a.log_buf = 0;
		a.log_size = 0;
		a.log_level = 0;
		prog = bpf(BPF_PROG_LOAD, &a);
	}
	if (prog < 0) {
		size_t l = strlen(log);

		while (l && log[l - 1] == '\n')
			log[--l] = '\0';
		return vs_fail_errno(e, "cgroup %s: devices: load eBPF program (%zu rules)%s%.120s",
				     dir, n, *log ? ": verifier: " : "",
				     l > 120 ? log + l - 120 : log);
	}

	/* what is attached now, to detach once the new program is in place */
	memset(&a, 0, sizeof(a));
	a.query.target_fd = cg;
	a.query.attach_type = BPF_CGROUP_DEVICE;
	a.query.prog_ids = (uintptr_t)old;
	a.query.prog_cnt = nold;
	if (bpf(BPF_PROG_QUERY, &a) < 0)
		return vs_fail_errno(e, "cgroup %s: devices: query attached eBPF programs", dir);
	nold = a.query.prog_cnt;

	memset(&a, 0, sizeof(a));
	a.target_fd = cg;
	a.attach_bpf_fd = prog;
	a.attach_type = BPF_CGROUP_DEVICE;
	a.attach_flags = BPF_F_ALLOW_MULTI;
	if (bpf(BPF_PROG_ATTACH, &a) < 0)
		return vs_fail_errno(e, "cgroup %s: devices: attach eBPF program", dir);

	for (uint32_t i = 0; i < nold && i < 64; i++) {
		autoclose int ofd = -1;

		memset(&a, 0, sizeof(a));
		a.prog_id = old[i];
		ofd = bpf(BPF_PROG_GET_FD_BY_ID, &a);
		if (ofd < 0)
			continue; /* already gone */
		memset(&a, 0, sizeof(a));
		a.target_fd = cg;
		a.attach_bpf_fd = ofd;
		a.attach_type = BPF_CGROUP_DEVICE;
		if (bpf(BPF_PROG_DETACH, &a) < 0 && errno != ENOENT)
			return vs_fail_errno(e, "cgroup %s: devices: detach old eBPF program %u",
					     dir, old[i]);
	}
	return 0;
}
