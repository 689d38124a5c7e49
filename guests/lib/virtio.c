/* The virtio-pci modern transport and split virtqueues, seen from the driver
 * side. Layout of the common configuration structure: virtio 1.2 §4.1.4.3. */
#include "hw.h"
#include "virtio.h"

#define PCI_CAP_VENDOR 0x09
#define CAP_COMMON     1
#define CAP_NOTIFY     2
#define CAP_ISR	       3
#define CAP_DEVICE     4

/* struct virtio_pci_common_cfg offsets */
#define CC_DFSELECT   0x00
#define CC_DF	      0x04
#define CC_GFSELECT   0x08
#define CC_GF	      0x0c
#define CC_NUMQ	      0x12
#define CC_STATUS     0x14
#define CC_GENERATION 0x15
#define CC_Q_SELECT   0x16
#define CC_Q_SIZE     0x18
#define CC_Q_ENABLE   0x1c
#define CC_Q_NOFF     0x1e
#define CC_Q_DESC     0x20
#define CC_Q_DRIVER   0x28
#define CC_Q_DEVICE   0x30

/* one page per queue: descriptors at 0, avail ring after them, used ring
 * at 2 KiB (all alignments of §2.7 hold for sizes up to 64) */
static uint8_t queue_pages[8][4096] __attribute__((aligned(4096)));
static unsigned queue_pages_used;

bool virtio_find(struct virtio_dev *d, uint16_t type, const char **why)
{
	memset(d, 0, sizeof(*d));
	d->type = type;
	/* modern-only devices use PCI device ID 0x1040 + type (§4.1.2.1) */
	if (!pci_find(0x1af4, (uint16_t)(0x1040 + type), &d->pci_dev, &d->pci_fn)) {
		*why = "no virtio device of this type on PCI bus 0";
		return false;
	}
	uint8_t dev = d->pci_dev, fn = d->pci_fn;
	/* memory decoding and bus mastering (the device DMAs into our rings) */
	pci_write16(0, dev, fn, 0x04, pci_read16(0, dev, fn, 0x04) | 0x6);
	if (!(pci_read16(0, dev, fn, 0x06) & 0x10)) {
		*why = "PCI status has no capability list";
		return false;
	}
	uint8_t cap = pci_read8(0, dev, fn, 0x34) & 0xfc;
	for (int guard = 0; cap && guard < 48; guard++) {
		if (pci_read8(0, dev, fn, cap) == PCI_CAP_VENDOR) {
			uint8_t kind = pci_read8(0, dev, fn, cap + 3);
			uint8_t bar = pci_read8(0, dev, fn, cap + 4);
			uint32_t off = pci_read32(0, dev, fn, cap + 8);
			uint64_t base = bar < 6 ? pci_bar_addr(dev, fn, bar) : 0;
			uint64_t addr = base ? base + off : 0;
			switch (kind) {
			case CAP_COMMON:
				if (!d->common)
					d->common = addr;
				break;
			case CAP_NOTIFY:
				if (!d->notify) {
					d->notify = addr;
					d->notify_mult = pci_read32(0, dev, fn, cap + 16);
				}
				break;
			case CAP_ISR:
				if (!d->isr)
					d->isr = addr;
				break;
			case CAP_DEVICE:
				if (!d->device)
					d->device = addr;
				break;
			}
		}
		cap = pci_read8(0, dev, fn, cap + 1) & 0xfc;
	}
	if (!d->common || !d->notify) {
		*why = "common or notify capability missing (or its BAR unassigned)";
		return false;
	}
	if (d->common >= 0x100000000ul || d->notify >= 0x100000000ul) {
		*why = "BAR above 4 GiB, outside the guest's identity map";
		return false;
	}
	return true;
}

uint8_t virtio_status(struct virtio_dev *d)
{
	return mmio_read8(d->common + CC_STATUS);
}

static void set_status(struct virtio_dev *d, uint8_t s)
{
	mmio_write8(d->common + CC_STATUS, s);
}

void virtio_reset(struct virtio_dev *d)
{
	set_status(d, 0);
	/* §4.1.4.3.2: reset completes when status reads back 0 */
	for (unsigned long i = 0; i < POLL_LIMIT && virtio_status(d) != 0; i++)
		cpu_relax();
}

static bool setup_queue(struct virtio_dev *d, unsigned qi, const char **why)
{
	struct virtq *q = &d->q[qi];
	uint64_t c = d->common;

	mmio_write16(c + CC_Q_SELECT, (uint16_t)qi);
	uint16_t max = mmio_read16(c + CC_Q_SIZE);
	if (max == 0) {
		*why = "queue not available (size 0)";
		return false;
	}
	uint16_t size = VIRTQ_MAX_SIZE;
	while (size > max)
		size >>= 1;
	/* a queue keeps its page across resets of the device */
	if (!q->desc) {
		if (queue_pages_used == 8) {
			*why = "out of queue memory";
			return false;
		}
		uint8_t *page = queue_pages[queue_pages_used++];
		q->desc = (volatile struct virtq_desc *)page;
		q->avail = (volatile uint16_t *)(page + 16 * VIRTQ_MAX_SIZE);
		q->used = page + 2048;
	}
	memset((void *)q->desc, 0, 4096);
	q->index = (uint16_t)qi;
	q->size = size;
	q->avail_idx = q->used_seen = q->next_desc = 0;
	q->notify_addr = d->notify + (uint64_t)mmio_read16(c + CC_Q_NOFF) * d->notify_mult;

	mmio_write16(c + CC_Q_SIZE, size);
	mmio_write32(c + CC_Q_DESC, (uint32_t)(uint64_t)q->desc);
	mmio_write32(c + CC_Q_DESC + 4, 0);
	mmio_write32(c + CC_Q_DRIVER, (uint32_t)(uint64_t)q->avail);
	mmio_write32(c + CC_Q_DRIVER + 4, 0);
	mmio_write32(c + CC_Q_DEVICE, (uint32_t)(uint64_t)q->used);
	mmio_write32(c + CC_Q_DEVICE + 4, 0);
	mmio_write16(c + CC_Q_ENABLE, 1);
	return true;
}

bool virtio_init(struct virtio_dev *d, uint64_t wanted, unsigned nq, const char **why)
{
	uint64_t c = d->common;

	virtio_reset(d);
	if (virtio_status(d) != 0) {
		*why = "device did not reset";
		return false;
	}
	set_status(d, VIRTIO_STATUS_ACKNOWLEDGE);
	set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	mmio_write32(c + CC_DFSELECT, 0);
	uint64_t offered = mmio_read32(c + CC_DF);
	mmio_write32(c + CC_DFSELECT, 1);
	offered |= (uint64_t)mmio_read32(c + CC_DF) << 32;
	d->offered = offered;
	if (!(offered & VIRTIO_F_VERSION_1)) {
		*why = "device does not offer VIRTIO_F_VERSION_1";
		set_status(d, VIRTIO_STATUS_FAILED);
		return false;
	}
	d->features = (wanted | VIRTIO_F_VERSION_1) & offered;
	mmio_write32(c + CC_GFSELECT, 0);
	mmio_write32(c + CC_GF, (uint32_t)d->features);
	mmio_write32(c + CC_GFSELECT, 1);
	mmio_write32(c + CC_GF, (uint32_t)(d->features >> 32));
	set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	if (!(virtio_status(d) & VIRTIO_STATUS_FEATURES_OK)) {
		*why = "device refused the features (FEATURES_OK cleared)";
		set_status(d, VIRTIO_STATUS_FAILED);
		return false;
	}
	if (nq > VIRTIO_MAX_QUEUES || nq > mmio_read16(c + CC_NUMQ)) {
		*why = "device has fewer queues than needed";
		set_status(d, VIRTIO_STATUS_FAILED);
		return false;
	}
	for (unsigned i = 0; i < nq; i++)
		if (!setup_queue(d, i, why)) {
			set_status(d, VIRTIO_STATUS_FAILED);
			return false;
		}
	set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
			      VIRTIO_STATUS_DRIVER_OK);
	return true;
}

bool virtio_setup(struct virtio_dev *d, uint16_t type, uint64_t wanted, unsigned nq,
		  const char *name)
{
	char tname[64];
	const char *why = "";

	snprintf_g(tname, sizeof(tname), "%s_found", name);
	bool ok = virtio_find(d, type, &why);
	if (!check(ok, tname, "%s", why))
		return false;
	snprintf_g(tname, sizeof(tname), "%s_init", name);
	ok = virtio_init(d, wanted, nq, &why);
	return check(ok, tname, "%s", why);
}

void virtq_publish(struct virtio_dev *d, unsigned qi, uint16_t head)
{
	struct virtq *q = &d->q[qi];

	q->avail[2 + q->avail_idx % q->size] = head;
	barrier(); /* ring entry before the index (§2.7.13) */
	q->avail_idx++;
	q->avail[1] = q->avail_idx;
	barrier(); /* index before the notification (§2.7.13.3) */
	mmio_write16(q->notify_addr, q->index);
}

uint16_t virtq_submit(struct virtio_dev *d, unsigned qi, const struct vbuf *bufs, unsigned n)
{
	struct virtq *q = &d->q[qi];
	uint16_t head = q->next_desc % q->size;

	for (unsigned i = 0; i < n; i++) {
		uint16_t id = (uint16_t)((head + i) % q->size);
		q->desc[id].addr = (uint64_t)bufs[i].addr;
		q->desc[id].len = bufs[i].len;
		q->desc[id].flags = (uint16_t)((bufs[i].write ? VIRTQ_DESC_F_WRITE : 0) |
					       (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
		q->desc[id].next = (uint16_t)((id + 1) % q->size);
	}
	q->next_desc = (uint16_t)(q->next_desc + n);
	virtq_publish(d, qi, head);
	return head;
}

bool virtq_poll(struct virtio_dev *d, unsigned qi, uint16_t *id, uint32_t *len)
{
	struct virtq *q = &d->q[qi];
	volatile uint16_t *used_idx = (volatile uint16_t *)(q->used + 2);

	if (*used_idx == q->used_seen)
		return false;
	barrier(); /* the entry is valid once the index covers it */
	volatile uint32_t *ent = (volatile uint32_t *)(q->used + 4 + 8 * (q->used_seen % q->size));
	*id = (uint16_t)ent[0];
	*len = ent[1];
	q->used_seen++;
	return true;
}

bool virtq_wait(struct virtio_dev *d, unsigned qi, uint16_t *id, uint32_t *len)
{
	for (unsigned long i = 0; i < POLL_LIMIT; i++) {
		if (virtq_poll(d, qi, id, len))
			return true;
		cpu_relax();
	}
	return false;
}

uint8_t virtio_cfg8(struct virtio_dev *d, uint32_t off)
{
	return mmio_read8(d->device + off);
}

uint32_t virtio_cfg32(struct virtio_dev *d, uint32_t off)
{
	return mmio_read32(d->device + off);
}

/* 64-bit fields are read as two halves; the generation counter says
 * whether the device changed them in between (§4.1.4.3.1) */
uint64_t virtio_cfg64(struct virtio_dev *d, uint32_t off)
{
	uint8_t gen;
	uint64_t v;
	int tries = 0;

	do {
		gen = mmio_read8(d->common + CC_GENERATION);
		v = mmio_read32(d->device + off) | (uint64_t)mmio_read32(d->device + off + 4) << 32;
	} while (gen != mmio_read8(d->common + CC_GENERATION) && ++tries < 100);
	return v;
}

void virtio_cfg_write32(struct virtio_dev *d, uint32_t off, uint32_t v)
{
	mmio_write32(d->device + off, v);
}
