/* Guest physical memory: the region list and bounds-checked access to it.
 * Every guest-supplied address goes through region_find(), which uses
 * subtraction-only comparisons so gpa + len can never wrap. */
#include <errno.h>
#include <string.h>

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
			return NULL;	/* spills out of the one region holding gpa */
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
		return vs_fail(e, ENOSPC, "guest memory: more than %d regions",
			       VM_MEM_MAX_REGIONS);
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
		.gpa = gpa, .size = size, .host = host, .fd = fd, .fd_offset = fd_offset,
	};
	return 0;
}
