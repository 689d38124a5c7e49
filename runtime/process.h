/*
 * The user process of a container (runtime-spec config.md "process"): the
 * settings applied in the container, in this order, by the init (create) and
 * by exec:
 *
 *	ct_process_setup()	rlimits, oomScoreAdj, ioPriority, scheduler,
 *				umask, cwd, execCPUAffinity.initial
 *	ct_process_find_exec()	args[0] through PATH of the process env: a
 *				missing program fails create/exec early
 *	ct_process_finish()	seccomp (before the caps drop when it needs
 *				CAP_SYS_ADMIN), bounding set, groups, gid, uid,
 *				capabilities, noNewPrivileges, seccomp (last,
 *				with NNP), execCPUAffinity.final
 *	execve()
 */
#ifndef VESSEL_RT_PROCESS_H
#define VESSEL_RT_PROCESS_H

#include <stdbool.h>
#include "vessel/err.h"
#include "runtime/spec.h"

int ct_process_setup(const struct ct_process *p, struct vs_err *e);

/* Resolves p->args[0]: a name with a '/' as is (relative to the cwd),
 * otherwise through the PATH of p->env (default PATH when none). *out is
 * malloc'ed. Error: "exec: \"foo\": executable file not found in $PATH". */
int ct_process_find_exec(const struct ct_process *p, char **out, struct vs_err *e);

/* seccomp may be NULL. */
int ct_process_finish(const struct ct_process *p, const struct ct_seccomp *seccomp,
		      struct vs_err *e);

/* Looks up the home directory of uid in /etc/passwd (as seen from the
 * calling process); "/" when not found. malloc'ed. */
char *ct_process_home(uid_t uid);

/* Builds the final environment: p->env plus HOME (when missing) and extra
 * (NULL-terminated, may be NULL: e.g. LISTEN_FDS). malloc'ed vector of
 * malloc'ed strings. */
char **ct_process_env(const struct ct_process *p, char *const *extra);

/* Parses a cpu list "0-3,7" into a cpu_set_t of setsize bytes; -1 on a
 * malformed list. */
int ct_parse_cpu_list(const char *list, void *cpu_set, size_t setsize);

#endif
