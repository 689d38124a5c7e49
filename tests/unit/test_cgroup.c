/* libvessel cgroups, on the real hierarchies of this machine: v1 controllers
 * (hybrid layout) and the cgroup2 mount at /sys/fs/cgroup/unified. Every
 * test removes the cgroups it made. */
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/cgroup_priv.h"
#include "test.h"
#include "vessel/cgroup.h"
#include "vessel/cleanup.h"
#include "vessel/fs.h"

#define UNIFIED VS_CGROUP_ROOT "/unified"

/* A child that waits for one byte on a pipe, then runs fn and exits with
 * its result. Lets the parent put it in a cgroup before it does anything. */
struct child {
	pid_t pid;
	int go;
};

static struct child spawn(int (*fn)(void))
{
	int p[2];
	struct child c = {-1, -1};

	if (pipe(p) < 0)
		return c;
	c.pid = fork();
	if (c.pid == 0) {
		char b;

		close(p[1]);
		if (read(p[0], &b, 1) != 1)
			_exit(100);
		_exit(fn ? fn() : 0);
	}
	close(p[0]);
	c.go = p[1];
	return c;
}

static void release(struct child *c)
{
	if (write(c->go, "x", 1) != 1)
		perror("release");
	close(c->go);
	c->go = -1;
}

static int wait_status(pid_t pid)
{
	int st = -1;

	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return st;
}

static char *test_path(const char *tag)
{
	return vs_strdup_printf("/vessel-test-%s-%d", tag, (int)getpid());
}

static bool have_v1(const char *ctl)
{
	autofree char *p = vs_path_join(VS_CGROUP_ROOT, ctl);
	struct stat st;

	return stat(p, &st) == 0 && access(VS_CGROUP_ROOT "/unified/cgroup.controllers", F_OK) == 0;
}

static bool gone_everywhere(const char *path)
{
	bool exists = true;

	return vs_cgroup_exists(path, &exists, NULL) == 0 && !exists;
}

/* ---- paths and layout --------------------------------------------------- */

TEST(cgroup_path_refuses_systemd_dotdot_and_root)
{
	struct vs_err e;
	struct vs_cgroup *cg = NULL;

	CHECK(vs_cgroup_create("system.slice:vessel:abc", &cg, &e) < 0);
	CHECK_CONTAINS(e.msg, "systemd cgroup paths");
	CHECK(vs_cgroup_create("/a/../../etc", &cg, &e) < 0);
	CHECK_CONTAINS(e.msg, "\"..\" not allowed");
	CHECK(vs_cgroup_create("//", &cg, &e) < 0);
	CHECK_CONTAINS(e.msg, "root cgroup");
	CHECK(vs_cgroup_create("", &cg, &e) < 0);
	CHECK(cg == NULL);
}

TEST(cgroup_relative_path_is_relative_to_hierarchy_root)
{
	struct vs_err e;
	autocgroup struct vs_cgroup *cg = NULL;
	autofree char *p = test_path("rel");

	/* "vessel-test-rel-N/x" means the same as "/vessel-test-rel-N/x" */
	autofree char *rel = vs_strdup_printf("%s//x/", p + 1);
	REQUIRE(vs_cgroup_create(rel, &cg, &e) == 0);
	autofree char *want = vs_strdup_printf("%s/x", p);
	CHECK_STR(vs_cgroup_path(cg), want);
	for (size_t i = 0; i < cg->n; i++) {
		autofree char *d = vs_strdup_printf("%s%s", cg->h[i].mnt, want);
		CHECK_STR(cg->h[i].dir, d);
		CHECK(access(d, F_OK) == 0);
	}
	autocgroup struct vs_cgroup *top = NULL;
	REQUIRE(vs_cgroup_open(p, &top, &e) == 0);
	CHECK(vs_cgroup_destroy(top, &e) == 0);
	CHECK(gone_everywhere(p));
}

TEST(cgroup_detect_matches_mounts)
{
	struct vs_err e;
	enum vs_cgroup_layout l;
	bool v2root = access(VS_CGROUP_ROOT "/cgroup.controllers", F_OK) == 0;
	bool unified = access(UNIFIED "/cgroup.controllers", F_OK) == 0;

	REQUIRE(vs_cgroup_detect(&l, &e) == 0);
	if (v2root)
		CHECK_EQ(l, VS_CGROUP_V2);
	else if (unified)
		CHECK_EQ(l, VS_CGROUP_HYBRID);
	else
		CHECK_EQ(l, VS_CGROUP_V1);
}

TEST(cgroup_open_missing_names_directory)
{
	struct vs_err e;
	struct vs_cgroup *cg = NULL;
	autofree char *p = test_path("missing");

	CHECK(vs_cgroup_open(p, &cg, &e) < 0);
	CHECK_CONTAINS(e.msg, p);
	CHECK_EQ(e.errnum, ENOENT);
}

TEST(shares_convert_to_weight)
{
	CHECK_EQ(vs_cgroup_shares_to_weight(2), 1);
	CHECK_EQ(vs_cgroup_shares_to_weight(262144), 10000);
	CHECK_EQ(vs_cgroup_shares_to_weight(1024), 39);
	CHECK_EQ(vs_cgroup_shares_to_weight(0), 0);
}

/* ---- v1 (hybrid layout here) --------------------------------------------- */

static int sleep_forever(void)
{
	pause();
	return 0;
}

TEST(cgroup_v1_enter_pids_kill_destroy)
{
	struct vs_err e;
	autocgroup struct vs_cgroup *cg = NULL;
	autofree char *p = test_path("procs");
	autofree pid_t *pids = NULL;
	size_t n = 0;
	int st;

	if (!have_v1("pids"))
		SKIP("no v1 hierarchies here");
	REQUIRE(vs_cgroup_create(p, &cg, &e) == 0);
	struct child c = spawn(sleep_forever);
	REQUIRE(c.pid > 0);
	CHECK(vs_cgroup_enter(cg, c.pid, &e) == 0);
	release(&c);
	CHECK(vs_cgroup_pids(cg, &pids, &n, &e) == 0);
	CHECK_EQ(n, 1);
	CHECK(n == 1 && pids[0] == c.pid);
	CHECK(vs_cgroup_kill(cg, SIGKILL, &e) == 0);
	st = wait_status(c.pid);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	CHECK(vs_cgroup_destroy(cg, &e) == 0);
	CHECK(gone_everywhere(p));
}

TEST(cgroup_v1_cpuset_copies_parent_cpus_at_every_level)
{
	struct vs_err e;
	autocgroup struct vs_cgroup *cg = NULL;
	autofree char *p = test_path("cpuset");
	autofree char *deep = vs_strdup_printf("%s/a/b", p);
	autofree char *root_cpus = NULL, *mid = NULL, *leaf = NULL, *mems = NULL;

	if (!have_v1("cpuset"))
		SKIP("no v1 cpuset hierarchy");
	REQUIRE(vs_cgroup_create(deep, &cg, &e) == 0);
	const char *d = vs_cgroup_dir(cg, "cpuset");
	REQUIRE(d);
	autofree char *middir = vs_strdup_printf("%s/cpuset%s/a", VS_CGROUP_ROOT, p);
	CHECK(vs_cg_read(VS_CGROUP_ROOT "/cpuset", "cpuset.cpus", &root_cpus, &e) == 0);
	CHECK(vs_cg_read(middir, "cpuset.cpus", &mid, &e) == 0);
	CHECK(vs_cg_read(d, "cpuset.cpus", &leaf, &e) == 0);
	CHECK(vs_cg_read(d, "cpuset.mems", &mems, &e) == 0);
	CHECK_STR(mid, root_cpus);
	CHECK_STR(leaf, root_cpus);
	CHECK(mems && *mems);
	/* and a task can join the leaf */
	struct child c = spawn(NULL);
	REQUIRE(c.pid > 0);
	CHECK(vs_cgroup_enter(cg, c.pid, &e) == 0);
	release(&c);
	wait_status(c.pid);
	autocgroup struct vs_cgroup *top = NULL;
	REQUIRE(vs_cgroup_open(p, &top, &e) == 0);
	CHECK(vs_cgroup_destroy(top, &e) == 0);
	CHECK(gone_everywhere(p));
}

static int eat_memory(void)
{
	size_t sz = 256u << 20;
	char *m = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED)
		return 2;
	for (size_t i = 0; i < sz; i += 4096)
		m[i] = 1;
	return 0; /* not killed: the limit did not work */
}

TEST(memory_limit_oom_kills_process)
{
	struct vs_err e;
	autocgroup struct vs_cgroup *cg = NULL;
	autofree char *p = test_path("oom");
	autofree char *limit = NULL, *failcnt = NULL;
	struct vs_cgroup_resources r = {0};
	int st;

	if (!have_v1("memory"))
		SKIP("no v1 memory hierarchy");
	r.has_memory_limit = true;
	r.memory_limit = 32 << 20;
	r.has_memory_swap = true; /* memory+swap == memory: no swap */
	r.memory_swap = 32 << 20;
	REQUIRE(vs_cgroup_create(p, &cg, &e) == 0);
	CHECK(vs_cgroup_apply(cg, &r, &e) == 0);
	const char *d = vs_cgroup_dir(cg, "memory");
	CHECK(vs_cg_read(d, "memory.limit_in_bytes", &limit, &e) == 0);
	CHECK_STR(limit, "33554432");
	struct child c = spawn(eat_memory);
	REQUIRE(c.pid > 0);
	CHECK(vs_cgroup_enter(cg, c.pid, &e) == 0);
	release(&c);
	st = wait_status(c.pid);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	/* the kernel counts it: "oom_kill N" in memory.oom_control */
	CHECK(vs_cg_read(d, "memory.oom_control", &failcnt, &e) == 0);
	CHECK_CONTAINS(failcnt, "oom_kill 1");
	CHECK(vs_cgroup_destroy(cg, &e) == 0);
	CHECK(gone_everywhere(p));
}

TEST(memory_limit_raise_above_memsw_and_lower_again)
{
	struct vs_err e;
	autocgroup struct vs_cgroup *cg = NULL;
	autofree char *p = test_path("memsw");
	struct vs_cgroup_resources r = {0};

	if (!have_v1("memory"))
		SKIP("no v1 memory hierarchy");
	REQUIRE(vs_cgroup_create(p, &cg, &e) == 0);
	const char *d = vs_cgroup_dir(cg, "memory");
	r.has_memory_limit = r.has_memory_swap = true;
	r.memory_limit = r.memory_swap = 16 << 20;
	CHECK(vs_cgroup_apply(cg, &r, &e) == 0);
	/* up: memsw must go first */
	r.memory_limit = 64 << 20;
	r.memory_swap = 128 << 20;
	CHECK(vs_cgroup_apply(cg, &r, &e) == 0);
	/* down: memsw must go last */
	r.memory_limit = 8 << 20;
	r.memory_swap = 8 << 20;
	CHECK(vs_cgroup_apply(cg, &r, &e) == 0);
	autofree char *l = NULL, *s = NULL;
	CHECK(vs_cg_read(d, "memory.limit_in_bytes", &l, &e) == 0);
	CHECK(vs_cg_read(d, "memory.memsw.limit_in_bytes", &s, &e) == 0);
	CHECK_STR(l, "8388608");
	CHECK_STR(s, "8388608");
	CHECK(vs_cgroup_destroy(cg, &e) == 0);
}

static int fork_many(void)
{
	int ok = 0;

	for (int i = 0; i < 20; i++) {
		pid_t p = fork();

		if (p == 0) {
			pause();
			_exit(0);
		}
		if (p < 0)
			break;
		ok++;
	}
	/* children are reaped by the cgroup kill below */
	return ok;
}

TEST(pids_limit_stops_fork_bomb)
{
	struct vs_err e;
	autocgroup struct vs_cgroup *cg = NULL;
	autofree char *p = test_path("pids");
	struct vs_cgroup_resources r = {0};
	int st;

	if (!have_v1("pids"))
		SKIP("no v1 pids hierarchy");
	r.has_pids_limit = true;
	r.pids_limit = 5;
	REQUIRE(vs_cgroup_create(p, &cg, &e) == 0);
	CHECK(vs_cgroup_apply(cg, &r, &e) == 0);
	struct child c = spawn(fork_many);
	REQUIRE(c.pid > 0);
	CHECK(vs_cgroup_enter(cg, c.pid, &e) == 0);
	release(&c);
	st = wait_status(c.pid);
	/* the child itself is one of the 5 */
	CHECK(WIFEXITED(st));
	CHECK_EQ(WEXITSTATUS(st), 4);
	CHECK(vs_cgroup_kill(cg, SIGKILL, &e) == 0);
	CHECK(vs_cgroup_destroy(cg, &e) == 0);
	CHECK(gone_everywhere(p));
}

TEST(cgroup_v1_freeze_and_thaw)
{
	struct vs_err e;
	autocgroup struct vs_cgroup *cg = NULL;
	autofree char *p = test_path("freeze");
	autofree char *state = NULL;
	bool frozen = false;
	int st;

	if (!have_v1("freezer"))
		SKIP("no v1 freezer hierarchy");
	REQUIRE(vs_cgroup_create(p, &cg, &e) == 0);
	struct child c = spawn(sleep_forever);
	REQUIRE(c.pid > 0);
	CHECK(vs_cgroup_enter(cg, c.pid, &e) == 0);
	release(&c);
	CHECK(vs_cgroup_freeze(cg, true, &e) == 0);
	CHECK(vs_cg_read(vs_cgroup_dir(cg, "freezer"), "freezer.state", &state, &e) == 0);
	CHECK_STR(state, "FROZEN");
	CHECK(vs_cgroup_is_frozen(cg, &frozen, &e) == 0 && frozen);
	CHECK(vs_cgroup_freeze(cg, false, &e) == 0);
	CHECK(vs_cgroup_is_frozen(cg, &frozen, &e) == 0 && !frozen);
	/* kill of a frozen cgroup still works (it thaws to deliver SIGKILL) */
	CHECK(vs_cgroup_freeze(cg, true, &e) == 0);
	CHECK(vs_cgroup_kill(cg, SIGKILL, &e) == 0);
	st = wait_status(c.pid);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	CHECK(vs_cgroup_destroy(cg, &e) == 0);
}

static int open_null_then_zero(void)
{
	int a = open("/dev/null", O_WRONLY);
	int b = open("/dev/zero", O_RDONLY);

	if (a < 0)
		return 1; /* allowed device refused */
	if (b >= 0)
		return 2; /* denied device opened */
	return errno == EPERM ? 0 : 3;
}

TEST(cgroup_v1_devices_deny_all_then_rules)
{
	struct vs_err e;
	autocgroup struct vs_cgroup *cg = NULL;
	autofree char *p = test_path("dev");
	autofree char *list = NULL;
	struct vs_cgroup_resources r = {0};
	struct vs_cgroup_device_rule null = {true, 'c', 1, 3, "rw"};
	int st;

	if (!have_v1("devices"))
		SKIP("no v1 devices hierarchy");
	vs_cgroup_resources_add_device(&r, &null);
	REQUIRE(vs_cgroup_create(p, &cg, &e) == 0);
	CHECK(vs_cgroup_apply(cg, &r, &e) == 0);
	CHECK(vs_cg_read(vs_cgroup_dir(cg, "devices"), "devices.list", &list, &e) == 0);
	CHECK_STR(list, "c 1:3 rw");
	struct child c = spawn(open_null_then_zero);
	REQUIRE(c.pid > 0);
	CHECK(vs_cgroup_enter(cg, c.pid, &e) == 0);
	release(&c);
	st = wait_status(c.pid);
	CHECK(WIFEXITED(st));
	CHECK_EQ(WEXITSTATUS(st), 0);
	CHECK(vs_cgroup_destroy(cg, &e) == 0);
	vs_cgroup_resources_free(&r);
}

TEST(cgroup_v1_write_error_names_file_and_value)
{
	struct vs_err e;
	autocgroup struct vs_cgroup *cg = NULL;
	autofree char *p = test_path("badval");
	struct vs_cgroup_resources r = {0};
	char buf[700];

	if (!have_v1("cpu"))
		SKIP("no v1 cpu hierarchy");
	r.has_cpu_quota = true;
	r.cpu_quota = 10; /* below the kernel's 1 ms minimum */
	REQUIRE(vs_cgroup_create(p, &cg, &e) == 0);
	CHECK(vs_cgroup_apply(cg, &r, &e) < 0);
	autofree char *want = vs_strdup_printf("cgroup %s/cpu.cfs_quota_us: write \"10\"",
					       vs_cgroup_dir(cg, "cpu"));
	CHECK_STR(e.msg, want);
	CHECK_CONTAINS(vs_err_str(&e, buf, sizeof(buf)), "Invalid argument");
	CHECK(vs_cgroup_destroy(cg, &e) == 0);
}

TEST(cgroup_absent_file_is_error_only_when_asked)
{
	struct vs_err e;
	autocgroup struct vs_cgroup *cg = NULL;
	autofree char *p = test_path("absent");
	struct vs_cgroup_resources r = {0};

	if (!have_v1("blkio"))
		SKIP("no v1 blkio hierarchy");
	REQUIRE(vs_cgroup_create(p, &cg, &e) == 0);
	const char *d = vs_cgroup_dir(cg, "blkio");
	if (vs_cg_has(d, "blkio.leaf_weight")) {
		vs_cgroup_destroy(cg, &e);
		SKIP("this host has blkio.leaf_weight");
	}
	r.has_pids_limit = true; /* something else, fine */
	r.pids_limit = 100;
	CHECK(vs_cgroup_apply(cg, &r, &e) == 0);
	r.has_blkio_leaf_weight = true;
	r.blkio_leaf_weight = 500;
	CHECK(vs_cgroup_apply(cg, &r, &e) < 0);
	CHECK_CONTAINS(e.msg, "blkio.leaf_weight");
	CHECK_CONTAINS(e.msg, "not supported by this host");
	CHECK(vs_cgroup_destroy(cg, &e) == 0);
}

TEST(cgroup_mount_info_lists_each_hierarchy)
{
	struct vs_err e;
	autocgroup struct vs_cgroup *cg = NULL;
	autofree char *p = test_path("mnt");
	struct vs_cgroup_mount *m = NULL;
	size_t n = 0;
	bool mem = false, uni = false;

	REQUIRE(vs_cgroup_create(p, &cg, &e) == 0);
	REQUIRE(vs_cgroup_mount_info(cg, &m, &n, &e) == 0);
	CHECK_EQ(n, cg->n);
	for (size_t i = 0; i < n; i++) {
		autofree char *mp = vs_path_join(VS_CGROUP_ROOT, m[i].target);
		autofree char *want = vs_strdup_printf("%s%s", mp, p);

		CHECK_STR(m[i].host_dir, want);
		if (!strcmp(m[i].target, "memory")) {
			mem = true;
			CHECK_STR(m[i].fstype, "cgroup");
			CHECK_STR(m[i].options, "memory");
		}
		if (!strcmp(m[i].target, "unified")) {
			uni = true;
			CHECK_STR(m[i].fstype, "cgroup2");
		}
		if (!strcmp(m[i].target, "systemd"))
			CHECK_STR(m[i].options, "none,name=systemd");
	}
	if (vs_cgroup_layout(cg) == VS_CGROUP_HYBRID)
		CHECK(mem && uni);
	vs_cgroup_mount_info_free(m, n);
	CHECK(vs_cgroup_destroy(cg, &e) == 0);
}

/* ---- v2, on the real cgroup2 mount at /sys/fs/cgroup/unified ------------- */

static bool have_unified(void)
{
	return access(UNIFIED "/cgroup.procs", F_OK) == 0;
}

TEST(cgroup_v2_enter_pids_freeze_kill)
{
	struct vs_err e;
	autocgroup struct vs_cgroup *cg = NULL;
	autofree char *p = test_path("v2");
	autofree pid_t *pids = NULL;
	autofree char *ev = NULL;
	size_t n = 0;
	bool frozen = false;
	int st;

	if (!have_unified())
		SKIP("no cgroup2 mount at %s", UNIFIED);
	REQUIRE(vs_cgroup_open_v2_at(UNIFIED, p, true, &cg, &e) == 0);
	struct child c = spawn(sleep_forever);
	REQUIRE(c.pid > 0);
	CHECK(vs_cgroup_enter(cg, c.pid, &e) == 0);
	release(&c);
	CHECK(vs_cgroup_pids(cg, &pids, &n, &e) == 0);
	CHECK(n == 1 && pids[0] == c.pid);
	CHECK(vs_cgroup_freeze(cg, true, &e) == 0);
	CHECK(vs_cg_read(cg->h[0].dir, "cgroup.events", &ev, &e) == 0);
	CHECK_CONTAINS(ev, "frozen 1");
	CHECK(vs_cgroup_is_frozen(cg, &frozen, &e) == 0 && frozen);
	CHECK(vs_cgroup_freeze(cg, false, &e) == 0);
	CHECK(vs_cgroup_is_frozen(cg, &frozen, &e) == 0 && !frozen);
	CHECK(vs_cgroup_kill(cg, SIGKILL, &e) == 0); /* cgroup.kill */
	st = wait_status(c.pid);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	CHECK(vs_cgroup_destroy(cg, &e) == 0);
	CHECK(access(cg->h[0].dir, F_OK) < 0 && errno == ENOENT);
}

TEST(cgroup_v2_absent_controller_error_names_file)
{
	struct vs_err e;
	autocgroup struct vs_cgroup *cg = NULL;
	autofree char *p = test_path("v2mem");
	struct vs_cgroup_resources r = {0};

	if (!have_unified())
		SKIP("no cgroup2 mount at %s", UNIFIED);
	REQUIRE(vs_cgroup_open_v2_at(UNIFIED, p, true, &cg, &e) == 0);
	if (vs_cg_has(cg->h[0].dir, "memory.max")) {
		vs_cgroup_destroy(cg, &e);
		SKIP("memory controller present on %s", UNIFIED);
	}
	r.has_memory_limit = true;
	r.memory_limit = 1 << 30;
	CHECK(vs_cgroup_apply(cg, &r, &e) < 0);
	autofree char *want = vs_strdup_printf("cgroup %s/memory.max:", cg->h[0].dir);
	CHECK_CONTAINS(e.msg, want);
	memset(&r, 0, sizeof(r));
	r.has_pids_limit = true;
	r.pids_limit = 3;
	CHECK(vs_cgroup_apply(cg, &r, &e) < 0);
	CHECK_CONTAINS(e.msg, "pids.max");
	CHECK(vs_cgroup_destroy(cg, &e) == 0);
}

TEST(cgroup_v2_hugetlb_limit_written)
{
	struct vs_err e;
	autocgroup struct vs_cgroup *cg = NULL;
	autofree char *p = test_path("v2huge");
	autofree char *val = NULL;
	struct vs_cgroup_resources r = {0};
	struct vs_cgroup_hugetlb h = {"2MB", 4 << 21};

	if (!have_unified())
		SKIP("no cgroup2 mount at %s", UNIFIED);
	REQUIRE(vs_cgroup_open_v2_at(UNIFIED, p, true, &cg, &e) == 0);
	if (!vs_cg_has(cg->h[0].dir, "hugetlb.2MB.max")) {
		vs_cgroup_destroy(cg, &e);
		SKIP("no v2 hugetlb controller with 2MB pages");
	}
	r.hugetlb = &h;
	r.n_hugetlb = 1;
	CHECK(vs_cgroup_apply(cg, &r, &e) == 0);
	CHECK(vs_cg_read(cg->h[0].dir, "hugetlb.2MB.max", &val, &e) == 0);
	CHECK_STR(val, "8388608");
	CHECK(vs_cgroup_destroy(cg, &e) == 0);
}

static int attached_device_progs(const char *dir)
{
	union bpf_attr a;
	uint32_t ids[8];
	autoclose int fd = open(dir, O_RDONLY | O_DIRECTORY);

	memset(&a, 0, sizeof(a));
	a.query.target_fd = fd;
	a.query.attach_type = BPF_CGROUP_DEVICE;
	a.query.prog_ids = (uintptr_t)ids;
	a.query.prog_cnt = 8;
	if (syscall(SYS_bpf, BPF_PROG_QUERY, &a, sizeof(a)) < 0)
		return -1;
	return (int)a.query.prog_cnt;
}

TEST(cgroup_v2_device_program_denies_unlisted_devices)
{
	struct vs_err e;
	autocgroup struct vs_cgroup *cg = NULL;
	autofree char *p = test_path("v2dev");
	struct vs_cgroup_device_rule rules[] = {
		{false, 'a', -1, -1, "rwm"}, /* explicit deny all */
		{true, 'c', 1, -1, "rw"},    /* all of major 1 ... */
		{false, 'c', 1, 5, "r"},     /* ... but reading /dev/zero */
		{true, 'c', 1, 3, "w"},
	};
	int st;

	if (!have_unified())
		SKIP("no cgroup2 mount at %s", UNIFIED);
	REQUIRE(vs_cgroup_open_v2_at(UNIFIED, p, true, &cg, &e) == 0);
	if (vs_cg_v2_set_devices(cg->h[0].dir, rules, 4, &e) < 0) {
		char buf[700];

		fprintf(stderr, "  %s\n", vs_err_str(&e, buf, sizeof(buf)));
		vs_cgroup_destroy(cg, NULL);
		REQUIRE(!"device program refused");
	}
	/* replacing it (here through vs_cgroup_apply, as `update` does)
	 * keeps exactly one program attached */
	struct vs_cgroup_resources r = {.has_devices = true, .devices = rules, .n_devices = 4};
	CHECK(vs_cgroup_apply(cg, &r, &e) == 0);
	CHECK_EQ(attached_device_progs(cg->h[0].dir), 1);
	struct child c = spawn(open_null_then_zero);
	REQUIRE(c.pid > 0);
	CHECK(vs_cgroup_enter(cg, c.pid, &e) == 0);
	release(&c);
	st = wait_status(c.pid);
	CHECK(WIFEXITED(st));
	CHECK_EQ(WEXITSTATUS(st), 0);
	CHECK(vs_cgroup_destroy(cg, &e) == 0);
}

TEST(cgroup_v2_device_program_allow_all_loads)
{
	struct vs_err e;
	autocgroup struct vs_cgroup *cg = NULL;
	autofree char *p = test_path("v2all");
	struct vs_cgroup_device_rule all = {true, 'a', -1, -1, ""};
	struct bpf_insn *insns = NULL;
	size_t n = 0;

	/* a catch-all rule ends the program: no unreachable code after it */
	vs_cg_v2_device_prog(&all, 1, &insns, &n);
	CHECK_EQ(n, 8);
	free(insns);
	if (!have_unified())
		SKIP("no cgroup2 mount at %s", UNIFIED);
	REQUIRE(vs_cgroup_open_v2_at(UNIFIED, p, true, &cg, &e) == 0);
	CHECK(vs_cg_v2_set_devices(cg->h[0].dir, &all, 1, &e) == 0);
	CHECK(vs_cg_v2_set_devices(cg->h[0].dir, NULL, 0, &e) == 0);
	CHECK(vs_cgroup_destroy(cg, &e) == 0);
}

/* ---- v2 value formats --------------------------------------------------- */

/*
 * This machine's cgroup2 tree has no memory/cpu/pids/io controllers (they are
 * bound to v1), so the v2 conversions are checked on a plain directory with
 * empty files named like the controller files: what would be written to
 * each, in the kernel's format (cgroup-v2.rst).
 */
static char *fake_v2(const char *const *files)
{
	char tmpl[] = "/tmp/vs-cgv2-XXXXXX";
	char *d = mkdtemp(tmpl) ? strdup(tmpl) : NULL;

	for (size_t i = 0; d && files[i]; i++) {
		autofree char *p = vs_path_join(d, files[i]);

		if (vs_write_file(p, "", 0, 0644, NULL) < 0)
			return NULL;
	}
	return d;
}

static char *slurp(const char *dir, const char *file)
{
	char *s = NULL;

	if (vs_cg_read(dir, file, &s, NULL) < 0)
		return strdup("(unreadable)");
	return s;
}

TEST(cgroup_v2_values_converted_from_oci_units)
{
	static const char *const files[] = {
		"memory.max", "memory.swap.max", "memory.low", "cpu.weight",  "cpu.max",
		"pids.max",   "io.weight",	 "io.max",     "cpuset.cpus", NULL,
	};
	autofree char *dir = fake_v2(files);
	struct vs_cgroup_hier h = {.dir = dir, .v2 = true};
	struct vs_cgroup_blkio_dev rbps = {.major = 8, .minor = 16, .value = 1048576};
	struct vs_cgroup_resources r = {0};
	struct vs_err e;

	REQUIRE(dir);
	r.has_memory_limit = r.has_memory_swap = r.has_memory_reservation = true;
	r.memory_limit = 100 << 20;
	r.memory_swap = 300 << 20; /* OCI: memory + swap */
	r.memory_reservation = -1;
	r.has_cpu_shares = true;
	r.cpu_shares = 1024;
	r.has_cpu_quota = r.has_cpu_period = true;
	r.cpu_quota = 50000;
	r.cpu_period = 100000;
	r.has_pids_limit = true;
	r.pids_limit = -1;
	r.has_blkio_weight = true;
	r.blkio_weight = 500;
	r.throttle_read_bps = &rbps;
	r.n_throttle_read_bps = 1;
	r.cpuset_cpus = "0-1";
	CHECK(vs_cg_v2_apply(&h, &r, false, &e) == 0);

	autofree char *mem = slurp(dir, "memory.max"), *swap = slurp(dir, "memory.swap.max");
	autofree char *low = slurp(dir, "memory.low"), *w = slurp(dir, "cpu.weight");
	autofree char *cmax = slurp(dir, "cpu.max"), *pids = slurp(dir, "pids.max");
	autofree char *iow = slurp(dir, "io.weight"), *iomax = slurp(dir, "io.max");
	autofree char *cpus = slurp(dir, "cpuset.cpus");
	CHECK_STR(mem, "104857600");
	CHECK_STR(swap, "209715200"); /* swap alone */
	CHECK_STR(low, "max");
	CHECK_STR(w, "39");
	CHECK_STR(cmax, "50000 100000");
	CHECK_STR(pids, "max");
	CHECK_STR(iow, "default 4950"); /* 1 + (500 - 10) * 9999 / 990 */
	CHECK_STR(iomax, "8:16 rbps=1048576");
	CHECK_STR(cpus, "0-1");

	/* swap below memory: refused, naming the field */
	struct vs_cgroup_resources bad = {0};
	bad.has_memory_limit = bad.has_memory_swap = true;
	bad.memory_limit = 100 << 20;
	bad.memory_swap = 50 << 20;
	CHECK(vs_cg_v2_apply(&h, &bad, false, &e) < 0);
	CHECK_CONTAINS(e.msg, "linux.resources.memory.swap");
	/* v1-only knobs are errors on v2 only when asked for */
	memset(&bad, 0, sizeof(bad));
	bad.has_cpu_rt_runtime = true;
	bad.cpu_rt_runtime = 1000;
	CHECK(vs_cg_v2_apply(&h, &bad, false, &e) < 0);
	CHECK_CONTAINS(e.msg, "realtime");
	memset(&bad, 0, sizeof(bad));
	bad.has_disable_oom_killer = true; /* false: fine */
	CHECK(vs_cg_v2_apply(&h, &bad, false, &e) == 0);
	CHECK(vs_rm_rf(dir, &e) == 0);
}

TEST(cgroup_v2_quota_alone_keeps_period)
{
	static const char *const files[] = {"cpu.max", NULL};
	autofree char *dir = fake_v2(files);
	struct vs_cgroup_hier h = {.dir = dir, .v2 = true};
	struct vs_cgroup_resources r = {0};
	struct vs_err e;

	REQUIRE(dir);
	REQUIRE(vs_cg_write(dir, "cpu.max", "max 250000", &e) == 0);
	r.has_cpu_quota = true;
	r.cpu_quota = 125000;
	CHECK(vs_cg_v2_apply(&h, &r, false, &e) == 0);
	autofree char *cmax = slurp(dir, "cpu.max");
	CHECK_STR(cmax, "125000 250000");
	CHECK(vs_rm_rf(dir, &e) == 0);
}

/* ---- hybrid: v1 controllers plus the unified tree for what v1 lacks ------ */

TEST(cgroup_hybrid_hugetlb_and_unified_go_to_cgroup2)
{
	struct vs_err e;
	autocgroup struct vs_cgroup *cg = NULL;
	autofree char *p = test_path("hybrid");
	struct vs_cgroup_hugetlb h = {"2MB", 2 << 21};
	struct vs_cgroup_kv kv = {"hugetlb.2MB.rsvd.max", "6291456"};
	struct vs_cgroup_kv bad = {"memory.high", "1000000"};
	struct vs_cgroup_resources r = {0};

	REQUIRE(vs_cgroup_create(p, &cg, &e) == 0);
	if (vs_cgroup_layout(cg) != VS_CGROUP_HYBRID || vs_cg_find(cg, "hugetlb") == NULL ||
	    !vs_cg_find(cg, "hugetlb")->v2) {
		vs_cgroup_destroy(cg, NULL);
		SKIP("not a hybrid host with hugetlb only on cgroup2");
	}
	const char *u = vs_cgroup_dir(cg, "unified");
	REQUIRE(u);
	if (!vs_cg_has(u, "hugetlb.2MB.max")) {
		vs_cgroup_destroy(cg, NULL);
		SKIP("no 2MB hugetlb files");
	}
	r.hugetlb = &h;
	r.n_hugetlb = 1;
	r.unified = &kv;
	r.n_unified = 1;
	CHECK(vs_cgroup_apply(cg, &r, &e) == 0);
	autofree char *max = NULL, *rsvd = NULL;
	CHECK(vs_cg_read(u, "hugetlb.2MB.max", &max, &e) == 0);
	CHECK(vs_cg_read(u, "hugetlb.2MB.rsvd.max", &rsvd, &e) == 0);
	CHECK_STR(max, "4194304");
	CHECK_STR(rsvd, "6291456");
	/* a unified key the host lacks names the cgroup2 file */
	memset(&r, 0, sizeof(r));
	r.unified = &bad;
	r.n_unified = 1;
	CHECK(vs_cgroup_apply(cg, &r, &e) < 0);
	autofree char *want = vs_strdup_printf("cgroup %s/memory.high", u);
	CHECK_CONTAINS(e.msg, want);
	CHECK(vs_cgroup_destroy(cg, &e) == 0);
	CHECK(gone_everywhere(p));
}

/* Blocks SIGTERM, says so on fd `ready`, and exits 42 once SIGTERM comes. */
static pid_t term_waiter(int ready)
{
	pid_t pid = fork();

	if (pid == 0) {
		sigset_t s;
		int sig = 0;

		sigemptyset(&s);
		sigaddset(&s, SIGTERM);
		sigprocmask(SIG_BLOCK, &s, NULL);
		if (write(ready, "r", 1) != 1)
			_exit(2);
		sigwait(&s, &sig);
		_exit(sig == SIGTERM ? 42 : 1);
	}
	return pid;
}

TEST(cgroup_kill_delivers_other_signals_to_every_process)
{
	struct vs_err e;
	autocgroup struct vs_cgroup *cg = NULL;
	autofree char *p = test_path("term");
	pid_t pids[2];
	int ready[2], st;
	char b[2];

	REQUIRE(pipe(ready) == 0);
	REQUIRE(vs_cgroup_create(p, &cg, &e) == 0);
	for (int i = 0; i < 2; i++) {
		pids[i] = term_waiter(ready[1]);
		REQUIRE(pids[i] > 0);
		CHECK(vs_cgroup_enter(cg, pids[i], &e) == 0);
	}
	/* both have SIGTERM blocked before it is sent */
	CHECK(read(ready[0], b, 1) == 1 && read(ready[0], b + 1, 1) == 1);
	close(ready[0]);
	close(ready[1]);
	CHECK(vs_cgroup_kill(cg, SIGTERM, &e) == 0);
	for (int i = 0; i < 2; i++) {
		st = wait_status(pids[i]);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 42);
	}
	CHECK(vs_cgroup_destroy(cg, &e) == 0);
}

TEST(cgroup_half_removed_can_be_opened_and_destroyed)
{
	struct vs_err e;
	autocgroup struct vs_cgroup *cg = NULL, *again = NULL;
	autofree char *p = test_path("half");

	if (!have_v1("memory"))
		SKIP("no v1 memory hierarchy");
	REQUIRE(vs_cgroup_create(p, &cg, &e) == 0);
	REQUIRE(rmdir(vs_cgroup_dir(cg, "memory")) == 0);
	REQUIRE(vs_cgroup_open(p, &again, &e) == 0);
	CHECK(vs_cgroup_destroy(again, &e) == 0);
	CHECK(gone_everywhere(p));
}
