/*
 * Test harness for virtio devices: a machine made of a malloc'ed buffer as
 * guest RAM, real buses, the real PCI host bridge and an interrupt recorder;
 * and the guest driver's side of a split virtqueue, written by hand into that
 * RAM, so tests can play a correct or a hostile driver.
 */
#ifndef VIRTIO_HARNESS_H
#define VIRTIO_HARNESS_H

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <pthread.h>
#include <unistd.h>

#include "vmm/devices/virtio/virtio.h"
#include "vmm/config.h"
#include "vmm/event.h"

#define VH_RAM_SIZE (4u << 20)

struct vh {
	uint8_t *ram;
	struct vm_memory mem;
	struct vm_bus pio, mmio;
	struct vm_pci_bus pci;
	struct vm_irq irq;
	struct vm_ctx ctx;
	struct vm_config cfg;
	/* interrupt recorder */
	int msi_count;
	uint64_t msi_addr;
	uint32_t msi_data;
	int line[32];
	int line_raises;
	pthread_t loop_thread; /* vh_loop_start: devices run as in the VMM */
};

static inline void vh_set_line(void *opaque, uint32_t gsi, int level)
{
	struct vh *h = opaque;

	if (gsi < 32) {
		if (level && !h->line[gsi])
			h->line_raises++;
		h->line[gsi] = level;
	}
}

static inline void vh_send_msi(void *opaque, uint64_t addr, uint32_t data)
{
	struct vh *h = opaque;

	h->msi_count++;
	h->msi_addr = addr;
	h->msi_data = data;
}

static inline struct vh *vh_new(void)
{
	struct vh *h = calloc(1, sizeof(*h));
	struct vs_err e;

	if (!h)
		return NULL;
	/* mmap'ed like real guest RAM: page aligned, so madvise works */
	h->ram =
		mmap(NULL, VH_RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (h->ram == MAP_FAILED ||
	    vm_mem_add_region(&h->mem, 0, VH_RAM_SIZE, h->ram, -1, 0, &e) < 0)
		abort();
	vm_bus_init(&h->pio, "pio");
	vm_bus_init(&h->mmio, "mmio");
	if (vm_pci_bus_init(&h->pci, &h->pio, &h->mmio, &e) < 0)
		abort();
	h->irq = (struct vm_irq){.opaque = h, .set_line = vh_set_line, .send_msi = vh_send_msi};
	h->cfg.console.kind = VM_CONSOLE_NONE;
	h->ctx = (struct vm_ctx){.cfg = &h->cfg,
				 .mem = &h->mem,
				 .pio = &h->pio,
				 .mmio = &h->mmio,
				 .pci = &h->pci,
				 .irq = &h->irq};
	return h;
}

/* A real device event loop; call before creating devices. */
static inline void vh_loop_new(struct vh *h)
{
	struct vs_err e;

	h->ctx.loop = vm_event_loop_new(&e);
	if (!h->ctx.loop)
		abort();
}

static inline void *vh_loop_main(void *p)
{
	struct vh *h = p;
	struct vs_err e;

	vm_event_loop_run(h->ctx.loop, &e);
	return NULL;
}

static inline void vh_loop_start(struct vh *h)
{
	if (pthread_create(&h->loop_thread, NULL, vh_loop_main, h))
		abort();
}

/* Stops and joins the loop thread (devices must be destroyed after). */
static inline void vh_loop_stop(struct vh *h)
{
	vm_event_loop_stop(h->ctx.loop);
	pthread_join(h->loop_thread, NULL);
}

static inline void vh_free(struct vh *h)
{
	if (h->ctx.loop)
		vm_event_loop_free(h->ctx.loop);
	vm_pci_bus_destroy(&h->pci);
	munmap(h->ram, VH_RAM_SIZE);
	free(h);
}

/* ---- guest side of one split queue ---- */

struct gq {
	uint64_t desc, avail, used;
	uint16_t size;
	uint16_t avail_idx; /* next avail idx to publish */
	uint16_t used_seen; /* used entries consumed */
	uint16_t next_desc; /* next free descriptor (simple bump allocator) */
};

struct gseg {
	uint64_t addr;
	uint32_t len;
	bool write;
};

static inline void gq_init(struct gq *g, uint64_t base, uint16_t size)
{
	memset(g, 0, sizeof(*g));
	g->size = size;
	g->desc = base;
	g->avail = base + 16ull * size;
	g->used = (g->avail + 6 + 2ull * size + 3) & ~3ull;
}

static inline void vh_w16(struct vh *h, uint64_t gpa, uint16_t v)
{
	memcpy(h->ram + gpa, &v, 2);
}

static inline uint16_t vh_r16(struct vh *h, uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, h->ram + gpa, 2);
	return v;
}

static inline uint32_t vh_r32(struct vh *h, uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, h->ram + gpa, 4);
	return v;
}

/* Raw descriptor write (tests build hostile tables with it). */
static inline void gq_desc(struct vh *h, uint64_t table, uint16_t i, uint64_t addr, uint32_t len,
			   uint16_t flags, uint16_t next)
{
	uint8_t *p = h->ram + table + 16ull * i;

	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}

/* Publishes head in the avail ring (§2.7.13). */
static inline void gq_publish(struct vh *h, struct gq *g, uint16_t head)
{
	vh_w16(h, g->avail + 4 + 2ull * (g->avail_idx % g->size), head);
	g->avail_idx++;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	vh_w16(h, g->avail + 2, g->avail_idx);
}

/* Adds a chain of n segments; returns its head. */
static inline uint16_t gq_add(struct vh *h, struct gq *g, const struct gseg *s, unsigned n)
{
	uint16_t head = g->next_desc % g->size;

	for (unsigned i = 0; i < n; i++) {
		uint16_t idx = (uint16_t)((head + i) % g->size);
		uint16_t flags = (uint16_t)((s[i].write ? VIRTQ_DESC_F_WRITE : 0) |
					    (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));

		gq_desc(h, g->desc, idx, s[i].addr, s[i].len, flags,
			(uint16_t)((idx + 1) % g->size));
	}
	g->next_desc = (uint16_t)(g->next_desc + n);
	gq_publish(h, g, head);
	return head;
}

/* Next used entry, if any: returns 1 and fills id/len. */
static inline int gq_used(struct vh *h, struct gq *g, uint32_t *id, uint32_t *len)
{
	if (vh_r16(h, g->used + 2) == g->used_seen)
		return 0;
	uint64_t ent = g->used + 4 + 8ull * (g->used_seen % g->size);

	*id = vh_r32(h, ent);
	*len = vh_r32(h, ent + 4);
	g->used_seen++;
	return 1;
}

/* ---- driver side of the transport, through MMIO on BAR 0 ---- */

static inline uint64_t vh_bar(struct vm_virtio_dev *d)
{
	return d->pci.bar[0].addr;
}

static inline void vh_mw(struct vh *h, uint64_t addr, uint32_t len, uint64_t v)
{
	uint8_t b[8];

	memcpy(b, &v, 8);
	vm_bus_dispatch(&h->mmio, addr, b, len, true);
}

static inline uint64_t vh_mr(struct vh *h, uint64_t addr, uint32_t len)
{
	uint8_t b[8] = {0};
	uint64_t v;

	vm_bus_dispatch(&h->mmio, addr, b, len, false);
	memcpy(&v, b, 8);
	return v;
}

static inline void vh_cc_w(struct vh *h, struct vm_virtio_dev *d, uint32_t off, uint32_t len,
			   uint64_t v)
{
	vh_mw(h, vh_bar(d) + VM_VIRTIO_COMMON_OFF + off, len, v);
}

static inline uint64_t vh_cc_r(struct vh *h, struct vm_virtio_dev *d, uint32_t off, uint32_t len)
{
	return vh_mr(h, vh_bar(d) + VM_VIRTIO_COMMON_OFF + off, len);
}

static inline uint64_t vh_dev_features(struct vh *h, struct vm_virtio_dev *d)
{
	vh_cc_w(h, d, 0x00, 4, 0);
	uint64_t lo = vh_cc_r(h, d, 0x04, 4);
	vh_cc_w(h, d, 0x00, 4, 1);
	return lo | vh_cc_r(h, d, 0x04, 4) << 32;
}

/* The §3.1.1 initialisation sequence up to FEATURES_OK; returns the status
 * read back. */
static inline uint8_t vh_negotiate(struct vh *h, struct vm_virtio_dev *d, uint64_t feats)
{
	vh_cc_w(h, d, 0x14, 1, 0);
	vh_cc_w(h, d, 0x14, 1, VIRTIO_STATUS_ACKNOWLEDGE);
	vh_cc_w(h, d, 0x14, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vh_cc_w(h, d, 0x08, 4, 0);
	vh_cc_w(h, d, 0x0c, 4, (uint32_t)feats);
	vh_cc_w(h, d, 0x08, 4, 1);
	vh_cc_w(h, d, 0x0c, 4, (uint32_t)(feats >> 32));
	vh_cc_w(h, d, 0x14, 1,
		VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	return (uint8_t)vh_cc_r(h, d, 0x14, 1);
}

static inline void vh_setup_queue(struct vh *h, struct vm_virtio_dev *d, uint16_t q, struct gq *g)
{
	vh_cc_w(h, d, 0x16, 2, q);
	vh_cc_w(h, d, 0x18, 2, g->size);
	vh_cc_w(h, d, 0x20, 4, (uint32_t)g->desc);
	vh_cc_w(h, d, 0x24, 4, g->desc >> 32);
	vh_cc_w(h, d, 0x28, 8, g->avail);
	vh_cc_w(h, d, 0x30, 8, g->used);
	vh_cc_w(h, d, 0x1c, 2, 1);
}

static inline void vh_driver_ok(struct vh *h, struct vm_virtio_dev *d)
{
	vh_cc_w(h, d, 0x14, 1,
		VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
			VIRTIO_STATUS_DRIVER_OK);
}

/* Whole bring-up: features (VERSION_1 plus extra), nq queues at 64 KiB
 * steps from 0x10000 with size qsize, DRIVER_OK. */
static inline void vh_bringup(struct vh *h, struct vm_virtio_dev *d, uint64_t extra, struct gq *g,
			      unsigned nq, uint16_t qsize)
{
	vh_negotiate(h, d, 1ull << VIRTIO_F_VERSION_1 | extra);
	for (unsigned q = 0; q < nq; q++) {
		gq_init(&g[q], 0x10000 + 0x10000ull * q, qsize);
		vh_setup_queue(h, d, (uint16_t)q, &g[q]);
	}
	vh_driver_ok(h, d);
}

static inline void vh_notify(struct vh *h, struct vm_virtio_dev *d, uint16_t q)
{
	vh_mw(h, vh_bar(d) + VM_VIRTIO_NOTIFY_OFF + VM_VIRTIO_NOTIFY_MULT * q, 2, q);
}

/* Waits (bounded, ~10 s, only so a bug cannot hang a test) until the
 * device put something in g's used ring. */
static inline bool vh_wait_used(struct vh *h, struct gq *g)
{
	for (int i = 0; i < 20000; i++) {
		if (__atomic_load_n((uint16_t *)(void *)(h->ram + g->used + 2), __ATOMIC_ACQUIRE) !=
		    g->used_seen)
			return true;
		usleep(500);
	}
	return false;
}

static inline uint8_t vh_status(struct vh *h, struct vm_virtio_dev *d)
{
	return (uint8_t)vh_cc_r(h, d, 0x14, 1);
}

#endif
