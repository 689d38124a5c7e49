/* The real-mode part of the bzImage: boot sector + setup header (Linux boot
 * protocol 2.15, Documentation/arch/x86/boot.rst) + setup code. A 16-bit
 * loader (QEMU's linuxboot option ROM, GRUB) jumps to offset 0x200 with
 * CS = base+0x20, DS = ES = SS = base. The setup code builds boot_params
 * the way Linux's does (a copy of the header, the BIOS e820 map), enters
 * flat protected mode and jumps to code32_start with ESI = boot_params.
 * Linked at 0: every address here is an offset in the setup segment.
 * tools/mkbzimage.c fills setup_sects, syssize and init_size. */
#include "boot.h"

#define BP_OFF		0x1000	/* boot_params inside the setup segment */
#define STACK_TOP	0xf000
#define BOOT_CS		0x10	/* the protocol's __BOOT_CS / __BOOT_DS */
#define BOOT_DS		0x18
#define SMAP		0x534d4150

	.code16
	.section .text, "ax"
	.globl	_start
_start:
	/* not a disk boot sector: stop if a BIOS ever runs it */
	cli
1:	hlt
	jmp	1b

	.org	0x1f1
setup_sects:	.byte	0		/* filled by mkbzimage */
root_flags:	.word	0
syssize:	.long	0		/* filled by mkbzimage: payload size / 16 */
ram_size:	.word	0
vid_mode:	.word	0xffff		/* "normal" */
root_dev:	.word	0
boot_flag:	.word	0xaa55
	/* 0x200: the loader jumps here */
	.byte	0xeb, setup_start - 0x202	/* jmp short */
header:		.ascii	"HdrS"
version:	.word	0x020f
realmode_swtch:	.long	0
start_sys_seg:	.word	0x1000
kernel_version:	.word	version_str - 0x200
type_of_loader:	.byte	0
loadflags:	.byte	0x01		/* LOADED_HIGH: payload at 1 MiB */
setup_move_size: .word	0x8000
code32_start:	.long	IMAGE_BASE
ramdisk_image:	.long	0
ramdisk_size:	.long	0
bootsect_kludge: .long	0
heap_end_ptr:	.word	0
ext_loader_ver:	.byte	0
ext_loader_type: .byte	0
cmd_line_ptr:	.long	0
initrd_addr_max: .long	0x7fffffff
kernel_alignment: .long	0x100000
relocatable_kernel: .byte 0		/* must be loaded at pref_address */
min_alignment:	.byte	20
xloadflags:	.word	0x0001		/* XLF_KERNEL_64: entry at +0x200 */
cmdline_size:	.long	2047
hardware_subarch: .long	0
hardware_subarch_data: .quad 0
payload_offset:	.long	0
payload_length:	.long	0
setup_data:	.quad	0
pref_address:	.quad	IMAGE_BASE
init_size:	.long	0		/* filled by mkbzimage from the image end */
handover_offset: .long	0
kernel_info_offset: .long LINUX_KERNEL_INFO_OFFSET
header_end:
	/* loaders copy the header up to the jump target: the code starts right
	 * here (tools/mkbzimage.c checks the short jump reaches it) */

setup_start:
	cli
	cld
	mov	%ds, %ax
	mov	%ax, %es
	mov	%ax, %ss
	mov	$STACK_TOP, %sp
	/* CS is base+0x20: make it equal to DS so offsets match the link */
	pushw	%ds
	pushw	$normalized
	lretw
normalized:
	/* boot_params: zeroed, then the setup header as the loader left it */
	mov	$BP_OFF, %di
	mov	$2048, %cx
	xor	%ax, %ax
	rep stosw
	mov	$0x1f1, %si
	mov	$BP_OFF + 0x1f1, %di
	mov	$header_end - 0x1f1, %cx
	rep movsb

	/* BIOS memory map: INT 15h AX=E820h into boot_params.e820_table */
	xor	%ebx, %ebx
	mov	$BP_OFF + 0x2d0, %di
2:	mov	$0xe820, %eax
	mov	$SMAP, %edx
	mov	$20, %ecx
	int	$0x15
	jc	3f
	cmp	$SMAP, %eax
	jne	3f
	add	$20, %di
	incb	BP_OFF + 0x1e8
	cmpb	$128, BP_OFF + 0x1e8
	jae	3f
	test	%ebx, %ebx
	jnz	2b
3:
	/* A20 through the fast gate (port 0x92 bit 1) */
	in	$0x92, %al
	or	$0x02, %al
	and	$0xfe, %al
	out	%al, $0x92

	/* linear base of this segment: patch the GDT pointer and the jump */
	xor	%ebx, %ebx
	mov	%ds, %bx
	shl	$4, %ebx
	lea	gdt(%ebx), %eax
	mov	%eax, gdt_ptr + 2
	lea	pm32(%ebx), %eax
	mov	%eax, pm32_ptr
	lgdtl	gdt_ptr
	mov	%cr0, %eax
	or	$CR0_PE, %eax
	mov	%eax, %cr0
	ljmpl	*pm32_ptr

	.code32
pm32:
	mov	$BOOT_DS, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	%ax, %fs
	mov	%ax, %gs
	lea	BP_OFF(%ebx), %esi
	mov	0x214(%esi), %eax	/* code32_start */
	/* boot protocol: EBP, EDI and EBX zero at the 32-bit entry */
	xor	%ebx, %ebx
	xor	%edi, %edi
	xor	%ebp, %ebp
	jmp	*%eax

	.balign 8
gdt:
	.quad	0
	.quad	0
	.quad	0x00cf9a000000ffff	/* 0x10 flat 32-bit code */
	.quad	0x00cf92000000ffff	/* 0x18 flat data */
gdt_end:
gdt_ptr:
	.word	gdt_end - gdt - 1
	.long	0
pm32_ptr:
	.long	0
	.word	BOOT_CS

version_str:	.asciz	"vessel test guest"
