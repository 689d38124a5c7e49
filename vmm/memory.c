/* Guest physical memory: the region list and bounds-checked access to it.
 * Every guest-supplied address goes through region_find(), which uses
 * subtraction-only comparisons so gpa + len can never wrap. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/layout.h"
#include "vmm/memory.h"

/* The region holding [gpa, gpa + len) entirely, or NULL. len 0 is refused:
 * callers never need an empty access and it would make the range check
 * ambiguous at region ends. */
static const struct vm_mem_region *region_find(const struct vm_memory *m, uint64_t gpa,
					       uint64_t len)
{
	if (!m || len == 0)
		return NULL;
	for (unsigned i = 0; i < m->nr; i++) {
		const struct vm_mem_region *r = &m->regions[i];

		if (gpa < r->gpa)
			continue;
		uint64_t off = gpa - r->gpa;
		if (off >= r->size)
			continue;
		if (len > r->size - off)
			return NULL; /* spills out of the one region holding gpa */
		return r;
	}
	return NULL;
}

void *vm_mem_ptr(const struct vm_memory *m, uint64_t gpa, uint64_t len)
{
	const struct vm_mem_region *r = region_find(m, gpa, len);

	return r ? r->host + (gpa - r->gpa) : NULL;
}

/* Whether every byte of [gpa, gpa + len) is guest RAM (possibly across
 * adjacent regions). */
static bool range_in_guest(const struct vm_memory *m, uint64_t gpa, uint64_t len)
{
	if (len && gpa + len < gpa)
		return false;
	while (len) {
		const struct vm_mem_region *r = region_find(m, gpa, 1);
		if (!r)
			return false;
		uint64_t n = r->size - (gpa - r->gpa);
		if (n >= len)
			break;
		gpa += n;
		len -= n;
	}
	return true;
}

/* Copies that may span regions only if they are adjacent; our layout leaves
 * the MMIO hole between the two RAM regions, so a span across it fails. */
static int mem_copy(const struct vm_memory *m, uint64_t gpa, uint8_t *buf, uint64_t len,
		    int to_guest)
{
	while (len) {
		const struct vm_mem_region *r = region_find(m, gpa, 1);
		if (!r)
			return -1;
		uint64_t off = gpa - r->gpa;
		uint64_t n = r->size - off;
		if (n > len)
			n = len;
		if (to_guest)
			memcpy(r->host + off, buf, n);
		else
			memcpy(buf, r->host + off, n);
		buf += n;
		gpa += n;
		len -= n;
	}
	return 0;
}

int vm_mem_read(const struct vm_memory *m, uint64_t gpa, void *dst, uint64_t len)
{
	/* check the whole range first: a failed read leaves dst untouched */
	if (!range_in_guest(m, gpa, len))
		return -1;
	return mem_copy(m, gpa, dst, len, 0);
}

int vm_mem_write(const struct vm_memory *m, uint64_t gpa, const void *src, uint64_t len)
{
	/* a failed write changes nothing in the guest */
	if (!range_in_guest(m, gpa, len))
		return -1;
	return mem_copy(m, gpa, (uint8_t *)src, len, 1);
}

uint64_t vm_mem_size(const struct vm_memory *m)
{
	uint64_t total = 0;

	for (unsigned i = 0; i < m->nr; i++)
		total += m->regions[i].size;
	return total;
}

int vm_mem_add_region(struct vm_memory *m, uint64_t gpa, uint64_t size, void *host, int fd,
		      uint64_t fd_offset, struct vs_err *e)
{
	if (m->nr >= VM_MEM_MAX_REGIONS)
		return vs_fail(e, ENOSPC, "guest memory: more than %d regions", VM_MEM_MAX_REGIONS);
	if (size == 0 || !host)
		return vs_fail(e, EINVAL, "guest memory: empty region at 0x%llx",
			       (unsigned long long)gpa);
	if (gpa + size < gpa)
		return vs_fail(e, EINVAL, "guest memory: region 0x%llx+0x%llx wraps",
			       (unsigned long long)gpa, (unsigned long long)size);
	for (unsigned i = 0; i < m->nr; i++) {
		const struct vm_mem_region *r = &m->regions[i];

		if (gpa < r->gpa + r->size && r->gpa < gpa + size)
			return vs_fail(e, EEXIST,
				       "guest memory: region 0x%llx+0x%llx overlaps 0x%llx+0x%llx",
				       (unsigned long long)gpa, (unsigned long long)size,
				       (unsigned long long)r->gpa, (unsigned long long)r->size);
	}
	m->regions[m->nr++] = (struct vm_mem_region){
		.gpa = gpa,
		.size = size,
		.host = host,
		.fd = fd,
		.fd_offset = fd_offset,
	};
	return 0;
}

static int map_region(struct vm_memory *m, uint64_t gpa, uint64_t size, int fd, uint64_t off,
		      bool huge, struct vs_err *e)
{
	int flags = fd >= 0 ? MAP_SHARED : MAP_PRIVATE | MAP_ANONYMOUS;
	/* hugetlb: no MAP_NORESERVE, so an empty pool fails here with ENOMEM
	 * instead of a SIGBUS when the guest first touches the page */
	if (huge && fd < 0)
		flags |= MAP_HUGETLB;
	if (!huge)
		flags |= MAP_NORESERVE;
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, fd, (off_t)off);
	if (p == MAP_FAILED) {
		if (huge && (errno == ENOMEM || errno == EINVAL))
			return vs_fail(e, errno,
				       "guest memory: cannot map %llu MiB of 2 MiB hugepages "
				       "(is /proc/sys/vm/nr_hugepages large enough?)",
				       (unsigned long long)(size >> 20));
		return vs_fail_errno(e, "guest memory: mmap of %llu bytes",
				     (unsigned long long)size);
	}
	/* no guest memory in core dumps; merge identical pages across VMs */
	madvise(p, size, MADV_DONTDUMP);
	if (!huge)
		madvise(p, size, MADV_MERGEABLE);
	if (vm_mem_add_region(m, gpa, size, p, fd, off, e) < 0) {
		munmap(p, size);
		return -1;
	}
	return 0;
}

int vm_mem_alloc(struct vm_memory *m, uint64_t size, bool memfd, bool hugepages, struct vs_err *e)
{
	uint64_t low = size < VM_MMIO_HOLE_START ? size : VM_MMIO_HOLE_START;
	uint64_t high = size - low;
	int fd = -1;

	memset(m, 0, sizeof(*m));
	if (size == 0 || (size & 0xfff) || (hugepages && (size & ((2ull << 20) - 1))))
		return vs_fail(e, EINVAL, "guest memory: size %llu is not page aligned",
			       (unsigned long long)size);
	if (memfd) {
		fd = memfd_create("vessel-guest-ram", MFD_CLOEXEC | (hugepages ? MFD_HUGETLB : 0));
		if (fd < 0)
			return vs_fail_errno(e, "guest memory: memfd_create");
		if (ftruncate(fd, (off_t)size) < 0) {
			int err = errno;
			close(fd);
			if (hugepages)
				return vs_fail(e, err,
					       "guest memory: %llu MiB memfd of 2 MiB hugepages "
					       "(is /proc/sys/vm/nr_hugepages large enough?)",
					       (unsigned long long)(size >> 20));
			return vs_fail(e, err, "guest memory: ftruncate of the memfd to %llu bytes",
				       (unsigned long long)size);
		}
	}
	if (map_region(m, 0, low, fd, 0, hugepages, e) < 0)
		goto fail;
	if (high && map_region(m, VM_MMIO_HOLE_END, high, fd, low, hugepages, e) < 0)
		goto fail;
	return 0;
fail:
	if (m->nr == 0 && fd >= 0)
		close(fd); /* no region holds it yet */
	vm_mem_free(m);
	return -1;
}

void vm_mem_free(struct vm_memory *m)
{
	int fd = -1;

	for (unsigned i = 0; i < m->nr; i++) {
		munmap(m->regions[i].host, m->regions[i].size);
		if (m->regions[i].fd >= 0)
			fd = m->regions[i].fd;
	}
	if (fd >= 0)
		close(fd);
	memset(m, 0, sizeof(*m));
}
