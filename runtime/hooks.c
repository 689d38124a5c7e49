/*
 * Running OCI hooks (runtime-spec config.md "POSIX-platform Hooks"): each
 * hook is executed with its args and env, gets the container state on stdin
 * (runtime.md "State"), and must exit 0 within its timeout.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vessel/cleanup.h"
#include "runtime/hooks.h"

void ct_hook_clear(struct ct_hook *h)
{
	free(h->path);
	vs_strvfreep(&h->args);
	vs_strvfreep(&h->env);
	h->path = NULL;
	h->args = NULL;
	h->env = NULL;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* In the child: stdin from the pipe, nothing else inherited, exec. */
static void __attribute__((noreturn)) exec_hook(const struct ct_hook *h, int in_fd, int err_fd)
{
	char *const empty_env[] = {NULL};
	char *argv_path[] = {h->path, NULL};
	sigset_t none;
	int err;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	/* its own process group, so a timeout kills what the hook started too */
	setpgid(0, 0);
	if (in_fd == STDIN_FILENO) {
		/* dup2 onto itself would keep close-on-exec */
		if (fcntl(in_fd, F_SETFD, 0) < 0)
			goto fail;
	} else if (dup2(in_fd, STDIN_FILENO) < 0) {
		goto fail;
	}
	/* the runtime's other descriptors are none of the hook's business */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
		for (int fd = 3; fd < 1024; fd++)
			if (fd != err_fd)
				close(fd);
	}
	execve(h->path, h->args && h->args[0] ? h->args : argv_path, h->env ? h->env : empty_env);
fail:
	err = errno;
	if (write(err_fd, &err, sizeof(err)) < 0) {
		/* nothing more to say: the parent sees exit 127 */
	}
	_exit(127);
}

/* Feeds what remains of the state to the hook; a hook that does not read
 * stdin (EPIPE) is not an error. Returns 1 while more is to be written. */
static int feed(int fd, const char **p, size_t *left)
{
	while (*left) {
		ssize_t n = write(fd, *p, *left);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 1;
			*left = 0; /* EPIPE and friends: the hook closed stdin */
			break;
		}
		*p += n;
		*left -= (size_t)n;
	}
	return 0;
}

static int describe_status(int status, const char *name, const char *path, struct vs_err *e)
{
	if (WIFEXITED(status)) {
		if (WEXITSTATUS(status) == 0)
			return 0;
		return vs_fail(e, 0, "%s: %s: exited with status %d", name, path,
			       WEXITSTATUS(status));
	}
	if (WIFSIGNALED(status))
		return vs_fail(e, 0, "%s: %s: killed by signal %d (%s)", name, path,
			       WTERMSIG(status), strsignal(WTERMSIG(status)));
	return vs_fail(e, 0, "%s: %s: ended with wait status 0x%x", name, path, status);
}

static int run_one(const struct ct_hook *h, const char *name, const char *state, struct vs_err *e)
{
	int in[2], errp[2], status = 0, child_errno = 0;
	autoclose int in_w = -1, err_r = -1, pidfd = -1;
	const char *p = state ? state : "";
	size_t left = strlen(p);
	int64_t deadline = h->timeout > 0 ? now_ms() + (int64_t)h->timeout * 1000 : -1;
	bool timed_out = false;
	pid_t pid;

	if (pipe2(in, O_CLOEXEC) < 0)
		return vs_fail_errno(e, "%s: %s: pipe", name, h->path);
	if (pipe2(errp, O_CLOEXEC) < 0) {
		vs_fail_errno(e, "%s: %s: pipe", name, h->path);
		close(in[0]);
		close(in[1]);
		return -1;
	}
	in_w = in[1];
	err_r = errp[0];
	pid = fork();
	if (pid < 0) {
		vs_fail_errno(e, "%s: %s: fork", name, h->path);
		close(in[0]);
		close(errp[1]);
		return -1;
	}
	if (pid == 0)
		exec_hook(h, in[0], errp[1]);
	close(in[0]);
	close(errp[1]);

	/* exec failures come back over the close-on-exec pipe */
	ssize_t got;
	do
		got = read(err_r, &child_errno, sizeof(child_errno));
	while (got < 0 && errno == EINTR);
	if (got == sizeof(child_errno)) {
		waitpid(pid, NULL, 0);
		errno = child_errno;
		return vs_fail_errno(e, "%s: %s: cannot execute", name, h->path);
	}

	fcntl(in_w, F_SETFL, O_NONBLOCK);
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	for (;;) {
		struct pollfd fds[2];
		int nfds = 0, wait_ms = -1;
		pid_t r;

		if (feed(in_w, &p, &left) == 0 && in_w >= 0) {
			close(in_w); /* EOF: the state is complete */
			in_w = -1;
		}
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			return vs_fail_errno(e, "%s: %s: waitpid", name, h->path);
		if (deadline >= 0) {
			int64_t rest = deadline - now_ms();

			if (rest <= 0) {
				kill(-pid, SIGKILL);
				kill(pid, SIGKILL); /* in case setpgid failed */
				waitpid(pid, &status, 0);
				timed_out = true;
				break;
			}
			wait_ms = rest > 1000000 ? 1000000 : (int)rest;
		}
		if (pidfd >= 0) {
			fds[nfds++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
		} else if (wait_ms < 0 || wait_ms > 10) {
			wait_ms = 10; /* no pidfd (kernel < 5.3): poll waitpid */
		}
		if (in_w >= 0)
			fds[nfds++] = (struct pollfd){.fd = in_w, .events = POLLOUT};
		if (poll(fds, (nfds_t)nfds, wait_ms) < 0 && errno != EINTR)
			return vs_fail_errno(e, "%s: %s: poll", name, h->path);
	}
	if (timed_out)
		return vs_fail(e, ETIMEDOUT, "%s: %s: timed out after %d s", name, h->path,
			       h->timeout);
	return describe_status(status, name, h->path, e);
}

/*
 * config.md "POSIX-platform Hooks": a failing poststart or poststop hook is
 * only a warning, "the remaining hooks and lifecycle continue as if the hook
 * had succeeded"; a failure in any other list stops the container.
 */
static bool keeps_going(const char *kind)
{
	return !strcmp(kind, "poststart") || !strcmp(kind, "poststop");
}

int ct_hooks_run(const struct ct_hook *hooks, size_t n, const char *kind, const char *state_json,
		 struct vs_err *e)
{
	bool go_on = keeps_going(kind);
	struct vs_err later = {0};
	size_t failed = 0;
	sigset_t pipe_set, old;
	int ret = 0;

	/* a hook that exits without reading stdin must not kill us with SIGPIPE */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	for (size_t i = 0; i < n && (ret == 0 || go_on); i++) {
		char name[96];

		snprintf(name, sizeof(name), "hooks.%s[%zu]", kind, i);
		/* the first failure is the one reported; later ones are counted */
		if (run_one(&hooks[i], name, state_json, failed ? &later : e) < 0) {
			failed++;
			ret = -1;
		}
	}
	if (failed > 1 && e)
		vs_err_prefix(e, "%zu of %zu %s hooks failed, the first: ", failed, n, kind);
	/* drop a SIGPIPE we caused, unless one was already pending before */
	if (!sigismember(&old, SIGPIPE)) {
		struct timespec zero = {0, 0};
		sigset_t pending;

		sigpending(&pending);
		if (sigismember(&pending, SIGPIPE))
			sigtimedwait(&pipe_set, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ret;
}
