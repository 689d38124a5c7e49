/*
 * virtio-balloon (virtio 1.2 §5.5): the host asks for num_pages 4 KiB pages;
 * the driver gives them on the inflate queue as page frame numbers and we
 * return them to the host (MADV_DONTNEED, plus a hole punched in the memfd
 * when guest RAM is file-backed, where DONTNEED alone frees nothing). PFNs
 * are checked to be guest RAM first. Deflated pages need no action: the next
 * guest touch faults fresh zero pages in.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/devices/virtio/virtio.h"
#include "vessel/le.h"

#define BALLOON_F_STATS_VQ	 1
#define BALLOON_F_DEFLATE_ON_OOM 2
#define PAGE_SHIFT		 12 /* §5.5.6: balloon pages are 4 KiB */
#define INFLATEQ		 0
#define DEFLATEQ		 1
#define STATSQ			 2
#define CFG_NUM_PAGES		 0
#define CFG_ACTUAL		 4
#define CFG_SIZE		 8
#define MAX_STATS		 16

struct balloon {
	struct vm_virtio_dev vdev;
	struct vm_balloon_stat stats[MAX_STATS];
	int nr_stats;
	bool stats_held; /* a stats buffer is kept until we want fresh ones */
	uint16_t stats_head;
	uint64_t bad_pfns;  /* PFNs outside guest RAM the driver sent */
	uint32_t num_pages; /* the target we set (config num_pages) */
	struct vm_vq_elem el;
};

static struct balloon *bal;

/* Gives one guest page back to the host. */
static void release_page(struct balloon *b, uint64_t pfn)
{
	const struct vm_memory *m = b->vdev.ctx->mem;
	uint64_t gpa = pfn << PAGE_SHIFT;
	void *host;

	if (pfn >> (64 - PAGE_SHIFT) || !(host = vm_mem_ptr(m, gpa, 1u << PAGE_SHIFT))) {
		b->bad_pfns++; /* not RAM: nothing of ours to touch */
		return;
	}
	for (unsigned i = 0; i < m->nr; i++) {
		const struct vm_mem_region *r = &m->regions[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size && r->fd >= 0) {
			fallocate(r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				  (off_t)(r->fd_offset + (gpa - r->gpa)), 1 << PAGE_SHIFT);
			break;
		}
	}
	/* host is page aligned when the region is (guest RAM is mmap'ed) */
	if (((uintptr_t)host & ((1u << PAGE_SHIFT) - 1)) == 0)
		madvise(host, 1u << PAGE_SHIFT, MADV_DONTNEED);
}

static void pfn_queue(struct balloon *b, unsigned qi)
{
	struct vm_virtio_dev *d = &b->vdev;
	struct vm_vq *q = &d->vq[qi];
	struct vs_err e;
	int got;

	while ((got = vm_vq_pop(q, &b->el, &e)) == 1) {
		/* §5.5.6: an array of le32 PFNs in device-readable buffers */
		if (qi == INFLATEQ) {
			for (uint64_t off = 0; off + 4 <= b->el.out_len; off += 4) {
				uint8_t p[4];

				vm_iov_to_buf(b->el.iov, b->el.n_out, off, p, 4);
				release_page(b, vs_le_get32(p));
			}
		}
		if (vm_vq_push(q, b->el.head, 0, &e) < 0) {
			got = -1;
			break;
		}
	}
	if (got < 0)
		vm_virtio_set_broken(d, "%s", e.msg);
	vm_virtio_notify_used(d, qi);
}

/* §5.5.6.3: the driver sends {le16 tag, le64 val} entries and waits until
 * we return the buffer to send fresh ones; we keep it until asked. */
static void stats_queue(struct balloon *b)
{
	struct vm_virtio_dev *d = &b->vdev;
	struct vm_vq *q = &d->vq[STATSQ];
	struct vs_err e;
	int got;

	while ((got = vm_vq_pop(q, &b->el, &e)) == 1) {
		int n = 0;

		for (uint64_t off = 0; off + 10 <= b->el.out_len && n < MAX_STATS; off += 10) {
			uint8_t s[10];
			uint64_t v = 0;

			vm_iov_to_buf(b->el.iov, b->el.n_out, off, s, 10);
			for (int i = 0; i < 8; i++)
				v |= (uint64_t)s[2 + i] << (8 * i);
			b->stats[n].tag = (uint16_t)(s[0] | s[1] << 8);
			b->stats[n].val = v;
			n++;
		}
		b->nr_stats = n;
		if (b->stats_held) /* a second buffer: give the older one back */
			vm_vq_push(q, b->stats_head, 0, &e);
		b->stats_head = b->el.head;
		b->stats_held = true;
	}
	if (got < 0)
		vm_virtio_set_broken(d, "%s", e.msg);
	vm_virtio_notify_used(d, STATSQ);
}

static void balloon_queue(struct vm_virtio_dev *d, unsigned qi)
{
	struct balloon *b = d->priv;

	if (qi == STATSQ)
		stats_queue(b);
	else
		pfn_queue(b, qi);
}

static void balloon_config_write(struct vm_virtio_dev *d, uint32_t off, uint32_t len)
{
	struct balloon *b = d->priv;

	/* Only actual (the driver's report) is writable; num_pages is ours. */
	if (off < CFG_ACTUAL)
		vs_le_put32(&d->config[CFG_NUM_PAGES], b->num_pages);
}

static void balloon_reset(struct vm_virtio_dev *d)
{
	struct balloon *b = d->priv;

	if (b)
		b->stats_held = false; /* the queues are gone */
}

static const struct vm_virtio_ops balloon_vops = {
	.name = "virtio-balloon",
	.type = VIRTIO_ID_BALLOON,
	.pci_class = 0x00ff00,
	.nr_queues = 3,
	.queue_size = 128,
	.config_size = CFG_SIZE,
	.config_write = balloon_config_write,
	.queue_notify = balloon_queue,
	.reset = balloon_reset,
};

int vm_balloon_set_target(uint64_t bytes)
{
	if (!bal)
		return -1;
	uint64_t pages = bytes >> PAGE_SHIFT;

	if (pages > 0xffffffffu)
		pages = 0xffffffffu;
	pthread_mutex_lock(&bal->vdev.lock);
	bal->num_pages = (uint32_t)pages;
	vs_le_put32(&bal->vdev.config[CFG_NUM_PAGES], (uint32_t)pages);
	vm_virtio_config_changed(&bal->vdev);
	pthread_mutex_unlock(&bal->vdev.lock);
	return 0;
}

int vm_balloon_request_stats(void)
{
	struct vs_err e;

	if (!bal)
		return -1;
	pthread_mutex_lock(&bal->vdev.lock);
	if (bal->stats_held && vm_virtio_running(&bal->vdev)) {
		bal->stats_held = false;
		vm_vq_push(&bal->vdev.vq[STATSQ], bal->stats_head, 0, &e);
		vm_virtio_notify_used(&bal->vdev, STATSQ);
	}
	pthread_mutex_unlock(&bal->vdev.lock);
	return 0;
}

int vm_balloon_get_stats(struct vm_balloon_stat *out, int max, uint32_t *actual_pages)
{
	int n;

	if (!bal)
		return -1;
	pthread_mutex_lock(&bal->vdev.lock);
	n = bal->nr_stats < max ? bal->nr_stats : max;
	memcpy(out, bal->stats, (size_t)n * sizeof(*out));
	if (actual_pages)
		*actual_pages = vs_le_get32(&bal->vdev.config[CFG_ACTUAL]);
	pthread_mutex_unlock(&bal->vdev.lock);
	return n;
}

static int balloon_create(struct vm_ctx *ctx, struct vs_err *e)
{
	struct balloon *b;

	if (!ctx->cfg->balloon || bal)
		return 0;
	b = calloc(1, sizeof(*b));
	if (!b)
		return vs_fail(e, ENOMEM, "virtio-balloon");
	if (vm_virtio_init(&b->vdev, ctx, &balloon_vops,
			   1ull << BALLOON_F_STATS_VQ | 1ull << BALLOON_F_DEFLATE_ON_OOM, b,
			   e) < 0) {
		free(b);
		return -1;
	}
	bal = b;
	return 0;
}

static unsigned balloon_count(void)
{
	return bal ? 1 : 0;
}

#define BALLOON_STATE_VERSION 1

static int balloon_save(unsigned idx, struct vm_state_writer *w)
{
	vm_virtio_save(&bal->vdev, w);
	vm_sw_u32(w, BALLOON_STATE_VERSION);
	vm_sw_u8(w, bal->stats_held);
	vm_sw_u16(w, bal->stats_head);
	vm_sw_u32(w, (uint32_t)bal->nr_stats);
	for (int i = 0; i < bal->nr_stats; i++) {
		vm_sw_u16(w, bal->stats[i].tag);
		vm_sw_u64(w, bal->stats[i].val);
	}
	return w->failed ? -1 : 0;
}

static int balloon_restore(unsigned idx, struct vm_state_reader *r, struct vs_err *e)
{
	struct vm_vq *q = &bal->vdev.vq[STATSQ];
	uint32_t ver, n;
	uint8_t held;

	if (vm_virtio_restore(&bal->vdev, r, e) < 0 || vm_sr_u32(r, &ver, e) < 0 ||
	    vm_sr_u8(r, &held, e) < 0 || vm_sr_u16(r, &bal->stats_head, e) < 0 ||
	    vm_sr_u32(r, &n, e) < 0)
		return -1;
	if (ver != BALLOON_STATE_VERSION || n > MAX_STATS)
		return vs_fail(e, EINVAL, "virtio-balloon: bad state (version %u, %u stats)", ver,
			       n);
	for (uint32_t i = 0; i < n; i++)
		if (vm_sr_u16(r, &bal->stats[i].tag, e) < 0 ||
		    vm_sr_u64(r, &bal->stats[i].val, e) < 0)
			return -1;
	bal->nr_stats = (int)n;
	bal->num_pages = vs_le_get32(&bal->vdev.config[CFG_NUM_PAGES]);
	bal->stats_held = held && q->enabled && bal->stats_head < q->size;
	if (bal->stats_held) /* the kept buffer is still the driver's in-flight one */
		q->inflight[bal->stats_head / 8] |= (uint8_t)(1u << (bal->stats_head % 8));
	return vm_sr_end(r, e);
}

static void balloon_destroy(void)
{
	if (!bal)
		return;
	vm_virtio_destroy(&bal->vdev);
	free(bal);
	bal = NULL;
}

const struct vm_device_ops vm_virtio_balloon_ops = {
	.name = "virtio-balloon",
	.order = 20,
	.create = balloon_create,
	.count = balloon_count,
	.save = balloon_save,
	.restore = balloon_restore,
	.destroy = balloon_destroy,
};
VM_DEVICE(vm_virtio_balloon_ops);
