/* Verbs that report: state, list, ps, features. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vessel/cgroup.h"
#include "vessel/cleanup.h"
#include "vessel/json.h"
#include "runtime/caps.h"
#include "runtime/cli.h"
#include "runtime/spec.h"
#include "runtime/state.h"

int ct_cmd_state(const struct ct_global *g, int argc, char **argv)
{
	static const struct option opts[] = {{0}};
	struct ct_state *st = NULL;
	struct vs_err e = {0};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1)
		return ct_cli_usage("state", "unknown option \"%s\"", argv[optind - 1]);
	if (argc - optind != 1)
		return ct_cli_usage("state", "expected exactly one container ID");
	if (ct_state_load(g->root, argv[optind], &st, &e) < 0)
		return ct_cli_fail(&e);

	autofree char *json = ct_state_json_string(st, ct_state_status(st), true);

	printf("%s\n", json);
	ct_state_free(st);
	return 0;
}

int ct_cmd_list(const struct ct_global *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{"format", required_argument, NULL, 'f'},
		{"quiet", no_argument, NULL, 'q'},
		{0},
	};
	const char *format = "table";
	bool quiet = false;
	autostrv char **ids = NULL;
	size_t n;
	struct vs_err e = {0};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":f:q", opts, NULL)) != -1) {
		if (c == 'f')
			format = optarg;
		else if (c == 'q')
			quiet = true;
		else
			return ct_cli_usage("list", "unknown or incomplete option \"%s\"",
					    argv[optind - 1]);
	}
	if (strcmp(format, "table") && strcmp(format, "json"))
		return ct_cli_usage("list", "--format: \"%s\": expected table or json", format);
	if (optind != argc)
		return ct_cli_usage("list", "unexpected argument \"%s\"", argv[optind]);
	if (ct_state_list_ids(g->root, &ids, &n, &e) < 0)
		return ct_cli_fail(&e);

	autojson struct json_object *arr = json_object_new_array();

	if (!quiet && !strcmp(format, "table"))
		printf("%-20s %-10s %-10s %-40s %-30s %s\n", "ID", "PID", "STATUS", "BUNDLE",
		       "CREATED", "OWNER");
	for (size_t i = 0; i < n; i++) {
		struct ct_state *st = NULL;

		/* a container mid-create or broken has no readable state: skip */
		if (ct_state_load(g->root, ids[i], &st, NULL) < 0)
			continue;
		enum ct_status status = ct_state_status(st);

		if (quiet)
			printf("%s\n", st->id);
		else if (!strcmp(format, "json"))
			json_object_array_add(arr, ct_state_to_json(st, status));
		else
			printf("%-20s %-10d %-10s %-40s %-30s %s\n", st->id,
			       status == CT_STOPPED ? 0 : (int)st->pid, ct_status_name(status),
			       st->bundle, st->created, st->owner);
		ct_state_free(st);
	}
	if (!quiet && !strcmp(format, "json"))
		printf("%s\n",
		       json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN |
								   JSON_C_TO_STRING_NOSLASHESCAPE));
	return 0;
}

static bool pid_in(pid_t p, const pid_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == p)
			return true;
	return false;
}

int ct_cmd_ps(const struct ct_global *g, int argc, char **argv)
{
	static const struct option opts[] = {{"format", required_argument, NULL, 'f'}, {0}};
	const char *format = "table";
	struct ct_state *st = NULL;
	autocgroup struct vs_cgroup *cg = NULL;
	autofree pid_t *pids = NULL;
	size_t n = 0;
	struct vs_err e = {0};
	int c;

	opterr = 0;
	/* "+": everything after the ID is for ps(1) */
	while ((c = getopt_long(argc, argv, "+:f:", opts, NULL)) != -1) {
		if (c == 'f')
			format = optarg;
		else
			return ct_cli_usage("ps", "unknown or incomplete option \"%s\"",
					    argv[optind - 1]);
	}
	if (strcmp(format, "table") && strcmp(format, "json"))
		return ct_cli_usage("ps", "--format: \"%s\": expected table or json", format);
	if (optind >= argc)
		return ct_cli_usage("ps", "missing container ID");
	if (ct_state_load(g->root, argv[optind], &st, &e) < 0)
		return ct_cli_fail(&e);

	enum ct_status status = ct_state_status(st);
	int r = 0;

	if (status == CT_STOPPED) {
		vs_fail(&e, ESRCH, "container %s is not running", st->id);
		r = ct_cli_fail(&e);
	} else if (!st->cgroup_path || vs_cgroup_open(st->cgroup_path, &cg, &e) < 0 ||
		   vs_cgroup_pids(cg, &pids, &n, &e) < 0) {
		if (!st->cgroup_path)
			vs_fail(&e, ENOENT, "container %s has no cgroup", st->id);
		r = ct_cli_fail(&e);
	}
	ct_state_free(st);
	if (r)
		return r;
	if (!strcmp(format, "json")) {
		autojson struct json_object *arr = json_object_new_array();

		for (size_t i = 0; i < n; i++)
			json_object_array_add(arr, json_object_new_int(pids[i]));
		printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
		return 0;
	}

	/* table: ps(1) with the given arguments (default -ef), filtered to the
	 * container's pids by the PID column */
	int nargs = argc - optind - 1;
	autofree char **av = calloc((size_t)nargs + 3, sizeof(*av));
	int pfd[2];

	if (!av)
		abort();
	av[0] = "ps";
	if (nargs == 0)
		av[1] = "-ef";
	for (int i = 0; i < nargs; i++)
		av[1 + i] = argv[optind + 1 + i];
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		vs_fail_errno(&e, "pipe");
		return ct_cli_fail(&e);
	}
	fflush(stdout);
	pid_t child = fork();

	if (child == 0) {
		dup2(pfd[1], 1);
		execvp("ps", av);
		_exit(127);
	}
	close(pfd[1]);
	autofclose FILE *f = fdopen(pfd[0], "r");
	char line[4096];
	int pid_col = -1;

	while (f && fgets(line, sizeof(line), f)) {
		char copy[sizeof(line)], *save = NULL, *tok;
		int col = 0;

		memcpy(copy, line, sizeof(line));
		if (pid_col < 0) {
			for (tok = strtok_r(copy, " \t\n", &save); tok;
			     tok = strtok_r(NULL, " \t\n", &save), col++)
				if (!strcmp(tok, "PID"))
					pid_col = col;
			if (pid_col < 0) {
				vs_fail(&e, 0, "ps: no PID column in the output of ps");
				waitpid(child, NULL, 0);
				return ct_cli_fail(&e);
			}
			fputs(line, stdout);
			continue;
		}
		for (tok = strtok_r(copy, " \t\n", &save); tok && col < pid_col;
		     tok = strtok_r(NULL, " \t\n", &save))
			col++;
		if (tok && pid_in((pid_t)atoi(tok), pids, n))
			fputs(line, stdout);
	}
	int ws = 0;

	waitpid(child, &ws, 0);
	if (!WIFEXITED(ws) || WEXITSTATUS(ws)) {
		vs_fail(&e, 0, "ps: ps(1) failed");
		return ct_cli_fail(&e);
	}
	return 0;
}

static struct json_object *strv_json(const char *const *v)
{
	struct json_object *a = json_object_new_array();

	for (; *v; v++)
		json_object_array_add(a, json_object_new_string(*v));
	return a;
}

int ct_cmd_features(const struct ct_global *g, int argc, char **argv)
{
	static const char *const hooks[] = {"prestart",
					    "createRuntime",
					    "createContainer",
					    "startContainer",
					    "poststart",
					    "poststop",
					    NULL};
	static const char *const mount_opts[] = {"async",	  "atime",	  "bind",
						 "defaults",	  "dev",	  "diratime",
						 "dirsync",	  "exec",	  "idmap",
						 "iversion",	  "lazytime",	  "loud",
						 "mand",	  "noatime",	  "nodev",
						 "nodiratime",	  "noexec",	  "noiversion",
						 "nolazytime",	  "nomand",	  "norelatime",
						 "nostrictatime", "nosuid",	  "nosymfollow",
						 "private",	  "ratime",	  "rbind",
						 "rdev",	  "rdiratime",	  "relatime",
						 "remount",	  "rexec",	  "ridmap",
						 "rnoatime",	  "rnodev",	  "rnodiratime",
						 "rnoexec",	  "rnorelatime",  "rnostrictatime",
						 "rnosuid",	  "rnosymfollow", "ro",
						 "rprivate",	  "rrelatime",	  "rro",
						 "rrw",		  "rshared",	  "rslave",
						 "rstrictatime",  "rsuid",	  "rsymfollow",
						 "runbindable",	  "rw",		  "shared",
						 "silent",	  "slave",	  "strictatime",
						 "suid",	  "symfollow",	  "sync",
						 "tmpcopyup",	  "unbindable",	  NULL};
	static const char *const actions[] = {"SCMP_ACT_ALLOW",	      "SCMP_ACT_ERRNO",
					      "SCMP_ACT_KILL",	      "SCMP_ACT_KILL_PROCESS",
					      "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",
					      "SCMP_ACT_NOTIFY",      "SCMP_ACT_TRACE",
					      "SCMP_ACT_TRAP",	      NULL};
	static const char *const operators[] = {"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
						"SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ",
						"SCMP_CMP_NE", NULL};
	static const char *const archs[] = {"SCMP_ARCH_X86", "SCMP_ARCH_X86_64",
					    "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64",
					    "SCMP_ARCH_ARM", NULL};
	autojson struct json_object *j = json_object_new_object();
	struct json_object *lnx = json_object_new_object(), *ns = json_object_new_array();
	struct json_object *caps = json_object_new_array(), *cg = json_object_new_object();
	struct json_object *sc = json_object_new_object(), *off = NULL;

	if (argc > 1)
		return ct_cli_usage("features", "unexpected argument \"%s\"", argv[1]);
	json_object_object_add(j, "ociVersionMin", json_object_new_string("1.0.0"));
	json_object_object_add(j, "ociVersionMax", json_object_new_string("1.2.0"));
	json_object_object_add(j, "hooks", strv_json(hooks));
	json_object_object_add(j, "mountOptions", strv_json(mount_opts));
	for (int t = 0; t < CT_NS_COUNT; t++)
		json_object_array_add(ns, json_object_new_string(ct_ns_name(t)));
	json_object_object_add(lnx, "namespaces", ns);
	for (int cap = 0; cap <= ct_caps_last_cap(); cap++)
		if (ct_caps_name(cap))
			json_object_array_add(caps, json_object_new_string(ct_caps_name(cap)));
	json_object_object_add(lnx, "capabilities", caps);
	json_object_object_add(cg, "v1", json_object_new_boolean(true));
	json_object_object_add(cg, "v2", json_object_new_boolean(true));
	json_object_object_add(cg, "systemd", json_object_new_boolean(false));
	json_object_object_add(cg, "systemdUser", json_object_new_boolean(false));
	json_object_object_add(lnx, "cgroup", cg);
	json_object_object_add(sc, "enabled", json_object_new_boolean(true));
	json_object_object_add(sc, "actions", strv_json(actions));
	json_object_object_add(sc, "operators", strv_json(operators));
	json_object_object_add(sc, "archs", strv_json(archs));
	json_object_object_add(lnx, "seccomp", sc);
	off = json_object_new_object();
	json_object_object_add(off, "enabled", json_object_new_boolean(false));
	json_object_object_add(lnx, "apparmor", off);
	off = json_object_new_object();
	json_object_object_add(off, "enabled", json_object_new_boolean(false));
	json_object_object_add(lnx, "selinux", off);
	off = json_object_new_object();
	json_object_object_add(off, "enabled", json_object_new_boolean(false));
	json_object_object_add(lnx, "intelRdt", off);
	json_object_object_add(j, "linux", lnx);
	printf("%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY |
								 JSON_C_TO_STRING_NOSLASHESCAPE));
	return 0;
}
