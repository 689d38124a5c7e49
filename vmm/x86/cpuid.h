/* The CPUID table a vCPU sees: KVM_GET_SUPPORTED_CPUID's table, filtered
 * and given a per-vCPU topology. Pure: tests feed it made-up tables. */
#ifndef VMM_X86_CPUID_H
#define VMM_X86_CPUID_H

#include <stdint.h>
#include <linux/kvm.h>

#include "vessel/err.h"

/* Enough for any table KVM reports (it returns E2BIG past its own limit). */
#define VM_CPUID_MAX 256

/* Laid out as struct kvm_cpuid2 with room for its entries: pass
 * (struct kvm_cpuid2 *) to KVM_GET_SUPPORTED_CPUID / KVM_SET_CPUID2. */
struct vm_cpuid {
	uint32_t nent;
	uint32_t padding;
	struct kvm_cpuid_entry2 ent[VM_CPUID_MAX];
};

/* Entry for (function, index), NULL when absent. */
struct kvm_cpuid_entry2 *vm_cpuid_find(struct vm_cpuid *c, uint32_t fn, uint32_t idx);

/*
 * Adjusts c (a copy of the supported table) for vCPU cpu of ncpus:
 * hypervisor bit, KVM signature leaves, APIC ID in leaf 1 and the topology
 * leaves 4, 0xb and 0x1f (one package, ncpus cores, one thread each), and
 * removes features the VMM does not emulate.
 */
int vm_cpuid_configure(struct vm_cpuid *c, unsigned cpu, unsigned ncpus, struct vs_err *e);

#endif
