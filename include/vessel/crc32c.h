/* CRC-32C (Castagnoli), the checksum of Vessel's on-disk formats. */
#ifndef VESSEL_CRC32C_H
#define VESSEL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continues a running CRC: start with crc = 0. */
uint32_t vs_crc32c(uint32_t crc, const void *buf, size_t len);

#endif
