/* Boot MSRs (Intel SDM vol. 4): system-call entry points cleared so nothing
 * from the host's or a previous boot's state leaks in, fast strings on as
 * firmware leaves it, MTRRs enabled with write-back default (no firmware
 * here programs them). kvmclock MSRs are the guest's to write. */
#include "vmm/x86/msr.h"

static const struct {
	uint32_t index;
	uint64_t value;
} boot_msrs[] = {
	{VM_MSR_IA32_SYSENTER_CS, 0},
	{VM_MSR_IA32_SYSENTER_ESP, 0},
	{VM_MSR_IA32_SYSENTER_EIP, 0},
	{VM_MSR_STAR, 0},
	{VM_MSR_LSTAR, 0},
	{VM_MSR_CSTAR, 0},
	{VM_MSR_SYSCALL_MASK, 0},
	{VM_MSR_KERNEL_GS_BASE, 0},
	{VM_MSR_IA32_TSC, 0},
	{VM_MSR_IA32_MISC_ENABLE, VM_MISC_ENABLE_FAST_STRING},
	{VM_MSR_MTRR_DEF_TYPE, (1ull << 11) | 6}, /* E, default type WB */
};

unsigned vm_msr_boot_list(const uint32_t *supported, unsigned nsupported, struct kvm_msr_entry *out,
			  unsigned max)
{
	unsigned n = 0;

	for (unsigned i = 0; i < sizeof(boot_msrs) / sizeof(boot_msrs[0]) && n < max; i++) {
		int ok = !supported;
		for (unsigned j = 0; supported && j < nsupported; j++)
			if (supported[j] == boot_msrs[i].index)
				ok = 1;
		if (!ok)
			continue;
		out[n] = (struct kvm_msr_entry){.index = boot_msrs[i].index,
						.data = boot_msrs[i].value};
		n++;
	}
	return n;
}
