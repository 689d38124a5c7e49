/* PVH entry (Xen's x86 HVM direct boot ABI, as QEMU and Firecracker use it):
 * the ELF note XEN_ELFNOTE_PHYS32_ENTRY names a 32-bit entry point entered
 * in flat protected mode with paging off and EBX = hvm_start_info. */
#include "boot.h"

	/* QEMU reads the descriptor as a native word, so it is 8 bytes here */
	.section .note.Xen, "a", @note
	.balign 4
	.long	4			/* namesz */
	.long	8			/* descsz */
	.long	XEN_ELFNOTE_PHYS32_ENTRY
	.asciz	"Xen"
	.balign 4
	.quad	pvh_entry

	.section .text.head, "ax"
	.code32
	.globl image_entry
image_entry:
pvh_entry:
	mov	$BOOT_PVH, %edi
	mov	(%ebx), %eax		/* start_info.magic, checked in C */
	jmp	enter_long_mode32
