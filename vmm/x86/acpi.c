/* ACPI tables (ACPI 6.4 chapter 5) and the DSDT's AML, built at start-up from
 * the machine's configuration. Every table gets the common header, a correct
 * length and checksum; addresses come from vmm/layout.h and vmm/pci.h so the
 * tables describe exactly the devices the VMM emulates. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmm/layout.h"
#include "vessel/le.h"
#include "vmm/pci.h"
#include "vmm/x86/acpi.h"
#include "vmm/x86/aml.h"

#define HDR_LEN	     36
#define OEM_ID	     "VESSEL"
#define OEM_TABLE_ID "VESSELVM"
#define CREATOR_ID   "VSSL"

struct tables {
	uint8_t *buf;
	uint64_t size, gpa, off;
};

static uint8_t sum8(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

/* Reserves len bytes aligned to align (a power of two); NULL when the area
 * is full. */
static uint8_t *alloc_aligned(struct tables *t, uint64_t len, uint64_t align, uint64_t *gpa,
			      const char *what, struct vs_err *e)
{
	uint64_t off = (t->off + align - 1) & ~(align - 1);

	if (off > t->size || len > t->size - off) {
		vs_fail(e, ENOSPC, "ACPI %s: %llu bytes do not fit in the %llu-byte ACPI area",
			what, (unsigned long long)len, (unsigned long long)t->size);
		return NULL;
	}
	t->off = off + len;
	*gpa = t->gpa + off;
	memset(t->buf + off, 0, len);
	return t->buf + off;
}

static uint8_t *alloc(struct tables *t, uint64_t len, uint64_t *gpa, const char *what,
		      struct vs_err *e)
{
	return alloc_aligned(t, len, 16, gpa, what, e);
}

/* System description table header (ACPI 6.4 §5.2.6); checksum set by finish(). */
static void header(uint8_t *p, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(p, sig, 4);
	vs_le_put32(p + 4, len);
	p[8] = rev;
	memcpy(p + 10, OEM_ID, 6);
	memcpy(p + 16, OEM_TABLE_ID, 8);
	vs_le_put32(p + 24, 1); /* OEM revision */
	memcpy(p + 28, CREATOR_ID, 4);
	vs_le_put32(p + 32, 1); /* creator revision */
}

static void finish(uint8_t *p, uint32_t len)
{
	p[9] = 0;
	p[9] = (uint8_t)(0 - sum8(p, len));
}

/* Generic Address Structure (§5.2.3.2) in system I/O space */
static void gas_io(uint8_t *p, uint8_t bits, uint8_t access, uint64_t port)
{
	p[0] = 1; /* SystemIO */
	p[1] = bits;
	p[2] = 0;
	p[3] = access; /* 1 byte, 2 word, 3 dword; 0 undefined */
	vs_le_put64(p + 4, port);
}

/* --- DSDT ----------------------------------------------------------------- */

static void aml_res_mem32_fixed(struct aml *a, uint32_t base, uint32_t len)
{
	/* Memory32Fixed (§6.4.3.4): large item 0x86, read-write */
	uint8_t d[12] = {0x86, 9, 0, 1};

	vs_le_put32(d + 4, base);
	vs_le_put32(d + 8, len);
	aml_bytes(a, d, sizeof(d));
}

static void dsdt_pci0(struct aml *a)
{
	struct aml crs;
	size_t dev, pkg, m;

	dev = aml_device_open(a, "PCI0");
	aml_name_decl(a, "_HID");
	aml_eisaid(a, "PNP0A08"); /* PCI Express root bridge (ECAM) */
	aml_name_decl(a, "_CID");
	aml_eisaid(a, "PNP0A03"); /* PCI root bridge */
	aml_name_decl(a, "_SEG");
	aml_int(a, 0);
	aml_name_decl(a, "_BBN");
	aml_int(a, 0);
	aml_name_decl(a, "_UID");
	aml_int(a, 0);

	aml_init(&crs);
	aml_res_word_bus(&crs, 0, 0);
	aml_res_io(&crs, 0xcf8, 0xcf8, 1, 8); /* CONFIG_ADDRESS/CONFIG_DATA */
	aml_res_word_io(&crs, 0x0000, 0x0cf7);
	aml_res_word_io(&crs, VM_ACPI_PCI_IO_BASE, VM_ACPI_PCI_IO_END);
	aml_res_dword_mem(&crs, (uint32_t)VM_PCI_MMIO_BASE,
			  (uint32_t)(VM_PCI_MMIO_BASE + VM_PCI_MMIO_SIZE - 1), false);
	aml_res_end(&crs);
	aml_name_decl(a, "_CRS");
	aml_buffer(a, &crs);
	aml_free(&crs);

	/* _PRT (§6.2.13): {address 0xSSSSFFFF, pin, source 0 (GSI), GSI} */
	aml_name_decl(a, "_PRT");
	pkg = aml_package_open(a, VM_PCI_MAX_DEVS * 4);
	for (unsigned slot = 0; slot < VM_PCI_MAX_DEVS; slot++) {
		for (unsigned pin = 0; pin < 4; pin++) {
			m = aml_package_open(a, 4);
			aml_int(a, ((uint64_t)slot << 16) | 0xffff);
			aml_int(a, pin);
			aml_int(a, 0);
			aml_int(a, VM_PCI_INTX_GSI(slot));
			aml_pkg_close(a, m);
		}
	}
	aml_pkg_close(a, pkg);

	/* _OSC (§6.2.11): grant what the OS asks for, report no error: there
	 * is no firmware-owned PCIe feature (hot-plug, AER, PME) to keep. */
	m = aml_method_open(a, "_OSC", 4, false);
	aml_byte(a, AML_RETURN);
	aml_byte(a, AML_ARG0 + 3);
	aml_pkg_close(a, m);
	aml_pkg_close(a, dev);
}

/* A device with _HID (EISA ID or string), _UID and a resource template. */
static void dsdt_isa_dev(struct aml *a, const char *name, const char *hid, unsigned uid,
			 const struct aml *crs)
{
	size_t dev = aml_device_open(a, name);

	aml_name_decl(a, "_HID");
	aml_eisaid(a, hid);
	aml_name_decl(a, "_UID");
	aml_int(a, uid);
	aml_name_decl(a, "_CRS");
	aml_buffer(a, crs);
	aml_pkg_close(a, dev);
}

static void dsdt_body(struct aml *a, const struct vm_config *cfg)
{
	struct aml crs;
	size_t sb, m;
	char name[8];

	/* \_S5 (§7.4.2): {SLP_TYPa, SLP_TYPb, reserved, reserved} */
	aml_name_decl(a, "\\_S5");
	m = aml_package_open(a, 4);
	aml_int(a, VM_ACPI_S5_SLP_TYP);
	aml_int(a, VM_ACPI_S5_SLP_TYP);
	aml_int(a, 0);
	aml_int(a, 0);
	aml_pkg_close(a, m);

	sb = aml_scope_open(a, "\\_SB");
	for (unsigned i = 0; i < cfg->cpus; i++) {
		/* processor devices (§8.4) matching the MADT's processor UIDs */
		snprintf(name, sizeof(name), "C%03X", i & 0xfff);
		m = aml_device_open(a, name);
		aml_name_decl(a, "_HID");
		aml_string(a, "ACPI0007");
		aml_name_decl(a, "_UID");
		aml_int(a, i);
		aml_pkg_close(a, m);
	}

	dsdt_pci0(a);

	aml_init(&crs);
	aml_res_io(&crs, VM_PORT_COM1, VM_PORT_COM1, 8, 8);
	aml_res_irq(&crs, 1u << VM_IRQ_COM1);
	aml_res_end(&crs);
	dsdt_isa_dev(a, "COM1", "PNP0501", 1, &crs);
	aml_free(&crs);

	aml_init(&crs);
	aml_res_io(&crs, VM_PORT_RTC, VM_PORT_RTC, 1, 2);
	aml_res_irq(&crs, 1u << 8);
	aml_res_end(&crs);
	dsdt_isa_dev(a, "RTC", "PNP0B00", 0, &crs);
	aml_free(&crs);

	aml_init(&crs);
	aml_res_io(&crs, VM_PORT_I8042, VM_PORT_I8042, 1, 1);
	aml_res_io(&crs, VM_PORT_I8042 + 4, VM_PORT_I8042 + 4, 1, 1);
	aml_res_irq(&crs, 1u << 1);
	aml_res_end(&crs);
	dsdt_isa_dev(a, "KBD", "PNP0303", 0, &crs);
	aml_free(&crs);

	/* motherboard resources: Linux only trusts MCFG's ECAM when the range
	 * is reserved here or in the e820 map (PCI Firmware spec 3.2 §4.1.2) */
	aml_init(&crs);
	aml_res_mem32_fixed(&crs, (uint32_t)VM_PCI_ECAM_BASE, (uint32_t)VM_PCI_ECAM_SIZE);
	aml_res_io(&crs, VM_PORT_ACPI_PM, VM_PORT_ACPI_PM, 1, 8);
	aml_res_end(&crs);
	dsdt_isa_dev(a, "MRES", "PNP0C02", 0, &crs);
	aml_free(&crs);

	aml_pkg_close(a, sb);
}

static int build_dsdt(struct tables *t, const struct vm_config *cfg, uint64_t *gpa,
		      struct vs_err *e)
{
	struct aml a;
	uint8_t *p;

	aml_init(&a);
	dsdt_body(&a, cfg);
	if (a.error) {
		vs_fail(e, EINVAL, "ACPI DSDT: AML encoding: %s", a.error);
		aml_free(&a);
		return -1;
	}
	uint32_t len = (uint32_t)(HDR_LEN + a.len);
	p = alloc(t, len, gpa, "DSDT", e);
	if (p) {
		header(p, "DSDT", len, 2); /* revision 2: 64-bit integers */
		memcpy(p + HDR_LEN, a.buf, a.len);
		finish(p, len);
	}
	aml_free(&a);
	return p ? 0 : -1;
}

/* --- FADT (§5.2.9), revision 6 --------------------------------------------- */

#define FADT_LEN		  276
#define FADT_F_WBINVD		  (1u << 0)
#define FADT_F_PROC_C1		  (1u << 2)
#define FADT_F_SLP_BUTTON	  (1u << 5) /* no fixed sleep button */
#define FADT_F_RESET_REG_SUP	  (1u << 10)
#define BOOT_ARCH_LEGACY_DEVICES  (1u << 0)
#define BOOT_ARCH_8042		  (1u << 1)
#define BOOT_ARCH_VGA_NOT_PRESENT (1u << 2)

/* FACS (§5.2.10): no checksum; 64-byte aligned. A full (not
 * hardware-reduced) platform has one; nothing in it is used for S5. */
static int build_facs(struct tables *t, uint64_t *gpa, struct vs_err *e)
{
	uint8_t *p = alloc_aligned(t, 64, 64, gpa, "FACS", e);

	if (!p)
		return -1;
	memcpy(p, "FACS", 4);
	vs_le_put32(p + 4, 64);
	p[32] = 2; /* version */
	return 0;
}

static int build_fadt(struct tables *t, uint64_t dsdt, uint64_t facs, uint64_t *gpa,
		      struct vs_err *e)
{
	uint8_t *p = alloc(t, FADT_LEN, gpa, "FADT", e);

	if (!p)
		return -1;
	header(p, "FACP", FADT_LEN, 6);
	vs_le_put32(p + 36, (uint32_t)facs); /* FIRMWARE_CTRL (X_FIRMWARE_CTRL stays 0) */
	vs_le_put32(p + 40, (uint32_t)dsdt);
	vs_le_put16(p + 46, VM_IRQ_ACPI_SCI); /* SCI_INT */
	/* SMI_CMD 0: no SMM handshake, the machine is always in ACPI mode */
	vs_le_put32(p + 56, VM_PORT_ACPI_PM);	  /* PM1a_EVT_BLK */
	vs_le_put32(p + 64, VM_PORT_ACPI_PM + 4); /* PM1a_CNT_BLK */
	p[88] = 4;				  /* PM1_EVT_LEN */
	p[89] = 2;				  /* PM1_CNT_LEN */
	/* no PM timer, no GPE blocks; C2/C3 not supported (latency > max) */
	vs_le_put16(p + 96, 101);      /* P_LVL2_LAT */
	vs_le_put16(p + 98, 1001);     /* P_LVL3_LAT */
	p[108] = VM_ACPI_CMOS_CENTURY; /* CENTURY */
	vs_le_put16(p + 109, BOOT_ARCH_LEGACY_DEVICES | BOOT_ARCH_8042 | BOOT_ARCH_VGA_NOT_PRESENT);
	vs_le_put32(p + 112,
		    FADT_F_WBINVD | FADT_F_PROC_C1 | FADT_F_SLP_BUTTON | FADT_F_RESET_REG_SUP);
	gas_io(p + 116, 8, 1, VM_PORT_ACPI_RESET);   /* RESET_REG */
	p[128] = 0x06;				     /* RESET_VALUE */
	p[131] = 3;				     /* minor version: 6.3 */
	vs_le_put64(p + 140, dsdt);		     /* X_DSDT */
	gas_io(p + 148, 32, 0, VM_PORT_ACPI_PM);     /* X_PM1a_EVT_BLK */
	gas_io(p + 172, 16, 0, VM_PORT_ACPI_PM + 4); /* X_PM1a_CNT_BLK */
	memcpy(p + 268, "VESSELVM", 8);		     /* hypervisor vendor identity */
	finish(p, FADT_LEN);
	return 0;
}

/* --- MADT (§5.2.12) -------------------------------------------------------- */

static int build_madt(struct tables *t, const struct vm_config *cfg, uint64_t *gpa,
		      struct vs_err *e)
{
	uint32_t len = HDR_LEN + 8 + 8 * cfg->cpus + 12 + 2 * 10 + 6;
	uint8_t *p = alloc(t, len, gpa, "MADT", e), *q;

	if (!p)
		return -1;
	header(p, "APIC", len, 5);
	vs_le_put32(p + 36, (uint32_t)VM_LAPIC_ADDR);
	vs_le_put32(p + 40, 1); /* PCAT_COMPAT: dual 8259s are present */
	q = p + 44;
	for (unsigned i = 0; i < cfg->cpus; i++, q += 8) {
		q[0] = 0; /* Processor Local APIC */
		q[1] = 8;
		q[2] = (uint8_t)i;     /* ACPI processor UID */
		q[3] = (uint8_t)i;     /* APIC ID */
		vs_le_put32(q + 4, 1); /* enabled */
	}
	q[0] = 1; /* I/O APIC */
	q[1] = 12;
	q[2] = VM_ACPI_IOAPIC_ID;
	vs_le_put32(q + 4, (uint32_t)VM_IOAPIC_ADDR);
	vs_le_put32(q + 8, 0); /* GSI base */
	q += 12;
	/* Interrupt source overrides: the PIT's IRQ 0 is IOAPIC pin 2; the
	 * SCI is level-triggered active-high (flags: polarity bits 1-0,
	 * trigger bits 3-2; 01 = high / edge, 11 = low / level) */
	q[0] = 2;
	q[1] = 10;
	q[2] = 0; /* ISA */
	q[3] = 0;
	vs_le_put32(q + 4, 2);
	vs_le_put16(q + 8, 0); /* conforms to the bus */
	q += 10;
	q[0] = 2;
	q[1] = 10;
	q[2] = 0;
	q[3] = VM_IRQ_ACPI_SCI;
	vs_le_put32(q + 4, VM_IRQ_ACPI_SCI);
	vs_le_put16(q + 8, 0x0d); /* active high, level */
	q += 10;
	/* Local APIC NMI: LINT1 of every processor */
	q[0] = 4;
	q[1] = 6;
	q[2] = 0xff;
	vs_le_put16(q + 3, 0);
	q[5] = 1;
	finish(p, len);
	return 0;
}

/* --- MCFG (PCI Firmware spec 3.2 §4.1.2) ----------------------------------- */

static int build_mcfg(struct tables *t, uint64_t *gpa, struct vs_err *e)
{
	const uint32_t len = HDR_LEN + 8 + 16;
	uint8_t *p = alloc(t, len, gpa, "MCFG", e);

	if (!p)
		return -1;
	header(p, "MCFG", len, 1);
	vs_le_put64(p + 44, VM_PCI_ECAM_BASE);
	vs_le_put16(p + 52, 0);				      /* segment */
	p[54] = 0;					      /* start bus */
	p[55] = (uint8_t)(VM_PCI_ECAM_SIZE / (1u << 20) - 1); /* end bus */
	finish(p, len);
	return 0;
}

int vm_acpi_build_buf(uint8_t *buf, uint64_t size, uint64_t gpa, const struct vm_config *cfg,
		      struct vs_err *e)
{
	struct tables t = {.buf = buf, .size = size, .gpa = gpa};
	enum { DSDT_, FADT_, MADT_, MCFG_, N };
	uint64_t at[N], rsdp, rsdt, xsdt, facs;
	uint8_t *r, *rs, *xs;

	if (cfg->cpus < 1 || cfg->cpus > VM_MAX_CPUS)
		return vs_fail(e, EINVAL, "ACPI MADT: %u vCPUs, expected 1-%u", cfg->cpus,
			       VM_MAX_CPUS);
	if (gpa + size > 0x100000000ull)
		return vs_fail(e, EINVAL, "ACPI area must lie below 4 GiB (RSDT addresses)");

	/* the RSDP must be on a 16-byte boundary in 0xE0000-0xFFFFF */
	r = alloc(&t, 36, &rsdp, "RSDP", e);
	if (!r)
		return -1;
	if (build_dsdt(&t, cfg, &at[DSDT_], e) < 0 || build_facs(&t, &facs, e) < 0 ||
	    build_fadt(&t, at[DSDT_], facs, &at[FADT_], e) < 0 ||
	    build_madt(&t, cfg, &at[MADT_], e) < 0 || build_mcfg(&t, &at[MCFG_], e) < 0)
		return -1;

	/* RSDT and XSDT list everything but the DSDT (the FADT points at it) */
	const unsigned n = N - 1;
	const uint64_t *list = &at[FADT_];
	rs = alloc(&t, HDR_LEN + 4 * n, &rsdt, "RSDT", e);
	if (!rs)
		return -1;
	header(rs, "RSDT", HDR_LEN + 4 * n, 1);
	for (unsigned i = 0; i < n; i++)
		vs_le_put32(rs + HDR_LEN + 4 * i, (uint32_t)list[i]);
	finish(rs, HDR_LEN + 4 * n);

	xs = alloc(&t, HDR_LEN + 8 * n, &xsdt, "XSDT", e);
	if (!xs)
		return -1;
	header(xs, "XSDT", HDR_LEN + 8 * n, 1);
	for (unsigned i = 0; i < n; i++)
		vs_le_put64(xs + HDR_LEN + 8 * i, list[i]);
	finish(xs, HDR_LEN + 8 * n);

	/* RSDP (§5.2.5.3): checksum over the first 20 bytes, extended over 36 */
	memcpy(r, "RSD PTR ", 8);
	memcpy(r + 9, OEM_ID, 6);
	r[15] = 2;
	vs_le_put32(r + 16, (uint32_t)rsdt);
	vs_le_put32(r + 20, 36);
	vs_le_put64(r + 24, xsdt);
	r[8] = (uint8_t)(0 - sum8(r, 20));
	r[32] = (uint8_t)(0 - sum8(r, 36));
	return 0;
}

int vm_acpi_build(struct vm_memory *mem, const struct vm_config *cfg, struct vs_err *e)
{
	uint8_t *p = vm_mem_ptr(mem, VM_ACPI_ADDR, VM_ACPI_SIZE);

	if (!p)
		return vs_fail(e, EINVAL, "ACPI tables at 0x%llx-0x%llx: not guest RAM",
			       VM_ACPI_ADDR, VM_ACPI_ADDR + VM_ACPI_SIZE - 1);
	return vm_acpi_build_buf(p, VM_ACPI_SIZE, VM_ACPI_ADDR, cfg, e);
}
