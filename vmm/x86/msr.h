/* The MSR values a vCPU starts with. */
#ifndef VMM_X86_MSR_H
#define VMM_X86_MSR_H

#include <stdint.h>
#include <linux/kvm.h>

#define VM_MSR_IA32_TSC		 0x10
#define VM_MSR_IA32_SYSENTER_CS	 0x174
#define VM_MSR_IA32_SYSENTER_ESP 0x175
#define VM_MSR_IA32_SYSENTER_EIP 0x176
#define VM_MSR_IA32_MISC_ENABLE	 0x1a0
#define VM_MSR_MTRR_DEF_TYPE	 0x2ff
#define VM_MSR_STAR		 0xc0000081
#define VM_MSR_LSTAR		 0xc0000082
#define VM_MSR_CSTAR		 0xc0000083
#define VM_MSR_SYSCALL_MASK	 0xc0000084
#define VM_MSR_KERNEL_GS_BASE	 0xc0000102

#define VM_MISC_ENABLE_FAST_STRING (1ull << 0)

/* Fills out with the boot MSRs that appear in supported (KVM's
 * KVM_GET_MSR_INDEX_LIST; NULL: take all); returns the count. */
unsigned vm_msr_boot_list(const uint32_t *supported, unsigned nsupported, struct kvm_msr_entry *out,
			  unsigned max);

#endif
