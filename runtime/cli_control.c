/* `update`: change a running container's resource limits. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vessel/cgroup.h"
#include "vessel/fs.h"
#include "runtime/cli.h"
#include "runtime/resources.h"
#include "runtime/state.h"

enum {
	OPT_MEMORY = 256,
	OPT_MEMORY_RES,
	OPT_MEMORY_SWAP,
	OPT_CPU_SHARES,
	OPT_CPU_QUOTA,
	OPT_CPU_PERIOD,
	OPT_CPUSET_CPUS,
	OPT_CPUSET_MEMS,
	OPT_PIDS_LIMIT,
	OPT_BLKIO_WEIGHT,
};

/* A size ("64m", "1G", "4096") or -1 for unlimited. */
static int parse_mem(const char *s, int64_t *out)
{
	unsigned long long v;

	if (!strcmp(s, "-1")) {
		*out = -1;
		return 0;
	}
	if (vs_parse_size(s, &v) < 0 || v > INT64_MAX)
		return -1;
	*out = (int64_t)v;
	return 0;
}

static int parse_i64(const char *s, int64_t *out)
{
	char *end;

	errno = 0;
	long long v = strtoll(s, &end, 10);

	if (!*s || *end || errno)
		return -1;
	*out = v;
	return 0;
}

int ct_cmd_update(const struct ct_global *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{"resources", required_argument, NULL, 'r'},
		{"memory", required_argument, NULL, OPT_MEMORY},
		{"memory-reservation", required_argument, NULL, OPT_MEMORY_RES},
		{"memory-swap", required_argument, NULL, OPT_MEMORY_SWAP},
		{"cpu-shares", required_argument, NULL, OPT_CPU_SHARES},
		{"cpu-quota", required_argument, NULL, OPT_CPU_QUOTA},
		{"cpu-period", required_argument, NULL, OPT_CPU_PERIOD},
		{"cpuset-cpus", required_argument, NULL, OPT_CPUSET_CPUS},
		{"cpuset-mems", required_argument, NULL, OPT_CPUSET_MEMS},
		{"pids-limit", required_argument, NULL, OPT_PIDS_LIMIT},
		{"blkio-weight", required_argument, NULL, OPT_BLKIO_WEIGHT},
		{0},
	};
	struct vs_cgroup_resources r = {0};
	const char *file = NULL;
	struct ct_state *st = NULL;
	struct vs_cgroup *cg = NULL;
	struct vs_err e = {0};
	int c, rc = 1;
	int64_t v;
	bool flags = false;

	opterr = 0;
	int idx = -1;

	while ((c = getopt_long(argc, argv, ":r:", opts, &idx)) != -1) {
		/* the option as typed, for messages ("--memory") */
		char name[64];

		if (idx >= 0)
			snprintf(name, sizeof(name), "--%s", opts[idx].name);
		else
			snprintf(name, sizeof(name), "%s", argv[optind - 1]);
		idx = -1;

		if (c != 'r' && c != '?' && c != ':')
			flags = true;
		switch (c) {
		case 'r': file = optarg; break;
		case OPT_MEMORY:
			if (parse_mem(optarg, &r.memory_limit) < 0)
				goto bad_value;
			r.has_memory_limit = true;
			break;
		case OPT_MEMORY_RES:
			if (parse_mem(optarg, &r.memory_reservation) < 0)
				goto bad_value;
			r.has_memory_reservation = true;
			break;
		case OPT_MEMORY_SWAP:
			if (parse_mem(optarg, &r.memory_swap) < 0)
				goto bad_value;
			r.has_memory_swap = true;
			break;
		case OPT_CPU_SHARES:
			if (parse_i64(optarg, &v) < 0 || v < 0)
				goto bad_value;
			r.cpu_shares = (uint64_t)v;
			r.has_cpu_shares = true;
			break;
		case OPT_CPU_QUOTA:
			if (parse_i64(optarg, &r.cpu_quota) < 0)
				goto bad_value;
			r.has_cpu_quota = true;
			break;
		case OPT_CPU_PERIOD:
			if (parse_i64(optarg, &v) < 0 || v < 0)
				goto bad_value;
			r.cpu_period = (uint64_t)v;
			r.has_cpu_period = true;
			break;
		case OPT_CPUSET_CPUS:
			free(r.cpuset_cpus);
			r.cpuset_cpus = strdup(optarg);
			break;
		case OPT_CPUSET_MEMS:
			free(r.cpuset_mems);
			r.cpuset_mems = strdup(optarg);
			break;
		case OPT_PIDS_LIMIT:
			if (parse_i64(optarg, &r.pids_limit) < 0)
				goto bad_value;
			r.has_pids_limit = true;
			break;
		case OPT_BLKIO_WEIGHT:
			if (parse_i64(optarg, &v) < 0 || v < 0)
				goto bad_value;
			r.blkio_weight = (uint64_t)v;
			r.has_blkio_weight = true;
			break;
		case ':': ct_cli_usage("update", "option \"%s\" needs a value", name); goto out;
		default:
			ct_cli_usage("update", "unknown option \"%s\"", name);
			goto out;
		bad_value:
			ct_cli_usage("update", "%s: bad value \"%s\"", name, optarg);
			goto out;
		}
	}
	if (argc - optind != 1) {
		ct_cli_usage("update", "expected exactly one container ID");
		goto out;
	}
	if (file && flags) {
		ct_cli_usage("update", "--resources cannot be combined with other limits");
		goto out;
	}
	if (file && ct_resources_load_file(file, &r, &e) < 0)
		goto fail;
	if (ct_state_load(g->root, argv[optind], &st, &e) < 0)
		goto fail;
	if (ct_state_status(st) == CT_STOPPED) {
		vs_fail(&e, ESRCH, "container %s is not running", st->id);
		goto fail;
	}
	if (!st->cgroup_path) {
		vs_fail(&e, ENOENT, "container %s has no cgroup", st->id);
		goto fail;
	}
	if (vs_cgroup_open(st->cgroup_path, &cg, &e) < 0 || vs_cgroup_apply(cg, &r, &e) < 0)
		goto fail;
	rc = 0;
	goto out;
fail:
	rc = ct_cli_fail(&e);
out:
	vs_cgroup_free(cg);
	ct_state_free(st);
	vs_cgroup_resources_free(&r);
	return rc;
}
