/* fw_cfg through its I/O ports (QEMU docs/specs/fw_cfg.rst): writing a key to
 * the 16-bit selector port resets the data offset; each read of the data
 * port returns the next byte of the item. */
#include "hw.h"

void fwcfg_read(uint16_t key, void *buf, size_t len)
{
	uint8_t *p = buf;

	outw(PORT_FW_CFG, key);
	for (size_t i = 0; i < len; i++)
		p[i] = inb(PORT_FW_CFG + 1);
}

uint64_t fwcfg_read_u64(uint16_t key)
{
	uint8_t b[8];
	uint64_t v = 0;

	fwcfg_read(key, b, 8);
	for (int i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

uint32_t fwcfg_read_u32(uint16_t key)
{
	uint8_t b[4];

	fwcfg_read(key, b, 4);
	return b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
}

uint16_t fwcfg_read_u16(uint16_t key)
{
	uint8_t b[2];

	fwcfg_read(key, b, 2);
	return (uint16_t)(b[0] | b[1] << 8);
}

/* Bit 7 of the index port is the NMI mask on PC hardware: keep it clear. */
uint8_t cmos_read(uint8_t reg)
{
	outb(PORT_CMOS, reg & 0x7f);
	return inb(PORT_CMOS + 1);
}

void cmos_write(uint8_t reg, uint8_t v)
{
	outb(PORT_CMOS, reg & 0x7f);
	outb(PORT_CMOS + 1, v);
}
