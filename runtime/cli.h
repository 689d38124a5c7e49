/*
 * vessel-runtime's command line: one function per verb (cli_*.c), called by
 * main.c with the global options parsed. argv[0] is the verb. Each returns
 * the process exit status; errors are printed once with vs_log_err.
 */
#ifndef VESSEL_RT_CLI_H
#define VESSEL_RT_CLI_H

#include <stdbool.h>
#include <getopt.h>

struct ct_global {
	const char *root;
	const char *log;
	const char *log_format;
	bool debug;
	bool systemd_cgroup;
};

typedef int (*ct_cmd_fn)(const struct ct_global *g, int argc, char **argv);

int ct_cmd_create(const struct ct_global *g, int argc, char **argv);
int ct_cmd_start(const struct ct_global *g, int argc, char **argv);
int ct_cmd_run(const struct ct_global *g, int argc, char **argv);
int ct_cmd_kill(const struct ct_global *g, int argc, char **argv);
int ct_cmd_delete(const struct ct_global *g, int argc, char **argv);
int ct_cmd_state(const struct ct_global *g, int argc, char **argv);
int ct_cmd_list(const struct ct_global *g, int argc, char **argv);
int ct_cmd_ps(const struct ct_global *g, int argc, char **argv);
int ct_cmd_features(const struct ct_global *g, int argc, char **argv);
int ct_cmd_pause(const struct ct_global *g, int argc, char **argv);
int ct_cmd_resume(const struct ct_global *g, int argc, char **argv);
int ct_cmd_update(const struct ct_global *g, int argc, char **argv);
int ct_cmd_exec(const struct ct_global *g, int argc, char **argv);
int ct_cmd_spec(const struct ct_global *g, int argc, char **argv);

/* Shared helpers for the verbs. */
/* Prints e once and returns 1. */
struct vs_err;
int ct_cli_fail(const struct vs_err *e);
/* Usage error: "VERB: msg" and exit status 1. */
int ct_cli_usage(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Parses a non-negative int option value; -1 if malformed. */
int ct_cli_int(const char *s);

#endif
