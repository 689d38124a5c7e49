/* Little-endian fields in byte buffers: the on-disk and on-wire formats
 * (snapshots, migration stream, ACPI tables, virtio config) are all
 * little-endian, whatever the host. */
#ifndef VESSEL_LE_H
#define VESSEL_LE_H

#include <stdint.h>

static inline void vs_le_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void vs_le_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void vs_le_put64(uint8_t *p, uint64_t v)
{
	vs_le_put32(p, (uint32_t)v);
	vs_le_put32(p + 4, (uint32_t)(v >> 32));
}

static inline uint32_t vs_le_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t vs_le_get64(const uint8_t *p)
{
	return (uint64_t)vs_le_get32(p) | (uint64_t)vs_le_get32(p + 4) << 32;
}

#endif
