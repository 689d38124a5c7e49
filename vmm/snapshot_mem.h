/*
 * Guest memory in snapshots (docs/snapshots.md "Memory files"):
 *  - a full memory file: one 4 KiB header page, then guest RAM region after
 *    region, so a restore maps it MAP_PRIVATE page-aligned and pages load on
 *    demand; zero pages are left as holes (sparse);
 *  - a diff file: only the pages dirtied since the layer below it (a page
 *    bitmap, then those pages), applied on top of the mapped base.
 * Every file carries a random 64-bit id and its parent's id, and the state
 * file names the top layer's id, so a chain of files from different
 * snapshots is refused. Pages are numbered across regions in region order.
 */
#ifndef VMM_SNAPSHOT_MEM_H
#define VMM_SNAPSHOT_MEM_H

#include <stdint.h>

#include "vmm/memory.h"
#include "vessel/err.h"

#define VM_PAGE_SIZE	   4096u
#define VM_SNAPMEM_HDR	   4096u /* header page of a full memory file */
#define VM_SNAPMEM_VERSION 1u
/* Written into state files and migration hellos (informational). */
#define VM_VMM_VERSION "0.1"

/* Where guest RAM regions are, as saved in the machine section. */
struct vm_snapmem_layout {
	unsigned nr;
	struct {
		uint64_t gpa, size;
	} r[VM_MEM_MAX_REGIONS];
};

/* What a memory file's header says. */
struct vm_snapmem_info {
	int is_diff;
	uint64_t pages;	     /* guest pages the file covers */
	uint64_t id, parent; /* parent 0: a full file */
	uint64_t dirty;	     /* diff: pages it carries */
	uint64_t file_len;
};

void vm_snapmem_layout_of(const struct vm_memory *m, struct vm_snapmem_layout *l);
/* Page-aligned, non-overlapping, non-empty regions, at most 1 TiB in all. */
int vm_snapmem_layout_check(const struct vm_snapmem_layout *l, struct vs_err *e);
uint64_t vm_snapmem_pages(const struct vm_snapmem_layout *l);
/* Host address of page idx of m, NULL past the end. */
uint8_t *vm_snapmem_page(const struct vm_memory *m, uint64_t idx);
/* A fresh random id (never 0). */
uint64_t vm_snapmem_new_id(void);

/* Writes all of m to path (atomically: temp file, fsync, rename), zero
 * pages as holes. */
int vm_snapmem_write_full(const struct vm_memory *m, const char *path, uint64_t id,
			  struct vs_err *e);
/* Writes the pages whose bit is set in bitmap (bit i of word i/64: page i)
 * with parent as the layer below. *written: pages written. */
int vm_snapmem_write_diff(const struct vm_memory *m, const uint64_t *bitmap, const char *path,
			  uint64_t id, uint64_t parent, uint64_t *written, struct vs_err *e);

/* Reads and verifies a file's header (and a diff's bitmap checksum). */
int vm_snapmem_info(const char *path, struct vm_snapmem_info *info, struct vs_err *e);

/* Maps a full memory file MAP_PRIVATE at the layout into m (empty before):
 * clones of one file share every page none of them wrote. expect_id: the
 * id the state file names (0: any). */
int vm_snapmem_map(struct vm_memory *m, const struct vm_snapmem_layout *l, const char *path,
		   uint64_t expect_id, struct vs_err *e);
/* Copies a diff's pages into m; its parent must be expect_parent and its
 * page count m's. The page data checksum is verified: on a mismatch m is
 * partly written and the caller must discard it (a restore then fails). */
int vm_snapmem_apply_diff(const struct vm_memory *m, const char *path, uint64_t expect_parent,
			  uint64_t *id_out, struct vs_err *e);

/*
 * Pages the VMM process itself writes (device emulation: used rings, block
 * reads into guest buffers) are not in KVM's dirty log, which sees only the
 * guest's writes. The kernel's soft-dirty bits (/proc/self/pagemap bit 55,
 * reset through /proc/self/clear_refs) see every write to the mapping, so a
 * diff takes the union of both.
 */
/* Checks soft-dirty tracking works on this kernel (a page written after a
 * reset must show up); the error says so when it does not. */
int vm_snapmem_softdirty_probe(struct vs_err *e);
/* Clears the soft-dirty bits of the whole process. */
int vm_snapmem_softdirty_reset(struct vs_err *e);
/* Sets in bitmap the pages of m written since the last reset. */
int vm_snapmem_softdirty_collect(const struct vm_memory *m, uint64_t *bitmap, struct vs_err *e);

/* Where soft-dirty is missing (CONFIG_MEM_SOFT_DIRTY off, as here), a
 * 64-bit digest per page taken at each snapshot finds the pages that
 * changed since: digests (malloc'ed, one per page) of all of m, and the
 * update that sets the bits of changed pages. A guest could forge a
 * collision only to corrupt its own restored memory. */
uint64_t *vm_snapmem_digests(const struct vm_memory *m);
void vm_snapmem_digest_changes(const struct vm_memory *m, uint64_t *digests, uint64_t *bitmap);

#endif
