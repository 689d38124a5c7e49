/* Finding ACPI tables the way an OS without EFI does (ACPI 6.5 §5.2.5.1:
 * the RSDP sits on a 16-byte boundary in 0xE0000-0xFFFFF). */
#include "hw.h"

uint8_t acpi_checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += b[i];
	return sum;
}

const uint8_t *acpi_find_rsdp(void)
{
	for (uint64_t a = 0xe0000; a < 0x100000; a += 16) {
		const uint8_t *p = (const uint8_t *)a;
		if (memcmp(p, "RSD PTR ", 8) == 0 && acpi_checksum(p, 20) == 0)
			return p;
	}
	return NULL;
}

static const struct acpi_sdt *valid(uint64_t addr)
{
	const struct acpi_sdt *t = (const struct acpi_sdt *)addr;

	if (!addr || addr >= 0x100000000ul || t->length < sizeof(*t) || t->length > (1u << 24))
		return NULL;
	return acpi_checksum(t, t->length) == 0 ? t : NULL;
}

const struct acpi_sdt *acpi_find_table(const char *sig)
{
	const uint8_t *rsdp = acpi_find_rsdp();

	if (!rsdp)
		return NULL;
	/* revision >= 2: prefer the XSDT (64-bit entries) */
	const struct acpi_sdt *root = NULL;
	unsigned esz = 4;
	if (rsdp[15] >= 2) {
		root = valid(*(const uint64_t *)(rsdp + 24));
		esz = 8;
	}
	if (!root) {
		root = valid(*(const uint32_t *)(rsdp + 16));
		esz = 4;
	}
	if (!root)
		return NULL;
	const uint8_t *e = (const uint8_t *)(root + 1);
	size_t n = (root->length - sizeof(*root)) / esz;
	for (size_t i = 0; i < n; i++) {
		uint64_t a =
			esz == 8 ? *(const uint64_t *)(e + 8 * i) : *(const uint32_t *)(e + 4 * i);
		const struct acpi_sdt *t = valid(a);
		if (t && memcmp(t->sig, sig, 4) == 0)
			return t;
	}
	return NULL;
}
