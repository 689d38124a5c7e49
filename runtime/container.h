/*
 * The container lifecycle (runtime-spec runtime.md "Lifecycle" and
 * "Operations"): create, start, run, kill, delete, pause/resume, and exec
 * into a running container (exec.c).
 *
 * No daemon: `create` forks the container's init and returns once it is set
 * up and blocked on <state>/exec.fifo; `start` opens the fifo, which lets the
 * init exec the user program. The init's errors travel back to the runtime
 * over a socketpair (struct vs_err), so only the command's top prints them.
 */
#ifndef VESSEL_RT_CONTAINER_H
#define VESSEL_RT_CONTAINER_H

#include <stdbool.h>
#include <sys/types.h>

#include "vessel/err.h"

struct ct_create_opts {
	const char *root; /* state root */
	const char *id;
	const char *bundle; /* NULL: the current directory */
	const char *pid_file;
	const char *console_socket;
	bool no_pivot;
	bool no_new_keyring;
	int preserve_fds; /* fds 3..3+N-1 pass to the process */
	bool systemd_cgroup;
	/* `run` without -d: with process.terminal and no console socket, the
	 * runtime's own terminal (stdin must be a tty) becomes the console */
	bool foreground;
};

int ct_container_create(const struct ct_create_opts *o, struct vs_err *e);
int ct_container_start(const char *root, const char *id, struct vs_err *e);
/* create + start; without detach waits, stores the exit status (128+N for a
 * signal) in *status and deletes the container. */
int ct_container_run(const struct ct_create_opts *o, bool detach, int *status, struct vs_err *e);
/* sig to the init, or with all to every process of the cgroup. */
int ct_container_kill(const char *root, const char *id, int sig, bool all, struct vs_err *e);
int ct_container_delete(const char *root, const char *id, bool force, struct vs_err *e);
int ct_container_pause(const char *root, const char *id, bool pause, struct vs_err *e);

/* Signal numbers from "TERM", "SIGTERM", "15"; -1 if unknown. */
int ct_signal_parse(const char *s);

struct ct_process;
struct ct_exec_opts {
	const char *root;
	const char *id;
	struct ct_process *process; /* complete (defaults filled by the caller) */
	const char *pid_file;
	const char *console_socket;
	bool detach;
	int preserve_fds;
};
/* Runs a new process in the container; without detach waits and stores its
 * exit status in *status. */
int ct_exec(const struct ct_exec_opts *o, int *status, struct vs_err *e);

/* --- between the runtime and its children (container.c, exec.c) --------- */
enum ct_sync_type {
	CT_SYNC_GO = 1, /* runtime -> child: proceed */
	CT_SYNC_USERNS, /* child -> runtime: write my id maps */
	CT_SYNC_PID,	/* child -> runtime: val is the init's pid */
	CT_SYNC_HOOKS,	/* init -> runtime: run prestart/createRuntime */
	CT_SYNC_READY,	/* init -> runtime: set up, waiting for start */
	CT_SYNC_ERROR,	/* either way: err says why */
};
struct ct_sync_msg {
	int type;
	int val;
	struct vs_err err;
};
int ct_sync_send(int fd, int type, int val, const struct vs_err *err);
/* Returns 0, or -1 with e filled (also on EOF: "what exited"). An ERROR
 * message becomes a -1 with its err copied into e. */
int ct_sync_recv(int fd, struct ct_sync_msg *m, const char *what, struct vs_err *e);
/* In a child: reports e to the runtime and exits. */
__attribute__((noreturn)) void ct_sync_die(int fd, const struct vs_err *e);

/* Waits for pid (a child) and returns an exit status as a shell shows it. */
int ct_wait_status(pid_t pid);
/* Writes pid to path (atomically). */
int ct_write_pid_file(const char *path, pid_t pid, struct vs_err *e);
/* Makes fds 3..3+n-1 inheritable and everything above close-on-exec. */
int ct_prepare_fds(int n, struct vs_err *e);

#endif
