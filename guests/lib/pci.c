/* PCI configuration mechanism #1 (PCI Local Bus 3.0 §3.2.2.3.2) and the
 * local APIC registers. */
#include "hw.h"

static uint32_t cf8(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off)
{
	return 0x80000000u | (uint32_t)bus << 16 | (uint32_t)dev << 11 | (uint32_t)fn << 8 |
	       (off & 0xfc);
}

uint32_t pci_read32(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off)
{
	outl(0xcf8, cf8(bus, dev, fn, off));
	return inl(0xcfc);
}

uint16_t pci_read16(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off)
{
	outl(0xcf8, cf8(bus, dev, fn, off));
	return inw(0xcfc + (off & 2));
}

uint8_t pci_read8(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off)
{
	outl(0xcf8, cf8(bus, dev, fn, off));
	return inb(0xcfc + (off & 3));
}

void pci_write32(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off, uint32_t v)
{
	outl(0xcf8, cf8(bus, dev, fn, off));
	outl(0xcfc, v);
}

void pci_write16(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off, uint16_t v)
{
	outl(0xcf8, cf8(bus, dev, fn, off));
	outw(0xcfc + (off & 2), v);
}

bool pci_find(uint16_t vendor, uint16_t device, uint8_t *dev, uint8_t *fn)
{
	for (uint8_t d = 0; d < 32; d++) {
		for (uint8_t f = 0; f < 8; f++) {
			uint32_t id = pci_read32(0, d, f, 0);
			if (id == 0xffffffff) {
				if (f == 0)
					break;
				continue;
			}
			if ((id & 0xffff) == vendor && id >> 16 == device) {
				*dev = d;
				*fn = f;
				return true;
			}
			/* single-function device: functions 1-7 alias or are absent */
			if (f == 0 && !(pci_read8(0, d, 0, 0x0e) & 0x80))
				break;
		}
	}
	return false;
}

uint64_t pci_bar_addr(uint8_t dev, uint8_t fn, unsigned bar)
{
	uint32_t lo = pci_read32(0, dev, fn, 0x10 + 4 * bar);

	if (lo & 1)
		return 0; /* I/O BAR */
	uint64_t a = lo & ~0xfu;
	if ((lo & 0x6) == 0x4)
		a |= (uint64_t)pci_read32(0, dev, fn, 0x14 + 4 * bar) << 32;
	return a;
}

uint32_t lapic_read(uint32_t reg)
{
	return mmio_read32(LAPIC_BASE + reg);
}

void lapic_write(uint32_t reg, uint32_t v)
{
	mmio_write32(LAPIC_BASE + reg, v);
}

unsigned lapic_id(void)
{
	return lapic_read(LAPIC_ID) >> 24;
}
