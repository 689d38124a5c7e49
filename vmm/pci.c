/*
 * PCI bus 0: the host bridge (legacy configuration mechanism #1 at
 * 0xCF8/0xCFC and the ECAM window), type-0 configuration headers, BAR sizing
 * and relocation. The VMM plays the firmware: it assigns BARs at registration
 * and enables decoding, so guests without a PCI BIOS find devices ready.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/irq.h"
#include "vmm/pci.h"

#define PCI_VENDOR_ID	  0x00
#define PCI_COMMAND	  0x04
#define PCI_STATUS	  0x06
#define PCI_REVISION	  0x08
#define PCI_CLASS_PROG	  0x09
#define PCI_HEADER_TYPE	  0x0e
#define PCI_BAR0	  0x10
#define PCI_BAR_END	  0x28
#define PCI_SUBSYS_VENDOR 0x2c
#define PCI_CAP_PTR	  0x34
#define PCI_INT_LINE	  0x3c
#define PCI_INT_PIN	  0x3d
#define PCI_CAP_START	  0x40
#define PCI_CFG_SIZE	  0x100 /* legacy space; caps live below this */

#define PCI_CMD_IO	 0x0001
#define PCI_CMD_MEM	 0x0002
#define PCI_CMD_MASTER	 0x0004
#define PCI_CMD_INTX_DIS 0x0400
#define PCI_STATUS_CAPS	 0x0010

#define PCI_IO_BASE 0xc000u /* port BARs are allocated from here */
#define PCI_IO_END  0x10000u

/* Legacy configuration mechanism (PCI Local Bus 3.0 §3.2.2.3.2). */
#define CF8_ENABLE 0x80000000u
#define PORT_CF8   0xcf8
#define PORT_CFC   0xcfc

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void wr32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Address the guest programmed into BAR i (reads the upper half of a 64-bit
 * BAR from the next register). */
static uint64_t bar_programmed(const struct vm_pci_dev *d, int i)
{
	const struct vm_pci_bar *b = &d->bar[i];
	uint64_t lo = rd32(&d->config[PCI_BAR0 + 4 * i]);

	if (b->is_io)
		return lo & ~0x3ull;
	lo &= ~0xfull;
	if (b->is_64 && i < 5)
		lo |= (uint64_t)rd32(&d->config[PCI_BAR0 + 4 * (i + 1)]) << 32;
	return lo;
}

static bool bar_addr_valid(const struct vm_pci_bar *b, uint64_t addr)
{
	if (addr == 0 || addr + b->size < addr)
		return false;
	if (b->is_io)
		return addr + b->size <= PCI_IO_END;
	/* A 32-bit BAR that still holds the sizing pattern would cover the
	 * top of the address space (APIC, IOAPIC): do not decode it. */
	if (!b->is_64 && addr + b->size > 0xfee00000ull)
		return false;
	return true;
}

static void unmap_bar(struct vm_pci_bus *pci, struct vm_pci_bar *b)
{
	if (!b->mapped)
		return;
	vm_bus_unregister(b->is_io ? pci->pio : pci->mmio, b->addr, b->opaque);
	b->mapped = false;
}

void vm_pci_update_bars(struct vm_pci_bus *pci, struct vm_pci_dev *d)
{
	uint16_t cmd = rd16(&d->config[PCI_COMMAND]);

	for (int i = 0; i < 6; i++) {
		struct vm_pci_bar *b = &d->bar[i];

		if (!b->size)
			continue;
		uint64_t addr = bar_programmed(d, i);
		bool on = (cmd & (b->is_io ? PCI_CMD_IO : PCI_CMD_MEM)) && bar_addr_valid(b, addr);

		if (b->mapped && (!on || addr != b->addr))
			unmap_bar(pci, b);
		b->addr = addr;
		if (on && !b->mapped) {
			/* An overlap the guest programmed leaves the BAR
			 * undecoded, as two claimants would on real hardware
			 * be undefined; the guest only hurts itself. */
			b->mapped = vm_bus_register(b->is_io ? pci->pio : pci->mmio, addr, b->size,
						    b->fn, b->opaque, d->name, NULL) == 0;
		}
		if (b->is_64)
			i++;
	}
}

/* Configuration cycles are serialised, as a host bridge does: two vCPUs
 * reprogramming the same BAR must not interleave unmap and map. */
static pthread_mutex_t cfg_lock = PTHREAD_MUTEX_INITIALIZER;

static uint32_t config_read_locked(struct vm_pci_bus *pci, uint8_t slot, uint32_t off, uint32_t len)
{
	struct vm_pci_dev *d = slot < VM_PCI_MAX_DEVS ? pci->devs[slot] : NULL;
	uint32_t v = 0;

	if (!d || (len != 1 && len != 2 && len != 4) || off >= sizeof(d->config) ||
	    len > sizeof(d->config) - off)
		return len >= 4 ? 0xffffffffu : (1u << (8 * len)) - 1;
	if (d->config_read)
		d->config_read(d, off, len);
	for (uint32_t i = 0; i < len; i++)
		v |= (uint32_t)d->config[off + i] << (8 * i);
	return v;
}

uint32_t vm_pci_config_read(struct vm_pci_bus *pci, uint8_t slot, uint32_t off, uint32_t len)
{
	uint32_t v;

	pthread_mutex_lock(&cfg_lock);
	v = config_read_locked(pci, slot, off, len);
	pthread_mutex_unlock(&cfg_lock);
	return v;
}

static void config_write_locked(struct vm_pci_bus *pci, uint8_t slot, uint32_t off, uint32_t len,
				uint32_t val)
{
	struct vm_pci_dev *d = slot < VM_PCI_MAX_DEVS ? pci->devs[slot] : NULL;

	if (!d || (len != 1 && len != 2 && len != 4) || off >= sizeof(d->config) ||
	    len > sizeof(d->config) - off)
		return;
	for (uint32_t i = 0; i < len; i++) {
		uint8_t m = d->wmask[off + i], b = (uint8_t)(val >> (8 * i));

		d->config[off + i] = (uint8_t)((d->config[off + i] & ~m) | (b & m));
	}
	/* Command (decode enables) or a BAR changed: move the ranges. */
	if ((off < PCI_COMMAND + 2 && off + len > PCI_COMMAND) ||
	    (off < PCI_BAR_END && off + len > PCI_BAR0))
		vm_pci_update_bars(pci, d);
	if (d->config_written)
		d->config_written(d, off, len);
}

void vm_pci_config_write(struct vm_pci_bus *pci, uint8_t slot, uint32_t off, uint32_t len,
			 uint32_t val)
{
	pthread_mutex_lock(&cfg_lock);
	config_write_locked(pci, slot, off, len, val);
	pthread_mutex_unlock(&cfg_lock);
}

static uint64_t le_get(const uint8_t *data, uint32_t len)
{
	uint64_t v = 0;

	for (uint32_t i = 0; i < len && i < 8; i++)
		v |= (uint64_t)data[i] << (8 * i);
	return v;
}

static void le_put(uint8_t *data, uint32_t len, uint64_t v)
{
	for (uint32_t i = 0; i < len && i < 8; i++)
		data[i] = (uint8_t)(v >> (8 * i));
}

/* 0xCF8 CONFIG_ADDRESS: only whole 32-bit accesses reach the latch; narrower
 * accesses at 0xCF9.. belong to other devices (ACPI reset at 0xCF9). */
static void cf8_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct vm_pci_bus *pci = opaque;

	if (offset != 0 || len != 4) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	if (is_write)
		pci->cf8 = (uint32_t)le_get(data, 4);
	else
		le_put(data, 4, pci->cf8);
}

/* 0xCFC..0xCFF CONFIG_DATA: the dword selected by CONFIG_ADDRESS, at byte
 * (port & 3). Only bus 0 function 0 exists; the rest reads as all-ones. */
static void cfc_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct vm_pci_bus *pci = opaque;
	uint32_t a = pci->cf8;
	uint8_t bus = (uint8_t)(a >> 16), slot = (a >> 11) & 0x1f, fn = (a >> 8) & 7;
	uint32_t off = (a & 0xfc) + (uint32_t)(offset & 3);

	if (!(a & CF8_ENABLE) || bus || fn || (offset & 3) + len > 4) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	if (is_write)
		vm_pci_config_write(pci, slot, off, len, (uint32_t)le_get(data, len));
	else
		le_put(data, len, vm_pci_config_read(pci, slot, off, len));
}

/* ECAM (PCIe 4.0 §7.2.2): bus[27:20] dev[19:15] fn[14:12] reg[11:0]; our
 * window covers bus 0 only. */
static void ecam_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct vm_pci_bus *pci = opaque;
	uint8_t slot = (offset >> 15) & 0x1f, fn = (offset >> 12) & 7;
	uint32_t off = offset & 0xfff;

	if (offset >= VM_PCI_ECAM_SIZE || fn || len > 4 || off + len > 4096) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	if (is_write)
		vm_pci_config_write(pci, slot, off, len, (uint32_t)le_get(data, len));
	else
		le_put(data, len, vm_pci_config_read(pci, slot, off, len));
}

static int claim_slot(struct vm_pci_bus *pci, struct vm_pci_dev *d, uint8_t slot, struct vs_err *e)
{
	if (slot >= VM_PCI_MAX_DEVS)
		return vs_fail(e, ENOSPC, "pci: no free slot for %s (%d devices max)", d->name,
			       VM_PCI_MAX_DEVS - 1);
	d->slot = slot;
	pci->devs[slot] = d;
	return 0;
}

int vm_pci_bus_init(struct vm_pci_bus *pci, struct vm_bus *pio, struct vm_bus *mmio,
		    struct vs_err *e)
{
	struct vm_pci_dev *hb = &pci->host_bridge;

	memset(pci, 0, sizeof(*pci));
	pci->pio = pio;
	pci->mmio = mmio;
	pci->next_mmio = VM_PCI_MMIO_BASE;
	pci->next_io = PCI_IO_BASE;

	hb->name = "pci-host-bridge";
	/* Red Hat QEMU PCIe host bridge ids: guests bind no driver to it. */
	wr16(&hb->config[PCI_VENDOR_ID], 0x1b36);
	wr16(&hb->config[PCI_VENDOR_ID + 2], 0x0008);
	hb->config[PCI_CLASS_PROG + 2] = 0x06; /* bridge */
	hb->config[PCI_CLASS_PROG + 1] = 0x00; /* host bridge */
	wr16(&hb->config[PCI_SUBSYS_VENDOR], 0x1af4);
	wr16(&hb->config[PCI_SUBSYS_VENDOR + 2], 0x1100);
	wr16(&hb->config[PCI_COMMAND], PCI_CMD_MEM | PCI_CMD_MASTER);
	claim_slot(pci, hb, 0, NULL);

	/* 0xCF8 is claimed one byte wide so that 0xCF9 (ACPI reset) stays free
	 * for the platform; a dword access at 0xCF8 still lands here. */
	if (vm_bus_register(pio, PORT_CF8, 1, cf8_io, pci, "pci-cf8", e) < 0)
		goto fail;
	if (vm_bus_register(pio, PORT_CFC, 4, cfc_io, pci, "pci-cfc", e) < 0)
		goto fail_cf8;
	if (vm_bus_register(mmio, VM_PCI_ECAM_BASE, VM_PCI_ECAM_SIZE, ecam_io, pci, "pci-ecam", e) <
	    0)
		goto fail_cfc;
	return 0;

fail_cfc:
	vm_bus_unregister(pio, PORT_CFC, pci);
fail_cf8:
	vm_bus_unregister(pio, PORT_CF8, pci);
fail:
	pci->devs[0] = NULL;
	return vs_err_prefix(e, "pci host bridge");
}

void vm_pci_bus_destroy(struct vm_pci_bus *pci)
{
	if (!pci->devs[0])
		return;
	for (int s = 1; s < VM_PCI_MAX_DEVS; s++) {
		struct vm_pci_dev *d = pci->devs[s];

		for (int i = 0; d && i < 6; i++)
			unmap_bar(pci, &d->bar[i]);
		pci->devs[s] = NULL;
	}
	vm_bus_unregister(pci->mmio, VM_PCI_ECAM_BASE, pci);
	vm_bus_unregister(pci->pio, PORT_CFC, pci);
	vm_bus_unregister(pci->pio, PORT_CF8, pci);
	pci->devs[0] = NULL;
}

static int assign_bar(struct vm_pci_bus *pci, struct vm_pci_dev *d, int i, struct vs_err *e)
{
	struct vm_pci_bar *b = &d->bar[i];
	uint8_t *reg = &d->config[PCI_BAR0 + 4 * i], *wm = &d->wmask[PCI_BAR0 + 4 * i];
	uint64_t mask = ~(b->size - 1);

	if (b->size & (b->size - 1) || (b->is_io && b->size < 4) || (!b->is_io && b->size < 16))
		return vs_fail(e, EINVAL, "pci %s: BAR%d size %#llx is not a power of two >= %d",
			       d->name, i, (unsigned long long)b->size, b->is_io ? 4 : 16);
	if (b->is_64 && (b->is_io || i == 5))
		return vs_fail(e, EINVAL, "pci %s: BAR%d cannot be 64-bit", d->name, i);
	if (b->is_io) {
		uint32_t base = (pci->next_io + (uint32_t)b->size - 1) & ~((uint32_t)b->size - 1);

		if (base + b->size > PCI_IO_END)
			return vs_fail(e, ENOSPC, "pci %s: BAR%d: port space exhausted", d->name,
				       i);
		pci->next_io = (uint16_t)(base + b->size);
		wr32(reg, base | 1);
		wr32(wm, (uint32_t)mask & ~0x3u);
		return 0;
	}
	/* Memory BARs stay below 4 GiB, in the window the DSDT _CRS declares. */
	uint64_t base = (pci->next_mmio + b->size - 1) & mask;

	if (base < pci->next_mmio || base + b->size > VM_PCI_MMIO_BASE + VM_PCI_MMIO_SIZE)
		return vs_fail(e, ENOSPC, "pci %s: BAR%d: %#llx bytes do not fit the MMIO window",
			       d->name, i, (unsigned long long)b->size);
	pci->next_mmio = base + b->size;
	wr32(reg, (uint32_t)base | (b->is_64 ? 0x4 : 0));
	wr32(wm, (uint32_t)mask & ~0xfu);
	if (b->is_64) {
		wr32(reg + 4, (uint32_t)(base >> 32));
		wr32(wm + 4, (uint32_t)(mask >> 32));
	}
	return 0;
}

int vm_pci_register(struct vm_pci_bus *pci, struct vm_pci_dev *d, struct vs_err *e)
{
	uint8_t slot = 1;
	uint16_t cmd = PCI_CMD_MASTER;

	while (slot < VM_PCI_MAX_DEVS && pci->devs[slot])
		slot++;
	if (claim_slot(pci, d, slot, e) < 0)
		return -1;

	d->config[PCI_HEADER_TYPE] = 0;
	d->config[PCI_INT_PIN] = 1; /* INTA#; the _PRT maps it per slot */
	d->config[PCI_INT_LINE] = (uint8_t)VM_PCI_INTX_GSI(slot);
	d->wmask[PCI_INT_LINE] = 0xff;
	wr16(&d->wmask[PCI_COMMAND], PCI_CMD_IO | PCI_CMD_MEM | PCI_CMD_MASTER | PCI_CMD_INTX_DIS);
	for (int i = 0; i < 6; i++) {
		if (!d->bar[i].size)
			continue;
		if (assign_bar(pci, d, i, e) < 0)
			goto fail;
		cmd |= d->bar[i].is_io ? PCI_CMD_IO : PCI_CMD_MEM;
		d->bar[i].mapped = false;
		if (d->bar[i].is_64)
			i++;
	}
	wr16(&d->config[PCI_COMMAND], cmd);
	vm_pci_update_bars(pci, d);
	for (int i = 0; i < 6; i++) {
		if (d->bar[i].size && !d->bar[i].mapped) {
			vs_fail(e, EBUSY, "pci %s: BAR%d at %#llx overlaps another device", d->name,
				i, (unsigned long long)d->bar[i].addr);
			goto fail;
		}
		if (d->bar[i].is_64)
			i++;
	}
	return 0;

fail:
	for (int i = 0; i < 6; i++)
		unmap_bar(pci, &d->bar[i]);
	pci->devs[slot] = NULL;
	return -1;
}

static pthread_mutex_t intx_lock = PTHREAD_MUTEX_INITIALIZER;

static bool gsi_level(uint32_t asserted, uint32_t gsi)
{
	for (uint32_t s = 0; s < VM_PCI_MAX_DEVS; s++)
		if ((asserted & (1u << s)) && VM_PCI_INTX_GSI(s) == gsi)
			return true;
	return false;
}

void vm_pci_set_intx(struct vm_pci_bus *pci, const struct vm_irq *irq, uint8_t slot, bool level)
{
	uint32_t gsi = VM_PCI_INTX_GSI(slot), before, after;

	if (slot >= VM_PCI_MAX_DEVS)
		return;
	pthread_mutex_lock(&intx_lock);
	before = pci->intx_asserted;
	if (level)
		pci->intx_asserted |= 1u << slot;
	else
		pci->intx_asserted &= ~(1u << slot);
	after = pci->intx_asserted;
	bool was = gsi_level(before, gsi), now = gsi_level(after, gsi);

	if (was != now)
		vm_irq_line(irq, gsi, now);
	pthread_mutex_unlock(&intx_lock);
}

int vm_pci_add_cap(struct vm_pci_dev *d, const void *cap, uint8_t len)
{
	uint16_t at = d->cap_end ? d->cap_end : PCI_CAP_START;

	if (len < 2 || at + len > PCI_CFG_SIZE)
		return -1;
	memcpy(&d->config[at], cap, len);
	d->config[at + 1] = 0; /* end of list */
	if (!d->cap_end) {
		d->config[PCI_CAP_PTR] = (uint8_t)at;
	} else {
		/* Append: walk to the last capability and link it. */
		uint8_t p = d->config[PCI_CAP_PTR];

		while (d->config[p + 1])
			p = d->config[p + 1];
		d->config[p + 1] = (uint8_t)at;
	}
	d->config[PCI_STATUS] |= PCI_STATUS_CAPS;
	d->cap_end = (uint16_t)((at + len + 3) & ~3);
	return at;
}
