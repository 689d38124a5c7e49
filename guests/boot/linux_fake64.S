/* Test-only: plays a 64-bit boot loader for boot_linux64.bzImage, so the
 * Linux 64-bit entry (the one vessel-vmm uses) also runs under QEMU, whose
 * loader only knows the 16-bit path. The setup code jumps here (the image's
 * code32_start points here instead of offset 0) with ESI = boot_params. Like
 * a 64-bit loader (boot.rst "64-bit BOOT PROTOCOL"), it enters long mode on
 * its own page tables outside the kernel image (1 GiB identity map at
 * 0x9000-0xbfff, where vessel-vmm keeps its boot tables too), with
 * __BOOT_CS 0x10 / __BOOT_DS 0x18, and jumps to the 64-bit entry with
 * RSI = boot_params. */
#include "boot.h"

#define FAKE_PML4 0x9000
#define FAKE_PDPT 0xa000
#define FAKE_PD   0xb000

	.section .text
	.code32
	.globl fake64_loader
fake64_loader:
	cli
	cld
	mov	$FAKE_PML4, %edi
	mov	$3 * 4096 / 4, %ecx
	xor	%eax, %eax
	rep stosl
	movl	$FAKE_PDPT + PTE_P_RW, FAKE_PML4
	movl	$FAKE_PD + PTE_P_RW, FAKE_PDPT
	xor	%ecx, %ecx
1:	mov	%ecx, %eax
	shl	$21, %eax
	or	$PTE_P_RW_PS, %eax
	mov	%eax, FAKE_PD(, %ecx, 8)
	inc	%ecx
	cmp	$512, %ecx
	jne	1b

	mov	%cr4, %eax
	or	$CR4_PAE, %eax
	mov	%eax, %cr4
	mov	$FAKE_PML4, %eax
	mov	%eax, %cr3
	mov	$MSR_EFER, %ecx
	rdmsr
	or	$EFER_LME, %eax
	wrmsr
	mov	%cr0, %eax
	or	$(CR0_PG | CR0_PE), %eax
	mov	%eax, %cr0
	lgdt	fake_gdt_ptr
	ljmp	$0x10, $fake64

	.code64
fake64:
	mov	$0x18, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	%esi, %esi		/* upper halves are undefined after the switch */
	xor	%eax, %eax
	xor	%ebx, %ebx
	jmp	linux_entry64

	.section .data
	.balign 8
fake_gdt:
	.quad	0
	.quad	0
	.quad	0x00af9a000000ffff	/* 0x10 __BOOT_CS, 64-bit */
	.quad	0x00cf92000000ffff	/* 0x18 __BOOT_DS */
fake_gdt_end:
	.word	0, 0, 0
fake_gdt_ptr:
	.word	fake_gdt_end - fake_gdt - 1
	.quad	fake_gdt
