/*
 * The OCI runtime-spec configuration (config.json, runtime-spec 1.0-1.2, Linux).
 * ct_spec_load() parses and validates a bundle's config.json into a struct
 * ct_spec; every error names the file and the JSON field path at fault.
 * Unknown fields are ignored (the spec allows extensions); a JSON null counts
 * as absent. Cross-section rules checked here: id mappings need a user
 * namespace, timeOffsets a time namespace, hostname/domainname a uts one.
 *
 * Optional scalars have a `*_set` flag; absent strings are NULL; absent
 * arrays are NULL with a count of 0. String vectors are NULL-terminated.
 */
#ifndef VESSEL_RT_SPEC_H
#define VESSEL_RT_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <json-c/json.h>

#include "vessel/err.h"
#include "runtime/caps.h"
#include "runtime/hooks.h"
#include "runtime/resources.h"
#include "runtime/seccomp.h"

struct ct_kv { /* one entry of a string map (sysctl, annotations) */
	char *key;
	char *value;
};

struct ct_id_map { /* uidMappings / gidMappings entry */
	uint32_t container_id;
	uint32_t host_id;
	uint32_t size; /* > 0; host_id + size and container_id + size fit 32 bits */
};

struct ct_mount {
	char *destination; /* absolute */
	char *type;	   /* NULL: none given (bind mounts) */
	char *source;
	char **options;			/* raw option strings; the rootfs module maps them */
	struct ct_id_map *uid_mappings; /* idmapped mount (runtime-spec 1.1) */
	size_t n_uid_mappings;
	struct ct_id_map *gid_mappings;
	size_t n_gid_mappings;
};

struct ct_rlimit {
	char *type;   /* "RLIMIT_NOFILE" */
	int resource; /* RLIMIT_NOFILE */
	uint64_t hard;
	uint64_t soft;
};

struct ct_scheduler { /* process.scheduler, sched_setattr(2) */
	int policy;   /* SCHED_OTHER, SCHED_FIFO, ... */
	int nice;
	int priority;
	uint64_t flags;			    /* SCHED_FLAG_* bits */
	uint64_t runtime, deadline, period; /* nanoseconds */
};

struct ct_process {
	bool terminal;
	bool console_size_set;
	unsigned int console_height, console_width;

	uid_t uid;
	gid_t gid;
	bool umask_set;
	mode_t umask;
	gid_t *additional_gids;
	size_t n_additional_gids;

	char **args; /* non-empty */
	char **env;  /* every entry contains '=' */
	char *cwd;   /* absolute */

	/* process.capabilities: raw section (NULL if absent) and its parsed
	 * form (caps.set false when absent), from ct_caps_parse(). */
	struct json_object *capabilities_json;
	struct ct_caps caps;

	struct ct_rlimit *rlimits;
	size_t n_rlimits;

	bool no_new_privileges;
	char *apparmor_profile;
	char *selinux_label;

	bool oom_score_adj_set;
	int oom_score_adj; /* [-1000, 1000] */

	bool io_priority_set;
	int io_priority_class; /* IOPRIO_CLASS_RT=1, _BE=2, _IDLE=3 */
	int io_priority;       /* 0..7 */

	bool scheduler_set;
	struct ct_scheduler scheduler;

	/* execCPUAffinity (1.2): cpu lists as in cpuset ("0-3,7"); NULL if absent */
	char *exec_cpu_affinity_initial;
	char *exec_cpu_affinity_final;
};

enum ct_ns_type {
	CT_NS_PID,
	CT_NS_NET,
	CT_NS_MOUNT,
	CT_NS_IPC,
	CT_NS_UTS,
	CT_NS_USER,
	CT_NS_CGROUP,
	CT_NS_TIME,
	CT_NS_COUNT
};

struct ct_namespace {
	enum ct_ns_type type;
	char *path; /* NULL: create a new namespace; else join this one */
};

struct ct_device {	      /* linux.devices entry */
	char type;	      /* 'c', 'b', 'u' or 'p' */
	char *path;	      /* absolute, in the container */
	int64_t major, minor; /* required unless type 'p' */
	bool file_mode_set;
	mode_t file_mode;
	bool uid_set;
	uid_t uid;
	bool gid_set;
	gid_t gid;
};

struct ct_time_offset {
	bool set;
	int64_t secs;
	uint32_t nanosecs;
};

struct ct_linux {
	struct ct_namespace *namespaces; /* in config order, no duplicate types */
	size_t n_namespaces;

	struct ct_id_map *uid_mappings; /* only with a user namespace */
	size_t n_uid_mappings;
	struct ct_id_map *gid_mappings;
	size_t n_gid_mappings;

	struct ct_time_offset monotonic, boottime; /* only with a time namespace */

	struct ct_device *devices;
	size_t n_devices;

	char *cgroups_path;

	/* linux.resources: raw section (NULL if absent) and its parsed form
	 * (all has_* false when absent), from ct_resources_parse(). */
	struct json_object *resources_json;
	struct vs_cgroup_resources resources;

	/* linux.seccomp: raw section and parsed filter (NULL: no filter),
	 * from ct_seccomp_parse(). */
	struct json_object *seccomp_json;
	struct ct_seccomp *seccomp;

	char *rootfs_propagation;		/* "", shared, slave, private, unbindable, r* */
	unsigned long rootfs_propagation_flags; /* MS_SHARED|MS_REC...; 0 if unset */

	struct ct_kv *sysctl;
	size_t n_sysctl;

	char **masked_paths;
	char **readonly_paths;
	char *mount_label;

	bool personality_set;
	unsigned long personality_domain; /* PER_LINUX or PER_LINUX32 */
	char **personality_flags;

	/* linux.intelRdt is parsed so the caller can refuse it: Vessel does not
	 * implement resctrl. */
	bool intel_rdt_set;
	char *intel_rdt_clos_id;
	char *intel_rdt_l3_cache_schema;
	char *intel_rdt_mem_bw_schema;
	char **intel_rdt_schemata;			 /* 1.2: whole schemata lines */
	bool intel_rdt_enable_monitoring;		 /* 1.2 */
	bool intel_rdt_enable_cmt, intel_rdt_enable_mbm; /* 1.1 */

	bool memory_policy_set; /* set_mempolicy(2) */
	int memory_policy_mode; /* MPOL_* */
	char *memory_policy_nodes;
	unsigned int memory_policy_flags; /* MPOL_F_* */
};

struct ct_hooks {
	struct ct_hook *prestart; /* deprecated by the spec, still run */
	size_t n_prestart;
	struct ct_hook *create_runtime;
	size_t n_create_runtime;
	struct ct_hook *create_container;
	size_t n_create_container;
	struct ct_hook *start_container;
	size_t n_start_container;
	struct ct_hook *poststart;
	size_t n_poststart;
	struct ct_hook *poststop;
	size_t n_poststop;
};

struct ct_spec {
	struct json_object *json; /* the whole parsed document (owned) */

	char *oci_version; /* "1.x.y" */
	char *root_path;   /* as written (may be relative to the bundle) */
	bool root_readonly;
	char *hostname;
	char *domainname;

	struct ct_mount *mounts;
	size_t n_mounts;

	struct ct_process *process; /* NULL when the config has no process */

	struct ct_linux lnx; /* `linux` is a predefined macro in gnu17 */

	struct ct_hooks hooks;

	struct ct_kv *annotations;
	size_t n_annotations;
};

/* Parses and validates BUNDLE/config.json. */
int ct_spec_load(const char *bundle, struct ct_spec **out, struct vs_err *e);
/* Same from a buffer; `what` names it in errors ("config.json"). */
int ct_spec_parse(const char *what, const char *buf, size_t len, struct ct_spec **out,
		  struct vs_err *e);
void ct_spec_free(struct ct_spec *s);

/*
 * A process object alone (`exec --process FILE`). `where` is the field path
 * used in messages, e.g. "process.json" or "config.json: process".
 */
int ct_process_parse(struct json_object *j, const char *where, struct ct_process **out,
		     struct vs_err *e);
/* Reads and parses a process JSON file; errors read "PATH: process.cwd: ...". */
int ct_process_load(const char *path, struct ct_process **out, struct vs_err *e);
void ct_process_free(struct ct_process *p);

/* Namespaces. */
bool ct_spec_has_ns(const struct ct_spec *s, enum ct_ns_type t);
/* Path to join for type t; NULL if not requested or a new one is created. */
const char *ct_spec_ns_path(const struct ct_spec *s, enum ct_ns_type t);
const char *ct_ns_name(enum ct_ns_type t);	/* "pid", "network", ... */
int ct_ns_clone_flag(enum ct_ns_type t);	/* CLONE_NEWPID, ... */
const char *ct_ns_proc_name(enum ct_ns_type t); /* /proc/PID/ns/<name>: "net", "mnt" */

/* "RLIMIT_NOFILE" -> RLIMIT_NOFILE; -1 if unknown. */
int ct_rlimit_resource(const char *name);

/* Annotation value for key, NULL if absent. */
const char *ct_spec_annotation(const struct ct_spec *s, const char *key);

/*
 * The default config.json of `vessel-runtime spec [--rootless]` (malloc'ed,
 * pretty JSON). The rootless one adds a user namespace mapping the caller's
 * uid/gid to root and drops what an unprivileged user cannot do.
 */
char *ct_spec_default_json(bool rootless);

#endif
