/* The VMM's seccomp allow-list (libseccomp). One filter for the process:
 * vCPU threads need KVM ioctls and the bus handlers' I/O, the event loop
 * epoll and device I/O, the control thread its socket; after set-up nobody
 * opens files, execs or creates non-Unix sockets. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <sched.h>
#include <seccomp.h>

#include "vmm/seccomp.h"

#if defined(__SANITIZE_ADDRESS__)
#define VM_SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VM_SANITIZER_BUILD 1
#endif
#endif

static void sigsys_handler(int sig, siginfo_t *si, void *uc)
{
	static const char head[] = "vessel-vmm: seccomp: forbidden system call ";
	char num[16];
	unsigned nr = (unsigned)si->si_syscall, i = sizeof(num);

	(void)sig;
	(void)uc;
	/* async-signal-safe only: digits by hand, then write(2) */
	num[--i] = '\n';
	do {
		num[--i] = (char)('0' + nr % 10);
		nr /= 10;
	} while (nr && i);
	ssize_t w = write(STDERR_FILENO, head, sizeof(head) - 1);
	w = write(STDERR_FILENO, num + i, sizeof(num) - i);
	(void)w;
	_exit(VM_EXIT_SECCOMP);
}

static const int allowed[] = {
	SCMP_SYS(read),
	SCMP_SYS(write),
	SCMP_SYS(readv),
	SCMP_SYS(writev),
	SCMP_SYS(pread64),
	SCMP_SYS(pwrite64),
	SCMP_SYS(preadv),
	SCMP_SYS(pwritev),
	SCMP_SYS(preadv2),
	SCMP_SYS(pwritev2),
	SCMP_SYS(lseek),
	SCMP_SYS(fsync),
	SCMP_SYS(fdatasync),
	SCMP_SYS(fallocate),
	SCMP_SYS(close),
	SCMP_SYS(fstat),
	SCMP_SYS(newfstatat),
	SCMP_SYS(statx),
	SCMP_SYS(fcntl),
	SCMP_SYS(dup),
	SCMP_SYS(epoll_wait),
	SCMP_SYS(epoll_pwait),
	SCMP_SYS(epoll_ctl),
	SCMP_SYS(poll),
	SCMP_SYS(ppoll),
	SCMP_SYS(eventfd2),
	SCMP_SYS(futex),
	/* device timers (RTC update/alarm/periodic, serial transmit pacing) */
	SCMP_SYS(timerfd_create),
	SCMP_SYS(timerfd_settime),
	SCMP_SYS(timerfd_gettime),
	SCMP_SYS(clock_gettime),
	SCMP_SYS(clock_nanosleep),
	SCMP_SYS(nanosleep),
	SCMP_SYS(gettimeofday),
	SCMP_SYS(getpid),
	SCMP_SYS(gettid),
	SCMP_SYS(tgkill),
	SCMP_SYS(sched_yield),
	SCMP_SYS(getrandom),
	SCMP_SYS(exit),
	SCMP_SYS(exit_group),
	SCMP_SYS(rt_sigreturn),
	SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(restart_syscall),
	SCMP_SYS(mmap),
	SCMP_SYS(munmap),
	SCMP_SYS(mprotect),
	SCMP_SYS(mremap),
	SCMP_SYS(brk),
	SCMP_SYS(madvise),
	SCMP_SYS(set_robust_list),
	SCMP_SYS(rseq),
	SCMP_SYS(sigaltstack),
	SCMP_SYS(prctl),
	/* control socket and vsock's host side (Unix sockets only, below) */
	SCMP_SYS(accept4),
	SCMP_SYS(accept),
	SCMP_SYS(connect),
	SCMP_SYS(recvfrom),
	SCMP_SYS(recvmsg),
	SCMP_SYS(sendto),
	SCMP_SYS(sendmsg),
	SCMP_SYS(shutdown),
	SCMP_SYS(getsockopt),
	SCMP_SYS(setsockopt),
	SCMP_SYS(unlink),
	/* snapshots (vmm/snapshot.c): state and memory files are written under
	 * a temporary name and renamed; disks are opened to check identity */
	SCMP_SYS(openat),
	SCMP_SYS(ftruncate),
	SCMP_SYS(rename),
	SCMP_SYS(renameat),
};

/* SCMP_Ax() leaves fields to the compiler; clang's -Wextra wants them all */
static struct scmp_arg_cmp arg_cmp(unsigned arg, enum scmp_compare op, scmp_datum_t a,
				   scmp_datum_t b)
{
	return (struct scmp_arg_cmp){.arg = arg, .op = op, .datum_a = a, .datum_b = b};
}

int vm_seccomp_install(struct vs_err *e)
{
	struct sigaction sa;
	int rc;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sigsys_handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return vs_fail_errno(e, "seccomp: sigaction(SIGSYS)");

	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx)
		return vs_fail(e, ENOMEM, "seccomp: seccomp_init");
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		if (allowed[i] < 0)
			continue; /* not on this architecture */
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
		if (rc < 0)
			goto fail;
	}
	/* ioctl: KVM (type 0xAE), terminals and tun (0x54 'T'), block (0x12),
	 * userfaultfd (0xAA: the lazy-restore page server, vmm/uffd.c) */
	static const unsigned types[] = {0xAE, 0x54, 0x12, 0xAA};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				      arg_cmp(1, SCMP_CMP_MASKED_EQ, 0xff00, types[i] << 8));
		if (rc < 0)
			goto fail;
	}
	rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
			      arg_cmp(0, SCMP_CMP_EQ, AF_UNIX, 0));
	if (rc < 0)
		goto fail;
	/* glibc's first pthread_create installs its internal SIGCANCEL and
	 * SIGSETXID handlers (signals 32 and 33); other handlers are set up
	 * before confinement */
	for (int sig = 32; sig <= 33; sig++) {
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(rt_sigaction), 1,
				      arg_cmp(0, SCMP_CMP_EQ, (scmp_datum_t)sig, 0));
		if (rc < 0)
			goto fail;
	}
	/* threads only (vCPUs, control); glibc falls back from clone3 to clone,
	 * whose flags a filter can see */
	rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
			      arg_cmp(0, SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
	if (rc < 0)
		goto fail;
	rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (rc < 0)
		goto fail;
#ifdef VM_SANITIZER_BUILD
	/* LeakSanitizer's exit-time check stops the world from a traced helper
	 * process and reads /proc: allowed in sanitizer builds only */
	static const int lsan[] = {SCMP_SYS(clone),
				   SCMP_SYS(ptrace),
				   SCMP_SYS(wait4),
				   SCMP_SYS(openat),
				   SCMP_SYS(getdents64),
				   SCMP_SYS(readlink),
				   SCMP_SYS(sched_getaffinity),
				   SCMP_SYS(kill)};
	for (size_t i = 0; i < sizeof(lsan) / sizeof(lsan[0]); i++) {
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, lsan[i], 0);
		if (rc < 0 && rc != -EEXIST)
			goto fail;
	}
#endif
	/* every thread of the process, including the control thread and any
	 * device threads that already run */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (rc < 0)
		goto fail;
	rc = seccomp_load(ctx);
	if (rc < 0)
		goto fail;
	seccomp_release(ctx);
	return 0;
fail:
	seccomp_release(ctx);
	return vs_fail(e, -rc, "seccomp: building or loading the filter");
}
