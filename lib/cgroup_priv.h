/* Internals shared by lib/cgroup.c (common code), lib/cgroup_v1.c and
 * lib/cgroup_v2.c. Unit tests include it to run the v2 code on any cgroup2
 * mount (the development machines have one at /sys/fs/cgroup/unified). */
#ifndef VESSEL_LIB_CGROUP_PRIV_H
#define VESSEL_LIB_CGROUP_PRIV_H

#include <stdbool.h>
#include "vessel/cgroup.h"

#define VS_CGROUP_ROOT "/sys/fs/cgroup"

/* One mounted hierarchy and this cgroup's directory in it. */
struct vs_cgroup_hier {
	char *name;	    /* "memory", "cpu,cpuacct", "systemd", "unified", "" (pure v2) */
	char *options;	    /* v1 superblock options naming it ("none,name=systemd") */
	char *mnt;	    /* mount point, the hierarchy root */
	char *dir;	    /* mnt + cgroup path */
	char **controllers; /* NULL-terminated: v1 controllers, or v2 cgroup.controllers of the root
			     */
	bool v2;
};

struct vs_cgroup {
	enum vs_cgroup_layout layout;
	char *path; /* normalised: "/a/b" */
	struct vs_cgroup_hier *h;
	size_t n;
};

/* Writes val to dir/file; error "cgroup DIR/FILE: write "VAL"" with errno. */
int vs_cg_write(const char *dir, const char *file, const char *val, struct vs_err *e);
/* Reads dir/file, trailing newline removed. */
int vs_cg_read(const char *dir, const char *file, char **out, struct vs_err *e);
bool vs_cg_has(const char *dir, const char *file);
/* Error for a file the host lacks but the user asked for. */
int vs_cg_missing(struct vs_err *e, const char *dir, const char *file);
/* Writes only if the file exists; otherwise the "missing" error. */
int vs_cg_write_req(const char *dir, const char *file, const char *val, struct vs_err *e);

/* The hierarchy serving controller (v1 first, then the v2 one listing it). */
struct vs_cgroup_hier *vs_cg_find(const struct vs_cgroup *cg, const char *controller);
struct vs_cgroup_hier *vs_cg_v2_hier(const struct vs_cgroup *cg);

/* Opens or creates path on the single cgroup2 hierarchy mounted at mnt, as
 * a VS_CGROUP_V2 cgroup (used by tests on /sys/fs/cgroup/unified). */
int vs_cgroup_open_v2_at(const char *mnt, const char *path, bool create, struct vs_cgroup **out,
			 struct vs_err *e);

/* cgroup_v1.c */
int vs_cg_v1_apply(struct vs_cgroup *cg, const struct vs_cgroup_resources *r, struct vs_err *e);
int vs_cg_v1_cpuset_inherit(const char *dir, struct vs_err *e);
int vs_cg_v1_freeze(const char *dir, bool frozen, struct vs_err *e);
int vs_cg_v1_is_frozen(const char *dir, bool *out, struct vs_err *e);

/* cgroup_v2.c */
int vs_cg_v2_apply(struct vs_cgroup_hier *h, const struct vs_cgroup_resources *r,
		   bool only_missing_v1, struct vs_err *e);
int vs_cg_v2_enable_controllers(const char *dir, struct vs_err *e);
int vs_cg_v2_freeze(const char *dir, bool frozen, struct vs_err *e);
int vs_cg_v2_is_frozen(const char *dir, bool *out, struct vs_err *e);
int vs_cg_v2_kill(const char *dir, struct vs_err *e); /* cgroup.kill; ENOTSUP if absent */
/* Replaces the cgroup's device eBPF program with one for these rules. */
int vs_cg_v2_set_devices(const char *dir, const struct vs_cgroup_device_rule *rules, size_t n,
			 struct vs_err *e);
/* The program for these rules (malloc'ed instructions); exposed for tests. */
struct bpf_insn;
int vs_cg_v2_device_prog(const struct vs_cgroup_device_rule *rules, size_t n, struct bpf_insn **out,
			 size_t *count);

#endif
