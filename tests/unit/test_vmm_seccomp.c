/* vmm/seccomp.c: the VMM's allow-list, installed in forked children. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "vmm/control.h"
#include "vmm/event.h"
#include "vmm/seccomp.h"

/* Runs fn in a child under the filter; returns its wait status. stderr of
 * the child goes to errfd. _exit everywhere: no atexit/LSan work after the
 * filter is in place. */
static int run_child(int (*fn)(void), int errfd, bool install)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct vs_err e;
		dup2(errfd, STDERR_FILENO);
		if (install && vm_seccomp_install(&e) < 0)
			_exit(99);
		_exit(fn());
	}
	int st = 0;
	waitpid(pid, &st, 0);
	return st;
}

static int confined(int (*fn)(void), int errfd)
{
	return run_child(fn, errfd, true);
}

static int allowed_calls(void)
{
	int fds[2];

	if (getpid() <= 0 || pipe(fds) < 0) /* pipe: not allowed, see below */
		return 1;
	return 0;
}

static int allowed_calls_only(void)
{
	char c = 'x';
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	struct winsize ws;

	if (getpid() <= 0 || s < 0 || write(STDERR_FILENO, &c, 0) < 0)
		return 1;
	ioctl(STDERR_FILENO, TIOCGWINSZ, &ws); /* terminal ioctls pass (result aside) */
	close(s);
	return 0;
}

static int forbidden_inet_socket(void)
{
	socket(AF_INET, SOCK_STREAM, 0);
	return 0;
}

static int forbidden_execve(void)
{
	char *argv[] = {"/bin/true", NULL};

	execve("/bin/true", argv, NULL);
	return 0;
}

static int forbidden_ioctl(void)
{
	int v;

	ioctl(STDERR_FILENO, 0x8913 /* SIOCGIFFLAGS: type 0x89 */, &v);
	return 0;
}

/* (opening files is refused too, except in sanitizer builds, whose leak
 * check at exit reads /proc) */
static int forbidden_mkdir(void)
{
	mkdir("/tmp/vessel-seccomp-must-not-exist", 0700);
	return 0;
}

TEST(seccomp_allows_what_a_running_vm_needs)
{
	int st = confined(allowed_calls_only, STDERR_FILENO);

	CHECK(WIFEXITED(st));
	CHECK_EQ(WEXITSTATUS(st), 0);
}

TEST(seccomp_refuses_exec_inet_sockets_mkdir_and_foreign_ioctls)
{
	int (*bad[])(void) = {forbidden_inet_socket, forbidden_execve, forbidden_mkdir,
			      forbidden_ioctl, allowed_calls};
	char path[] = "/tmp/vmseccomp.XXXXXX";
	int fd = mkstemp(path);

	REQUIRE(fd >= 0);
	unlink(path);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int st = confined(bad[i], fd);
		CHECK(WIFEXITED(st));
		CHECK_EQ(WEXITSTATUS(st), VM_EXIT_SECCOMP);
	}
	/* each violation was reported with its number */
	char buf[512] = "";
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	CHECK(n > 0);
	CHECK_CONTAINS(buf, "vessel-vmm: seccomp: forbidden system call 41\n"); /* socket */
	CHECK_CONTAINS(buf, "forbidden system call 59\n");			/* execve */
	CHECK_CONTAINS(buf, "forbidden system call 83\n");			/* mkdir */
	CHECK_CONTAINS(buf, "forbidden system call 16\n");			/* ioctl */
	struct stat st;
	CHECK(stat("/tmp/vessel-seccomp-must-not-exist", &st) < 0);
	close(fd);
}

static int device_timer_calls(void)
{
	/* what the RTC and serial devices do from the event loop */
	struct itimerspec its = {.it_value = {.tv_sec = 100}};
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);

	if (fd < 0 || timerfd_settime(fd, 0, &its, NULL) < 0 || timerfd_gettime(fd, &its) < 0)
		return 1;
	return 0;
}

TEST(seccomp_allows_device_timers)
{
	int st = confined(device_timer_calls, STDERR_FILENO);

	CHECK(WIFEXITED(st));
	CHECK_EQ(WEXITSTATUS(st), 0);
}

static void *thread_body(void *arg)
{
	*(int *)arg = 42;
	return NULL;
}

/* vCPU threads start after confinement: pthread_create (clone3 refused
 * with ENOSYS, then clone with CLONE_THREAD) must pass. */
static int start_a_thread(void)
{
	pthread_t t;
	int v = 0;

	if (pthread_create(&t, NULL, thread_body, &v) != 0 || pthread_join(t, NULL) != 0)
		return 1;
	return v == 42 ? 0 : 2;
}

static int late_sigaction(void)
{
	struct sigaction sa = {.sa_handler = SIG_IGN};

	sigaction(SIGUSR2, &sa, NULL);
	return 0;
}

TEST(seccomp_allows_threads_but_not_new_signal_handlers)
{
	int st = confined(start_a_thread, STDERR_FILENO);

	CHECK(WIFEXITED(st));
	CHECK_EQ(WEXITSTATUS(st), 0);
	/* why the kick handler is installed before the filter */
	st = confined(late_sigaction, open("/dev/null", O_WRONLY | O_CLOEXEC));
	CHECK(WIFEXITED(st));
	CHECK_EQ(WEXITSTATUS(st), VM_EXIT_SECCOMP);
}

static void stat_cb(void *o, struct vm_control_status *st)
{
	st->state = "running";
	st->vcpus = 1;
}

static void stop_loop(void *opaque, uint32_t events)
{
	vm_event_loop_stop(opaque);
}

/* What the VMM does once confined, minus KVM: the control thread (started
 * before the filter, confined through TSYNC) answers a client, the event
 * loop dispatches an eventfd, and the socket is removed at the end. */
static int confined_runtime(void)
{
	static struct vm_control_ops ops = {.status = stat_cb};
	struct vm_control *c;
	struct vs_err e;
	char path[64], buf[256] = "";
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	snprintf(path, sizeof(path), "/tmp/vmsecc.%d.sock", (int)getpid());
	struct vm_event_loop *l = vm_event_loop_new(&e);
	int efd = eventfd(0, EFD_CLOEXEC);
	if (!l || efd < 0 || vm_control_start(&c, path, &ops, &e) < 0)
		return 20;
	if (vm_seccomp_install(&e) < 0)
		return 21;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	strcpy(sa.sun_path, path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return 22;
	const char *req = "{\"cmd\":\"status\"}\n";
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		return 23;
	size_t len = 0;
	while (len < sizeof(buf) - 1 && !memchr(buf, '\n', len)) {
		ssize_t r = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (r <= 0)
			return 24;
		len += (size_t)r;
	}
	if (!strstr(buf, "\"state\":\"running\""))
		return 25;
	uint64_t one = 1;
	if (vm_event_add(l, efd, EPOLLIN, stop_loop, l, &e) < 0 ||
	    write(efd, &one, sizeof(one)) != sizeof(one) || vm_event_loop_run(l, &e) < 0)
		return 26;
	close(fd);
	vm_control_stop(c);
	struct stat st;
	if (stat(path, &st) == 0)
		return 27;
	return 0;
}

TEST(seccomp_confined_control_thread_and_event_loop_keep_working)
{
	int st = run_child(confined_runtime, STDERR_FILENO, false); /* installs itself */

	CHECK(WIFEXITED(st));
	CHECK_EQ(WEXITSTATUS(st), 0);
}
