/* Verbs that move a container through its lifecycle: create, start, run,
 * kill, delete. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "vessel/err.h"
#include "runtime/cli.h"
#include "runtime/container.h"

enum {
	OPT_PID_FILE = 256,
	OPT_CONSOLE_SOCKET,
	OPT_NO_PIVOT,
	OPT_PRESERVE_FDS,
	OPT_NO_NEW_KEYRING,
	OPT_KEEP,
	OPT_NO_SUBREAPER,
};

static const struct option create_opts[] = {
	{"bundle", required_argument, NULL, 'b'},
	{"pid-file", required_argument, NULL, OPT_PID_FILE},
	{"console-socket", required_argument, NULL, OPT_CONSOLE_SOCKET},
	{"no-pivot", no_argument, NULL, OPT_NO_PIVOT},
	{"preserve-fds", required_argument, NULL, OPT_PRESERVE_FDS},
	{"no-new-keyring", no_argument, NULL, OPT_NO_NEW_KEYRING},
	{"detach", no_argument, NULL, 'd'},
	{"keep", no_argument, NULL, OPT_KEEP},
	{"no-subreaper", no_argument, NULL, OPT_NO_SUBREAPER},
	{0},
};

/* create and run share their flags; run adds --detach and --keep. */
static int parse_create(const struct ct_global *g, int argc, char **argv, bool is_run,
			struct ct_create_opts *o, bool *detach)
{
	const char *verb = argv[0];
	int c;

	memset(o, 0, sizeof(*o));
	o->root = g->root;
	o->systemd_cgroup = g->systemd_cgroup;
	opterr = 0;
	while ((c = getopt_long(argc, argv, is_run ? ":b:d" : ":b:", create_opts, NULL)) != -1) {
		switch (c) {
		case 'b': o->bundle = optarg; break;
		case OPT_PID_FILE: o->pid_file = optarg; break;
		case OPT_CONSOLE_SOCKET: o->console_socket = optarg; break;
		case OPT_NO_PIVOT: o->no_pivot = true; break;
		case OPT_PRESERVE_FDS:
			o->preserve_fds = ct_cli_int(optarg);
			if (o->preserve_fds < 0)
				return ct_cli_usage(verb, "--preserve-fds: \"%s\" is not a count",
						    optarg);
			break;
		case OPT_NO_NEW_KEYRING: o->no_new_keyring = true; break;
		case 'd':
			if (!is_run)
				goto unknown;
			*detach = true;
			break;
		case OPT_KEEP:
		case OPT_NO_SUBREAPER:
			if (!is_run)
				goto unknown;
			break;
		case ':':
			return ct_cli_usage(verb, "option \"%s\" needs a value", argv[optind - 1]);
		default:
		unknown:
			return ct_cli_usage(verb, "unknown option \"%s\"", argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return ct_cli_usage(verb, "expected exactly one container ID");
	o->id = argv[optind];
	return 0;
}

int ct_cmd_create(const struct ct_global *g, int argc, char **argv)
{
	struct ct_create_opts o;
	struct vs_err e = {0};
	bool detach = false;

	if (parse_create(g, argc, argv, false, &o, &detach))
		return 1;
	if (ct_container_create(&o, &e) < 0)
		return ct_cli_fail(&e);
	return 0;
}

int ct_cmd_run(const struct ct_global *g, int argc, char **argv)
{
	struct ct_create_opts o;
	struct vs_err e = {0};
	bool detach = false;
	int status = 0;

	if (parse_create(g, argc, argv, true, &o, &detach))
		return 1;
	o.foreground = !detach;
	if (ct_container_run(&o, detach, &status, &e) < 0)
		return ct_cli_fail(&e);
	return status;
}

/* Verbs taking only an ID and boolean flags. */
static int parse_id(int argc, char **argv, const struct option *opts, const char *shorts,
		    int *flags, int max_pos, const char **pos)
{
	const char *verb = argv[0];
	int c, n;

	opterr = 0;
	while ((c = getopt_long(argc, argv, shorts, opts, NULL)) != -1) {
		if (c == '?' || c == ':')
			return ct_cli_usage(verb, "unknown option \"%s\"", argv[optind - 1]);
		*flags |= c == 'f' || c == 'a' ? 1 : 0;
	}
	n = argc - optind;
	if (n < 1)
		return ct_cli_usage(verb, "missing container ID");
	if (n > max_pos)
		return ct_cli_usage(verb, "unexpected argument \"%s\"", argv[optind + max_pos]);
	for (int i = 0; i < n; i++)
		pos[i] = argv[optind + i];
	return 0;
}

int ct_cmd_start(const struct ct_global *g, int argc, char **argv)
{
	static const struct option opts[] = {{0}};
	const char *pos[1] = {0};
	struct vs_err e = {0};
	int flags = 0;

	if (parse_id(argc, argv, opts, "", &flags, 1, pos))
		return 1;
	if (ct_container_start(g->root, pos[0], &e) < 0)
		return ct_cli_fail(&e);
	return 0;
}

int ct_cmd_kill(const struct ct_global *g, int argc, char **argv)
{
	static const struct option opts[] = {{"all", no_argument, NULL, 'a'}, {0}};
	const char *pos[2] = {0};
	struct vs_err e = {0};
	int all = 0, sig = SIGTERM;

	if (parse_id(argc, argv, opts, "a", &all, 2, pos))
		return 1;
	if (pos[1]) {
		sig = ct_signal_parse(pos[1]);
		if (sig < 0)
			return ct_cli_usage("kill", "unknown signal \"%s\"", pos[1]);
	}
	if (ct_container_kill(g->root, pos[0], sig, all, &e) < 0)
		return ct_cli_fail(&e);
	return 0;
}

int ct_cmd_delete(const struct ct_global *g, int argc, char **argv)
{
	static const struct option opts[] = {{"force", no_argument, NULL, 'f'}, {0}};
	const char *pos[1] = {0};
	struct vs_err e = {0};
	int force = 0;

	if (parse_id(argc, argv, opts, "f", &force, 1, pos))
		return 1;
	if (ct_container_delete(g->root, pos[0], force, &e) < 0)
		return ct_cli_fail(&e);
	return 0;
}

/* pause and resume take the same command line: ID alone */
static int freeze_cmd(const struct ct_global *g, int argc, char **argv, bool pause)
{
	static const struct option opts[] = {{0}};
	const char *pos[1] = {0};
	struct vs_err e = {0};
	int flags = 0;

	if (parse_id(argc, argv, opts, "", &flags, 1, pos))
		return 1;
	if (ct_container_pause(g->root, pos[0], pause, &e) < 0)
		return ct_cli_fail(&e);
	return 0;
}

int ct_cmd_pause(const struct ct_global *g, int argc, char **argv)
{
	return freeze_cmd(g, argc, argv, true);
}

int ct_cmd_resume(const struct ct_global *g, int argc, char **argv)
{
	return freeze_cmd(g, argc, argv, false);
}
