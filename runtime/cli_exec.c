/* `exec`: the process comes from --process FILE, or from the container's own
 * config.json process with the command line's args and overrides (runc's
 * behaviour), and is parsed by the same code as config.json. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vessel/cleanup.h"
#include "vessel/fs.h"
#include "vessel/json.h"
#include "runtime/cli.h"
#include "runtime/container.h"
#include "runtime/spec.h"
#include "runtime/state.h"

enum {
	OPT_PID_FILE = 256,
	OPT_CONSOLE_SOCKET,
	OPT_CWD,
	OPT_CAP,
	OPT_NNP,
	OPT_PRESERVE_FDS,
	OPT_LABEL,
	OPT_APPARMOR,
};

struct exec_flags {
	const char *process_file, *pid_file, *console_socket, *cwd, *user, *label, *apparmor;
	bool detach, tty, tty_set, nnp;
	int preserve_fds;
	const char *env[256];
	int n_env;
	const char *caps[64];
	int n_caps;
};

static void set_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

/* Builds the process JSON from the container's config and the flags. */
static int build_process(const struct ct_global *g, const char *id, struct exec_flags *f,
			 char **args, int nargs, struct ct_process **out, struct vs_err *e)
{
	struct ct_state *st = NULL;
	autojson struct json_object *cfg = NULL, *p = NULL;
	struct json_object *base = NULL, *a, *env, *user;
	autofree char *cfg_path = NULL;

	if (ct_state_load(g->root, id, &st, e) < 0)
		return -1;
	cfg_path = vs_path_join(st->dir, "config.json");
	ct_state_free(st);
	if (vs_json_load_file(cfg_path, &cfg, e) < 0)
		return -1;
	if (json_object_object_get_ex(cfg, "process", &base) &&
	    json_object_is_type(base, json_type_object)) {
		if (json_object_deep_copy(base, &p, NULL) < 0)
			return vs_fail(e, ENOMEM, "exec: copying the container's process");
	} else {
		p = json_object_new_object();
	}

	a = json_object_new_array();
	for (int i = 0; i < nargs; i++)
		json_object_array_add(a, json_object_new_string(args[i]));
	json_object_object_add(p, "args", a);
	if (!json_object_object_get_ex(p, "env", &env) ||
	    !json_object_is_type(env, json_type_array)) {
		env = json_object_new_array();
		json_object_object_add(p, "env", env);
	}
	for (int i = 0; i < f->n_env; i++) {
		if (!strchr(f->env[i], '='))
			return vs_fail(e, EINVAL, "exec: --env \"%s\": expected NAME=VALUE",
				       f->env[i]);
		json_object_array_add(env, json_object_new_string(f->env[i]));
	}
	if (f->cwd)
		set_str(p, "cwd", f->cwd);
	else if (!json_object_object_get_ex(p, "cwd", NULL))
		set_str(p, "cwd", "/");
	if (f->tty_set || !json_object_object_get_ex(p, "terminal", NULL))
		json_object_object_add(p, "terminal", json_object_new_boolean(f->tty));
	if (f->nnp)
		json_object_object_add(p, "noNewPrivileges", json_object_new_boolean(true));
	if (f->apparmor)
		set_str(p, "apparmorProfile", f->apparmor);
	if (f->label)
		set_str(p, "selinuxLabel", f->label);
	if (f->user) {
		char *end;
		unsigned long uid = strtoul(f->user, &end, 10), gid = 0;

		if (end == f->user || (*end && *end != ':'))
			return vs_fail(e, EINVAL, "exec: --user \"%s\": expected UID[:GID]",
				       f->user);
		if (*end == ':') {
			const char *gs = end + 1;

			gid = strtoul(gs, &end, 10);
			if (end == gs || *end)
				return vs_fail(e, EINVAL, "exec: --user \"%s\": expected UID[:GID]",
					       f->user);
		}
		if (uid > UINT32_MAX - 1 || gid > UINT32_MAX - 1)
			return vs_fail(e, EINVAL, "exec: --user \"%s\": out of range", f->user);
		user = json_object_new_object();
		json_object_object_add(user, "uid", json_object_new_int64((int64_t)uid));
		json_object_object_add(user, "gid", json_object_new_int64((int64_t)gid));
		json_object_object_add(p, "user", user);
	} else if (!json_object_object_get_ex(p, "user", NULL)) {
		user = json_object_new_object();
		json_object_object_add(user, "uid", json_object_new_int(0));
		json_object_object_add(user, "gid", json_object_new_int(0));
		json_object_object_add(p, "user", user);
	}
	if (f->n_caps) {
		/* --cap adds to every set, as runc does */
		static const char *const sets[] = {"bounding", "effective", "permitted",
						   "inheritable", "ambient"};
		struct json_object *caps;

		if (!json_object_object_get_ex(p, "capabilities", &caps)) {
			caps = json_object_new_object();
			json_object_object_add(p, "capabilities", caps);
		}
		for (size_t s = 0; s < sizeof(sets) / sizeof(sets[0]); s++) {
			struct json_object *arr;

			if (!json_object_object_get_ex(caps, sets[s], &arr)) {
				arr = json_object_new_array();
				json_object_object_add(caps, sets[s], arr);
			}
			for (int i = 0; i < f->n_caps; i++)
				json_object_array_add(arr, json_object_new_string(f->caps[i]));
		}
	}
	return ct_process_parse(p, "exec: process", out, e);
}

int ct_cmd_exec(const struct ct_global *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{"process", required_argument, NULL, 'p'},
		{"detach", no_argument, NULL, 'd'},
		{"pid-file", required_argument, NULL, OPT_PID_FILE},
		{"tty", no_argument, NULL, 't'},
		{"console-socket", required_argument, NULL, OPT_CONSOLE_SOCKET},
		{"cwd", required_argument, NULL, OPT_CWD},
		{"env", required_argument, NULL, 'e'},
		{"user", required_argument, NULL, 'u'},
		{"cap", required_argument, NULL, OPT_CAP},
		{"no-new-privs", no_argument, NULL, OPT_NNP},
		{"preserve-fds", required_argument, NULL, OPT_PRESERVE_FDS},
		{"process-label", required_argument, NULL, OPT_LABEL},
		{"apparmor", required_argument, NULL, OPT_APPARMOR},
		{0},
	};
	struct exec_flags f = {0};
	struct ct_process *proc = NULL;
	struct vs_err e = {0};
	int c, status = 0;

	opterr = 0;
	/* "+": the command after the ID keeps its own options */
	while ((c = getopt_long(argc, argv, "+:p:dte:u:", opts, NULL)) != -1) {
		switch (c) {
		case 'p': f.process_file = optarg; break;
		case 'd': f.detach = true; break;
		case OPT_PID_FILE: f.pid_file = optarg; break;
		case 't': f.tty = f.tty_set = true; break;
		case OPT_CONSOLE_SOCKET: f.console_socket = optarg; break;
		case OPT_CWD: f.cwd = optarg; break;
		case 'e':
			if (f.n_env == (int)(sizeof(f.env) / sizeof(f.env[0])))
				return ct_cli_usage("exec", "too many --env");
			f.env[f.n_env++] = optarg;
			break;
		case 'u': f.user = optarg; break;
		case OPT_CAP:
			if (f.n_caps == (int)(sizeof(f.caps) / sizeof(f.caps[0])))
				return ct_cli_usage("exec", "too many --cap");
			f.caps[f.n_caps++] = optarg;
			break;
		case OPT_NNP: f.nnp = true; break;
		case OPT_PRESERVE_FDS:
			f.preserve_fds = ct_cli_int(optarg);
			if (f.preserve_fds < 0)
				return ct_cli_usage("exec", "--preserve-fds: \"%s\" is not a count",
						    optarg);
			break;
		case OPT_LABEL: f.label = optarg; break;
		case OPT_APPARMOR: f.apparmor = optarg; break;
		case ':':
			return ct_cli_usage("exec", "option \"%s\" needs a value",
					    argv[optind - 1]);
		default: return ct_cli_usage("exec", "unknown option \"%s\"", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return ct_cli_usage("exec", "missing container ID");
	const char *id = argv[optind++];

	if (f.process_file) {
		if (optind < argc)
			return ct_cli_usage("exec", "--process and a command cannot both be given");
		if (ct_process_load(f.process_file, &proc, &e) < 0)
			return ct_cli_fail(&e);
		if (f.tty_set)
			proc->terminal = true;
	} else {
		if (optind >= argc)
			return ct_cli_usage("exec", "missing command (or --process FILE)");
		if (build_process(g, id, &f, argv + optind, argc - optind, &proc, &e) < 0)
			return ct_cli_fail(&e);
	}

	struct ct_exec_opts o = {
		.root = g->root,
		.id = id,
		.process = proc,
		.pid_file = f.pid_file,
		.console_socket = f.console_socket,
		.detach = f.detach,
		.preserve_fds = f.preserve_fds,
	};
	int r = ct_exec(&o, &status, &e);

	ct_process_free(proc);
	if (r < 0)
		return ct_cli_fail(&e);
	return status;
}
