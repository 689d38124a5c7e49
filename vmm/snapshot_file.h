/*
 * The snapshot container file: a versioned, checksummed set of named sections
 * (machine description, vCPUs, irqchip, devices...). Guest memory lives in a
 * separate file so it can be mapped copy-on-write at restore. The layout is
 * documented in docs/snapshot-format.md; the reader trusts nothing in the file.
 */
#ifndef VMM_SNAPSHOT_FILE_H
#define VMM_SNAPSHOT_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "vessel/err.h"

#define VM_SNAP_MAGIC	       "VESSELSN"
#define VM_SNAP_FORMAT_VERSION 1u
#define VM_SNAP_NAME_MAX       24 /* section name bytes, NUL included */
#define VM_SNAP_MAX_SECTIONS   4096u

struct vm_snap_section {
	char name[VM_SNAP_NAME_MAX];
	const uint8_t *data;
	uint64_t len;
};

/* Built in memory, written at once (atomically: temp file + rename). */
struct vm_snap_writer {
	struct vm_snap_section *sec; /* data owned (copied) */
	uint32_t nr, cap;
};

void vm_snap_writer_init(struct vm_snap_writer *w);
/* Copies data; a duplicate or over-long name is refused. */
int vm_snap_writer_add(struct vm_snap_writer *w, const char *name, const void *data, uint64_t len,
		       struct vs_err *e);
int vm_snap_writer_write(struct vm_snap_writer *w, const char *path, const char *vmm_version,
			 struct vs_err *e);
void vm_snap_writer_free(struct vm_snap_writer *w);

/* A parsed, fully verified file. Section data points into buf. */
struct vm_snap {
	uint8_t *buf;
	uint64_t len;
	uint32_t format_version;
	char vmm_version[33];
	struct vm_snap_section *sec;
	uint32_t nr;
};

/* Parses and verifies a buffer (takes ownership of buf on success). `what`
 * names the source in messages. Every section's checksum is checked here, so
 * a caller never sees half-verified data. */
int vm_snap_parse(const char *what, uint8_t *buf, uint64_t len, struct vm_snap *out,
		  struct vs_err *e);
int vm_snap_open(const char *path, struct vm_snap *out, struct vs_err *e);
/* NULL when absent. */
const struct vm_snap_section *vm_snap_find(const struct vm_snap *s, const char *name);
/* Like vm_snap_find, but an absent section is an error naming it. */
int vm_snap_need(const struct vm_snap *s, const char *name, const struct vm_snap_section **out,
		 struct vs_err *e);
void vm_snap_close(struct vm_snap *s);

#endif
