/* Start of the protected-mode part of the bzImage (Linux boot protocol,
 * Documentation/arch/x86/boot.rst): the 32-bit entry at offset 0 is
 * code32_start (ESI = boot_params), the 64-bit entry at offset 0x200 is
 * what 64-bit loaders call (long mode, RSI = boot_params). */
#include "boot.h"

	.section .text.head, "ax"
	.code32
	.globl image_entry
image_entry:
linux_entry32:
	mov	$BOOT_LINUX32, %edi
	mov	0x202(%esi), %eax	/* setup header magic "HdrS" */
	mov	%esi, %ebx
	jmp	enter_long_mode32

	.org	LINUX_ENTRY64_OFFSET
	.code64
	.globl linux_entry64
linux_entry64:
	mov	$BOOT_LINUX64, %edi
	mov	0x202(%rsi), %eax
	mov	%rsi, %rbx
	jmp	enter_long_mode64

	/* kernel_info (boot protocol 2.15): header "LToP", size, total size,
	 * setup_type_max. This guest ignores setup_data of every type. */
	.org	LINUX_KERNEL_INFO_OFFSET
kernel_info:
	.ascii	"LToP"
	.long	16
	.long	16
	.long	0x01ffffff

	.org	LINUX_IMAGE_END_OFFSET
	.long	_end
