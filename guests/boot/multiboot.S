/* Multiboot v1 entry (Multiboot Specification 0.6.96 §3.1). The header sits
 * at the very start of the image, well inside the first 8 KiB; flag bit 16
 * supplies the load addresses so a loader need not parse this ELF64 file
 * (QEMU refuses ELF64 multiboot images otherwise). */
#include "boot.h"

	.section .text.head, "ax"
	.balign 4
mb_header:
	.long	MULTIBOOT_HEADER_MAGIC
	.long	MULTIBOOT_FLAGS
	.long	-(MULTIBOOT_HEADER_MAGIC + MULTIBOOT_FLAGS)
	.long	mb_header		/* header_addr */
	.long	_start_image		/* load_addr: the image starts with this header */
	.long	_edata			/* load_end_addr */
	.long	_end			/* bss_end_addr: the loader zeroes up to here */
	.long	mb_entry		/* entry_addr */

/* Entered in flat 32-bit protected mode, paging off, EAX = 0x2BADB002,
 * EBX = multiboot information (§3.2). */
	.code32
	.globl image_entry
image_entry:
mb_entry:
	mov	$BOOT_MULTIBOOT, %edi
	jmp	enter_long_mode32
