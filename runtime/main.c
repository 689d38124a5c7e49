/*
 * vessel-runtime: an OCI runtime with runc's command line (global flags, then
 * a verb and its flags), so podman and containerd can drive it.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vessel/err.h"
#include "vessel/fs.h"
#include "vessel/log.h"
#include "runtime/cli.h"
#include "runtime/state.h"

#define VESSEL_VERSION	 "0.1.0"
#define OCI_SPEC_VERSION "1.2.0"

static const struct {
	const char *name;
	ct_cmd_fn fn;
	const char *help;
	const char *usage;
} verbs[] = {
	{"create", ct_cmd_create, "create a container (blocked before the user program)",
	 "[--bundle DIR] [--pid-file FILE] [--console-socket PATH] [--no-pivot] "
	 "[--preserve-fds N] [--no-new-keyring] ID"},
	{"start", ct_cmd_start, "start the user program of a created container", "ID"},
	{"run", ct_cmd_run, "create and start a container",
	 "[--detach] [--bundle DIR] [--pid-file FILE] [--console-socket PATH] [--no-pivot] "
	 "[--preserve-fds N] [--no-new-keyring] ID"},
	{"state", ct_cmd_state, "print the state JSON of a container", "ID"},
	{"kill", ct_cmd_kill, "send a signal to a container's init (or all its processes)",
	 "[--all] ID [SIGNAL]"},
	{"delete", ct_cmd_delete, "delete a stopped container (--force: any)", "[--force] ID"},
	{"exec", ct_cmd_exec, "run a new process in a running container",
	 "[--process FILE] [--detach] [--pid-file FILE] [--tty] [--console-socket PATH] "
	 "[--cwd DIR] [--env NAME=VALUE]... [--user UID[:GID]] [--cap CAP]... "
	 "[--no-new-privs] [--preserve-fds N] ID [COMMAND [ARG...]]"},
	{"list", ct_cmd_list, "list containers", "[--format table|json] [--quiet]"},
	{"ps", ct_cmd_ps, "list the processes of a container",
	 "[--format table|json] ID [PS ARGS]"},
	{"pause", ct_cmd_pause, "freeze every process of a container", "ID"},
	{"resume", ct_cmd_resume, "thaw a paused container", "ID"},
	{"update", ct_cmd_update, "change the resource limits of a container",
	 "[--resources FILE|-] [--memory SIZE] [--memory-reservation SIZE] "
	 "[--memory-swap SIZE] [--cpu-shares N] [--cpu-quota N] [--cpu-period N] "
	 "[--cpuset-cpus LIST] [--cpuset-mems LIST] [--pids-limit N] [--blkio-weight N] ID"},
	{"features", ct_cmd_features, "print the features JSON of this runtime", ""},
	{"spec", ct_cmd_spec, "write a default config.json", "[--bundle DIR] [--rootless]"},
};

int ct_cli_fail(const struct vs_err *e)
{
	vs_log_err(e);
	return 1;
}

int ct_cli_usage(const char *verb, const char *fmt, ...)
{
	struct vs_err e = {0};
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	vs_fail(&e, 0, "%s: %s", verb, msg);
	return ct_cli_fail(&e);
}

int ct_cli_int(const char *s)
{
	char *end;
	long v;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (*end || errno || v < 0 || v > 1 << 20)
		return -1;
	return (int)v;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: vessel-runtime [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARGS]\n\n"
		   "global options:\n"
		   "  --root DIR            state directory (default " CT_DEFAULT_ROOT ")\n"
		   "  --log FILE            log to FILE instead of stderr\n"
		   "  --log-format FORMAT   text or json\n"
		   "  --debug               verbose logging\n"
		   "  --systemd-cgroup      accepted; systemd cgroups are not supported\n"
		   "  -v, --version         print the version\n"
		   "  -h, --help            this help\n\n"
		   "commands:\n");
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		fprintf(f, "  %-10s %s\n", verbs[i].name, verbs[i].help);
}

enum { OPT_ROOT = 256, OPT_LOG, OPT_LOG_FORMAT, OPT_DEBUG, OPT_SYSTEMD, OPT_ROOTLESS, OPT_CRIU };

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"root", required_argument, NULL, OPT_ROOT},
		{"log", required_argument, NULL, OPT_LOG},
		{"log-format", required_argument, NULL, OPT_LOG_FORMAT},
		{"debug", no_argument, NULL, OPT_DEBUG},
		{"systemd-cgroup", no_argument, NULL, OPT_SYSTEMD},
		{"rootless", required_argument, NULL, OPT_ROOTLESS},
		{"criu", required_argument, NULL, OPT_CRIU},
		{"version", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct ct_global g = {.root = CT_DEFAULT_ROOT, .log_format = "text"};
	struct vs_err e = {0};
	int c;

	vs_log_init("vessel-runtime", NULL, VS_LOG_TEXT, VS_LOG_WARN, NULL);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+vh", opts, NULL)) != -1) {
		switch (c) {
		case OPT_ROOT: g.root = optarg; break;
		case OPT_LOG: g.log = optarg; break;
		case OPT_LOG_FORMAT: g.log_format = optarg; break;
		case OPT_DEBUG: g.debug = true; break;
		case OPT_SYSTEMD: g.systemd_cgroup = true; break;
		case OPT_ROOTLESS:
		case OPT_CRIU: break; /* accepted for compatibility, no effect */
		case 'v':
			printf("vessel-runtime version %s\nspec: %s\n", VESSEL_VERSION,
			       OCI_SPEC_VERSION);
			return 0;
		case 'h': usage(stdout); return 0;
		default:
			vs_fail(&e, 0, "unknown or incomplete global option \"%s\"",
				argv[optind - 1]);
			return ct_cli_fail(&e);
		}
	}

	enum vs_log_format fmt = VS_LOG_TEXT;

	if (!strcmp(g.log_format, "json"))
		fmt = VS_LOG_JSON;
	else if (strcmp(g.log_format, "text")) {
		vs_fail(&e, 0, "--log-format: \"%s\": expected text or json", g.log_format);
		return ct_cli_fail(&e);
	}
	if (vs_log_init("vessel-runtime", g.log, fmt, g.debug ? VS_LOG_DEBUG : VS_LOG_WARN, &e) < 0)
		return ct_cli_fail(&e);
	if (g.systemd_cgroup)
		vs_warn("--systemd-cgroup: systemd cgroups are not supported; cgroupfs is used");

	if (optind >= argc) {
		usage(stderr);
		return 1;
	}
	/* the state must be found again from any working directory */
	char *abs_root = NULL;

	if (g.root[0] != '/') {
		char cwd[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd))) {
			vs_fail_errno(&e, "--root %s: current directory", g.root);
			return ct_cli_fail(&e);
		}
		abs_root = vs_path_join(cwd, g.root);
		g.root = abs_root;
	}
	const char *verb = argv[optind];

	if (!strcmp(verb, "help")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (!strcmp(verb, verbs[i].name)) {
			int vi = optind, r;

			if (vi + 1 < argc &&
			    (!strcmp(argv[vi + 1], "--help") || !strcmp(argv[vi + 1], "-h"))) {
				printf("usage: vessel-runtime %s %s\n  %s\n", verbs[i].name,
				       verbs[i].usage, verbs[i].help);
				free(abs_root);
				return 0;
			}

			optind = 0; /* reinitialise getopt for the verb */
			r = verbs[i].fn(&g, argc - vi, argv + vi);
			vs_log_close();
			free(abs_root);
			return r;
		}
	}
	free(abs_root);
	vs_fail(&e, 0, "unknown command \"%s\" (see vessel-runtime --help)", verb);
	return ct_cli_fail(&e);
}
