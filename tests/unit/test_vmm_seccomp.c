/* vmm/seccomp.c: the VMM's allow-list, installed in forked children. */
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "vmm/seccomp.h"

/* Runs fn in a child under the filter; returns its wait status. stderr of
 * the child goes to errfd. _exit everywhere: no atexit/LSan work after the
 * filter is in place. */
static int confined(int (*fn)(void), int errfd)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct vs_err e;
		dup2(errfd, STDERR_FILENO);
		if (vm_seccomp_install(&e) < 0)
			_exit(99);
		_exit(fn());
	}
	int st = 0;
	waitpid(pid, &st, 0);
	return st;
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
