/* Shared by every boot stub: from 32-bit protected mode (paging off) or from
 * a loader's 64-bit long mode to the guest's own identity map of the first
 * 4 GiB (2 MiB pages, uncached above 3 GiB where the MMIO lives), its own
 * GDT, a stack, and the C entry guest_start. Also the exception stubs. */
#include "boot.h"

	.section .data
	.balign 8
	.globl boot_entry_info, boot_entry_path, boot_entry_magic
boot_entry_info:	.quad 0		/* multiboot info / start_info / boot_params */
boot_entry_path:	.long 0		/* enum boot_path */
boot_entry_magic:	.long 0		/* EAX on multiboot entry, else from the structure */

	.balign 16
	.globl gdt64, gdt64_ptr
gdt64:
	.quad 0
	.quad 0x00af9a000000ffff	/* SEL_CODE64: 64-bit code */
	.quad 0x00cf92000000ffff	/* SEL_DATA: flat data */
	.quad 0x00cf9a000000ffff	/* SEL_CODE32: flat 32-bit code (AP start-up) */
gdt64_end:
	.balign 8
	.word 0, 0, 0
gdt64_ptr:				/* 2-byte limit then base, 8-byte aligned base */
	.word gdt64_end - gdt64 - 1
	.quad gdt64

	.section .bss
	.balign 4096
	.globl boot_pml4
boot_pml4:	.skip 4096
boot_pdpt:	.skip 4096
boot_pd:	.skip 4 * 4096
	.balign 16
boot_stack:	.skip BOOT_STACK_SIZE
boot_stack_top:

	.section .text.boot, "ax"

/* enter_long_mode32: EDI = enum boot_path, EAX = magic, EBX = info address.
 * Runs in flat 32-bit protected mode with paging off; needs no stack. */
	.code32
	.globl enter_long_mode32
enter_long_mode32:
	cli
	cld
	/* bss first: the saved registers live in .data, so they survive */
	mov	%edi, boot_entry_path
	mov	%eax, boot_entry_magic
	mov	%ebx, boot_entry_info
	movl	$0, boot_entry_info + 4
	mov	$__bss_start, %edi
	mov	$_end, %ecx
	sub	%edi, %ecx
	xor	%eax, %eax
	rep stosb

	/* PML4[0] -> PDPT; PDPT[0..3] -> 4 page directories of 2 MiB pages */
	movl	$boot_pdpt + PTE_P_RW, boot_pml4
	mov	$boot_pd + PTE_P_RW, %eax
	xor	%ecx, %ecx
1:	mov	%eax, boot_pdpt(, %ecx, 8)
	add	$4096, %eax
	inc	%ecx
	cmp	$4, %ecx
	jne	1b
	xor	%ecx, %ecx
2:	mov	%ecx, %eax
	shl	$21, %eax
	or	$PTE_P_RW_PS, %eax
	cmp	$MMIO_FIRST_PD_ENTRY, %ecx
	jb	3f
	or	$PTE_PWT_PCD, %eax
3:	mov	%eax, boot_pd(, %ecx, 8)
	inc	%ecx
	cmp	$2048, %ecx
	jne	2b

	mov	%cr4, %eax
	or	$CR4_PAE, %eax
	mov	%eax, %cr4
	mov	$boot_pml4, %eax
	mov	%eax, %cr3
	mov	$MSR_EFER, %ecx
	rdmsr
	or	$EFER_LME, %eax
	wrmsr
	mov	%cr0, %eax
	or	$(CR0_PG | CR0_PE), %eax
	mov	%eax, %cr0
	lgdt	gdt64_ptr
	ljmp	$SEL_CODE64, $long_mode64

/* enter_long_mode64: the Linux 64-bit entry. RDI = path, EAX = magic,
 * RBX = info. Already in long mode on the loader's page tables, which only
 * promise to map the kernel, boot_params and the command line: switch to
 * ours before touching anything else. */
	.code64
	.globl enter_long_mode64
enter_long_mode64:
	cli
	cld
	mov	%edi, boot_entry_path(%rip)
	mov	%eax, boot_entry_magic(%rip)
	mov	%rbx, boot_entry_info(%rip)
	mov	$__bss_start, %edi
	mov	$_end, %ecx
	sub	%edi, %ecx
	xor	%eax, %eax
	rep stosb

	movq	$boot_pdpt + PTE_P_RW, boot_pml4(%rip)
	mov	$boot_pd + PTE_P_RW, %eax
	xor	%ecx, %ecx
1:	mov	%rax, boot_pdpt(, %rcx, 8)
	add	$4096, %rax
	inc	%ecx
	cmp	$4, %ecx
	jne	1b
	xor	%ecx, %ecx
2:	mov	%rcx, %rax
	shl	$21, %rax
	or	$PTE_P_RW_PS, %rax
	cmp	$MMIO_FIRST_PD_ENTRY, %ecx
	jb	3f
	or	$PTE_PWT_PCD, %rax
3:	mov	%rax, boot_pd(, %rcx, 8)
	inc	%ecx
	cmp	$2048, %ecx
	jne	2b

	mov	$boot_pml4, %eax
	mov	%rax, %cr3
	lgdt	gdt64_ptr(%rip)
	/* reload CS from our GDT: far return to the common 64-bit path */
	pushq	$SEL_CODE64
	pushq	$long_mode64
	lretq

long_mode64:
	mov	$SEL_DATA, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	%ax, %fs
	mov	%ax, %gs
	mov	$boot_stack_top, %rsp
	xor	%ebp, %ebp
	call	guest_start
4:	cli
	hlt
	jmp	4b

/* Exception stubs: the CPU pushes an error code only for some vectors;
 * the others push 0 so the frame has one shape (SDM vol. 3 §6.13). */
	.macro exc_stub n
exc_\n:
	.if (\n == 8) || (\n >= 10 && \n <= 14) || (\n == 17) || (\n == 21) || (\n == 29) || (\n == 30)
	.else
	pushq	$0
	.endif
	pushq	$\n
	jmp	exc_common
	.endm

	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	exc_stub \n
	.endr

exc_common:
	/* frame: vector, error, rip, cs, rflags, rsp, ss */
	mov	%rsp, %rdi
	and	$-16, %rsp
	call	exception_handler
5:	cli
	hlt
	jmp	5b

	.section .rodata
	.balign 8
	.globl exception_stubs
exception_stubs:
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad	exc_\n
	.endr
