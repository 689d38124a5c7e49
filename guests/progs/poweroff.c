/* poweroff: ACPI soft-off the way an OS does it (ACPI 6.5 §7.4.2, §16.1.7):
 * RSDP -> RSDT/XSDT -> FADT for PM1a_CNT_BLK (and SMI_CMD to enter ACPI
 * mode), DSDT for the \_S5 package whose first element is SLP_TYPa, then
 * write SLP_TYPa << 10 | SLP_EN to PM1a_CNT. The VMM must exit 0. */
#include "hw.h"

#define FADT_SMI_CMD	 48
#define FADT_ACPI_ENABLE 52
#define FADT_PM1A_CNT	 64
#define FADT_PM1B_CNT	 68
#define FADT_DSDT	 40
#define FADT_X_DSDT	 140
#define SLP_EN		 (1u << 13)
#define SCI_EN		 1u

/* AML: NameOp(0x08) "_S5_" PackageOp(0x12) PkgLength NumElements items.
 * PkgLength's lead byte says in bits 7-6 how many bytes follow (§20.2.4). */
static bool parse_s5(const uint8_t *aml, size_t len, uint8_t *typ)
{
	const uint8_t *p = memmem_g(aml, len, "_S5_", 4), *end = aml + len;

	if (!p || p + 8 > end || p[4] != 0x12)
		return false;
	p += 5;
	p += 1 + (*p >> 6); /* PkgLength */
	p++;		    /* NumElements */
	if (p + 2 > end)
		return false;
	switch (*p) {
	case 0x0a: *typ = p[1]; return true; /* BytePrefix */
	case 0x00: *typ = 0; return true;    /* ZeroOp */
	case 0x01: *typ = 1; return true;    /* OneOp */
	default: return false;
	}
}

void guest_main(void)
{
	const uint8_t *rsdp = acpi_find_rsdp();
	if (!check(rsdp != NULL, "poweroff_rsdp", "no RSDP in 0xE0000-0xFFFFF"))
		return;
	const uint8_t *fadt = (const uint8_t *)acpi_find_table("FACP");
	if (!check(fadt != NULL, "poweroff_fadt", "no valid FACP table"))
		return;
	uint32_t flen = ((const struct acpi_sdt *)fadt)->length;
	uint32_t pm1a = *(const uint32_t *)(fadt + FADT_PM1A_CNT);
	uint32_t pm1b = *(const uint32_t *)(fadt + FADT_PM1B_CNT);
	uint64_t dsdt_addr = *(const uint32_t *)(fadt + FADT_DSDT);
	if (flen >= FADT_X_DSDT + 8 && *(const uint64_t *)(fadt + FADT_X_DSDT))
		dsdt_addr = *(const uint64_t *)(fadt + FADT_X_DSDT);
	if (!check(pm1a != 0 && pm1a < 0x10000, "poweroff_pm1a_cnt", "PM1a_CNT_BLK 0x%x", pm1a))
		return;
	const struct acpi_sdt *dsdt = (const struct acpi_sdt *)dsdt_addr;
	if (!check(dsdt_addr && memcmp(dsdt->sig, "DSDT", 4) == 0 &&
			   acpi_checksum(dsdt, dsdt->length) == 0,
		   "poweroff_dsdt", "DSDT at 0x%lx missing or corrupt", dsdt_addr))
		return;
	uint8_t slp_typ = 0;
	if (!check(parse_s5((const uint8_t *)(dsdt + 1), dsdt->length - sizeof(*dsdt), &slp_typ),
		   "poweroff_s5_package", "no usable \\_S5 package in the DSDT"))
		return;

	/* firmware may have left the machine in legacy mode: ask for ACPI mode */
	uint32_t smi_cmd = *(const uint32_t *)(fadt + FADT_SMI_CMD);
	uint8_t acpi_enable = fadt[FADT_ACPI_ENABLE];
	if (!(inw((uint16_t)pm1a) & SCI_EN) && smi_cmd && acpi_enable) {
		outb((uint16_t)smi_cmd, acpi_enable);
		for (unsigned long i = 0; i < POLL_LIMIT / 10 && !(inw((uint16_t)pm1a) & SCI_EN);
		     i++)
			cpu_relax();
	}
	printf_g("poweroff: PM1a_CNT 0x%x SLP_TYPa %u: entering S5\n", pm1a, slp_typ);
	uint16_t v = (uint16_t)((inw((uint16_t)pm1a) & SCI_EN) | (slp_typ & 7) << 10 | SLP_EN);
	if (pm1b)
		outw((uint16_t)pm1b, v);
	outw((uint16_t)pm1a, v);
	for (volatile unsigned long i = 0; i < 10000000; i++)
		;
	report_fail("poweroff_s5", "still running after writing SLP_EN");
}
