/*
 * OCI hooks (runtime-spec config.md "POSIX-platform Hooks"): programs the
 * runtime runs at fixed points of a container's life, each given the
 * container state JSON on stdin.
 */
#ifndef VESSEL_RT_HOOKS_H
#define VESSEL_RT_HOOKS_H

#include <stddef.h>
#include "vessel/err.h"

struct ct_hook {
	char *path;  /* absolute path of the program */
	char **args; /* NULL-terminated, args[0] is argv[0]; NULL: argv = { path } */
	char **env;  /* NULL-terminated; NULL: empty environment */
	int timeout; /* seconds, > 0; 0 means no timeout */
};

/*
 * Runs hooks[0..n) in order: fork+exec each with its args and env, its stdin
 * fed with state_json, and waits for it (at most `timeout` seconds, then
 * SIGKILL). `kind` names the list in errors, e.g. "prestart" gives
 * "hooks.prestart[0]: /bin/x: exited with status 3". A failure stops the
 * list, except for "poststart" and "poststop", whose remaining hooks still
 * run (config.md): the first failure is reported, with a count of the
 * others, and the caller only warns.
 */
int ct_hooks_run(const struct ct_hook *hooks, size_t n, const char *kind, const char *state_json,
		 struct vs_err *e);

/* Frees the strings of one hook (not the struct itself). */
void ct_hook_clear(struct ct_hook *h);

#endif
