/* Guest physical memory: regions of host memory mapped into the guest, and the
 * only sanctioned way device code reaches them. Guest memory is hostile input:
 * every access is bounds-checked against the region list, with overflow-safe
 * arithmetic, so a guest-supplied address can never reach host memory outside
 * the guest. */
#ifndef VMM_MEMORY_H
#define VMM_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vessel/err.h"

#define VM_MEM_MAX_REGIONS 8

struct vm_mem_region {
	uint64_t gpa;	    /* guest physical start */
	uint64_t size;	    /* bytes */
	uint8_t *host;	    /* host virtual address of gpa */
	int fd;		    /* memfd/file backing the region, -1 for anonymous */
	uint64_t fd_offset; /* offset of the region in fd */
};

struct vm_memory {
	struct vm_mem_region regions[VM_MEM_MAX_REGIONS];
	unsigned nr;
};

/* Host pointer to [gpa, gpa + len) when the whole range lies in one region,
 * NULL otherwise (including len == 0 overflow cases). */
void *vm_mem_ptr(const struct vm_memory *m, uint64_t gpa, uint64_t len);
/* Copies; -1 when any byte of the range is outside guest memory. */
int vm_mem_read(const struct vm_memory *m, uint64_t gpa, void *dst, uint64_t len);
int vm_mem_write(const struct vm_memory *m, uint64_t gpa, const void *src, uint64_t len);
/* Total bytes of guest RAM. */
uint64_t vm_mem_size(const struct vm_memory *m);

/* Adds a region that the caller already mapped (tests use plain buffers). */
int vm_mem_add_region(struct vm_memory *m, uint64_t gpa, uint64_t size, void *host, int fd,
		      uint64_t fd_offset, struct vs_err *e);

/* Allocates guest RAM of size bytes laid out around the MMIO hole (one
 * region below VM_MMIO_HOLE_START, the rest from 4 GiB): anonymous memory,
 * or one memfd (MFD_CLOEXEC) both regions map, which snapshots and sharing
 * need. hugepages: MAP_HUGETLB / MFD_HUGETLB with 2 MiB pages; an empty
 * pool is reported as such. */
int vm_mem_alloc(struct vm_memory *m, uint64_t size, bool memfd, bool hugepages, struct vs_err *e);
/* Unmaps what vm_mem_alloc mapped and closes its fd. */
void vm_mem_free(struct vm_memory *m);

#endif
