/* Platform devices seen from the guest: fw_cfg, CMOS RTC, PCI config space,
 * the local APIC and ACPI tables. */
#ifndef GUEST_HW_H
#define GUEST_HW_H

#include "guest.h"

/* --- fw_cfg (QEMU docs/specs/fw_cfg.rst: selector 0x510, data 0x511) ----- */
#define FW_CFG_SIGNATURE    0x00
#define FW_CFG_ID	    0x01
#define FW_CFG_RAM_SIZE	    0x03
#define FW_CFG_NB_CPUS	    0x05
#define FW_CFG_CMDLINE_SIZE 0x14
#define FW_CFG_CMDLINE_DATA 0x15
#define FW_CFG_FILE_DIR	    0x19

void fwcfg_read(uint16_t key, void *buf, size_t len);
uint64_t fwcfg_read_u64(uint16_t key); /* little-endian item of up to 8 bytes */
uint32_t fwcfg_read_u32(uint16_t key);
uint16_t fwcfg_read_u16(uint16_t key);

/* --- CMOS / RTC (MC146818: index at 0x70, data at 0x71) -------------------- */
uint8_t cmos_read(uint8_t reg);
void cmos_write(uint8_t reg, uint8_t v);

/* --- PCI configuration mechanism #1 (0xCF8 address, 0xCFC data) ----------- */
uint32_t pci_read32(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off);
uint16_t pci_read16(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off);
uint8_t pci_read8(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off);
void pci_write32(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off, uint32_t v);
void pci_write16(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off, uint16_t v);
/* First function on bus 0 with this vendor:device; false if none. */
bool pci_find(uint16_t vendor, uint16_t device, uint8_t *dev, uint8_t *fn);
/* Address a memory BAR decodes (64-bit BARs read both halves); 0 if none. */
uint64_t pci_bar_addr(uint8_t dev, uint8_t fn, unsigned bar);

/* --- local APIC (xAPIC MMIO at 0xfee00000) --------------------------------- */
#define LAPIC_BASE   0xfee00000ul
#define LAPIC_ID     0x020
#define LAPIC_SVR    0x0f0
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
uint32_t lapic_read(uint32_t reg);
void lapic_write(uint32_t reg, uint32_t v);
unsigned lapic_id(void);

/* --- ACPI ------------------------------------------------------------------ */
struct acpi_sdt {
	char sig[4];
	uint32_t length;
	uint8_t revision, checksum;
	char oem_id[6], oem_table_id[8];
	uint32_t oem_revision, creator_id, creator_revision;
} __attribute__((packed));

/* RSDP in the BIOS area 0xE0000-0xFFFFF (ACPI 6.5 §5.2.5.1), checksum valid. */
const uint8_t *acpi_find_rsdp(void);
/* A table by signature through the RSDT/XSDT; NULL if absent or corrupt. */
const struct acpi_sdt *acpi_find_table(const char *sig);
uint8_t acpi_checksum(const void *p, size_t len);

#endif
