/* Constants shared by the boot stubs (assembly and C). */
#ifndef GUEST_BOOT_H
#define GUEST_BOOT_H

#define BOOT_MULTIBOOT 1 /* enum boot_path in lib/guest.h */
#define BOOT_PVH       2
#define BOOT_LINUX32   3
#define BOOT_LINUX64   4

#define SEL_CODE64 0x08
#define SEL_DATA   0x10
#define SEL_CODE32 0x18

#define BOOT_STACK_SIZE 16384
#define IMAGE_BASE	0x100000 /* every image is linked and loaded at 1 MiB */

#define PTE_P_RW	    0x003
#define PTE_P_RW_PS	    0x083 /* present, writable, 2 MiB page */
#define PTE_PWT_PCD	    0x018
#define MMIO_FIRST_PD_ENTRY 1536 /* 3 GiB / 2 MiB: PCI and APIC windows */

#define CR0_PE	 0x00000001
#define CR0_PG	 0x80000000
#define CR4_PAE	 0x00000020
#define MSR_EFER 0xc0000080
#define EFER_LME 0x00000100

#define MULTIBOOT_HEADER_MAGIC	 0x1badb002
#define MULTIBOOT_LOADER_MAGIC	 0x2badb002
#define MULTIBOOT_FLAGS		 0x00010002 /* bit 1: memory map; bit 16: address fields */
#define PVH_START_MAGIC		 0x336ec578
#define XEN_ELFNOTE_PHYS32_ENTRY 18

/* Linux payload layout (boot/linux_head.S, tools/mkbzimage.c) */
#define LINUX_ENTRY64_OFFSET	 0x200
#define LINUX_KERNEL_INFO_OFFSET 0x300
#define LINUX_IMAGE_END_OFFSET	 0x340 /* .long _end: tools/mkbzimage.c derives init_size */

#endif
