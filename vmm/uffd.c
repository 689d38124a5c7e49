/* userfaultfd page server (userfaultfd(2), Documentation/admin-guide/mm/
 * userfaultfd.rst): UFFDIO_API handshake, UFFDIO_REGISTER in missing mode,
 * then one UFFDIO_COPY per fault on a thread of its own. */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vmm/uffd.h"

struct vm_uffd {
	int fd, stop_fd;
	uint8_t *addr;
	size_t len, page;
	struct vm_uffd_source src;
	pthread_t thread;
	_Atomic uint64_t served;
	atomic_int failed;
	struct vs_err err;
	uint8_t *buf;
};

/* The syscall needs vm.unprivileged_userfaultfd or CAP_SYS_PTRACE to see
 * kernel-mode faults (KVM's); /dev/userfaultfd is the other way in. */
static int open_uffd(struct vs_err *e)
{
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd >= 0)
		return fd;
	int err = errno;
	int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev >= 0) {
		fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
		err = errno;
		close(dev);
		if (fd >= 0)
			return fd;
	}
	return vs_fail(e, err, "userfaultfd: not available (syscall and /dev/userfaultfd)");
}

int vm_uffd_file_read(void *opaque, uint64_t off, void *dst, size_t page)
{
	const struct vm_uffd_file *f = opaque;
	uint8_t *p = dst;
	size_t done = 0;

	while (done < page) {
		ssize_t n = pread(f->fd, p + done, page - done, (off_t)(f->base + off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) { /* past the end of a sparse or short file: zeros */
			memset(p + done, 0, page - done);
			break;
		}
		done += (size_t)n;
	}
	return 0;
}

static void serve(struct vm_uffd *u, uint64_t fault)
{
	uint64_t page = fault & ~(uint64_t)(u->page - 1);
	uint64_t off = page - (uint64_t)(uintptr_t)u->addr;

	if (off >= u->len)
		return;
	if (!atomic_load(&u->failed) && u->src.read_page(u->src.opaque, off, u->buf, u->page) < 0) {
		vs_fail_errno(&u->err, "lazy memory: reading page at offset 0x%llx from its source",
			      (unsigned long long)off);
		atomic_store(&u->failed, 1);
	}
	if (atomic_load(&u->failed)) {
		/* wake the faulting thread; the VM stops on the failure */
		struct uffdio_zeropage z = {.range = {.start = page, .len = u->page}};
		ioctl(u->fd, UFFDIO_ZEROPAGE, &z);
		return;
	}
	struct uffdio_copy c = {
		.dst = page,
		.src = (uint64_t)(uintptr_t)u->buf,
		.len = u->page,
	};
	/* counted first: the copy wakes the faulting thread, which may look */
	atomic_fetch_add(&u->served, 1);
	if (ioctl(u->fd, UFFDIO_COPY, &c) < 0)
		atomic_fetch_sub(&u->served, 1); /* EEXIST: served by an earlier fault */
}

static void *handler(void *arg)
{
	struct vm_uffd *u = arg;
	struct pollfd p[2] = {{.fd = u->fd, .events = POLLIN},
			      {.fd = u->stop_fd, .events = POLLIN}};

	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		struct uffd_msg msg;
		ssize_t n = read(u->fd, &msg, sizeof(msg));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n != sizeof(msg))
			break;
		if (msg.event == UFFD_EVENT_PAGEFAULT)
			serve(u, msg.arg.pagefault.address);
	}
	return NULL;
}

static int setup(struct vm_uffd **out, void *addr, size_t len, const struct vm_uffd_source *src,
		 bool own_mapping, struct vs_err *e)
{
	struct vm_uffd *u;
	long pg = sysconf(_SC_PAGESIZE);

	*out = NULL;
	if (len == 0 || len % (size_t)pg)
		return vs_fail(e, EINVAL,
			       "userfaultfd: length %zu is not a multiple of the page "
			       "size",
			       len);
	u = calloc(1, sizeof(*u));
	if (!u)
		return vs_fail(e, ENOMEM, "userfaultfd: out of memory");
	u->fd = u->stop_fd = -1;
	u->addr = MAP_FAILED;
	u->len = len;
	u->page = (size_t)pg;
	u->src = *src;
	u->buf = aligned_alloc(u->page, u->page);
	if (!u->buf) {
		vs_fail(e, ENOMEM, "userfaultfd: out of memory");
		goto fail;
	}
	u->fd = open_uffd(e);
	if (u->fd < 0)
		goto fail;
	struct uffdio_api api = {.api = UFFD_API};
	if (ioctl(u->fd, UFFDIO_API, &api) < 0) {
		vs_fail_errno(e, "userfaultfd: UFFDIO_API");
		goto fail;
	}
	if (own_mapping) {
		u->addr = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (u->addr == MAP_FAILED) {
			vs_fail_errno(e, "userfaultfd: mmap of %zu bytes", len);
			goto fail;
		}
	} else {
		u->addr = addr;
	}
	struct uffdio_register reg = {
		.range = {.start = (uint64_t)(uintptr_t)u->addr, .len = len},
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	if (ioctl(u->fd, UFFDIO_REGISTER, &reg) < 0) {
		vs_fail_errno(e, "userfaultfd: UFFDIO_REGISTER");
		goto fail;
	}
	if (!(reg.ioctls & (1ull << _UFFDIO_COPY))) {
		vs_fail(e, ENOTSUP, "userfaultfd: UFFDIO_COPY not offered for this mapping");
		goto fail;
	}
	u->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (u->stop_fd < 0) {
		vs_fail_errno(e, "userfaultfd: eventfd");
		goto fail;
	}
	int r = pthread_create(&u->thread, NULL, handler, u);
	if (r) {
		vs_fail(e, r, "userfaultfd: starting the handler thread");
		goto fail;
	}
	*out = u;
	return 0;
fail:
	if (own_mapping && u->addr != MAP_FAILED)
		munmap(u->addr, len);
	if (u->fd >= 0)
		close(u->fd); /* also unregisters */
	if (u->stop_fd >= 0)
		close(u->stop_fd);
	free(u->buf);
	free(u);
	return -1;
}

int vm_uffd_start(struct vm_uffd **out, size_t len, const struct vm_uffd_source *src,
		  void **addr_out, struct vs_err *e)
{
	if (setup(out, NULL, len, src, true, e) < 0)
		return -1;
	*addr_out = (*out)->addr;
	return 0;
}

int vm_uffd_register(struct vm_uffd **out, void *addr, size_t len, const struct vm_uffd_source *src,
		     struct vs_err *e)
{
	return setup(out, addr, len, src, false, e);
}

int vm_uffd_place(struct vm_uffd *u, uint64_t off, const void *data)
{
	if (off >= u->len || off % u->page)
		return -1;
	struct uffdio_copy c = {
		.dst = (uint64_t)(uintptr_t)u->addr + off,
		.src = (uint64_t)(uintptr_t)data,
		.len = u->page,
	};
	if (ioctl(u->fd, UFFDIO_COPY, &c) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

uint64_t vm_uffd_served(struct vm_uffd *u)
{
	return atomic_load(&u->served);
}

int vm_uffd_failed(struct vm_uffd *u, struct vs_err *e)
{
	if (!atomic_load(&u->failed))
		return 0;
	if (e)
		*e = u->err;
	return 1;
}

void vm_uffd_stop(struct vm_uffd *u)
{
	if (!u)
		return;
	uint64_t one = 1;
	if (write(u->stop_fd, &one, sizeof(one)) == sizeof(one))
		pthread_join(u->thread, NULL);
	else
		pthread_cancel(u->thread);
	struct uffdio_range r = {.start = (uint64_t)(uintptr_t)u->addr, .len = u->len};
	ioctl(u->fd, UFFDIO_UNREGISTER, &r);
	close(u->fd);
	close(u->stop_fd);
	free(u->buf);
	free(u);
}
