/* Container lifecycle: create, start, run, kill, delete, pause. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "vessel/cgroup.h"
#include "vessel/cleanup.h"
#include "vessel/fs.h"
#include "vessel/json.h"
#include "vessel/log.h"
#include "runtime/console.h"
#include "runtime/container.h"
#include "runtime/hooks.h"
#include "runtime/ns.h"
#include "runtime/process.h"
#include "runtime/resources.h"
#include "runtime/rootfs.h"
#include "runtime/spec.h"
#include "runtime/state.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#define KEYCTL_JOIN_SESSION_KEYRING 1

/* ---------------------------------------------------------------- sync --- */

int ct_sync_send(int fd, int type, int val, const struct vs_err *err)
{
	struct ct_sync_msg m = {.type = type, .val = val};

	if (err)
		m.err = *err;
	if (send(fd, &m, sizeof(m), MSG_NOSIGNAL) != (ssize_t)sizeof(m))
		return -1;
	return 0;
}

int ct_sync_recv(int fd, struct ct_sync_msg *m, const char *what, struct vs_err *e)
{
	ssize_t n;

	do
		n = recv(fd, m, sizeof(*m), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return vs_fail_errno(e, "%s: sync", what);
	if (n == 0)
		return vs_fail(e, 0, "%s exited unexpectedly", what);
	if (n != (ssize_t)sizeof(*m))
		return vs_fail(e, EPROTO, "%s: short sync message", what);
	if (m->type == CT_SYNC_ERROR) {
		if (e)
			*e = m->err;
		return -1;
	}
	return 0;
}

void ct_sync_die(int fd, const struct vs_err *e)
{
	ct_sync_send(fd, CT_SYNC_ERROR, 0, e);
	_exit(1);
}

int ct_wait_status(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return 255;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return 255;
}

int ct_write_pid_file(const char *path, pid_t pid, struct vs_err *e)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%d", (int)pid);
	if (vs_write_file_atomic(path, buf, strlen(buf), 0644, e) < 0)
		return vs_err_prefix(e, "--pid-file");
	return 0;
}

int ct_prepare_fds(int n, struct vs_err *e)
{
	for (int fd = 3; fd < 3 + n; fd++) {
		int fl = fcntl(fd, F_GETFD);

		if (fl < 0)
			return vs_fail_errno(e, "--preserve-fds: fd %d", fd);
		if (fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC) < 0)
			return vs_fail_errno(e, "--preserve-fds: fd %d", fd);
	}
	if (syscall(SYS_close_range, 3 + n, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		return vs_fail_errno(e, "close_range");
	return 0;
}

int ct_signal_parse(const char *s)
{
	static const struct {
		const char *name;
		int sig;
	} sigs[] = {
		{"HUP", SIGHUP},       {"INT", SIGINT},	  {"QUIT", SIGQUIT},	 {"ILL", SIGILL},
		{"TRAP", SIGTRAP},     {"ABRT", SIGABRT}, {"IOT", SIGIOT},	 {"BUS", SIGBUS},
		{"FPE", SIGFPE},       {"KILL", SIGKILL}, {"USR1", SIGUSR1},	 {"SEGV", SIGSEGV},
		{"USR2", SIGUSR2},     {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},	 {"TERM", SIGTERM},
		{"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT},	 {"STOP", SIGSTOP},
		{"TSTP", SIGTSTP},     {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},	 {"URG", SIGURG},
		{"XCPU", SIGXCPU},     {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
		{"WINCH", SIGWINCH},   {"IO", SIGIO},	  {"POLL", SIGPOLL},	 {"PWR", SIGPWR},
		{"SYS", SIGSYS},
	};
	char *end;

	if (!s || !*s)
		return -1;
	if (s[0] >= '0' && s[0] <= '9') {
		long v = strtol(s, &end, 10);

		if (*end || v <= 0 || v > SIGRTMAX)
			return -1;
		return (int)v;
	}
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (!strcasecmp(s, sigs[i].name))
			return sigs[i].sig;
	/* RTMIN+n, RTMAX-n */
	if (!strncasecmp(s, "RTMIN", 5)) {
		long n = s[5] ? strtol(s + 6, &end, 10) : 0;

		if (s[5] && (s[5] != '+' || *end))
			return -1;
		if (SIGRTMIN + n > SIGRTMAX || n < 0)
			return -1;
		return SIGRTMIN + (int)n;
	}
	if (!strncasecmp(s, "RTMAX", 5)) {
		long n = s[5] ? strtol(s + 6, &end, 10) : 0;

		if (s[5] && (s[5] != '-' || *end))
			return -1;
		if (SIGRTMAX - n < SIGRTMIN || n < 0)
			return -1;
		return SIGRTMAX - (int)n;
	}
	return -1;
}

/* -------------------------------------------------------------- create --- */

struct create_ctx {
	const struct ct_create_opts *o;
	struct ct_spec *spec;
	struct ct_state *st; /* filled progressively */
	struct ct_ns_join joins;
	int new_flags;	  /* CLONE_NEW* to create */
	int console_sock; /* -1 without a terminal */
	int term_peer;	  /* run in a terminal: our end of console_sock */
	int fifo_fd;	  /* O_PATH on exec.fifo */
	int sync[2];	  /* [0] runtime, [1] children */
	struct vs_cgroup *cg;
	bool cg_created;
	pid_t child, init;
	bool dir_created;
	struct ct_idmap_mounts idmaps; /* detached idmapped mounts for mounts[] */
	bool hooks_started;	       /* runtime-spec: poststop runs if create fails after them */
};

static char *owner_name(void)
{
	struct passwd *pw = getpwuid(geteuid());

	return strdup(pw ? pw->pw_name : "");
}

static pid_t read_self_pid(void)
{
	char buf[32];
	ssize_t n = readlink("/proc/self", buf, sizeof(buf) - 1);

	if (n <= 0)
		return getpid();
	buf[n] = '\0';
	return (pid_t)atoi(buf);
}

/* The init: sets the container up, reports ready, waits for start, execs. */
__attribute__((noreturn)) static void init_main(struct create_ctx *c)
{
	struct ct_spec *s = c->spec;
	struct ct_process *p = s->process;
	int sync = c->sync[1];
	struct vs_err err = {0}, *e = &err;
	int slave = -1;
	autofree char *exe = NULL;
	autofree char *state_json = NULL;
	char **env;

	/* wait until the runtime knows our pid (hooks get it in the state) */
	struct ct_sync_msg m;

	if (ct_sync_recv(sync, &m, "runtime", e) < 0)
		_exit(1);
	c->st->pid = m.val > 0 ? m.val : read_self_pid();
	if (setsid() < 0) {
		vs_fail_errno(e, "setsid");
		ct_sync_die(sync, e);
	}
	if (!c->o->no_new_keyring &&
	    syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, c->o->id) < 0 && errno != ENOSYS &&
	    errno != EPERM && errno != EACCES && errno != EDQUOT) {
		vs_fail_errno(e, "joining a new session keyring");
		ct_sync_die(sync, e);
	}
	if (s->hostname && sethostname(s->hostname, strlen(s->hostname)) < 0) {
		vs_fail_errno(e, "config.json: hostname: \"%s\"", s->hostname);
		ct_sync_die(sync, e);
	}
	if (s->domainname && setdomainname(s->domainname, strlen(s->domainname)) < 0) {
		vs_fail_errno(e, "config.json: domainname: \"%s\"", s->domainname);
		ct_sync_die(sync, e);
	}

	struct ct_rootfs_opts ro = {
		.bundle = c->st->bundle,
		.no_pivot = c->o->no_pivot,
		.console_path = NULL, /* bound below, once the pty exists */
		.cgroup_path = c->st->cgroup_path,
		.in_userns = ct_spec_has_ns(s, CT_NS_USER),
		.idmaps = c->idmaps.fds ? &c->idmaps : NULL,
	};

	if (ct_rootfs_mount(s, &ro, e) < 0)
		ct_sync_die(sync, e);

	/* prestart and createRuntime run in the runtime namespace: ask it */
	ct_sync_send(sync, CT_SYNC_HOOKS, 0, NULL);
	if (ct_sync_recv(sync, &m, "runtime", e) < 0)
		_exit(1);

	state_json = ct_state_json_string(c->st, CT_CREATED, false); /* as prestart */
	if (ct_hooks_run(s->hooks.create_container, s->hooks.n_create_container, "createContainer",
			 state_json, e) < 0)
		ct_sync_die(sync, e);

	if (p->terminal) {
		int master;

		/* the pty comes from the container's devpts (cwd is the rootfs) */
		if (ct_console_open("dev/ptmx", p->console_height, p->console_width, &master,
				    &slave, e) < 0)
			ct_sync_die(sync, e);
		if (ct_console_bind(slave, "dev/console", e) < 0)
			ct_sync_die(sync, e);
		if (ct_console_send(c->console_sock, master, "/dev/console", e) < 0)
			ct_sync_die(sync, e);
		close(master);
		close(c->console_sock);
	}

	if (ct_rootfs_pivot(s, &ro, e) < 0 || ct_rootfs_finalize(s, e) < 0)
		ct_sync_die(sync, e);
	if (slave >= 0) {
		if (ct_console_set_ctty(slave, e) < 0)
			ct_sync_die(sync, e);
		close(slave);
	}
	if (s->lnx.personality_set && personality(s->lnx.personality_domain) < 0) {
		vs_fail_errno(e, "config.json: linux.personality");
		ct_sync_die(sync, e);
	}
	if (ct_process_setup(p, e) < 0 || ct_process_find_exec(p, &exe, e) < 0) {
		vs_err_prefix(e, "config.json");
		ct_sync_die(sync, e);
	}

	/* LISTEN_FDS (sd_listen_fds): passed on, renumbered for the new pid */
	const char *lfds = getenv("LISTEN_FDS");
	char *extra[3] = {NULL, NULL, NULL};
	int n_fds = c->o->preserve_fds;

	if (lfds && atoi(lfds) > 0) {
		n_fds += atoi(lfds);
		extra[0] = vs_strdup_printf("LISTEN_FDS=%d", atoi(lfds));
		extra[1] = strdup("LISTEN_PID=1");
	}
	env = ct_process_env(p, extra);
	free(extra[0]);
	free(extra[1]);

	/* Block until `start` opens the fifo for reading. The state directory
	 * is out of reach after the root switch; the fifo is reopened through
	 * the O_PATH fd the runtime opened for us, which needs /proc. */
	char fifo_path[64];
	int fifo;

	snprintf(fifo_path, sizeof(fifo_path), "/proc/self/fd/%d", c->fifo_fd);
	if (access(fifo_path, F_OK) < 0) {
		vs_fail_errno(e, "the container has no usable /proc (needed to wait for start): %s",
			      fifo_path);
		ct_sync_die(sync, e);
	}
	ct_sync_send(sync, CT_SYNC_READY, 0, NULL);
	close(sync);
	do
		fifo = open(fifo_path, O_WRONLY | O_CLOEXEC);
	while (fifo < 0 && errno == EINTR);
	if (fifo < 0)
		_exit(126);
	close(c->fifo_fd);
	if (write(fifo, "0", 1) != 1)
		_exit(126);

	/* from here errors go to `start` through the fifo */
	free(state_json);
	state_json = ct_state_json_string(c->st, CT_CREATED, false);
	if (ct_hooks_run(s->hooks.start_container, s->hooks.n_start_container, "startContainer",
			 state_json, e) < 0 ||
	    ct_process_finish(p, s->lnx.seccomp, e) < 0 || ct_prepare_fds(n_fds, e) < 0)
		goto fail;
	execve(exe, p->args, env);
	vs_fail_errno(e, "exec %s", exe);
fail : {
	char buf[sizeof(e->msg) + 128];

	vs_err_str(e, buf, sizeof(buf));
	vs_write_all(fifo, buf, strlen(buf));
	_exit(127);
}
}

/* The first child: enters/creates the namespaces, forks the init. */
__attribute__((noreturn)) static void child_main(struct create_ctx *c)
{
	int sync = c->sync[1];
	struct vs_err err = {0}, *e = &err;
	struct ct_sync_msg m;

	close(c->sync[0]);
	if (ct_sync_recv(sync, &m, "runtime", e) < 0)
		_exit(1);
	if (ct_ns_join_all(&c->joins, false, e) < 0)
		ct_sync_die(sync, e);
	if (c->new_flags & CLONE_NEWUSER) {
		if (unshare(CLONE_NEWUSER) < 0) {
			vs_fail_errno(e, "creating the user namespace");
			ct_sync_die(sync, e);
		}
		ct_sync_send(sync, CT_SYNC_USERNS, 0, NULL);
		if (ct_sync_recv(sync, &m, "runtime", e) < 0)
			_exit(1);
	}
	if (ct_spec_has_ns(c->spec, CT_NS_USER)) {
		/* become root of the (new or joined) user namespace, when mapped */
		if (ct_ns_id_mapped(c->spec->lnx.gid_mappings, c->spec->lnx.n_gid_mappings, 0) &&
		    setresgid(0, 0, 0) < 0) {
			vs_fail_errno(e, "setresgid(0) in the user namespace");
			ct_sync_die(sync, e);
		}
		if (ct_ns_id_mapped(c->spec->lnx.uid_mappings, c->spec->lnx.n_uid_mappings, 0) &&
		    setresuid(0, 0, 0) < 0) {
			vs_fail_errno(e, "setresuid(0) in the user namespace");
			ct_sync_die(sync, e);
		}
	}
	if (unshare(c->new_flags & ~CLONE_NEWUSER) < 0) {
		vs_fail_errno(e, "creating namespaces");
		ct_sync_die(sync, e);
	}
	if ((c->new_flags & CLONE_NEWTIME) && ct_ns_write_time_offsets(c->spec, e) < 0)
		ct_sync_die(sync, e);

	pid_t pid = fork();

	if (pid < 0) {
		vs_fail_errno(e, "fork of the container init");
		ct_sync_die(sync, e);
	}
	if (pid == 0)
		init_main(c);
	ct_sync_send(sync, CT_SYNC_PID, pid, NULL);
	_exit(0);
}

static bool has_hooks(const struct ct_hooks *h)
{
	return h->n_prestart || h->n_create_runtime;
}

static int run_runtime_hooks(struct create_ctx *c, struct vs_err *e)
{
	const struct ct_hooks *h = &c->spec->hooks;

	if (!has_hooks(h))
		return 0;

	/* runtime.md "State": "created" is the status after lifecycle step 2
	 * (the environment exists), which is where these hooks run (steps 3-5);
	 * runc says "creating", the OCI validation suite wants "created" */
	autofree char *json = ct_state_json_string(c->st, CT_CREATED, false);

	/* prestart (deprecated) runs where runc runs it, with createRuntime */
	if (ct_hooks_run(h->prestart, h->n_prestart, "prestart", json, e) < 0 ||
	    ct_hooks_run(h->create_runtime, h->n_create_runtime, "createRuntime", json, e) < 0)
		return -1;
	return 0;
}

/* Waits until pid is gone (it is not necessarily our child). */
static void wait_gone(pid_t pid, unsigned long long start_time)
{
	for (int i = 0; i < 1000 && ct_pid_alive(pid, start_time); i++) {
		waitpid(pid, NULL, WNOHANG);
		struct timespec ts = {0, 10 * 1000 * 1000};

		nanosleep(&ts, NULL);
	}
}

static void kill_and_reap(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

static void create_undo(struct create_ctx *c)
{
	kill_and_reap(c->child);
	kill_and_reap(c->init);
	/* only a cgroup this create made holds nothing but its own processes */
	if (c->cg && c->cg_created) {
		vs_cgroup_kill(c->cg, SIGKILL, NULL);
		vs_cgroup_destroy(c->cg, NULL);
	}
	/* runtime.md "Lifecycle": a failing prestart, createRuntime or
	 * createContainer hook stops the container and continues at delete,
	 * which runs the poststop hooks */
	if (c->hooks_started && c->spec->hooks.n_poststop) {
		struct vs_err tmp = {0};
		autofree char *json = ct_state_json_string(c->st, CT_STOPPED, false);

		if (ct_hooks_run(c->spec->hooks.poststop, c->spec->hooks.n_poststop, "poststop",
				 json, &tmp) < 0) {
			char buf[1024];

			vs_warn("%s", vs_err_str(&tmp, buf, sizeof(buf)));
		}
	}
	if (c->dir_created)
		vs_rm_rf(c->st->dir, NULL);
}

static void create_ctx_free(struct create_ctx *c)
{
	ct_ns_join_close(&c->joins);
	ct_rootfs_idmap_close(&c->idmaps);
	if (c->console_sock >= 0)
		close(c->console_sock);
	if (c->term_peer >= 0)
		close(c->term_peer);
	if (c->fifo_fd >= 0)
		close(c->fifo_fd);
	if (c->sync[0] >= 0)
		close(c->sync[0]);
	if (c->sync[1] >= 0)
		close(c->sync[1]);
	vs_cgroup_free(c->cg);
	ct_state_free(c->st);
	ct_spec_free(c->spec);
}

/* Checks made before anything is created: config, flags, host. */
static int create_validate(struct create_ctx *c, struct vs_err *e)
{
	struct ct_spec *s = c->spec;
	const struct ct_create_opts *o = c->o;

	if (!s->process)
		return vs_fail(e, EINVAL, "config.json: process: required to create a container");
	if (s->process->terminal && !o->console_socket && !(o->foreground && isatty(0)))
		return vs_fail(
			e, EINVAL,
			"config.json: process.terminal is true but no --console-socket was given");
	if (!s->process->terminal && o->console_socket)
		return vs_fail(e, EINVAL,
			       "--console-socket given but config.json: process.terminal is false");
	if (s->process->apparmor_profile && *s->process->apparmor_profile)
		return vs_fail(
			e, ENOTSUP,
			"config.json: process.apparmorProfile \"%s\": AppArmor is not supported by vessel-runtime",
			s->process->apparmor_profile);
	if (s->process->selinux_label && *s->process->selinux_label)
		return vs_fail(
			e, ENOTSUP,
			"config.json: process.selinuxLabel \"%s\": SELinux is not supported by vessel-runtime",
			s->process->selinux_label);
	if (s->lnx.intel_rdt_set)
		return vs_fail(e, ENOTSUP,
			       "config.json: linux.intelRdt: not supported by vessel-runtime");
	if (ct_spec_has_ns(s, CT_NS_USER) && !ct_spec_ns_path(s, CT_NS_USER) &&
	    (!s->lnx.n_uid_mappings || !s->lnx.n_gid_mappings))
		return vs_fail(
			e, EINVAL,
			"config.json: linux.uidMappings/gidMappings: required with a new user namespace");
	if (!ct_spec_has_ns(s, CT_NS_USER) && (s->lnx.n_uid_mappings || s->lnx.n_gid_mappings))
		return vs_fail(e, EINVAL,
			       "config.json: linux.uidMappings: given without a user namespace");
	if (s->hostname && *s->hostname && !ct_spec_has_ns(s, CT_NS_UTS))
		return vs_fail(
			e, EINVAL,
			"config.json: hostname: needs a new uts namespace (linux.namespaces)");
	if ((s->lnx.monotonic.set || s->lnx.boottime.set) && !ct_spec_has_ns(s, CT_NS_TIME))
		return vs_fail(e, EINVAL, "config.json: linux.timeOffsets: needs a time namespace");
	if (s->lnx.cgroups_path && strchr(s->lnx.cgroups_path, ':'))
		return vs_fail(
			e, EINVAL,
			"config.json: linux.cgroupsPath: \"%s\": systemd cgroups are not supported",
			s->lnx.cgroups_path);
	for (int fd = 3; fd < 3 + o->preserve_fds; fd++)
		if (fcntl(fd, F_GETFD) < 0)
			return vs_fail(e, EBADF, "--preserve-fds %d: fd %d is not open",
				       o->preserve_fds, fd);
	if (ct_rootfs_validate(s, c->st->bundle, e) < 0)
		return -1;
	return 0;
}

static int resolve_rootfs(const char *bundle, const char *root_path, char **out, struct vs_err *e)
{
	autofree char *joined =
		root_path[0] == '/' ? strdup(root_path) : vs_path_join(bundle, root_path);
	char *r = realpath(joined, NULL);

	if (!r)
		return vs_fail_errno(e, "config.json: root.path: %s", joined);
	*out = r;
	return 0;
}

static int create_setup_cgroup(struct create_ctx *c, struct vs_err *e)
{
	struct ct_spec *s = c->spec;
	bool exists = false;

	if (vs_cgroup_exists(c->st->cgroup_path, &exists, e) < 0)
		return vs_err_prefix(e, "config.json: linux.cgroupsPath");
	if (vs_cgroup_create(c->st->cgroup_path, &c->cg, e) < 0)
		return -1;
	c->cg_created = !exists;
	if (exists) {
		/* a cgroup with processes belongs to someone else (the same ID
		 * under another --root shares /vessel/<id>): its delete would
		 * kill them (runc 1.2 refuses it too) */
		autofree pid_t *pids = NULL;
		size_t n = 0;

		if (vs_cgroup_pids(c->cg, &pids, &n, e) < 0)
			return -1;
		if (n)
			return vs_fail(
				e, EBUSY,
				"config.json: linux.cgroupsPath: cgroup %s already has %zu process(es)",
				c->st->cgroup_path, n);
	}

	struct vs_cgroup_resources *r = &s->lnx.resources;

	/* Always "deny all" plus the default devices, whether or not the config
	 * lists device rules: a config without them must not get every host
	 * device (mknod + open of the host's disks). */
	r->has_devices = true;
	{
		/* the container's own devices stay usable under a "deny all" */
		ct_resources_add_default_devices(r);
		for (size_t i = 0; i < s->lnx.n_devices; i++) {
			const struct ct_device *d = &s->lnx.devices[i];
			struct vs_cgroup_device_rule rule = {
				.allow = true,
				.type = d->type == 'u' ? 'c' : d->type,
				.major = d->type == 'p' ? -1 : d->major,
				.minor = d->type == 'p' ? -1 : d->minor,
				.access = "rwm",
			};

			if (d->type == 'p')
				continue; /* fifos are not device-controlled */
			vs_cgroup_resources_add_device(r, &rule);
		}
	}
	/* the runtime forks twice inside the cgroup (the first child, the init)
	 * before the container's program runs: a pids limit is set once the
	 * init is ready (apply_pids_limit), as runc does, so pids.max 1 works */
	bool pids_later = r->has_pids_limit && r->pids_limit > 0;
	int ret;

	if (pids_later)
		r->has_pids_limit = false;
	ret = vs_cgroup_apply(c->cg, r, e);
	if (pids_later)
		r->has_pids_limit = true;
	if (ret < 0)
		return vs_err_prefix(e, "config.json: linux.resources");
	return 0;
}

static int apply_pids_limit(struct create_ctx *c, struct vs_err *e)
{
	const struct vs_cgroup_resources *r = &c->spec->lnx.resources;
	struct vs_cgroup_resources pids = {0};

	if (!c->cg || !r->has_pids_limit || r->pids_limit <= 0)
		return 0;
	pids.has_pids_limit = true;
	pids.pids_limit = r->pids_limit;
	if (vs_cgroup_apply(c->cg, &pids, e) < 0)
		return vs_err_prefix(e, "config.json: linux.resources.pids");
	return 0;
}

/* create; on success c->init runs, blocked on the fifo. */
static int do_create(struct create_ctx *c, struct vs_err *e)
{
	const struct ct_create_opts *o = c->o;
	autofree char *bundle = NULL;
	struct ct_sync_msg m;

	if (ct_state_check_id(o->id, e) < 0)
		return -1;
	/* a duplicate id is refused before anything is read or created */
	autofree char *dir = ct_state_dir(o->root, o->id);

	if (access(dir, F_OK) == 0)
		return vs_fail(e, 0, "container %s already exists", o->id);
	bundle = realpath(o->bundle ? o->bundle : ".", NULL);
	if (!bundle)
		return vs_fail_errno(e, "bundle %s", o->bundle ? o->bundle : ".");
	if (ct_spec_load(bundle, &c->spec, e) < 0)
		return -1;

	c->st = calloc(1, sizeof(*c->st));
	if (!c->st)
		abort();
	c->st->id = strdup(o->id);
	c->st->dir = vs_steal_ptr(dir);
	c->st->bundle = vs_steal_ptr(bundle);
	if (resolve_rootfs(c->st->bundle, c->spec->root_path, &c->st->rootfs, e) < 0)
		return -1;
	c->st->created = ct_now_rfc3339();
	c->st->owner = owner_name();
	c->st->systemd_cgroup = o->systemd_cgroup;
	c->st->cgroup_path = c->spec->lnx.cgroups_path && *c->spec->lnx.cgroups_path
				     ? strdup(c->spec->lnx.cgroups_path)
				     : vs_strdup_printf("/vessel/%s", o->id);
	c->st->annotations = json_object_new_object();
	for (size_t i = 0; i < c->spec->n_annotations; i++)
		json_object_object_add(c->st->annotations, c->spec->annotations[i].key,
				       json_object_new_string(c->spec->annotations[i].value));

	if (create_validate(c, e) < 0)
		return -1;
	/* idmapped mounts need the host user namespace: made here, attached
	 * by the init */
	if (ct_rootfs_idmap_prepare(c->spec, c->st->bundle, &c->idmaps, e) < 0)
		return -1;
	if (ct_ns_open_joins(c->spec, &c->joins, e) < 0)
		return -1;
	c->new_flags = ct_ns_new_flags(c->spec);
	if (o->console_socket) {
		c->console_sock = ct_console_connect(o->console_socket, e);
		if (c->console_sock < 0)
			return -1;
	} else if (c->spec->process->terminal) {
		/* run in the foreground: we receive the pty ourselves */
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			return vs_fail_errno(e, "socketpair for the terminal");
		c->term_peer = sv[0];
		c->console_sock = sv[1];
	}

	/* from here on, everything made is undone on failure */
	if (ct_state_dir_create(o->root, o->id, e) < 0)
		return -1;
	c->dir_created = true;
	{
		autofree char *cfg = vs_path_join(c->st->dir, "config.json");
		const char *txt =
			json_object_to_json_string_ext(c->spec->json, JSON_C_TO_STRING_PLAIN);

		if (vs_write_file(cfg, txt, strlen(txt), 0600, e) < 0)
			return -1;
	}
	{
		autofree char *fifo = vs_path_join(c->st->dir, CT_EXEC_FIFO);

		/* 0622: the init may be an unprivileged uid of a user namespace */
		if (mkfifo(fifo, 0600) < 0 || chmod(fifo, 0622) < 0)
			return vs_fail_errno(e, "%s", fifo);
		c->fifo_fd = open(fifo, O_PATH | O_CLOEXEC);
		if (c->fifo_fd < 0)
			return vs_fail_errno(e, "%s", fifo);
	}
	if (create_setup_cgroup(c, e) < 0)
		return -1;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, c->sync) < 0)
		return vs_fail_errno(e, "socketpair");
	/* the init is reparented to us when the first child exits, so we can
	 * reap it (run) or notice its death while it sets up */
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	c->child = fork();
	if (c->child < 0)
		return vs_fail_errno(e, "fork");
	if (c->child == 0)
		child_main(c);
	close(c->sync[1]);
	c->sync[1] = -1;

	if (vs_cgroup_enter(c->cg, c->child, e) < 0)
		return -1;
	if (ct_sync_send(c->sync[0], CT_SYNC_GO, 0, NULL) < 0)
		return vs_fail_errno(e, "sync with the container process");
	for (;;) {
		if (ct_sync_recv(c->sync[0], &m, "container init", e) < 0)
			return -1;
		switch (m.type) {
		case CT_SYNC_USERNS:
			if (ct_ns_write_id_maps(c->child, c->spec, e) < 0)
				return -1;
			ct_sync_send(c->sync[0], CT_SYNC_GO, 0, NULL);
			break;
		case CT_SYNC_PID:
			c->init = m.val;
			ct_wait_status(c->child);
			c->child = 0;
			c->st->pid = c->init;
			ct_sync_send(c->sync[0], CT_SYNC_GO, c->init, NULL);
			break;
		case CT_SYNC_HOOKS:
			c->hooks_started = true;
			if (run_runtime_hooks(c, e) < 0)
				return -1;
			ct_sync_send(c->sync[0], CT_SYNC_GO, 0, NULL);
			break;
		case CT_SYNC_READY: goto ready;
		default: return vs_fail(e, EPROTO, "container init: unexpected message %d", m.type);
		}
	}
ready:
	if (apply_pids_limit(c, e) < 0)
		return -1;
	if (ct_pid_start_time(c->init, &c->st->start_time) < 0)
		return vs_fail(e, ESRCH, "container init %d exited during setup", (int)c->init);
	if (ct_state_save(c->st, e) < 0)
		return -1;
	if (o->pid_file && ct_write_pid_file(o->pid_file, c->init, e) < 0)
		return -1;
	return 0;
}

static void create_ctx_init(struct create_ctx *c, const struct ct_create_opts *o)
{
	memset(c, 0, sizeof(*c));
	c->o = o;
	c->console_sock = c->term_peer = c->fifo_fd = c->sync[0] = c->sync[1] = -1;
	for (int t = 0; t < CT_NS_COUNT; t++)
		c->joins.fds[t] = -1;
}

int ct_container_create(const struct ct_create_opts *o, struct vs_err *e)
{
	struct create_ctx c;
	int r;

	create_ctx_init(&c, o);
	r = do_create(&c, e);
	if (r < 0)
		create_undo(&c);
	create_ctx_free(&c);
	return r;
}

/* --------------------------------------------------------------- start --- */

static int load_spec_copy(const struct ct_state *st, struct ct_spec **out, struct vs_err *e)
{
	/* the copy saved at create: the bundle may have changed or gone */
	if (ct_spec_load(st->dir, out, e) < 0)
		return vs_err_prefix(e, "container %s: saved config", st->id);
	return 0;
}

static int start_state(struct ct_state *st, struct vs_err *e)
{
	enum ct_status status = ct_state_status(st);
	autofree char *fifo_path = vs_path_join(st->dir, CT_EXEC_FIFO);
	autoclose int fd = -1;
	char c;
	ssize_t n;

	if (status != CT_CREATED)
		return vs_fail(e, 0, "cannot start container %s: it is %s, not created", st->id,
			       ct_status_name(status));
	fd = open(fifo_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return vs_fail_errno(e, "%s", fifo_path);
	/* wait for the init to open its end, noticing if it dies meanwhile */
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int r = poll(&pfd, 1, 100);

		if (r < 0 && errno != EINTR)
			return vs_fail_errno(e, "poll %s", fifo_path);
		if (r > 0)
			break;
		if (!ct_pid_alive(st->pid, st->start_time))
			return vs_fail(e, ESRCH, "container %s: its init exited before start",
				       st->id);
	}
	n = read(fd, &c, 1);
	if (n != 1)
		return vs_fail(e, EIO, "container %s: its init exited before start", st->id);
	unlink(fifo_path);
	/* The init now runs startContainer hooks, drops privileges and execs;
	 * the fifo (close-on-exec) reaches EOF at the exec, or carries why it
	 * failed. */
	fcntl(fd, F_SETFL, 0);

	char msg[1024];
	size_t len = 0;

	while (len < sizeof(msg) - 1) {
		n = read(fd, msg + len, sizeof(msg) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	msg[len] = '\0';
	if (len)
		return vs_fail(e, 0, "container %s: %s", st->id, msg);
	return 0;
}

static void run_poststart(struct ct_state *st)
{
	struct ct_spec *s = NULL;
	struct vs_err e = {0};

	if (load_spec_copy(st, &s, &e) < 0) {
		vs_warn("poststart hooks: %s", e.msg);
		return;
	}
	if (s->hooks.n_poststart) {
		autofree char *json = ct_state_json_string(st, CT_RUNNING, false);

		/* runtime-spec: a failing poststart hook is a warning only */
		if (ct_hooks_run(s->hooks.poststart, s->hooks.n_poststart, "poststart", json, &e) <
		    0) {
			char buf[1024];

			vs_warn("%s", vs_err_str(&e, buf, sizeof(buf)));
		}
	}
	ct_spec_free(s);
}

int ct_container_start(const char *root, const char *id, struct vs_err *e)
{
	struct ct_state *st = NULL;
	int r;

	if (ct_state_load(root, id, &st, e) < 0)
		return -1;
	r = start_state(st, e);
	if (r == 0)
		run_poststart(st);
	ct_state_free(st);
	return r;
}

/* -------------------------------------------------------------- delete --- */

static int open_cgroup(const struct ct_state *st, struct vs_cgroup **cg, struct vs_err *e)
{
	*cg = NULL;
	if (!st->cgroup_path)
		return 0;
	if (vs_cgroup_open(st->cgroup_path, cg, e) < 0) {
		if (e && e->errnum == ENOENT) {
			*cg = NULL;
			return 0;
		}
		return -1;
	}
	return 0;
}

static int destroy(struct ct_state *st, struct vs_err *e)
{
	autocgroup struct vs_cgroup *cg = NULL;
	struct vs_err tmp = {0};
	struct ct_spec *s = NULL;

	if (open_cgroup(st, &cg, &tmp) == 0 && cg) {
		bool frozen = false;

		vs_cgroup_kill(cg, SIGKILL, NULL);
		/* a frozen task only dies once thawed */
		if (vs_cgroup_is_frozen(cg, &frozen, NULL) == 0 && frozen)
			vs_cgroup_freeze(cg, false, NULL);
	}
	if (ct_pid_alive(st->pid, st->start_time))
		kill(st->pid, SIGKILL);
	wait_gone(st->pid, st->start_time);
	if (ct_pid_alive(st->pid, st->start_time))
		return vs_fail(e, EBUSY, "container %s: init %d did not exit after SIGKILL", st->id,
			       (int)st->pid);
	if (cg && vs_cgroup_destroy(cg, e) < 0)
		return -1;

	/* poststop: after the container is gone; failures are warnings */
	if (load_spec_copy(st, &s, &tmp) == 0) {
		if (s->hooks.n_poststop) {
			autofree char *json = ct_state_json_string(st, CT_STOPPED, false);

			if (ct_hooks_run(s->hooks.poststop, s->hooks.n_poststop, "poststop", json,
					 &tmp) < 0) {
				char buf[1024];

				vs_warn("%s", vs_err_str(&tmp, buf, sizeof(buf)));
			}
		}
		ct_spec_free(s);
	}
	if (vs_rm_rf(st->dir, e) < 0)
		return -1;
	return 0;
}

int ct_container_delete(const char *root, const char *id, bool force, struct vs_err *e)
{
	struct ct_state *st = NULL;
	int r;

	if (ct_state_load(root, id, &st, e) < 0) {
		/* a state directory without state.json: a create that was killed
		 * before it finished; --force cleans it up */
		autofree char *dir = ct_state_dir(root, id);

		if (force && ct_state_check_id(id, NULL) == 0 && access(dir, F_OK) == 0) {
			autofree char *cgp = vs_strdup_printf("/vessel/%s", id);
			autocgroup struct vs_cgroup *cg = NULL;

			if (vs_cgroup_open(cgp, &cg, NULL) == 0) {
				vs_cgroup_kill(cg, SIGKILL, NULL);
				vs_cgroup_destroy(cg, NULL);
			}
			return vs_rm_rf(dir, e);
		}
		if (force && e && e->errnum == ENOENT)
			return 0; /* runc: delete --force of a missing one is fine */
		return -1;
	}
	enum ct_status status = ct_state_status(st);

	if (!force && (status == CT_RUNNING || status == CT_PAUSED)) {
		r = vs_fail(e, 0, "cannot delete container %s that is %s: stop it or use --force",
			    id, ct_status_name(status));
	} else {
		r = destroy(st, e);
	}
	ct_state_free(st);
	return r;
}

/* ---------------------------------------------------------------- kill --- */

int ct_container_kill(const char *root, const char *id, int sig, bool all, struct vs_err *e)
{
	struct ct_state *st = NULL;
	int r = 0;

	if (ct_state_load(root, id, &st, e) < 0)
		return -1;
	enum ct_status status = ct_state_status(st);

	if (status == CT_STOPPED) {
		r = vs_fail(e, 0, "container %s is not running", id);
	} else if (all) {
		autocgroup struct vs_cgroup *cg = NULL;

		r = open_cgroup(st, &cg, e);
		if (r == 0 && cg)
			r = vs_cgroup_kill(cg, sig, e);
		else if (r == 0 && kill(st->pid, sig) < 0)
			r = vs_fail_errno(e, "kill %d", (int)st->pid);
	} else if (kill(st->pid, sig) < 0) {
		r = vs_fail_errno(e, "container %s: kill %d", id, (int)st->pid);
	}
	ct_state_free(st);
	return r;
}

/* --------------------------------------------------------------- pause --- */

int ct_container_pause(const char *root, const char *id, bool pause, struct vs_err *e)
{
	struct ct_state *st = NULL;
	autocgroup struct vs_cgroup *cg = NULL;
	int r = -1;

	if (ct_state_load(root, id, &st, e) < 0)
		return -1;
	enum ct_status status = ct_state_status(st);

	if (pause && status != CT_RUNNING && status != CT_CREATED)
		vs_fail(e, 0, "cannot pause container %s: it is %s", id, ct_status_name(status));
	else if (!pause && status != CT_PAUSED)
		vs_fail(e, 0, "cannot resume container %s: it is %s, not paused", id,
			ct_status_name(status));
	else if (open_cgroup(st, &cg, e) == 0 && cg)
		r = vs_cgroup_freeze(cg, pause, e);
	else if (!cg)
		vs_fail(e, ENOENT, "container %s has no cgroup", id);
	ct_state_free(st);
	return r;
}

/* ----------------------------------------------------------------- run --- */

static volatile pid_t fwd_pid;

static void forward_signal(int sig)
{
	if (fwd_pid > 0)
		kill(fwd_pid, sig);
}

/*
 * `run` in a terminal without --console-socket: the runtime holds the pty
 * master and copies between it and its own terminal (raw mode) until the
 * container's side closes or its init exits.
 */
static void relay_terminal(int master, pid_t init)
{
	struct termios saved, raw;
	struct winsize ws;
	bool restore = tcgetattr(0, &saved) == 0;
	char buf[4096];

	if (ioctl(0, TIOCGWINSZ, &ws) == 0)
		ioctl(master, TIOCSWINSZ, &ws);
	if (restore) {
		raw = saved;
		cfmakeraw(&raw);
		tcsetattr(0, TCSANOW, &raw);
	}
	for (bool in_open = true;;) {
		struct pollfd p[2] = {{.fd = master, .events = POLLIN},
				      {.fd = in_open ? 0 : -1, .events = POLLIN}};
		int r = poll(p, 2, 100);

		if (r < 0 && errno != EINTR)
			break;
		if (r > 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t n = read(master, buf, sizeof(buf));

			if (n <= 0)
				break; /* EIO: every slave fd is closed */
			vs_write_all(1, buf, (size_t)n);
		}
		if (r > 0 && (p[1].revents & (POLLIN | POLLHUP))) {
			ssize_t n = read(0, buf, sizeof(buf));

			if (n <= 0)
				in_open = false;
			else
				vs_write_all(master, buf, (size_t)n);
		}
		if (r == 0) {
			/* exited? (WNOWAIT: the caller reaps it for the status) */
			siginfo_t si = {0};

			if (waitid(P_PID, (id_t)init, &si, WEXITED | WNOHANG | WNOWAIT) < 0 ||
			    si.si_pid == init)
				break;
		}
	}
	if (restore)
		tcsetattr(0, TCSANOW, &saved);
}

int ct_container_run(const struct ct_create_opts *o, bool detach, int *status, struct vs_err *e)
{
	struct create_ctx c;
	int r, master = -1;

	create_ctx_init(&c, o);
	r = do_create(&c, e);
	if (r == 0 && c.term_peer >= 0 && ct_console_recv(c.term_peer, &master, e) < 0)
		r = -1;
	if (r < 0) {
		create_undo(&c);
		create_ctx_free(&c);
		return -1;
	}
	pid_t init = c.init;
	struct ct_state *st = NULL;

	create_ctx_free(&c);
	if (ct_state_load(o->root, o->id, &st, e) < 0) {
		if (master >= 0)
			close(master);
		return -1;
	}
	if (!detach) {
		static const int sigs[] = {SIGINT,  SIGTERM, SIGHUP,   SIGQUIT,
					   SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT};
		struct sigaction sa = {.sa_handler = forward_signal, .sa_flags = SA_RESTART};

		fwd_pid = init;
		for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
			sigaction(sigs[i], &sa, NULL);
	}
	if (start_state(st, e) < 0) {
		struct vs_err tmp = {0};

		if (master >= 0)
			close(master);
		destroy(st, &tmp);
		ct_state_free(st);
		return -1;
	}
	run_poststart(st);
	if (detach) {
		ct_state_free(st);
		*status = 0;
		return 0;
	}
	if (master >= 0) {
		relay_terminal(master, init);
		close(master);
	}
	*status = ct_wait_status(init);
	fwd_pid = 0;
	r = destroy(st, e);
	ct_state_free(st);
	return r;
}
