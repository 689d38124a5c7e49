/*
 * Modern virtio-pci transport (virtio 1.2 §4.1): one memory BAR holding the
 * common config, ISR, device config, notification area and the MSI-X table
 * and PBA, described to the driver by vendor capabilities. Queue
 * notifications go through a per-queue eventfd into the device event loop
 * (KVM ioeventfd when the core offers it, else our notify handler signals the
 * eventfd); interrupts are MSI-X messages or, with MSI-X off, the slot's INTx
 * line with ISR semantics.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vessel/log.h"
#include "vmm/devices/virtio/virtio.h"

/* virtio_pci_cap cfg_type values (§4.1.4). */
#define CAP_COMMON  1
#define CAP_NOTIFY  2
#define CAP_ISR	    3
#define CAP_DEVICE  4
#define CAP_PCI_CFG 5

#define PCI_CAP_ID_VNDR	 0x09
#define PCI_CAP_ID_MSIX	 0x11
#define MSIX_CTRL_ENABLE 0x8000
#define MSIX_CTRL_MASK	 0x4000
#define PCI_CMD_INTX_DIS 0x0400

/* Common configuration layout (§4.1.4.3). */
#define CC_DFSELECT    0x00
#define CC_DF	       0x04
#define CC_GFSELECT    0x08
#define CC_GF	       0x0c
#define CC_MSIX_CONFIG 0x10
#define CC_NUM_QUEUES  0x12
#define CC_STATUS      0x14
#define CC_CFG_GEN     0x15
#define CC_Q_SELECT    0x16
#define CC_Q_SIZE      0x18
#define CC_Q_MSIX      0x1a
#define CC_Q_ENABLE    0x1c
#define CC_Q_NOFF      0x1e
#define CC_Q_DESC      0x20
#define CC_Q_DRIVER    0x28
#define CC_Q_DEVICE    0x30
#define CC_SIZE	       0x38

static uint64_t le_get(const uint8_t *p, uint32_t len)
{
	uint64_t v = 0;

	for (uint32_t i = 0; i < len && i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void le_put(uint8_t *p, uint32_t len, uint64_t v)
{
	for (uint32_t i = 0; i < len && i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

bool vm_virtio_has_feature(const struct vm_virtio_dev *d, unsigned bit)
{
	return bit < 64 && (d->guest_features >> bit) & 1;
}

bool vm_virtio_running(const struct vm_virtio_dev *d)
{
	return (d->status & VIRTIO_STATUS_DRIVER_OK) && !d->broken;
}

static uint16_t nvec(const struct vm_virtio_dev *d)
{
	return (uint16_t)(d->ops->nr_queues + 1);
}

static uint16_t msix_ctrl(const struct vm_virtio_dev *d)
{
	return (uint16_t)le_get(&d->pci.config[d->msix_cap + 2], 2);
}

static bool msix_enabled(const struct vm_virtio_dev *d)
{
	return msix_ctrl(d) & MSIX_CTRL_ENABLE;
}

static bool msix_masked(const struct vm_virtio_dev *d, uint16_t v)
{
	return (msix_ctrl(d) & MSIX_CTRL_MASK) || (d->msix_table[16 * v + 12] & 1);
}

static void msix_fire(struct vm_virtio_dev *d, uint16_t v)
{
	const uint8_t *ent = &d->msix_table[16 * v];

	vm_irq_msi(d->ctx->irq, le_get(ent, 8), (uint32_t)le_get(ent + 8, 4));
}

static void intx_update(struct vm_virtio_dev *d)
{
	uint16_t cmd = (uint16_t)le_get(&d->pci.config[4], 2);
	bool level = d->isr && !msix_enabled(d) && !(cmd & PCI_CMD_INTX_DIS);

	if (level != d->intx_level) {
		d->intx_level = level;
		vm_pci_set_intx(d->ctx->pci, d->ctx->irq, d->pci.slot, level);
	}
}

/* Signals vector v (MSI-X) or sets isr_bit and raises INTx (§4.1.5.3/4). */
static void interrupt(struct vm_virtio_dev *d, uint16_t v, uint8_t isr_bit)
{
	if (msix_enabled(d)) {
		if (isr_bit == 2)
			d->isr |= 2;
		if (v == VIRTIO_MSI_NO_VECTOR || v >= nvec(d))
			return;
		if (msix_masked(d, v))
			d->msix_pending |= 1u << v;
		else
			msix_fire(d, v);
		return;
	}
	d->isr |= isr_bit;
	intx_update(d);
}

/* Deliver pending vectors that are no longer masked (PCI 3.0 §6.8.3.5). */
static void msix_deliver_pending(struct vm_virtio_dev *d)
{
	if (!msix_enabled(d))
		return;
	for (uint16_t v = 0; v < nvec(d); v++) {
		if ((d->msix_pending & (1u << v)) && !msix_masked(d, v)) {
			d->msix_pending &= ~(1u << v);
			msix_fire(d, v);
		}
	}
}

void vm_virtio_notify_used(struct vm_virtio_dev *d, unsigned q)
{
	if (q < d->ops->nr_queues && vm_vq_should_notify(&d->vq[q]))
		interrupt(d, d->vq[q].msix_vector, 1);
}

void vm_virtio_config_changed(struct vm_virtio_dev *d)
{
	d->config_gen++;
	if (d->status & VIRTIO_STATUS_DRIVER_OK || d->broken)
		interrupt(d, d->msix_config, 2);
}

void vm_virtio_set_broken(struct vm_virtio_dev *d, const char *fmt, ...)
{
	va_list ap;

	if (d->broken)
		return;
	va_start(ap, fmt);
	vsnprintf(d->broken_why, sizeof(d->broken_why), fmt, ap);
	va_end(ap);
	d->broken = true;
	d->status |= VIRTIO_STATUS_NEEDS_RESET;
	/* A guest can only hurt itself: logged once as a warning, the VMM
	 * keeps running. */
	vs_warn("%s (slot %u): device needs reset: %s", d->ops->name, d->pci.slot, d->broken_why);
	vm_virtio_config_changed(d);
}

/* Runs queue q if the device may process buffers (§3.1.1: not before
 * DRIVER_OK). Lock held. */
static void run_queue(struct vm_virtio_dev *d, unsigned q)
{
	if (q >= d->ops->nr_queues || !vm_virtio_running(d) || !d->vq[q].enabled)
		return;
	d->ops->queue_notify(d, q);
}

void vm_virtio_kick(struct vm_virtio_dev *d, unsigned q)
{
	pthread_mutex_lock(&d->lock);
	run_queue(d, q);
	pthread_mutex_unlock(&d->lock);
}

static void kick_event(void *opaque, uint32_t events)
{
	struct vm_virtio_dev *d = opaque;
	uint64_t cnt;

	/* opaque is the device; which queue comes from the fd we drain. */
	for (unsigned q = 0; q < d->ops->nr_queues; q++) {
		if (d->kick_fd[q] >= 0 && read(d->kick_fd[q], &cnt, sizeof(cnt)) == sizeof(cnt))
			vm_virtio_kick(d, q);
	}
}

static void register_ioeventfds(struct vm_virtio_dev *d)
{
	struct vm_ctx *ctx = d->ctx;

	if (d->ioeventfd_done || !ctx->add_ioeventfd || !ctx->loop)
		return;
	d->ioeventfd_done = true;
	for (unsigned q = 0; q < d->ops->nr_queues; q++) {
		uint64_t a = d->pci.bar[0].addr + VM_VIRTIO_NOTIFY_OFF + q * VM_VIRTIO_NOTIFY_MULT;

		/* Failure is not fatal: the notify handler below still
		 * signals the same eventfd, just through a VM exit. */
		ctx->add_ioeventfd(ctx, a, 2, false, d->kick_fd[q], NULL);
	}
}

static void device_reset(struct vm_virtio_dev *d)
{
	if (d->ops->reset)
		d->ops->reset(d);
	d->status = 0;
	d->guest_features = 0;
	d->dfselect = d->gfselect = 0;
	d->queue_sel = 0;
	d->msix_config = VIRTIO_MSI_NO_VECTOR;
	d->isr = 0;
	d->broken = false;
	d->broken_why[0] = '\0';
	d->msix_pending = 0;
	for (unsigned q = 0; q < d->ops->nr_queues; q++)
		vm_vq_reset(&d->vq[q], q, d->ops->queue_size);
	intx_update(d);
}

/* FEATURES_OK (§3.1.1 step 5, §2.2.1): the driver may only accept what we
 * offered, and a modern device requires VIRTIO_F_VERSION_1. */
static bool features_ok(struct vm_virtio_dev *d)
{
	if (d->guest_features & ~d->host_features)
		return false;
	if (!vm_virtio_has_feature(d, VIRTIO_F_VERSION_1))
		return false;
	for (unsigned q = 0; q < d->ops->nr_queues; q++) {
		d->vq[q].event_idx = vm_virtio_has_feature(d, VIRTIO_F_EVENT_IDX);
		d->vq[q].indirect = vm_virtio_has_feature(d, VIRTIO_F_INDIRECT_DESC);
	}
	return true;
}

static void write_status(struct vm_virtio_dev *d, uint8_t val)
{
	uint8_t old = d->status, neu;
	struct vs_err e;

	if (val == 0) {
		device_reset(d);
		return;
	}
	/* Bits are only ever added by the driver; NEEDS_RESET is ours. */
	neu = (uint8_t)(val | (old & VIRTIO_STATUS_NEEDS_RESET));
	if ((neu & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK) &&
	    !features_ok(d))
		neu &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK; /* driver re-reads and gives up */
	d->status = neu;
	if ((neu & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK) && !d->broken) {
		if (!(neu & VIRTIO_STATUS_FEATURES_OK)) {
			vm_virtio_set_broken(d, "DRIVER_OK set without FEATURES_OK");
			return;
		}
		if (d->ops->activate && d->ops->activate(d, &e) < 0) {
			vm_virtio_set_broken(d, "%s", e.msg);
			return;
		}
		register_ioeventfds(d);
	}
}

static struct vm_vq *sel_queue(struct vm_virtio_dev *d)
{
	return d->queue_sel < d->ops->nr_queues ? &d->vq[d->queue_sel] : NULL;
}

static uint64_t common_read(struct vm_virtio_dev *d, uint32_t off, uint32_t len)
{
	struct vm_vq *q = sel_queue(d);
	uint8_t buf[CC_SIZE] = {0};

	le_put(buf + CC_DFSELECT, 4, d->dfselect);
	if (d->dfselect < 2)
		le_put(buf + CC_DF, 4, (uint32_t)(d->host_features >> (32 * d->dfselect)));
	le_put(buf + CC_GFSELECT, 4, d->gfselect);
	if (d->gfselect < 2)
		le_put(buf + CC_GF, 4, (uint32_t)(d->guest_features >> (32 * d->gfselect)));
	le_put(buf + CC_MSIX_CONFIG, 2, d->msix_config);
	le_put(buf + CC_NUM_QUEUES, 2, d->ops->nr_queues);
	buf[CC_STATUS] = d->status;
	buf[CC_CFG_GEN] = d->config_gen;
	le_put(buf + CC_Q_SELECT, 2, d->queue_sel);
	if (q) {
		le_put(buf + CC_Q_SIZE, 2, q->size);
		le_put(buf + CC_Q_MSIX, 2, q->msix_vector);
		le_put(buf + CC_Q_ENABLE, 2, q->enabled);
		le_put(buf + CC_Q_NOFF, 2, d->queue_sel);
		le_put(buf + CC_Q_DESC, 8, q->desc_gpa);
		le_put(buf + CC_Q_DRIVER, 8, q->avail_gpa);
		le_put(buf + CC_Q_DEVICE, 8, q->used_gpa);
	}
	if (off >= CC_SIZE || len > CC_SIZE - off)
		return 0;
	return le_get(buf + off, len);
}

/* Sets part of a 64-bit queue address: the driver may write it as one
 * 64-bit or two 32-bit accesses (§4.1.3.1). */
static void set_part(uint64_t *field, uint32_t at, uint32_t len, uint64_t v)
{
	uint8_t b[8];

	le_put(b, 8, *field);
	le_put(b + at, len, v);
	*field = le_get(b, 8);
}

static void common_write(struct vm_virtio_dev *d, uint32_t off, uint32_t len, uint64_t v)
{
	struct vm_vq *q = sel_queue(d);
	struct vs_err e;

	switch (off) {
	case CC_DFSELECT: d->dfselect = (uint32_t)v; return;
	case CC_GFSELECT: d->gfselect = (uint32_t)v; return;
	case CC_GF:
		/* Features are frozen once FEATURES_OK is set (§3.1.1). */
		if (d->gfselect < 2 && !(d->status & VIRTIO_STATUS_FEATURES_OK)) {
			unsigned sh = 32 * d->gfselect;

			d->guest_features &= ~(0xffffffffull << sh);
			d->guest_features |= (uint64_t)(uint32_t)v << sh;
		}
		return;
	case CC_MSIX_CONFIG:
		d->msix_config = v < nvec(d) ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
		return;
	case CC_STATUS: write_status(d, (uint8_t)v); return;
	case CC_Q_SELECT: d->queue_sel = (uint16_t)v; return;
	}
	if (!q)
		return;
	if (off == CC_Q_MSIX) {
		q->msix_vector = v < nvec(d) ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
		return;
	}
	/* §4.1.4.3.2: queue layout is fixed while the queue is enabled. */
	if (q->enabled)
		return;
	if (off == CC_Q_SIZE && len == 2) {
		q->size = (uint16_t)v;
	} else if (off == CC_Q_ENABLE && len == 2 && v == 1) {
		if (vm_vq_enable(q, d->ctx->mem, &e) < 0)
			vm_virtio_set_broken(d, "%s", e.msg);
	} else if (off >= CC_Q_DESC && off + len <= CC_SIZE && (len == 4 || len == 8)) {
		uint32_t at = (off - CC_Q_DESC) % 8;
		uint64_t *f = off < CC_Q_DRIVER	  ? &q->desc_gpa
			      : off < CC_Q_DEVICE ? &q->avail_gpa
						  : &q->used_gpa;

		if (at + len <= 8)
			set_part(f, at, len, v);
	}
}

static void notify_write(struct vm_virtio_dev *d, uint64_t off)
{
	unsigned q = (unsigned)(off / VM_VIRTIO_NOTIFY_MULT);
	uint64_t one = 1;

	if (q >= d->ops->nr_queues)
		return;
	if (d->kick_fd[q] >= 0) {
		/* The loop thread runs the queue, as with a KVM ioeventfd. */
		if (write(d->kick_fd[q], &one, sizeof(one)) < 0) {
			/* counter saturated: a kick is already pending */
		}
		return;
	}
	run_queue(d, q);
}

static void msix_table_access(struct vm_virtio_dev *d, uint64_t off, uint8_t *data, uint32_t len,
			      bool is_write)
{
	if (off + len > 16u * nvec(d) || (off & 3) || (len != 4 && len != 8)) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	if (!is_write) {
		memcpy(data, &d->msix_table[off], len);
		return;
	}
	memcpy(&d->msix_table[off], data, len);
	d->msix_table[(off & ~15ull) + 12] &= 1; /* only the mask bit is defined */
	msix_deliver_pending(d);
}

static void bar_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct vm_virtio_dev *d = opaque;

	pthread_mutex_lock(&d->lock);
	if (off < VM_VIRTIO_ISR_OFF) {
		if (is_write)
			common_write(d, (uint32_t)off, len, le_get(data, len));
		else
			le_put(data, len, common_read(d, (uint32_t)off, len));
	} else if (off < VM_VIRTIO_DEVICE_OFF) {
		/* ISR (§4.1.4.5): reading clears it and lowers INTx. */
		if (!is_write) {
			memset(data, 0, len);
			if (off == VM_VIRTIO_ISR_OFF) {
				data[0] = d->isr;
				d->isr = 0;
				intx_update(d);
			}
		}
	} else if (off < VM_VIRTIO_NOTIFY_OFF) {
		uint64_t o = off - VM_VIRTIO_DEVICE_OFF;

		if (o >= d->ops->config_size || len > d->ops->config_size - o) {
			if (!is_write)
				memset(data, 0, len);
		} else if (is_write) {
			if (d->ops->config_write) {
				memcpy(&d->config[o], data, len);
				d->ops->config_write(d, (uint32_t)o, len);
			}
		} else {
			memcpy(data, &d->config[o], len);
		}
	} else if (off < VM_VIRTIO_MSIX_OFF) {
		if (is_write)
			notify_write(d, off - VM_VIRTIO_NOTIFY_OFF);
		else
			memset(data, 0, len);
	} else if (off < VM_VIRTIO_PBA_OFF) {
		msix_table_access(d, off - VM_VIRTIO_MSIX_OFF, data, len, is_write);
	} else if (!is_write) {
		uint64_t o = off - VM_VIRTIO_PBA_OFF;

		memset(data, 0, len);
		if (o < 8)
			le_put(data, len, (uint64_t)d->msix_pending >> (8 * o));
	}
	pthread_mutex_unlock(&d->lock);
}

/*
 * VIRTIO_PCI_CAP_PCI_CFG (§4.1.4.9): a window into BAR 0 through config
 * space. The driver sets bar/offset/length in the capability, then reads or
 * writes pci_cfg_data; we perform that access on the BAR.
 */
static bool pcicfg_access(struct vm_virtio_dev *d, uint32_t off, uint32_t len, uint32_t *boff,
			  uint32_t *blen)
{
	uint8_t *c = &d->pci.config[d->pcicfg_cap];

	if (!d->pcicfg_cap || off >= d->pcicfg_cap + 20u || off + len <= d->pcicfg_cap + 16u)
		return false;
	*boff = (uint32_t)le_get(c + 8, 4);
	*blen = (uint32_t)le_get(c + 12, 4);
	/* §4.1.4.9.1: length 1, 2 or 4, offset aligned to it, BAR 0 only */
	return c[4] == 0 && (*blen == 1 || *blen == 2 || *blen == 4) && !(*boff % *blen) &&
	       *boff < VM_VIRTIO_BAR_SIZE;
}

static void bar_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write);

static void config_read(struct vm_pci_dev *p, uint32_t off, uint32_t len)
{
	struct vm_virtio_dev *d = (struct vm_virtio_dev *)p;
	uint32_t boff, blen;
	uint8_t buf[4] = {0};

	if (!pcicfg_access(d, off, len, &boff, &blen))
		return;
	bar_io(d, boff, buf, blen, false);
	memcpy(&d->pci.config[d->pcicfg_cap + 16], buf, 4);
}

static void config_written(struct vm_pci_dev *p, uint32_t off, uint32_t len)
{
	struct vm_virtio_dev *d = (struct vm_virtio_dev *)p;
	uint32_t boff, blen;

	if (pcicfg_access(d, off, len, &boff, &blen))
		bar_io(d, boff, &d->pci.config[d->pcicfg_cap + 16], blen, true);
	pthread_mutex_lock(&d->lock);
	/* MSI-X enable/mask, or INTx disable in the command register. */
	msix_deliver_pending(d);
	intx_update(d);
	pthread_mutex_unlock(&d->lock);
}

static int add_vcap(struct vm_virtio_dev *d, uint8_t type, uint32_t off, uint32_t len, bool notify)
{
	/* notify and PCI_CFG caps carry 4 more bytes after virtio_pci_cap */
	uint8_t cap[20] = {PCI_CAP_ID_VNDR, 0, notify || type == CAP_PCI_CFG ? 20 : 16, type,
			   0 /* BAR 0 */};

	le_put(cap + 8, 4, off);
	le_put(cap + 12, 4, len);
	if (notify)
		le_put(cap + 16, 4, VM_VIRTIO_NOTIFY_MULT);
	return vm_pci_add_cap(&d->pci, cap, cap[2]);
}

static int build_pci(struct vm_virtio_dev *d, struct vs_err *e)
{
	struct vm_pci_dev *p = &d->pci;
	const struct vm_virtio_ops *o = d->ops;
	uint8_t msix[12] = {PCI_CAP_ID_MSIX};
	int at;

	p->name = o->name;
	le_put(&p->config[0], 2, 0x1af4);
	le_put(&p->config[2], 2, 0x1040 + o->type);
	p->config[8] = 1; /* revision 1: modern-only device (§4.1.2.1) */
	le_put(&p->config[9], 3, o->pci_class);
	le_put(&p->config[0x2c], 2, 0x1af4);
	le_put(&p->config[0x2e], 2, 0x1100);
	p->bar[0] = (struct vm_pci_bar){.size = VM_VIRTIO_BAR_SIZE, .fn = bar_io, .opaque = d};
	p->config_written = config_written;
	p->config_read = config_read;
	p->opaque = d;

	if (add_vcap(d, CAP_COMMON, VM_VIRTIO_COMMON_OFF, CC_SIZE, false) < 0 ||
	    add_vcap(d, CAP_ISR, VM_VIRTIO_ISR_OFF, 1, false) < 0 ||
	    add_vcap(d, CAP_NOTIFY, VM_VIRTIO_NOTIFY_OFF,
		     (uint32_t)o->nr_queues * VM_VIRTIO_NOTIFY_MULT, true) < 0 ||
	    (o->config_size &&
	     add_vcap(d, CAP_DEVICE, VM_VIRTIO_DEVICE_OFF, o->config_size, false) < 0))
		return vs_fail(e, ENOSPC, "PCI capabilities do not fit");
	/* MSI-X (PCI 3.0 §6.8.2): table and PBA in BAR 0. */
	le_put(msix + 2, 2, (uint16_t)(nvec(d) - 1));
	le_put(msix + 4, 4, VM_VIRTIO_MSIX_OFF);
	le_put(msix + 8, 4, VM_VIRTIO_PBA_OFF);
	at = vm_pci_add_cap(p, msix, sizeof(msix));
	if (at < 0)
		return vs_fail(e, ENOSPC, "PCI capabilities do not fit");
	d->msix_cap = (uint16_t)at;
	at = add_vcap(d, CAP_PCI_CFG, 0, 0, false);
	if (at < 0)
		return vs_fail(e, ENOSPC, "PCI capabilities do not fit");
	/* bar, offset, length and pci_cfg_data are the driver's */
	d->pcicfg_cap = (uint16_t)at;
	p->wmask[at + 4] = 0xff;
	memset(&p->wmask[at + 8], 0xff, 12);
	p->wmask[d->msix_cap + 3] = (MSIX_CTRL_ENABLE | MSIX_CTRL_MASK) >> 8;
	for (uint16_t v = 0; v < nvec(d); v++)
		d->msix_table[16 * v + 12] = 1; /* masked at reset */
	return 0;
}

/* Live instances, for vm_virtio_lookup. */
static struct vm_virtio_dev *instances[VM_PCI_MAX_DEVS];

struct vm_virtio_dev *vm_virtio_lookup(uint16_t type, unsigned nth)
{
	for (unsigned i = 0; i < VM_PCI_MAX_DEVS; i++) {
		if (instances[i] && instances[i]->ops->type == type && nth-- == 0)
			return instances[i];
	}
	return NULL;
}

static void track(struct vm_virtio_dev *d, bool add)
{
	for (unsigned i = 0; i < VM_PCI_MAX_DEVS; i++) {
		if (add ? !instances[i] : instances[i] == d) {
			instances[i] = add ? d : NULL;
			return;
		}
	}
}

int vm_virtio_init(struct vm_virtio_dev *d, struct vm_ctx *ctx, const struct vm_virtio_ops *ops,
		   uint64_t features, void *priv, struct vs_err *e)
{
	memset(d, 0, sizeof(*d));
	d->ops = ops;
	d->ctx = ctx;
	d->priv = priv;
	for (unsigned q = 0; q < VM_VIRTIO_MAX_QUEUES; q++)
		d->kick_fd[q] = -1;
	if (ops->nr_queues == 0 || ops->nr_queues > VM_VIRTIO_MAX_QUEUES ||
	    ops->queue_size > VM_VQ_MAX_SIZE || ops->config_size > VM_VIRTIO_MAX_CONFIG)
		return vs_fail(e, EINVAL, "%s: unsupported queue/config layout", ops->name);
	pthread_mutex_init(&d->lock, NULL);
	/* ACCESS_PLATFORM and RING_PACKED are never offered: buffers are
	 * guest-physical addresses and only split rings are implemented. */
	d->host_features = features | 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_F_INDIRECT_DESC |
			   1ull << VIRTIO_F_EVENT_IDX;
	d->host_features &= ~(1ull << VIRTIO_F_ACCESS_PLATFORM | 1ull << VIRTIO_F_RING_PACKED);
	device_reset(d);
	if (build_pci(d, e) < 0)
		goto fail;
	if (ctx->loop) {
		for (unsigned q = 0; q < ops->nr_queues; q++) {
			d->kick_fd[q] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
			if (d->kick_fd[q] < 0) {
				vs_fail_errno(e, "%s: eventfd", ops->name);
				goto fail;
			}
			if (vm_event_add(ctx->loop, d->kick_fd[q], 0x001 /* EPOLLIN */, kick_event,
					 d, e) < 0)
				goto fail;
		}
	}
	if (vm_pci_register(ctx->pci, &d->pci, e) < 0)
		goto fail;
	track(d, true);
	return 0;
fail:
	vs_err_prefix(e, "%s", ops->name);
	for (unsigned q = 0; q < VM_VIRTIO_MAX_QUEUES; q++) {
		if (d->kick_fd[q] >= 0) {
			vm_event_del(ctx->loop, d->kick_fd[q]);
			close(d->kick_fd[q]);
			d->kick_fd[q] = -1;
		}
	}
	pthread_mutex_destroy(&d->lock);
	return -1;
}

void vm_virtio_destroy(struct vm_virtio_dev *d)
{
	if (!d->ops)
		return;
	if (d->ops->reset)
		d->ops->reset(d);
	for (unsigned q = 0; q < VM_VIRTIO_MAX_QUEUES; q++) {
		if (d->kick_fd[q] >= 0) {
			if (d->ctx->loop)
				vm_event_del(d->ctx->loop, d->kick_fd[q]);
			close(d->kick_fd[q]);
			d->kick_fd[q] = -1;
		}
	}
	if (d->intx_level && d->ctx->pci)
		vm_pci_set_intx(d->ctx->pci, d->ctx->irq, d->pci.slot, false);
	d->intx_level = false;
	if (d->ctx->pci && d->pci.slot && d->ctx->pci->devs[d->pci.slot] == &d->pci) {
		for (int i = 0; i < 6; i++) {
			if (d->pci.bar[i].mapped) {
				vm_bus_unregister(d->pci.bar[i].is_io ? d->ctx->pio : d->ctx->mmio,
						  d->pci.bar[i].addr, d->pci.bar[i].opaque);
				d->pci.bar[i].mapped = false;
			}
		}
		d->ctx->pci->devs[d->pci.slot] = NULL;
	}
	pthread_mutex_destroy(&d->lock);
	track(d, false);
	d->ops = NULL;
}

/* ---- save / restore ------------------------------------------------------ */

#define VIRTIO_STATE_VERSION 1

void vm_virtio_save(struct vm_virtio_dev *d, struct vm_state_writer *w)
{
	pthread_mutex_lock(&d->lock);
	vm_sw_u32(w, VIRTIO_STATE_VERSION);
	vm_sw_u16(w, d->ops->type);
	vm_sw_u16(w, d->ops->nr_queues);
	vm_sw_u8(w, d->status);
	vm_sw_u64(w, d->guest_features);
	vm_sw_u32(w, d->dfselect);
	vm_sw_u32(w, d->gfselect);
	vm_sw_u16(w, d->queue_sel);
	vm_sw_u16(w, d->msix_config);
	vm_sw_u8(w, d->config_gen);
	vm_sw_u8(w, d->isr);
	vm_sw_u8(w, d->broken);
	vm_sw_bytes(w, d->pci.config, 256);
	vm_sw_bytes(w, d->msix_table, sizeof(d->msix_table));
	vm_sw_u32(w, d->msix_pending);
	vm_sw_bytes(w, d->config, sizeof(d->config));
	for (unsigned i = 0; i < d->ops->nr_queues; i++) {
		const struct vm_vq *q = &d->vq[i];

		vm_sw_u16(w, q->size);
		vm_sw_u8(w, q->enabled);
		vm_sw_u64(w, q->desc_gpa);
		vm_sw_u64(w, q->avail_gpa);
		vm_sw_u64(w, q->used_gpa);
		vm_sw_u16(w, q->msix_vector);
		vm_sw_u16(w, q->last_avail);
		vm_sw_u16(w, q->used_idx);
		vm_sw_u16(w, q->signalled_used);
		vm_sw_u8(w, q->signalled_valid);
	}
	pthread_mutex_unlock(&d->lock);
}

static int restore_locked(struct vm_virtio_dev *d, struct vm_state_reader *r, struct vs_err *e)
{
	uint32_t ver, pend;
	uint16_t type, nq;
	uint8_t broken, pcicfg[256];

	if (vm_sr_u32(r, &ver, e) < 0 || vm_sr_u16(r, &type, e) < 0 || vm_sr_u16(r, &nq, e) < 0)
		return -1;
	if (ver != VIRTIO_STATE_VERSION)
		return vs_fail(e, EINVAL, "unknown virtio state version %u", ver);
	if (type != d->ops->type || nq != d->ops->nr_queues)
		return vs_fail(e, EINVAL, "state is for virtio type %u with %u queues, not %u/%u",
			       type, nq, d->ops->type, d->ops->nr_queues);
	if (vm_sr_u8(r, &d->status, e) < 0 || vm_sr_u64(r, &d->guest_features, e) < 0 ||
	    vm_sr_u32(r, &d->dfselect, e) < 0 || vm_sr_u32(r, &d->gfselect, e) < 0 ||
	    vm_sr_u16(r, &d->queue_sel, e) < 0 || vm_sr_u16(r, &d->msix_config, e) < 0 ||
	    vm_sr_u8(r, &d->config_gen, e) < 0 || vm_sr_u8(r, &d->isr, e) < 0 ||
	    vm_sr_u8(r, &broken, e) < 0 || vm_sr_bytes(r, pcicfg, sizeof(pcicfg), e) < 0 ||
	    vm_sr_bytes(r, d->msix_table, sizeof(d->msix_table), e) < 0 ||
	    vm_sr_u32(r, &pend, e) < 0 || vm_sr_bytes(r, d->config, sizeof(d->config), e) < 0)
		return -1;
	if (d->guest_features & ~d->host_features)
		return vs_fail(e, EINVAL, "saved features %#llx not offered by this device",
			       (unsigned long long)d->guest_features);
	d->broken = broken;
	d->msix_pending = pend;
	/* Only the guest-writable parts of config space come back; ids and
	 * capability layout are this build's. */
	for (int i = 0; i < 256; i++)
		d->pci.config[i] = (uint8_t)((d->pci.config[i] & ~d->pci.wmask[i]) |
					     (pcicfg[i] & d->pci.wmask[i]));
	features_ok(d);
	for (unsigned i = 0; i < nq; i++) {
		struct vm_vq *q = &d->vq[i];
		uint8_t en, sv;

		vm_vq_reset(q, i, d->ops->queue_size);
		q->event_idx = vm_virtio_has_feature(d, VIRTIO_F_EVENT_IDX);
		q->indirect = vm_virtio_has_feature(d, VIRTIO_F_INDIRECT_DESC);
		if (vm_sr_u16(r, &q->size, e) < 0 || vm_sr_u8(r, &en, e) < 0 ||
		    vm_sr_u64(r, &q->desc_gpa, e) < 0 || vm_sr_u64(r, &q->avail_gpa, e) < 0 ||
		    vm_sr_u64(r, &q->used_gpa, e) < 0 || vm_sr_u16(r, &q->msix_vector, e) < 0 ||
		    vm_sr_u16(r, &q->last_avail, e) < 0 || vm_sr_u16(r, &q->used_idx, e) < 0 ||
		    vm_sr_u16(r, &q->signalled_used, e) < 0 || vm_sr_u8(r, &sv, e) < 0)
			return -1;
		q->signalled_valid = sv;
		/* The rings are re-checked against this VM's memory map. */
		if (en && vm_vq_enable(q, d->ctx->mem, e) < 0)
			return -1;
	}
	vm_pci_update_bars(d->ctx->pci, &d->pci);
	intx_update(d);
	return 0;
}

int vm_virtio_restore(struct vm_virtio_dev *d, struct vm_state_reader *r, struct vs_err *e)
{
	int ret;

	pthread_mutex_lock(&d->lock);
	ret = restore_locked(d, r, e);
	pthread_mutex_unlock(&d->lock);
	if (ret < 0)
		return vs_err_prefix(e, "%s", d->ops->name);
	if (vm_virtio_running(d)) {
		/* Backends (tap, sockets) start as on DRIVER_OK. */
		pthread_mutex_lock(&d->lock);
		ret = d->ops->activate ? d->ops->activate(d, e) : 0;
		pthread_mutex_unlock(&d->lock);
		if (ret < 0)
			return vs_err_prefix(e, "%s", d->ops->name);
		register_ioeventfds(d);
	}
	return 0;
}
