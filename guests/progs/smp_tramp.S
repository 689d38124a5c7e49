/* The application processors' start-up code for the smp guest. The part
 * between ap_tramp_start and ap_tramp_end is copied to AP_TRAMP_BASE (below
 * 1 MiB, page aligned: the SIPI vector is its page number) and runs in real
 * mode after INIT-SIPI-SIPI (SDM vol. 3 §9.4.4). It loads the guest's GDT,
 * enters protected mode, turns on PAE paging with the boot page tables and
 * long mode, and jumps to ap_entry64 in the image. */
#include "boot.h"
#include "smp_tramp.h"

#define REL(x) (AP_TRAMP_BASE + (x) - ap_tramp_start)

	.section .rodata
	.globl ap_tramp_start, ap_tramp_end
	.code16
ap_tramp_start:
	cli
	cld
	xor	%ax, %ax
	mov	%ax, %ds
	lgdtl	REL(tramp_gdt_ptr)
	mov	%cr0, %eax
	or	$CR0_PE, %eax
	mov	%eax, %cr0
	ljmpl	$SEL_CODE32, $REL(tramp32)

	.code32
tramp32:
	mov	$SEL_DATA, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
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
	or	$CR0_PG, %eax
	mov	%eax, %cr0
	ljmp	$SEL_CODE64, $ap_entry64

	.balign 4
tramp_gdt_ptr:
	.word	4 * 8 - 1		/* the four descriptors of gdt64 */
	.long	gdt64
ap_tramp_end:

	.section .text
	.code64
ap_entry64:
	mov	$SEL_DATA, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	/* a stack of our own: slot = fetch-and-add on the stack counter */
	mov	$1, %eax
	lock xadd %eax, ap_stack_next
	cmp	$AP_MAX, %eax
	jae	2f
	inc	%eax
	shl	$AP_STACK_SHIFT, %rax
	lea	ap_stacks(%rax), %rsp
	call	ap_main
2:	cli
	hlt
	jmp	2b
