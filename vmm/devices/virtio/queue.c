/*
 * Split virtqueues (virtio 1.2 §2.7). The rings live in guest memory and the
 * guest may rewrite them at any time, from another vCPU, while we read them:
 * every descriptor is copied out once and checked on the copy, every index
 * is bounded by the queue size, and every buffer is resolved through
 * vm_mem_ptr (whole range inside one RAM region) before it becomes an iovec.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "vmm/devices/virtio/virtio.h"

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* Ring sizes (§2.7): desc 16*N, avail 6+2*N, used 6+8*N (with the event
 * fields, which are always there in memory layout terms). */
static uint64_t desc_bytes(uint16_t n)
{
	return 16ull * n;
}

static uint64_t avail_bytes(uint16_t n)
{
	return 6ull + 2ull * n;
}

static uint64_t used_bytes(uint16_t n)
{
	return 6ull + 8ull * n;
}

/* Guest memory is shared with running vCPUs: index loads are acquire (the
 * ring entries they cover are read after), used->idx is a release store. */
static uint16_t load16(const uint8_t *p)
{
	uint16_t v;

	__atomic_load((const uint16_t *)(const void *)p, &v, __ATOMIC_ACQUIRE);
	return le16toh(v);
}

static void store16(uint8_t *p, uint16_t v)
{
	uint16_t le = htole16(v);

	__atomic_store((uint16_t *)(void *)p, &le, __ATOMIC_RELEASE);
}

static void store32(uint8_t *p, uint32_t v)
{
	uint32_t le = htole32(v);

	__atomic_store((uint32_t *)(void *)p, &le, __ATOMIC_RELAXED);
}

void vm_vq_reset(struct vm_vq *q, unsigned index, uint16_t max_size)
{
	memset(q, 0, sizeof(*q));
	q->index = index;
	q->max_size = max_size;
	q->size = max_size;
	q->msix_vector = VIRTIO_MSI_NO_VECTOR;
}

int vm_vq_enable(struct vm_vq *q, const struct vm_memory *mem, struct vs_err *e)
{
	uint16_t n = q->size;

	/* §2.7: split queue sizes are powers of two, at most the maximum. */
	if (n == 0 || (n & (n - 1)) || n > q->max_size)
		return vs_fail(e, EINVAL, "queue %u: size %u is not a power of two <= %u", q->index,
			       n, q->max_size);
	/* §2.7 alignment: descriptor table 16, avail 2, used 4. */
	if (q->desc_gpa & 15 || q->avail_gpa & 1 || q->used_gpa & 3)
		return vs_fail(e, EINVAL,
			       "queue %u: misaligned rings (desc %#llx avail %#llx used %#llx)",
			       q->index, (unsigned long long)q->desc_gpa,
			       (unsigned long long)q->avail_gpa, (unsigned long long)q->used_gpa);
	q->desc = vm_mem_ptr(mem, q->desc_gpa, desc_bytes(n));
	q->avail = vm_mem_ptr(mem, q->avail_gpa, avail_bytes(n));
	q->used = vm_mem_ptr(mem, q->used_gpa, used_bytes(n));
	if (!q->desc || !q->avail || !q->used) {
		q->desc = q->avail = q->used = NULL;
		return vs_fail(
			e, EFAULT,
			"queue %u: rings outside guest memory (desc %#llx avail %#llx used %#llx, size %u)",
			q->index, (unsigned long long)q->desc_gpa, (unsigned long long)q->avail_gpa,
			(unsigned long long)q->used_gpa, n);
	}
	q->mem = mem;
	q->enabled = true;
	return 0;
}

static bool inflight_test(const struct vm_vq *q, uint16_t i)
{
	return q->inflight[i / 8] & (1u << (i % 8));
}

static void inflight_set(struct vm_vq *q, uint16_t i, bool on)
{
	if (on)
		q->inflight[i / 8] |= (uint8_t)(1u << (i % 8));
	else
		q->inflight[i / 8] &= (uint8_t) ~(1u << (i % 8));
}

static void read_desc(const uint8_t *table, uint16_t i, struct vring_desc *d)
{
	/* One copy: the checks below apply to exactly what we use. */
	memcpy(d, table + 16u * i, sizeof(*d));
	d->addr = le64toh(d->addr);
	d->len = le32toh(d->len);
	d->flags = le16toh(d->flags);
	d->next = le16toh(d->next);
}

/* Adds one buffer to el; enforces the readable-then-writable order
 * (§2.7.4.2: "The driver MUST place any device-writable descriptor elements
 * after any device-readable descriptor elements"). */
static int add_segment(struct vm_vq *q, struct vm_vq_elem *el, const struct vring_desc *d,
		       struct vs_err *e)
{
	bool w = d->flags & VIRTQ_DESC_F_WRITE;
	void *p;

	if (!w && el->n_in)
		return vs_fail(e, EINVAL,
			       "queue %u: head %u: device-readable descriptor after a writable one",
			       q->index, el->head);
	if (d->len && d->addr + d->len - 1 < d->addr)
		return vs_fail(e, EFAULT,
			       "queue %u: head %u: buffer %#llx+%#x wraps the address space",
			       q->index, el->head, (unsigned long long)d->addr, d->len);
	if (!d->len)
		return 0; /* nothing to transfer; still counted in the chain */
	p = vm_mem_ptr(q->mem, d->addr, d->len);
	if (!p)
		return vs_fail(e, EFAULT,
			       "queue %u: head %u: buffer %#llx+%#x outside guest memory", q->index,
			       el->head, (unsigned long long)d->addr, d->len);
	if (el->n_out + el->n_in >= VM_VQ_MAX_SIZE)
		return vs_fail(e, E2BIG, "queue %u: head %u: too many segments", q->index,
			       el->head);
	el->iov[el->n_out + el->n_in] = (struct iovec){.iov_base = p, .iov_len = d->len};
	if (w) {
		el->n_in++;
		el->in_len += d->len;
	} else {
		el->n_out++;
		el->out_len += d->len;
	}
	return 0;
}

/* Walks an indirect table (§2.7.5.3). */
static int walk_indirect(struct vm_vq *q, struct vm_vq_elem *el, const struct vring_desc *ind,
			 unsigned *count, struct vs_err *e)
{
	struct vring_desc d;
	const uint8_t *table;
	uint32_t n;
	uint16_t i = 0;

	if (!q->indirect)
		return vs_fail(
			e, EINVAL,
			"queue %u: head %u: indirect descriptor without VIRTIO_F_INDIRECT_DESC",
			q->index, el->head);
	if (ind->flags & VIRTQ_DESC_F_NEXT)
		return vs_fail(e, EINVAL, "queue %u: head %u: INDIRECT together with NEXT",
			       q->index, el->head);
	if (ind->len == 0 || ind->len % 16)
		return vs_fail(
			e, EINVAL,
			"queue %u: head %u: indirect table length %u is not a non-zero multiple of 16",
			q->index, el->head, ind->len);
	n = ind->len / 16;
	if (n > q->size)
		return vs_fail(
			e, E2BIG,
			"queue %u: head %u: indirect table of %u entries exceeds queue size %u",
			q->index, el->head, n, q->size);
	table = vm_mem_ptr(q->mem, ind->addr, ind->len);
	if (!table)
		return vs_fail(e, EFAULT,
			       "queue %u: head %u: indirect table %#llx+%#x outside guest memory",
			       q->index, el->head, (unsigned long long)ind->addr, ind->len);
	for (;;) {
		/* A chain longer than the queue size can only be a loop
		 * (§2.7.5.3.1 bounds the whole chain by the queue size). */
		if (++*count > q->size)
			return vs_fail(
				e, ELOOP,
				"queue %u: head %u: indirect chain longer than queue size %u (loop)",
				q->index, el->head, q->size);
		read_desc(table, i, &d);
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return vs_fail(e, EINVAL, "queue %u: head %u: nested indirect descriptor",
				       q->index, el->head);
		if (add_segment(q, el, &d, e) < 0)
			return -1;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= n)
			return vs_fail(e, EINVAL,
				       "queue %u: head %u: indirect next %u >= table size %u",
				       q->index, el->head, d.next, n);
		i = d.next;
	}
}

bool vm_vq_has_avail(struct vm_vq *q)
{
	return q->enabled && load16(q->avail + 2) != q->last_avail;
}

int vm_vq_pop(struct vm_vq *q, struct vm_vq_elem *el, struct vs_err *e)
{
	struct vring_desc d;
	uint16_t avail_idx, head, i;
	unsigned count = 0;

	if (!q->enabled)
		return 0;
	avail_idx = load16(q->avail + 2);
	if (avail_idx == q->last_avail && q->event_idx) {
		/* Ask for a notification when anything new arrives (avail_event,
		 * §2.7.10), then look once more: the driver may have added a
		 * buffer before it could see the new avail_event. */
		store16(q->used + 4 + 8u * q->size, q->last_avail);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		avail_idx = load16(q->avail + 2);
	}
	if (avail_idx == q->last_avail)
		return 0;
	/* §2.7.13.3: the driver cannot have more than size chains available. */
	if ((uint16_t)(avail_idx - q->last_avail) > q->size)
		return vs_fail(e, EINVAL, "queue %u: avail idx %u is more than %u ahead of %u",
			       q->index, avail_idx, q->size, q->last_avail);
	head = load16(q->avail + 4 + 2u * (q->last_avail % q->size));
	if (head >= q->size)
		return vs_fail(e, EINVAL, "queue %u: avail head %u >= queue size %u", q->index,
			       head, q->size);
	if (inflight_test(q, head))
		return vs_fail(e, EINVAL, "queue %u: head %u made available again while in use",
			       q->index, head);

	el->head = head;
	el->n_out = el->n_in = 0;
	el->out_len = el->in_len = 0;
	i = head;
	for (;;) {
		if (++count > q->size)
			return vs_fail(e, ELOOP,
				       "queue %u: head %u: chain longer than queue size %u (loop)",
				       q->index, head, q->size);
		read_desc(q->desc, i, &d);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			/* Only a chain's head may point to a table: that is
			 * how drivers use it and keeps the bound simple. */
			if (i != head)
				return vs_fail(
					e, EINVAL,
					"queue %u: head %u: indirect descriptor inside a chain",
					q->index, head);
			if (walk_indirect(q, el, &d, &count, e) < 0)
				return -1;
			break;
		}
		if (add_segment(q, el, &d, e) < 0)
			return -1;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			break;
		if (d.next >= q->size)
			return vs_fail(e, EINVAL, "queue %u: head %u: next %u >= queue size %u",
				       q->index, head, d.next, q->size);
		i = d.next;
	}
	q->last_avail++;
	inflight_set(q, head, true);
	if (q->event_idx)
		store16(q->used + 4 + 8u * q->size, q->last_avail);
	return 1;
}

int vm_vq_push(struct vm_vq *q, uint16_t head, uint32_t len, struct vs_err *e)
{
	uint8_t *ent;

	if (!q->enabled || head >= q->size || !inflight_test(q, head))
		return vs_fail(e, EINVAL, "queue %u: head %u returned but not in use", q->index,
			       head);
	ent = q->used + 4 + 8u * (q->used_idx % q->size);
	store32(ent, head);
	store32(ent + 4, len);
	q->used_idx++;
	store16(q->used + 2, q->used_idx); /* release: entry before index */
	inflight_set(q, head, false);
	return 0;
}

int vm_vq_fill(struct vm_vq *q, unsigned i, uint16_t head, uint32_t len, struct vs_err *e)
{
	uint8_t *ent;

	if (!q->enabled || head >= q->size || !inflight_test(q, head) || i >= q->size)
		return vs_fail(e, EINVAL, "queue %u: head %u returned but not in use", q->index,
			       head);
	ent = q->used + 4 + 8u * ((uint16_t)(q->used_idx + i) % q->size);
	store32(ent, head);
	store32(ent + 4, len);
	inflight_set(q, head, false);
	return 0;
}

void vm_vq_flush(struct vm_vq *q, unsigned n)
{
	q->used_idx = (uint16_t)(q->used_idx + n);
	store16(q->used + 2, q->used_idx);
}

void vm_vq_rewind(struct vm_vq *q, const uint16_t *heads, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		inflight_set(q, heads[i], false);
	q->last_avail = (uint16_t)(q->last_avail - n);
}

bool vm_vq_should_notify(struct vm_vq *q)
{
	uint16_t old = q->signalled_used, neu = q->used_idx;
	bool valid = q->signalled_valid;

	if (!q->enabled)
		return false;
	/* The used idx store must be visible before we read the driver's
	 * suppression fields, or we could miss its request (§2.7.7.2). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	q->signalled_used = neu;
	q->signalled_valid = true;
	if (!q->event_idx)
		return !(load16(q->avail) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	if (!valid)
		return true;
	/* vring_need_event: notify when used_event lies in (old, neu]. */
	uint16_t used_event = load16(q->avail + 4 + 2u * q->size);

	return (uint16_t)(neu - used_event - 1) < (uint16_t)(neu - old);
}

size_t vm_iov_to_buf(const struct iovec *iov, unsigned n, size_t skip, void *buf, size_t len)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		size_t l = iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		size_t c = l - skip < len - done ? l - skip : len - done;

		memcpy((uint8_t *)buf + done, (uint8_t *)iov[i].iov_base + skip, c);
		done += c;
		skip = 0;
	}
	return done;
}

size_t vm_buf_to_iov(const struct iovec *iov, unsigned n, size_t skip, const void *buf, size_t len)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		size_t l = iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		size_t c = l - skip < len - done ? l - skip : len - done;

		memcpy((uint8_t *)iov[i].iov_base + skip, (const uint8_t *)buf + done, c);
		done += c;
		skip = 0;
	}
	return done;
}

unsigned vm_iov_slice(const struct iovec *iov, unsigned n, size_t skip, size_t drop,
		      struct iovec *out, unsigned max)
{
	size_t total = 0, keep;
	unsigned k = 0;

	for (unsigned i = 0; i < n; i++)
		total += iov[i].iov_len;
	if (skip + drop >= total)
		return 0;
	keep = total - skip - drop;
	for (unsigned i = 0; i < n && keep && k < max; i++) {
		size_t l = iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		size_t c = l - skip < keep ? l - skip : keep;

		out[k++] =
			(struct iovec){.iov_base = (uint8_t *)iov[i].iov_base + skip, .iov_len = c};
		keep -= c;
		skip = 0;
	}
	return k;
}
