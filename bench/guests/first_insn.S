/* A PVH guest whose first instruction ends it: `out` of 0 to the debug-exit
 * port 0xf4. Booted identically by vessel-vmm and QEMU, it measures process
 * start -> guest's first instruction (plus teardown, the same for both). */
	.section .note.Xen, "a", @note
	.p2align 2
	.long 4			/* name size: "Xen\0" */
	.long 4			/* descriptor size */
	.long 18		/* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long _start

	.text
	.code32
	.globl _start
_start:
	xorl %eax, %eax
	outb %al, $0xf4
1:	hlt
	jmp 1b
