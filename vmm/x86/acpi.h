/* ACPI tables of a Vessel x86-64 machine: RSDP, RSDT, XSDT, FADT, DSDT, MADT,
 * MCFG, written into guest memory at VM_ACPI_ADDR where a guest without
 * firmware finds the RSDP by scanning 0xE0000-0xFFFFF (ACPI 6.4 §5.2.5.1). */
#ifndef VMM_X86_ACPI_H
#define VMM_X86_ACPI_H

#include <stdint.h>

#include "vmm/config.h"
#include "vmm/memory.h"
#include "vessel/err.h"

/* SLP_TYP value of \_S5 in the DSDT; acpi_pm.c powers off on it. */
#define VM_ACPI_S5_SLP_TYP 5
/* IOAPIC ID in the MADT: KVM's in-kernel IOAPIC resets its ID register to 0. */
#define VM_ACPI_IOAPIC_ID 0
/* PCI I/O window the DSDT declares besides 0x0000-0x0cf7: I/O BARs go here. */
#define VM_ACPI_PCI_IO_BASE 0x0d00
#define VM_ACPI_PCI_IO_END  0xffff
/* CMOS register holding the century (FADT CENTURY, rtc.c) */
#define VM_ACPI_CMOS_CENTURY 0x32

/* FADT fixed-hardware register bits (ACPI 6.4 §4.8.3) */
#define VM_ACPI_PM1_PWRBTN	  0x0100 /* PM1 status/enable: power button */
#define VM_ACPI_PM1_WAK_STS	  0x8000
#define VM_ACPI_PM1_SCI_EN	  0x0001 /* PM1 control */
#define VM_ACPI_PM1_SLP_TYP_SHIFT 10
#define VM_ACPI_PM1_SLP_EN	  0x2000

/* Builds every table for cfg (one LAPIC per vCPU) into guest memory at
 * VM_ACPI_ADDR. Fails when that range is not guest RAM or the tables do not
 * fit in VM_ACPI_SIZE. */
int vm_acpi_build(struct vm_memory *mem, const struct vm_config *cfg, struct vs_err *e);

/* The same into a caller's buffer that the guest sees at gpa (tests). */
int vm_acpi_build_buf(uint8_t *buf, uint64_t size, uint64_t gpa, const struct vm_config *cfg,
		      struct vs_err *e);

#endif
