/* Guest physical memory layout of a Vessel x86-64 machine. Boot code, ACPI
 * tables and devices all take their addresses from here. */
#ifndef VMM_LAYOUT_H
#define VMM_LAYOUT_H

#define VM_GDT_ADDR	    0x500ull /* boot GDT (64-bit entry paths) */
#define VM_IDT_ADDR	    0x520ull
#define VM_BOOT_INFO_ADDR   0x6000ull /* PVH start_info or multiboot info */
#define VM_BOOT_PARAMS_ADDR 0x7000ull /* Linux zero page */
#define VM_PML4_ADDR	    0x9000ull /* identity-map page tables: PML4, */
#define VM_PDPT_ADDR	    0xa000ull /* PDPT and 4 PDs (first 4 GiB, 2 MiB pages) */
#define VM_PD_ADDR	    0xb000ull
#define VM_CMDLINE_ADDR	    0x20000ull
#define VM_CMDLINE_MAX	    0x10000ull
#define VM_BOOT_STACK_TOP   0x8ff0ull
#define VM_EBDA_START	    0x9fc00ull /* low RAM ends here in the e820 map */
#define VM_ACPI_ADDR	    0xe0000ull /* RSDP first, then the tables */
#define VM_ACPI_SIZE	    0x20000ull
#define VM_HIGH_MEM_START   0x100000ull /* kernels load at 1 MiB */

#define VM_MMIO_HOLE_START 0xc0000000ull /* 3 GiB: RAM above goes to 4 GiB+ */
#define VM_MMIO_HOLE_END   0x100000000ull
#define VM_IOAPIC_ADDR	   0xfec00000ull
#define VM_LAPIC_ADDR	   0xfee00000ull

/* Port I/O used by platform devices */
#define VM_PORT_PIC_MASTER  0x20
#define VM_PORT_RTC	    0x70
#define VM_PORT_I8042	    0x60  /* and 0x64 */
#define VM_PORT_BOOT_MARKER 0x440 /* guest writes mark boot progress (not 0x80: Linux io_delay) */
#define VM_PORT_FW_CFG	    0x510 /* selector; data at 0x511, DMA at 0x514 */
#define VM_PORT_DEBUG_EXIT  0xf4  /* isa-debug-exit compatible */
#define VM_PORT_ACPI_PM	    0x600 /* PM1a event (4 bytes), PM1a control (2) */
#define VM_PORT_ACPI_RESET  0xcf9 /* FADT reset register */
#define VM_PORT_COM1	    0x3f8
#define VM_IRQ_COM1	    4
#define VM_IRQ_ACPI_SCI	    9

#endif
