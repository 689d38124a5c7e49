/* userfaultfd page server, for real: faults from another thread and from
 * the kernel (as KVM's accesses are) filled from a file. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "test.h"
#include "vmm/uffd.h"

#define PAGES 64

static size_t pg(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

/* A file of PAGES pages, byte i of page p = p * 3 + i. */
static int pattern_file(void)
{
	char t[] = "/tmp/vessel-uffd.XXXXXX";
	int fd = mkstemp(t);
	uint8_t *b = malloc(pg());

	if (fd < 0 || !b)
		return -1;
	unlink(t);
	for (unsigned p = 0; p < PAGES; p++) {
		for (size_t i = 0; i < pg(); i++)
			b[i] = (uint8_t)(p * 3 + i);
		if (pwrite(fd, b, pg(), (off_t)(p * pg())) != (ssize_t)pg())
			return -1;
	}
	free(b);
	return fd;
}

static int page_ok(const uint8_t *base, unsigned p)
{
	for (size_t i = 0; i < pg(); i++)
		if (base[p * pg() + i] != (uint8_t)(p * 3 + i))
			return 0;
	return 1;
}

struct toucher {
	const uint8_t *base;
	unsigned pages[3];
	int ok;
};

static void *touch(void *arg)
{
	struct toucher *t = arg;

	t->ok = 1;
	for (unsigned i = 0; i < 3; i++)
		t->ok &= page_ok(t->base, t->pages[i]);
	return NULL;
}

static int start(struct vm_uffd **u, struct vm_uffd_source *src, void **addr, struct vs_err *e)
{
	return vm_uffd_start(u, PAGES * pg(), src, addr, e);
}

TEST(uffd_fills_pages_touched_by_another_thread_from_a_file)
{
	struct vm_uffd_file f = {.fd = pattern_file(), .base = 0};
	struct vm_uffd_source src = {vm_uffd_file_read, &f};
	struct vm_uffd *u;
	struct vs_err e = {0};
	void *addr;
	pthread_t th;

	REQUIRE(f.fd >= 0);
	if (start(&u, &src, &addr, &e) < 0) {
		close(f.fd);
		SKIP("userfaultfd not available: %.200s", e.msg);
	}
	struct toucher t = {.base = addr, .pages = {0, 10, 63}};
	REQUIRE(pthread_create(&th, NULL, touch, &t) == 0);
	pthread_join(th, NULL);
	CHECK(t.ok);
	CHECK_EQ(vm_uffd_served(u), 3);
	/* pages already present fault no more */
	CHECK(page_ok(addr, 10));
	CHECK_EQ(vm_uffd_served(u), 3);
	CHECK(!vm_uffd_failed(u, &e));
	vm_uffd_stop(u);
	munmap(addr, PAGES * pg());
	close(f.fd);
}

TEST(uffd_serves_faults_the_kernel_takes_on_the_mapping)
{
	struct vm_uffd_file f = {.fd = pattern_file(), .base = 0};
	struct vm_uffd_source src = {vm_uffd_file_read, &f};
	struct vm_uffd *u;
	struct vs_err e = {0};
	void *addr;
	int p[2];

	REQUIRE(f.fd >= 0);
	if (start(&u, &src, &addr, &e) < 0) {
		close(f.fd);
		SKIP("userfaultfd not available: %.200s", e.msg);
	}
	REQUIRE(pipe(p) == 0);
	REQUIRE(fcntl(p[1], F_SETPIPE_SZ, (int)(2 * pg())) >= 0);
	/* write(2) copies from the mapping in kernel mode, as KVM reads guest
	 * memory: the fault must be served, not fail with EFAULT */
	uint8_t *got = malloc(pg());
	CHECK_EQ(write(p[1], (uint8_t *)addr + 5 * pg(), pg()), (long long)pg());
	CHECK_EQ(read(p[0], got, pg()), (long long)pg());
	CHECK(!memcmp(got, (uint8_t *)addr + 5 * pg(), pg()));
	CHECK(got[1] == (uint8_t)(5 * 3 + 1));
	CHECK_EQ(vm_uffd_served(u), 1);
	free(got);
	close(p[0]);
	close(p[1]);
	vm_uffd_stop(u);
	munmap(addr, PAGES * pg());
	close(f.fd);
}

static int failing_read(void *opaque, uint64_t off, void *dst, size_t page)
{
	errno = EIO;
	return -1;
}

TEST(uffd_source_failure_is_reported_and_does_not_hang_the_faulting_thread)
{
	struct vm_uffd_source src = {failing_read, NULL};
	struct vm_uffd *u;
	struct vs_err e = {0};
	void *addr;

	if (start(&u, &src, &addr, &e) < 0)
		SKIP("userfaultfd not available: %.200s", e.msg);
	CHECK_EQ(((volatile uint8_t *)addr)[3 * pg() + 7], 0);
	CHECK(vm_uffd_failed(u, &e));
	CHECK_CONTAINS(e.msg, "offset 0x3000");
	CHECK_EQ(e.errnum, EIO);
	CHECK_EQ(vm_uffd_served(u), 0);
	vm_uffd_stop(u);
	munmap(addr, PAGES * pg());
}

TEST(uffd_refuses_a_length_that_is_not_whole_pages)
{
	struct vm_uffd_source src = {failing_read, NULL};
	struct vm_uffd *u;
	struct vs_err e = {0};
	void *addr;

	CHECK(vm_uffd_start(&u, pg() + 1, &src, &addr, &e) < 0);
	CHECK_CONTAINS(e.msg, "not a multiple of the page size");
	CHECK(u == NULL);
}
