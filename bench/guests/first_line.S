/* A PVH guest that prints one line on COM1 (0x3f8) and exits through 0xf4:
 * process start -> first serial line, on vessel-vmm and QEMU alike. With
 * "stay" as its mode (the second build), it halts instead of exiting, so the
 * VMM's memory can be read while the guest runs. */
	.section .note.Xen, "a", @note
	.p2align 2
	.long 4
	.long 4
	.long 18
	.asciz "Xen"
	.long _start

	.text
	.code32
	.globl _start
_start:
	movl $msg, %esi
	movw $0x3f8, %dx
1:	movb (%esi), %al
	testb %al, %al
	jz 2f
	outb %al, %dx
	incl %esi
	jmp 1b
2:
#ifdef STAY
	cli
3:	hlt
	jmp 3b
#else
	xorl %eax, %eax
	outb %al, $0xf4
	hlt
#endif
	.section .rodata
msg:	.asciz "vessel bench guest up\n"
