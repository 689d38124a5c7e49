/*
 * The container's terminal (runtime-spec config.md "process.terminal" and
 * runtime.md "Console socket" as runc implements it): the pty is allocated
 * inside the container, from the container's devpts, so the slave belongs to
 * it; the master is handed to the caller over a Unix socket (SCM_RIGHTS) and
 * the slave becomes the process's controlling terminal and stdio.
 */
#ifndef VESSEL_RT_CONSOLE_H
#define VESSEL_RT_CONSOLE_H

#include <stdbool.h>
#include "vessel/err.h"

/* Connects to the --console-socket path (in the runtime, before any
 * namespace change: the path is a host path). Returns the fd or -1. */
int ct_console_connect(const char *path, struct vs_err *e);

/* Opens a new pty through ptmx_path (e.g. "dev/ptmx" relative to the
 * rootfs, or "/dev/ptmx"): *master and *slave are O_CLOEXEC fds. The slave
 * is opened with TIOCGPTPEER so it is the peer of this very master. */
int ct_console_open(const char *ptmx_path, unsigned int rows, unsigned int cols, int *master,
		    int *slave, struct vs_err *e);

/* Sends fd over the connected Unix socket sock (SCM_RIGHTS, one data byte
 * naming the pty as runc does). */
int ct_console_send(int sock, int fd, const char *name, struct vs_err *e);

/* Receives one fd sent by ct_console_send (for tests and tools). */
int ct_console_recv(int sock, int *fd, struct vs_err *e);

/* Bind-mounts the slave onto target (e.g. "dev/console"), creating an empty
 * file there when missing. */
int ct_console_bind(int slave, const char *target, struct vs_err *e);

/* Makes slave the controlling terminal of the calling process (which must be
 * a session leader without one) and its stdin/stdout/stderr. */
int ct_console_set_ctty(int slave, struct vs_err *e);

#endif
