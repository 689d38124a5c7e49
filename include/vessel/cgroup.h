/*
 * Control groups, v1 and v2 behind one interface.
 *
 * libvessel knows nothing of OCI JSON: runtime/resources.c turns
 * linux.resources into a struct vs_cgroup_resources, this module writes it.
 *
 * Paths. A cgroup path ("/vessel/abc") is taken relative to the root of every
 * hierarchy (/sys/fs/cgroup/<controller>/vessel/abc on v1,
 * /sys/fs/cgroup/vessel/abc on v2). A relative path ("vessel/abc") is treated
 * the same as its absolute form, as runc does for cgroupfs: containers land
 * in a predictable place whatever cgroup the runtime itself runs in. Paths
 * with "." or ".." components are refused (no escaping the hierarchy), and so
 * is the systemd form "slice:prefix:name" (no systemd driver).
 *
 * Layouts (detected at run time from /sys/fs/cgroup):
 *   VS_CGROUP_V2      cgroup2 mounted at /sys/fs/cgroup
 *   VS_CGROUP_HYBRID  v1 controllers in /sys/fs/cgroup/<ctrl> and a cgroup2
 *                     mount at /sys/fs/cgroup/unified; the v1 controllers are
 *                     used, the unified tree only for controllers v1 lacks
 *                     (hugetlb on the development machines)
 *   VS_CGROUP_V1      v1 only
 */
#ifndef VESSEL_CGROUP_H
#define VESSEL_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vessel/err.h"

enum vs_cgroup_layout { VS_CGROUP_V1, VS_CGROUP_HYBRID, VS_CGROUP_V2 };

/* One device cgroup rule (OCI linux.resources.devices[i]). */
struct vs_cgroup_device_rule {
	bool allow;
	char type;	/* 'a' (all), 'c' or 'b' */
	int64_t major;	/* -1: any */
	int64_t minor;	/* -1: any */
	char access[4]; /* subset of "rwm", NUL-terminated; "" means "rwm" */
};

/* One per-device block I/O value (weightDevice, throttle*Device). */
struct vs_cgroup_blkio_dev {
	int64_t major, minor;
	uint64_t value;	      /* rate (bytes/s or io/s) or weight */
	bool has_leaf_weight; /* weightDevice only */
	uint64_t leaf_weight;
};

/* One hugetlb limit: page size as the kernel names it ("2MB", "1GB"). */
struct vs_cgroup_hugetlb {
	char page_size[16];
	uint64_t limit; /* bytes */
};

/* A raw key/value: OCI linux.resources.unified (v2 file name -> content)
 * and network priorities (interface -> priority). */
struct vs_cgroup_kv {
	char *key;
	char *value;
};

/*
 * Every OCI linux.resources field. A field is applied only when its has_
 * flag is set (or, for strings and arrays, when non-NULL/non-empty), so an
 * `update` touches only what it names. Values use the OCI (v1) units; the v2
 * backend converts (shares -> weight, swap = memory+swap -> swap alone).
 */
struct vs_cgroup_resources {
	/* memory (bytes; -1 = unlimited) */
	bool has_memory_limit;
	int64_t memory_limit;
	bool has_memory_reservation;
	int64_t memory_reservation;
	bool has_memory_swap; /* OCI: memory + swap */
	int64_t memory_swap;
	bool has_memory_kernel; /* deprecated by the kernel: ignored, with a warning */
	int64_t memory_kernel;
	bool has_memory_kernel_tcp; /* v1 only; ignored with a warning on v2 */
	int64_t memory_kernel_tcp;
	bool has_memory_swappiness; /* 0..100 */
	uint64_t memory_swappiness;
	bool has_disable_oom_killer;
	bool disable_oom_killer;
	bool has_use_hierarchy;
	bool use_hierarchy;
	bool check_before_update; /* refuse a limit below current usage */

	/* cpu */
	bool has_cpu_shares;
	uint64_t cpu_shares;
	bool has_cpu_quota; /* microseconds per period; -1 = none */
	int64_t cpu_quota;
	bool has_cpu_period;
	uint64_t cpu_period;
	bool has_cpu_burst;
	uint64_t cpu_burst;
	bool has_cpu_rt_runtime;
	int64_t cpu_rt_runtime;
	bool has_cpu_rt_period;
	uint64_t cpu_rt_period;
	bool has_cpu_idle;
	int64_t cpu_idle;
	char *cpuset_cpus; /* NULL: not set */
	char *cpuset_mems;

	/* pids (<= 0: unlimited) */
	bool has_pids_limit;
	int64_t pids_limit;

	/* block I/O */
	bool has_blkio_weight;
	uint64_t blkio_weight;
	bool has_blkio_leaf_weight;
	uint64_t blkio_leaf_weight;
	struct vs_cgroup_blkio_dev *blkio_weight_dev;
	size_t n_blkio_weight_dev;
	struct vs_cgroup_blkio_dev *throttle_read_bps;
	size_t n_throttle_read_bps;
	struct vs_cgroup_blkio_dev *throttle_write_bps;
	size_t n_throttle_write_bps;
	struct vs_cgroup_blkio_dev *throttle_read_iops;
	size_t n_throttle_read_iops;
	struct vs_cgroup_blkio_dev *throttle_write_iops;
	size_t n_throttle_write_iops;

	/* hugetlb */
	struct vs_cgroup_hugetlb *hugetlb;
	size_t n_hugetlb;

	/* devices: when has_devices, "deny all" then these rules in order */
	bool has_devices;
	struct vs_cgroup_device_rule *devices;
	size_t n_devices;

	/* network (v1 net_cls / net_prio only) */
	bool has_net_class_id;
	uint32_t net_class_id;
	struct vs_cgroup_kv *net_prio;
	size_t n_net_prio;

	/* unified: written verbatim on v2 (file name -> value); error on v1 */
	struct vs_cgroup_kv *unified;
	size_t n_unified;
};

/* Frees what r points to (not r itself) and zeroes it. */
void vs_cgroup_resources_free(struct vs_cgroup_resources *r);
/* Appends one device rule (aborts on out-of-memory); sets has_devices. */
void vs_cgroup_resources_add_device(struct vs_cgroup_resources *r,
				    const struct vs_cgroup_device_rule *rule);

/* The conventional shares -> cpu.weight conversion (1..10000; 0 stays 0). */
uint64_t vs_cgroup_shares_to_weight(uint64_t shares);

/* One container's cgroup, in every hierarchy that applies. */
struct vs_cgroup;

int vs_cgroup_detect(enum vs_cgroup_layout *out, struct vs_err *e);

/*
 * Creates the cgroup (mkdir -p in every hierarchy; on v2 enables the needed
 * controllers in the parents' cgroup.subtree_control; on v1 cpuset copies
 * cpus/mems down every level it creates). An existing cgroup is reused, not
 * an error: callers that need a fresh one check with vs_cgroup_exists first.
 * On failure nothing this call created is left behind.
 */
int vs_cgroup_create(const char *path, struct vs_cgroup **out, struct vs_err *e);
/* Opens an existing cgroup: ENOENT error only if it exists in no hierarchy,
 * so a half-removed one can still be killed and destroyed (operations on a
 * hierarchy where it is missing fail naming that directory). */
int vs_cgroup_open(const char *path, struct vs_cgroup **out, struct vs_err *e);
/* Whether path exists in any hierarchy; -1 only for a bad path. */
int vs_cgroup_exists(const char *path, bool *out, struct vs_err *e);

/* Writes every field r sets. A field the host cannot honour (file missing)
 * is an error naming the file, but only when r asks for it. */
int vs_cgroup_apply(struct vs_cgroup *cg, const struct vs_cgroup_resources *r, struct vs_err *e);
/* Moves pid into the cgroup in every hierarchy. */
int vs_cgroup_enter(struct vs_cgroup *cg, pid_t pid, struct vs_err *e);
/* Freezes or thaws, waiting until the kernel reports FROZEN / THAWED. */
int vs_cgroup_freeze(struct vs_cgroup *cg, bool frozen, struct vs_err *e);
int vs_cgroup_is_frozen(struct vs_cgroup *cg, bool *out, struct vs_err *e);
/* Every pid in the cgroup and its descendants (malloc'ed, sorted, unique). */
int vs_cgroup_pids(struct vs_cgroup *cg, pid_t **out, size_t *n, struct vs_err *e);
/* Sends sig to every process in it (cgroup.kill on v2 for SIGKILL). */
int vs_cgroup_kill(struct vs_cgroup *cg, int sig, struct vs_err *e);
/* Removes it (and the empty descendants) everywhere, retrying EBUSY briefly
 * while exiting processes go away. A directory already gone is fine. */
int vs_cgroup_destroy(struct vs_cgroup *cg, struct vs_err *e);
void vs_cgroup_free(struct vs_cgroup *cg);
#define autocgroup __attribute__((cleanup(vs_cgroup_freep)))
void vs_cgroup_freep(struct vs_cgroup **cg);

/* The normalised path ("/vessel/abc"). */
const char *vs_cgroup_path(const struct vs_cgroup *cg);
enum vs_cgroup_layout vs_cgroup_layout(const struct vs_cgroup *cg);
/* The host directory of this cgroup for a controller ("memory", "pids",
 * "freezer"...; on v2 any name gives the one directory), or NULL if the host
 * has no such hierarchy. */
const char *vs_cgroup_dir(const struct vs_cgroup *cg, const char *controller);

/*
 * What a container should see at /sys/fs/cgroup: one entry per hierarchy.
 * For each, bind-mount host_dir onto /sys/fs/cgroup/<target> (target "" is
 * /sys/fs/cgroup itself: pure v2), or, inside a cgroup namespace, mount a
 * fresh `fstype` with `options` there. v1 co-mounted controllers appear once
 * ("cpu,cpuacct"); callers may add the usual symlinks (cpu -> cpu,cpuacct).
 */
struct vs_cgroup_mount {
	char *target;	/* "memory", "cpu,cpuacct", "systemd", "unified", or "" */
	char *host_dir; /* e.g. /sys/fs/cgroup/memory/vessel/abc */
	char *fstype;	/* "cgroup" or "cgroup2" */
	char *options;	/* "memory", "cpu,cpuacct", "none,name=systemd", "" */
};
int vs_cgroup_mount_info(const struct vs_cgroup *cg, struct vs_cgroup_mount **out, size_t *n,
			 struct vs_err *e);
void vs_cgroup_mount_info_free(struct vs_cgroup_mount *m, size_t n);

#endif
