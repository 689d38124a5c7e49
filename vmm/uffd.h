/*
 * Lazy guest memory through userfaultfd: a mapping is registered for
 * missing-page faults and a handler thread fills each faulting page from a
 * source (a memory file, a migration connection) with UFFDIO_COPY. Faults
 * from KVM's own accesses to guest memory arrive the same way, so a
 * restored VM can start before its memory is read.
 */
#ifndef VMM_UFFD_H
#define VMM_UFFD_H

#include <stddef.h>
#include <stdint.h>

#include "vessel/err.h"

/* Fills dst (one page) with the content of the page at byte offset off of
 * the registered area. Called on the handler thread. */
struct vm_uffd_source {
	int (*read_page)(void *opaque, uint64_t off, void *dst, size_t page);
	void *opaque;
};

struct vm_uffd;

/* An anonymous private mapping of len bytes (a multiple of the page size)
 * registered with a new userfaultfd, and its handler thread. *addr_out is
 * where the mapping is. Errors say whether userfaultfd is unavailable. */
int vm_uffd_start(struct vm_uffd **out, size_t len, const struct vm_uffd_source *src,
		  void **addr_out, struct vs_err *e);
/* Registers an existing private anonymous mapping instead (its present
 * pages stay; only missing ones fault). The mapping stays the caller's. */
int vm_uffd_register(struct vm_uffd **out, void *addr, size_t len, const struct vm_uffd_source *src,
		     struct vs_err *e);
/* Fills the page at offset off with data (UFFDIO_COPY) from any thread,
 * waking whoever faulted on it; a page already present is left alone. */
int vm_uffd_place(struct vm_uffd *u, uint64_t off, const void *data);
/* Pages the handler filled so far. */
uint64_t vm_uffd_served(struct vm_uffd *u);
/* Non-zero when the source failed: the faulting thread was given a zero
 * page and the VM must stop; the message is in *e. */
int vm_uffd_failed(struct vm_uffd *u, struct vs_err *e);
/* Stops the thread and unregisters; the mapping stays (and is the caller's
 * to munmap) with the pages filled so far; others read as zero after. */
void vm_uffd_stop(struct vm_uffd *u);

/* A source reading a file at base + off (pread), e.g. a memory file. */
struct vm_uffd_file {
	int fd;
	uint64_t base;
};
int vm_uffd_file_read(void *opaque, uint64_t off, void *dst, size_t page);

#endif
