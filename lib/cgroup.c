/* cgroups: layout detection, paths, create/open/enter/kill/destroy for every
 * hierarchy. What to write for resources is in cgroup_v1.c / cgroup_v2.c. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "lib/cgroup_priv.h"
#include "vessel/cleanup.h"
#include "vessel/fs.h"
#include "vessel/log.h"

/* ---- small helpers shared by the backends ------------------------------- */

int vs_cg_write(const char *dir, const char *file, const char *val, struct vs_err *e)
{
	autofree char *p = vs_path_join(dir, file);
	autoclose int fd = open(p, O_WRONLY | O_CLOEXEC);
	size_t len = strlen(val);

	if (fd < 0)
		return vs_fail_errno(e, "cgroup %s: open", p);
	/* cgroup files take one value per write(); a short write is an error */
	if (write(fd, val, len) != (ssize_t)len)
		return vs_fail_errno(e, "cgroup %s: write \"%s\"", p, val);
	return 0;
}

int vs_cg_read(const char *dir, const char *file, char **out, struct vs_err *e)
{
	autofree char *p = vs_path_join(dir, file);
	size_t len;

	if (vs_read_file(p, out, &len, NULL) < 0)
		return vs_fail_errno(e, "cgroup %s: read", p);
	while (len > 0 && (*out)[len - 1] == '\n')
		(*out)[--len] = '\0';
	return 0;
}

bool vs_cg_has(const char *dir, const char *file)
{
	autofree char *p = vs_path_join(dir, file);

	return access(p, F_OK) == 0;
}

int vs_cg_missing(struct vs_err *e, const char *dir, const char *file)
{
	autofree char *p = vs_path_join(dir, file);

	return vs_fail(e, ENOTSUP, "cgroup %s: not supported by this host (no such file)", p);
}

int vs_cg_write_req(const char *dir, const char *file, const char *val, struct vs_err *e)
{
	if (!vs_cg_has(dir, file))
		return vs_cg_missing(e, dir, file);
	return vs_cg_write(dir, file, val, e);
}

static bool strv_has(char **v, const char *s)
{
	for (; v && *v; v++)
		if (!strcmp(*v, s))
			return true;
	return false;
}

struct vs_cgroup_hier *vs_cg_find(const struct vs_cgroup *cg, const char *controller)
{
	for (size_t i = 0; i < cg->n; i++)
		if (!cg->h[i].v2 && strv_has(cg->h[i].controllers, controller))
			return &cg->h[i];
	for (size_t i = 0; i < cg->n; i++)
		if (cg->h[i].v2 && strv_has(cg->h[i].controllers, controller))
			return &cg->h[i];
	return NULL;
}

struct vs_cgroup_hier *vs_cg_v2_hier(const struct vs_cgroup *cg)
{
	for (size_t i = 0; i < cg->n; i++)
		if (cg->h[i].v2)
			return &cg->h[i];
	return NULL;
}

/* ---- resources ---------------------------------------------------------- */

static void free_kv(struct vs_cgroup_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

void vs_cgroup_resources_free(struct vs_cgroup_resources *r)
{
	if (!r)
		return;
	free(r->cpuset_cpus);
	free(r->cpuset_mems);
	free(r->blkio_weight_dev);
	free(r->throttle_read_bps);
	free(r->throttle_write_bps);
	free(r->throttle_read_iops);
	free(r->throttle_write_iops);
	free(r->hugetlb);
	free(r->devices);
	free_kv(r->net_prio, r->n_net_prio);
	free_kv(r->unified, r->n_unified);
	memset(r, 0, sizeof(*r));
}

void vs_cgroup_resources_add_device(struct vs_cgroup_resources *r,
				    const struct vs_cgroup_device_rule *rule)
{
	struct vs_cgroup_device_rule *d = realloc(r->devices, (r->n_devices + 1) * sizeof(*d));

	if (!d)
		abort();
	d[r->n_devices++] = *rule;
	r->devices = d;
	r->has_devices = true;
}

uint64_t vs_cgroup_shares_to_weight(uint64_t shares)
{
	/* v1 shares 2..262144 map linearly onto v2 weight 1..10000 */
	if (shares == 0)
		return 0;
	if (shares < 2)
		shares = 2;
	if (shares > 262144)
		shares = 262144;
	return 1 + ((shares - 2) * 9999) / 262142;
}

/* ---- layout and hierarchies --------------------------------------------- */

static bool is_fs(const char *path, unsigned long magic)
{
	struct statfs st;

	return statfs(path, &st) == 0 && (unsigned long)st.f_type == magic;
}

int vs_cgroup_detect(enum vs_cgroup_layout *out, struct vs_err *e)
{
	if (is_fs(VS_CGROUP_ROOT, CGROUP2_SUPER_MAGIC))
		*out = VS_CGROUP_V2;
	else if (is_fs(VS_CGROUP_ROOT "/unified", CGROUP2_SUPER_MAGIC))
		*out = VS_CGROUP_HYBRID;
	else if (access(VS_CGROUP_ROOT, F_OK) == 0)
		*out = VS_CGROUP_V1;
	else
		return vs_fail_errno(e, "cgroup: %s: no cgroup file system", VS_CGROUP_ROOT);
	return 0;
}

static const char *const v1_controllers[] = {
	"cpu",	 "cpuacct",    "cpuset",  "memory", "devices", "freezer", "net_cls", "net_prio",
	"blkio", "perf_event", "hugetlb", "pids",   "rdma",    "misc",	  NULL,
};

static bool is_v1_controller(const char *s)
{
	for (size_t i = 0; v1_controllers[i]; i++)
		if (!strcmp(v1_controllers[i], s))
			return true;
	return !strncmp(s, "name=", 5);
}

static char **split(const char *s, const char *sep)
{
	autofree char *copy = strdup(s);
	char **v = calloc(strlen(s) + 2, sizeof(char *));
	size_t n = 0;
	char *save = NULL;

	if (!copy || !v)
		abort();
	for (char *t = strtok_r(copy, sep, &save); t; t = strtok_r(NULL, sep, &save))
		v[n++] = strdup(t);
	return v;
}

static void hier_free(struct vs_cgroup_hier *h)
{
	vs_strvfreep(&h->controllers);
	free(h->name);
	free(h->options);
	free(h->mnt);
	free(h->dir);
}

static void cg_add(struct vs_cgroup *cg, struct vs_cgroup_hier *h)
{
	struct vs_cgroup_hier *n = realloc(cg->h, (cg->n + 1) * sizeof(*n));

	if (!n)
		abort();
	n[cg->n++] = *h;
	cg->h = n;
}

static void add_v2(struct vs_cgroup *cg, const char *mnt, const char *name)
{
	struct vs_cgroup_hier h = {0};
	autofree char *ctl = NULL, *sub = NULL;

	h.v2 = true;
	h.name = strdup(name);
	h.options = strdup("");
	h.mnt = strdup(mnt);
	/* cgroup.controllers, plus what the root already enables for its
	 * children (robust to cgroup.controllers hidden by a bind mount, as
	 * some runtimes do on hybrid hosts) */
	if (vs_cg_read(mnt, "cgroup.controllers", &ctl, NULL) < 0)
		ctl = strdup("");
	if (vs_cg_read(mnt, "cgroup.subtree_control", &sub, NULL) == 0) {
		char *both = vs_strdup_printf("%s %s", ctl, sub);

		free(ctl);
		ctl = both;
	}
	h.controllers = split(ctl, " \n");
	cg_add(cg, &h);
}

/* v1 hierarchies from /proc/self/mountinfo, mounted right under the root. */
static int add_v1(struct vs_cgroup *cg, struct vs_err *e)
{
	autofclose FILE *f = fopen("/proc/self/mountinfo", "re");
	autofree char *line = NULL;
	size_t cap = 0;
	size_t rootlen = strlen(VS_CGROUP_ROOT);

	if (!f)
		return vs_fail_errno(e, "cgroup: open /proc/self/mountinfo");
	while (getline(&line, &cap, f) > 0) {
		char mnt[4096], fstype[64], super[1024];
		char *dash = strstr(line, " - ");
		struct vs_cgroup_hier h = {0};
		bool dup = false;

		if (!dash || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
		    sscanf(dash + 3, "%63s %*s %1023s", fstype, super) != 2)
			continue;
		if (strcmp(fstype, "cgroup") || strncmp(mnt, VS_CGROUP_ROOT "/", rootlen + 1) ||
		    strchr(mnt + rootlen + 1, '/'))
			continue;
		for (size_t i = 0; i < cg->n; i++)
			dup |= !strcmp(cg->h[i].mnt, mnt);
		if (dup)
			continue;
		autostrv char **opts = split(super, ",");
		size_t nc = 0;

		h.controllers = calloc(16, sizeof(char *));
		if (!h.controllers)
			abort();
		autofree char *o = strdup("");
		for (char **p = opts; *p; p++) {
			if (!is_v1_controller(*p) || nc >= 15)
				continue;
			h.controllers[nc++] = strdup(*p);
			char *no = vs_strdup_printf("%s%s%s", o, *o ? "," : "", *p);
			free(o);
			o = no;
		}
		if (nc == 0) {
			free(h.controllers);
			continue;
		}
		h.mnt = strdup(mnt);
		h.name = strdup(mnt + rootlen + 1);
		h.options =
			strncmp(o, "name=", 5) ? vs_steal_ptr(o) : vs_strdup_printf("none,%s", o);
		cg_add(cg, &h);
	}
	return 0;
}

/* "/a//b/" or "a/b" -> "/a/b"; refuses "", "/", "." / "..", systemd form. */
static int normalise(const char *path, char **out, struct vs_err *e)
{
	if (!path || !*path)
		return vs_fail(e, EINVAL, "cgroup path: empty");
	if (path[0] != '/' && strchr(path, ':'))
		return vs_fail(e, EINVAL,
			       "cgroup path \"%s\": systemd cgroup paths (slice:prefix:name) "
			       "are not supported (no systemd cgroup driver)",
			       path);
	autostrv char **parts = split(path, "/");
	autofree char *res = strdup("");

	for (char **p = parts; *p; p++) {
		if (!strcmp(*p, ".") || !strcmp(*p, ".."))
			return vs_fail(e, EINVAL, "cgroup path \"%s\": \"%s\" not allowed", path,
				       *p);
		char *n = vs_strdup_printf("%s/%s", res, *p);
		free(res);
		res = n;
	}
	if (!*res)
		return vs_fail(e, EINVAL, "cgroup path \"%s\": the root cgroup cannot be used",
			       path);
	*out = vs_steal_ptr(res);
	return 0;
}

static int cg_new(const char *path, struct vs_cgroup **out, struct vs_err *e)
{
	struct vs_cgroup *cg = calloc(1, sizeof(*cg));

	if (!cg)
		abort();
	if (normalise(path, &cg->path, e) < 0 || vs_cgroup_detect(&cg->layout, e) < 0) {
		vs_cgroup_free(cg);
		return -1;
	}
	if (cg->layout == VS_CGROUP_V2) {
		add_v2(cg, VS_CGROUP_ROOT, "");
	} else {
		if (add_v1(cg, e) < 0) {
			vs_cgroup_free(cg);
			return -1;
		}
		if (cg->layout == VS_CGROUP_HYBRID)
			add_v2(cg, VS_CGROUP_ROOT "/unified", "unified");
	}
	for (size_t i = 0; i < cg->n; i++)
		cg->h[i].dir = vs_path_join(cg->h[i].mnt, cg->path);
	*out = cg;
	return 0;
}

/* mkdir each missing level of every hierarchy; undo on failure. */
static int make_dirs(struct vs_cgroup *cg, struct vs_err *e)
{
	char **made = calloc(64 * cg->n + 1, sizeof(char *));
	size_t nmade = 0;
	int ret = 0;

	if (!made)
		abort();
	for (size_t i = 0; i < cg->n && ret == 0; i++) {
		struct vs_cgroup_hier *h = &cg->h[i];
		bool cpuset = !h->v2 && strv_has(h->controllers, "cpuset");
		autofree char *cur = strdup(h->mnt);
		autostrv char **parts = split(cg->path, "/");

		for (char **p = parts; *p && ret == 0; p++) {
			char *next = vs_path_join(cur, *p);

			/* v2: a child only gets the controllers its parent enables */
			if (h->v2)
				vs_cg_v2_enable_controllers(cur, NULL);
			free(cur);
			cur = next;
			if (mkdir(cur, 0755) == 0) {
				if (nmade < 64 * cg->n)
					made[nmade++] = strdup(cur);
			} else if (errno != EEXIST) {
				ret = vs_fail_errno(e, "cgroup %s: mkdir", cur);
				break;
			}
			/* v1 cpuset: a cgroup with empty cpus/mems refuses tasks */
			if (cpuset && vs_cg_v1_cpuset_inherit(cur, e) < 0)
				ret = -1;
		}
	}
	while (nmade > 0) {
		char *d = made[--nmade];

		if (ret < 0)
			rmdir(d);
		free(d);
	}
	free(made);
	return ret;
}

int vs_cgroup_create(const char *path, struct vs_cgroup **out, struct vs_err *e)
{
	struct vs_cgroup *cg;

	if (cg_new(path, &cg, e) < 0)
		return -1;
	if (make_dirs(cg, e) < 0) {
		vs_cgroup_free(cg);
		return -1;
	}
	*out = cg;
	return 0;
}

int vs_cgroup_open_v2_at(const char *mnt, const char *path, bool create, struct vs_cgroup **out,
			 struct vs_err *e)
{
	struct vs_cgroup *cg = calloc(1, sizeof(*cg));

	if (!cg)
		abort();
	cg->layout = VS_CGROUP_V2;
	if (normalise(path, &cg->path, e) < 0) {
		vs_cgroup_free(cg);
		return -1;
	}
	add_v2(cg, mnt, "");
	cg->h[0].dir = vs_path_join(mnt, cg->path);
	if ((create && make_dirs(cg, e) < 0) || (!create && access(cg->h[0].dir, F_OK) < 0 &&
						 vs_fail_errno(e, "cgroup %s", cg->h[0].dir) < 0)) {
		vs_cgroup_free(cg);
		return -1;
	}
	*out = cg;
	return 0;
}

int vs_cgroup_open(const char *path, struct vs_cgroup **out, struct vs_err *e)
{
	struct vs_cgroup *cg;

	bool any = false;

	if (cg_new(path, &cg, e) < 0)
		return -1;
	for (size_t i = 0; i < cg->n; i++)
		any |= access(cg->h[i].dir, F_OK) == 0;
	if (!any) {
		vs_fail(e, ENOENT, "cgroup %s: not found in any hierarchy (%s)", cg->path,
			cg->n ? cg->h[0].dir : VS_CGROUP_ROOT);
		vs_cgroup_free(cg);
		return -1;
	}
	*out = cg;
	return 0;
}

int vs_cgroup_exists(const char *path, bool *out, struct vs_err *e)
{
	autocgroup struct vs_cgroup *cg = NULL;

	if (cg_new(path, &cg, e) < 0)
		return -1;
	*out = false;
	for (size_t i = 0; i < cg->n; i++)
		*out |= access(cg->h[i].dir, F_OK) == 0;
	return 0;
}

/* ---- processes ---------------------------------------------------------- */

int vs_cgroup_enter(struct vs_cgroup *cg, pid_t pid, struct vs_err *e)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%d", (int)pid);
	for (size_t i = 0; i < cg->n; i++)
		if (vs_cg_write(cg->h[i].dir, "cgroup.procs", buf, e) < 0)
			return -1;
	return 0;
}

/* The hierarchy whose cgroup.procs lists the container's processes best. */
static struct vs_cgroup_hier *procs_hier(const struct vs_cgroup *cg)
{
	struct vs_cgroup_hier *h;

	if (cg->layout == VS_CGROUP_V2)
		return &cg->h[0];
	if ((h = vs_cg_find(cg, "pids")) || (h = vs_cg_find(cg, "freezer")) ||
	    (h = vs_cg_find(cg, "memory")))
		return h;
	return cg->n ? &cg->h[0] : NULL;
}

struct pidv {
	pid_t *v;
	size_t n, cap;
};

static int collect(const char *dir, struct pidv *pv, struct vs_err *e)
{
	autofree char *procs = NULL;
	DIR *d;
	struct dirent *de;

	if (vs_cg_read(dir, "cgroup.procs", &procs, e) < 0)
		return -1;
	for (char *s = procs, *end; *s; s = end) {
		long v = strtol(s, &end, 10);

		if (end == s)
			break;
		if (pv->n == pv->cap) {
			pv->cap = pv->cap ? pv->cap * 2 : 16;
			pv->v = realloc(pv->v, pv->cap * sizeof(pid_t));
			if (!pv->v)
				abort();
		}
		pv->v[pv->n++] = (pid_t)v;
	}
	d = opendir(dir);
	if (!d)
		return vs_fail_errno(e, "cgroup %s: opendir", dir);
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		autofree char *sub = vs_path_join(dir, de->d_name);
		if (collect(sub, pv, e) < 0) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return 0;
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

int vs_cgroup_pids(struct vs_cgroup *cg, pid_t **out, size_t *n, struct vs_err *e)
{
	struct vs_cgroup_hier *h = procs_hier(cg);
	struct pidv pv = {0};
	size_t u = 0;

	if (!h)
		return vs_fail(e, ENOENT, "cgroup %s: no hierarchy", cg->path);
	if (collect(h->dir, &pv, e) < 0) {
		free(pv.v);
		return -1;
	}
	if (pv.n)
		qsort(pv.v, pv.n, sizeof(pid_t), cmp_pid);
	for (size_t i = 0; i < pv.n; i++)
		if (u == 0 || pv.v[u - 1] != pv.v[i])
			pv.v[u++] = pv.v[i];
	*out = pv.v;
	*n = u;
	return 0;
}

int vs_cgroup_kill(struct vs_cgroup *cg, int sig, struct vs_err *e)
{
	autofree pid_t *pids = NULL;
	struct vs_cgroup_hier *fz;
	bool thaw = false;
	size_t n = 0;
	int ret = 0;

	if (cg->layout == VS_CGROUP_V2 && sig == SIGKILL) {
		struct vs_err e2;

		if (vs_cg_v2_kill(cg->h[0].dir, &e2) == 0)
			return 0;
		if (e2.errnum != ENOTSUP) {
			*e = e2;
			return -1;
		}
	}
	/* an empty cgroup stays empty (nothing left in it can fork): the common
	 * case at delete, where freezing and thawing would cost two transitions */
	if (vs_cgroup_pids(cg, &pids, &n, e) < 0)
		return -1;
	if (n == 0)
		return 0;
	free(pids);
	pids = NULL;
	n = 0;
	/* v1: freeze first so nothing forks past the list we read */
	fz = vs_cg_find(cg, "freezer");
	if (fz && !fz->v2 && sig == SIGKILL) {
		bool was = false;

		/* frozen already (paused container) or frozen now: either way it
		 * must be thawed after the kill, a frozen task cannot die */
		if (vs_cg_v1_is_frozen(fz->dir, &was, NULL) == 0) {
			/* a freeze that times out still leaves tasks FREEZING: thaw anyway */
			if (!was)
				vs_cg_v1_freeze(fz->dir, true, NULL);
			thaw = true;
		}
	}
	if (vs_cgroup_pids(cg, &pids, &n, e) < 0)
		ret = -1;
	for (size_t i = 0; ret == 0 && i < n; i++)
		if (kill(pids[i], sig) < 0 && errno != ESRCH)
			ret = vs_fail_errno(e, "cgroup %s: kill %d", cg->path, (int)pids[i]);
	/* a frozen task dies from SIGKILL only once thawed */
	if (thaw && vs_cg_v1_freeze(fz->dir, false, ret ? NULL : e) < 0)
		ret = -1;
	return ret;
}

int vs_cgroup_freeze(struct vs_cgroup *cg, bool frozen, struct vs_err *e)
{
	struct vs_cgroup_hier *h = vs_cg_find(cg, "freezer");

	if (h && !h->v2)
		return vs_cg_v1_freeze(h->dir, frozen, e);
	if ((h = vs_cg_v2_hier(cg)) && cg->layout == VS_CGROUP_V2)
		return vs_cg_v2_freeze(h->dir, frozen, e);
	return vs_fail(e, ENOTSUP, "cgroup %s: no freezer on this host", cg->path);
}

int vs_cgroup_is_frozen(struct vs_cgroup *cg, bool *out, struct vs_err *e)
{
	struct vs_cgroup_hier *h = vs_cg_find(cg, "freezer");

	if (h && !h->v2)
		return vs_cg_v1_is_frozen(h->dir, out, e);
	if ((h = vs_cg_v2_hier(cg)) && cg->layout == VS_CGROUP_V2)
		return vs_cg_v2_is_frozen(h->dir, out, e);
	return vs_fail(e, ENOTSUP, "cgroup %s: no freezer on this host", cg->path);
}

/* ---- resources and removal ---------------------------------------------- */

int vs_cgroup_apply(struct vs_cgroup *cg, const struct vs_cgroup_resources *r, struct vs_err *e)
{
	struct vs_cgroup_hier *h2 = vs_cg_v2_hier(cg);

	switch (cg->layout) {
	case VS_CGROUP_V2: return vs_cg_v2_apply(&cg->h[0], r, false, e);
	case VS_CGROUP_HYBRID:
		if (vs_cg_v1_apply(cg, r, e) < 0)
			return -1;
		/* the unified tree serves only what v1 lacks (hugetlb here) */
		return h2 ? vs_cg_v2_apply(h2, r, true, e) : 0;
	case VS_CGROUP_V1:
		if (r->n_unified)
			return vs_fail(e, ENOTSUP,
				       "cgroup %s: linux.resources.unified needs "
				       "cgroup v2, this host has only v1",
				       cg->path);
		return vs_cg_v1_apply(cg, r, e);
	}
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* rmdir dir after its sub-cgroups; EBUSY (tasks still exiting) retried. */
static int rm_tree(const char *dir, struct vs_err *e)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return errno == ENOENT ? 0 : vs_fail_errno(e, "cgroup %s: opendir", dir);
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		autofree char *sub = vs_path_join(dir, de->d_name);
		if (rm_tree(sub, e) < 0) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	for (int i = 0; i < 200; i++) {
		if (rmdir(dir) == 0 || errno == ENOENT)
			return 0;
		if (errno != EBUSY)
			break;
		sleep_ms(10);
	}
	return vs_fail_errno(e, "cgroup %s: rmdir", dir);
}

int vs_cgroup_destroy(struct vs_cgroup *cg, struct vs_err *e)
{
	int ret = 0;

	/* try every hierarchy even after a failure; report the first */
	for (size_t i = 0; i < cg->n; i++)
		if (rm_tree(cg->h[i].dir, ret ? NULL : e) < 0)
			ret = -1;
	return ret;
}

void vs_cgroup_free(struct vs_cgroup *cg)
{
	if (!cg)
		return;
	for (size_t i = 0; i < cg->n; i++)
		hier_free(&cg->h[i]);
	free(cg->h);
	free(cg->path);
	free(cg);
}

void vs_cgroup_freep(struct vs_cgroup **cg)
{
	vs_cgroup_free(*cg);
}

const char *vs_cgroup_path(const struct vs_cgroup *cg)
{
	return cg->path;
}

enum vs_cgroup_layout vs_cgroup_layout(const struct vs_cgroup *cg)
{
	return cg->layout;
}

const char *vs_cgroup_dir(const struct vs_cgroup *cg, const char *controller)
{
	struct vs_cgroup_hier *h;

	if (cg->layout == VS_CGROUP_V2)
		return cg->h[0].dir;
	if (!strcmp(controller, "unified"))
		h = vs_cg_v2_hier(cg);
	else
		h = vs_cg_find(cg, controller);
	if (!h && !strcmp(controller, "systemd"))
		h = vs_cg_find(cg, "name=systemd");
	return h ? h->dir : NULL;
}

int vs_cgroup_mount_info(const struct vs_cgroup *cg, struct vs_cgroup_mount **out, size_t *n,
			 struct vs_err *e)
{
	struct vs_cgroup_mount *m = calloc(cg->n + 1, sizeof(*m));

	if (!m)
		return vs_fail(e, ENOMEM, "cgroup %s: out of memory", cg->path);
	for (size_t i = 0; i < cg->n; i++) {
		m[i].target = strdup(cg->h[i].name);
		m[i].host_dir = strdup(cg->h[i].dir);
		m[i].fstype = strdup(cg->h[i].v2 ? "cgroup2" : "cgroup");
		m[i].options = strdup(cg->h[i].options);
	}
	*out = m;
	*n = cg->n;
	return 0;
}

void vs_cgroup_mount_info_free(struct vs_cgroup_mount *m, size_t n)
{
	if (!m)
		return;
	for (size_t i = 0; i < n; i++) {
		free(m[i].target);
		free(m[i].host_dir);
		free(m[i].fstype);
		free(m[i].options);
	}
	free(m);
}
