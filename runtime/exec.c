/* exec: a new process inside a running container. It joins every namespace
 * of the container's init (the user namespace first), its cgroup, then
 * forks so the process is inside the pid namespace too. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vessel/cgroup.h"
#include "vessel/cleanup.h"
#include "vessel/fs.h"
#include "runtime/console.h"
#include "runtime/container.h"
#include "runtime/ns.h"
#include "runtime/process.h"
#include "runtime/spec.h"
#include "runtime/state.h"

struct exec_ctx {
	const struct ct_exec_opts *o;
	struct ct_state *st;
	struct ct_spec *spec; /* the container's saved config */
	struct ct_ns_join joins;
	struct vs_cgroup *cg;
	int console_sock;
	int sync[2];
	pid_t child, proc;
};

__attribute__((noreturn)) static void exec_proc(struct exec_ctx *c)
{
	struct ct_process *p = c->o->process;
	int sync = c->sync[1];
	struct vs_err err = {0}, *e = &err;
	autofree char *exe = NULL;
	char **env;

	if (setsid() < 0) {
		vs_fail_errno(e, "setsid");
		ct_sync_die(sync, e);
	}
	if (p->terminal) {
		int master, slave;

		/* we are in the container's mount namespace: its own devpts */
		if (ct_console_open("/dev/ptmx", p->console_height, p->console_width, &master,
				    &slave, e) < 0 ||
		    ct_console_send(c->console_sock, master, "/dev/ptmx", e) < 0 ||
		    ct_console_set_ctty(slave, e) < 0)
			ct_sync_die(sync, e);
		close(master);
		close(slave);
		close(c->console_sock);
	}
	if (ct_process_setup(p, e) < 0 || ct_process_find_exec(p, &exe, e) < 0)
		ct_sync_die(sync, e);
	env = ct_process_env(p, NULL);
	if (ct_process_finish(p, c->spec->lnx.seccomp, e) < 0 ||
	    ct_prepare_fds(c->o->preserve_fds, e) < 0)
		ct_sync_die(sync, e);
	execve(exe, p->args, env);
	vs_fail_errno(e, "exec %s", exe);
	ct_sync_die(sync, e);
}

__attribute__((noreturn)) static void exec_child(struct exec_ctx *c)
{
	int sync = c->sync[1];
	struct vs_err err = {0}, *e = &err;
	struct ct_sync_msg m;

	close(c->sync[0]);
	if (ct_sync_recv(sync, &m, "runtime", e) < 0)
		_exit(1);
	if (ct_ns_join_all(&c->joins, false, e) < 0)
		ct_sync_die(sync, e);

	pid_t pid = fork();

	if (pid < 0) {
		vs_fail_errno(e, "fork");
		ct_sync_die(sync, e);
	}
	if (pid == 0)
		exec_proc(c);
	ct_sync_send(sync, CT_SYNC_PID, pid, NULL);
	_exit(0);
}

static volatile pid_t fwd_pid;

static void forward_signal(int sig)
{
	if (fwd_pid > 0)
		kill(fwd_pid, sig);
}

static int do_exec(struct exec_ctx *c, int *status, struct vs_err *e)
{
	const struct ct_exec_opts *o = c->o;
	struct ct_process *p = o->process;
	struct ct_sync_msg m;

	if (ct_state_load(o->root, o->id, &c->st, e) < 0)
		return -1;
	enum ct_status st = ct_state_status(c->st);

	if (st != CT_RUNNING && st != CT_CREATED)
		return vs_fail(e, 0, "cannot exec in container %s: it is %s", o->id,
			       ct_status_name(st));
	if (ct_spec_load(c->st->dir, &c->spec, e) < 0)
		return vs_err_prefix(e, "container %s: saved config", o->id);
	if (p->apparmor_profile && *p->apparmor_profile)
		return vs_fail(
			e, ENOTSUP,
			"process.apparmorProfile \"%s\": AppArmor is not supported by vessel-runtime",
			p->apparmor_profile);
	if (p->selinux_label && *p->selinux_label)
		return vs_fail(
			e, ENOTSUP,
			"process.selinuxLabel \"%s\": SELinux is not supported by vessel-runtime",
			p->selinux_label);
	if (p->terminal && !o->console_socket)
		return vs_fail(e, EINVAL, "exec: a terminal needs --console-socket");
	if (!p->terminal && o->console_socket)
		return vs_fail(e, EINVAL, "exec: --console-socket given without --tty");
	for (int fd = 3; fd < 3 + o->preserve_fds; fd++)
		if (fcntl(fd, F_GETFD) < 0)
			return vs_fail(e, EBADF, "--preserve-fds %d: fd %d is not open",
				       o->preserve_fds, fd);
	if (ct_ns_open_pid(c->st->pid, &c->joins, e) < 0)
		return vs_err_prefix(e, "container %s", o->id);
	if (c->st->cgroup_path && vs_cgroup_open(c->st->cgroup_path, &c->cg, e) < 0)
		return -1;
	if (o->console_socket) {
		c->console_sock = ct_console_connect(o->console_socket, e);
		if (c->console_sock < 0)
			return -1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, c->sync) < 0)
		return vs_fail_errno(e, "socketpair");
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	c->child = fork();
	if (c->child < 0)
		return vs_fail_errno(e, "fork");
	if (c->child == 0)
		exec_child(c);
	close(c->sync[1]);
	c->sync[1] = -1;
	if (c->cg && vs_cgroup_enter(c->cg, c->child, e) < 0)
		return -1;
	ct_sync_send(c->sync[0], CT_SYNC_GO, 0, NULL);
	if (ct_sync_recv(c->sync[0], &m, "exec process", e) < 0)
		return -1;
	if (m.type != CT_SYNC_PID)
		return vs_fail(e, EPROTO, "exec process: unexpected message %d", m.type);
	c->proc = m.val;
	ct_wait_status(c->child);
	c->child = 0;
	if (!o->detach) {
		static const int sigs[] = {SIGINT,  SIGTERM, SIGHUP,  SIGQUIT,
					   SIGUSR1, SIGUSR2, SIGWINCH};
		struct sigaction sa = {.sa_handler = forward_signal, .sa_flags = SA_RESTART};

		fwd_pid = c->proc;
		for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
			sigaction(sigs[i], &sa, NULL);
	}
	/* EOF: the exec happened (the socket is close-on-exec); else why not */
	struct vs_err tmp = {0};

	if (ct_sync_recv(c->sync[0], &m, "exec process", &tmp) < 0 && m.type == CT_SYNC_ERROR) {
		*e = tmp;
		return -1;
	}
	if (o->pid_file && ct_write_pid_file(o->pid_file, c->proc, e) < 0)
		return -1;
	if (o->detach) {
		*status = 0;
		c->proc = 0;
		return 0;
	}
	*status = ct_wait_status(c->proc);
	fwd_pid = 0;
	c->proc = 0;
	return 0;
}

int ct_exec(const struct ct_exec_opts *o, int *status, struct vs_err *e)
{
	struct exec_ctx c = {.o = o, .console_sock = -1, .sync = {-1, -1}};
	int r;

	for (int t = 0; t < CT_NS_COUNT; t++)
		c.joins.fds[t] = -1;
	r = do_exec(&c, status, e);
	if (r < 0) {
		if (c.child > 0) {
			kill(c.child, SIGKILL);
			waitpid(c.child, NULL, 0);
		}
		if (c.proc > 0) {
			kill(c.proc, SIGKILL);
			waitpid(c.proc, NULL, 0);
		}
	}
	ct_ns_join_close(&c.joins);
	if (c.console_sock >= 0)
		close(c.console_sock);
	if (c.sync[0] >= 0)
		close(c.sync[0]);
	if (c.sync[1] >= 0)
		close(c.sync[1]);
	vs_cgroup_free(c.cg);
	ct_spec_free(c.spec);
	ct_state_free(c.st);
	return r;
}
