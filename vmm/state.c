/* Device state sections: fixed-width little-endian fields in a growable
 * buffer. The writer records allocation failure instead of returning it on
 * every call, so device save() code stays a flat list of fields. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/state.h"

void vm_sw_init(struct vm_state_writer *w)
{
	memset(w, 0, sizeof(*w));
}

void vm_sw_free(struct vm_state_writer *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

void vm_sw_bytes(struct vm_state_writer *w, const void *p, size_t len)
{
	if (w->failed || len == 0)
		return;
	if (len > SIZE_MAX - w->len) {
		w->failed = 1;
		return;
	}
	if (w->len + len > w->cap) {
		size_t cap = w->cap ? w->cap : 256;
		while (cap < w->len + len) {
			if (cap > SIZE_MAX / 2) {
				cap = w->len + len;
				break;
			}
			cap *= 2;
		}
		uint8_t *nb = realloc(w->buf, cap);
		if (!nb) {
			w->failed = 1;
			return;
		}
		w->buf = nb;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, p, len);
	w->len += len;
}

/* Little-endian on every host, so a snapshot does not depend on who wrote it. */
static void put_le(struct vm_state_writer *w, uint64_t v, unsigned n)
{
	uint8_t b[8];

	for (unsigned i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	vm_sw_bytes(w, b, n);
}

void vm_sw_u8(struct vm_state_writer *w, uint8_t v)
{
	put_le(w, v, 1);
}

void vm_sw_u16(struct vm_state_writer *w, uint16_t v)
{
	put_le(w, v, 2);
}

void vm_sw_u32(struct vm_state_writer *w, uint32_t v)
{
	put_le(w, v, 4);
}

void vm_sw_u64(struct vm_state_writer *w, uint64_t v)
{
	put_le(w, v, 8);
}

void vm_sr_init(struct vm_state_reader *r, const char *what, const void *buf, size_t len)
{
	r->buf = buf;
	r->len = buf ? len : 0;
	r->pos = 0;
	r->what = what ? what : "state";
}

int vm_sr_bytes(struct vm_state_reader *r, void *p, size_t len, struct vs_err *e)
{
	if (len > r->len - r->pos)
		return vs_fail(e, EINVAL,
			       "%s: truncated at offset %zu (need %zu more bytes, %zu left)",
			       r->what, r->pos, len, r->len - r->pos);
	if (len)
		memcpy(p, r->buf + r->pos, len);
	r->pos += len;
	return 0;
}

static int get_le(struct vm_state_reader *r, uint64_t *v, unsigned n, struct vs_err *e)
{
	uint8_t b[8];

	if (vm_sr_bytes(r, b, n, e) < 0)
		return -1;
	*v = 0;
	for (unsigned i = 0; i < n; i++)
		*v |= (uint64_t)b[i] << (8 * i);
	return 0;
}

int vm_sr_u8(struct vm_state_reader *r, uint8_t *v, struct vs_err *e)
{
	uint64_t x;

	if (get_le(r, &x, 1, e) < 0)
		return -1;
	*v = (uint8_t)x;
	return 0;
}

int vm_sr_u16(struct vm_state_reader *r, uint16_t *v, struct vs_err *e)
{
	uint64_t x;

	if (get_le(r, &x, 2, e) < 0)
		return -1;
	*v = (uint16_t)x;
	return 0;
}

int vm_sr_u32(struct vm_state_reader *r, uint32_t *v, struct vs_err *e)
{
	uint64_t x;

	if (get_le(r, &x, 4, e) < 0)
		return -1;
	*v = (uint32_t)x;
	return 0;
}

int vm_sr_u64(struct vm_state_reader *r, uint64_t *v, struct vs_err *e)
{
	return get_le(r, v, 8, e);
}

int vm_sr_end(struct vm_state_reader *r, struct vs_err *e)
{
	if (r->pos != r->len)
		return vs_fail(e, EINVAL, "%s: %zu unexpected bytes after offset %zu", r->what,
			       r->len - r->pos, r->pos);
	return 0;
}
