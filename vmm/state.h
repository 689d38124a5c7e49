/* Device state save/restore: each device writes its own versioned section of
 * tagged fields and reads it back, refusing what it does not understand.
 * The snapshot file format wraps these sections (magic, version, checksums). */
#ifndef VMM_STATE_H
#define VMM_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "vessel/err.h"

/* A growable buffer a device serialises into. */
struct vm_state_writer {
	uint8_t *buf;
	size_t len, cap;
	int failed; /* out of memory: the whole save fails */
};

struct vm_state_reader {
	const uint8_t *buf;
	size_t len, pos;
	const char *what; /* section name, for messages */
};

void vm_sw_init(struct vm_state_writer *w);
void vm_sw_free(struct vm_state_writer *w);
void vm_sw_u8(struct vm_state_writer *w, uint8_t v);
void vm_sw_u16(struct vm_state_writer *w, uint16_t v);
void vm_sw_u32(struct vm_state_writer *w, uint32_t v);
void vm_sw_u64(struct vm_state_writer *w, uint64_t v);
void vm_sw_bytes(struct vm_state_writer *w, const void *p, size_t len);

void vm_sr_init(struct vm_state_reader *r, const char *what, const void *buf, size_t len);
/* Each fails (-1, e names the section and offset) when the data runs out. */
int vm_sr_u8(struct vm_state_reader *r, uint8_t *v, struct vs_err *e);
int vm_sr_u16(struct vm_state_reader *r, uint16_t *v, struct vs_err *e);
int vm_sr_u32(struct vm_state_reader *r, uint32_t *v, struct vs_err *e);
int vm_sr_u64(struct vm_state_reader *r, uint64_t *v, struct vs_err *e);
int vm_sr_bytes(struct vm_state_reader *r, void *p, size_t len, struct vs_err *e);
/* Fails when bytes are left over: a section longer than its reader expects. */
int vm_sr_end(struct vm_state_reader *r, struct vs_err *e);

#endif
