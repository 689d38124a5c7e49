/* CPUID filtering and topology (Intel SDM vol. 2A, CPUID; KVM's
 * Documentation/virt/kvm/x86/cpuid.rst for the 0x40000000 leaves). */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "vmm/x86/cpuid.h"

_Static_assert(offsetof(struct vm_cpuid, ent) == offsetof(struct kvm_cpuid2, entries),
	       "struct vm_cpuid must match struct kvm_cpuid2");

#define L1_ECX_HYPERVISOR		(1u << 31)
#define L1_ECX_VMX			(1u << 5)
#define L1_ECX_SMX			(1u << 6)
#define L1_EDX_HTT			(1u << 28)
#define L7_EBX_SGX			(1u << 2)
#define L7_EBX_PT			(1u << 25)
#define L7_ECX_SGX_LC			(1u << 30)
#define L7_EDX_ARCH_LBR			(1u << 19)
#define KVM_FEATURE_MSI_EXT_DEST_ID_BIT (1u << 15)

struct kvm_cpuid_entry2 *vm_cpuid_find(struct vm_cpuid *c, uint32_t fn, uint32_t idx)
{
	for (uint32_t i = 0; i < c->nent && i < VM_CPUID_MAX; i++) {
		struct kvm_cpuid_entry2 *x = &c->ent[i];
		if (x->function != fn)
			continue;
		if ((x->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) && x->index != idx)
			continue;
		return x;
	}
	return NULL;
}

static struct kvm_cpuid_entry2 *add(struct vm_cpuid *c, uint32_t fn, uint32_t idx, int indexed)
{
	if (c->nent >= VM_CPUID_MAX)
		return NULL;
	struct kvm_cpuid_entry2 *x = &c->ent[c->nent++];
	memset(x, 0, sizeof(*x));
	x->function = fn;
	x->index = idx;
	x->flags = indexed ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0;
	return x;
}

static void drop(struct vm_cpuid *c, uint32_t fn)
{
	uint32_t j = 0;

	for (uint32_t i = 0; i < c->nent; i++)
		if (c->ent[i].function != fn)
			c->ent[j++] = c->ent[i];
	c->nent = j;
}

/* Bits needed to hold n distinct IDs: the x2APIC ID shift of a level. */
static unsigned id_bits(unsigned n)
{
	unsigned b = 0;

	while ((1u << b) < n)
		b++;
	return b;
}

/* Leaves 0xb and 0x1f: level 0 SMT (1 thread), level 1 core (ncpus). */
static int topology_leaf(struct vm_cpuid *c, uint32_t fn, unsigned cpu, unsigned ncpus)
{
	drop(c, fn);
	for (uint32_t sub = 0; sub < 3; sub++) {
		struct kvm_cpuid_entry2 *x = add(c, fn, sub, 1);
		if (!x)
			return -1;
		x->edx = cpu; /* x2APIC ID */
		x->ecx = sub;
		if (sub == 0) {
			x->eax = 0;
			x->ebx = 1;
			x->ecx |= 1u << 8; /* SMT */
		} else if (sub == 1) {
			x->eax = id_bits(ncpus);
			x->ebx = ncpus;
			x->ecx |= 2u << 8; /* core */
		}
		/* sub 2: level type 0 ends the enumeration */
	}
	return 0;
}

int vm_cpuid_configure(struct vm_cpuid *c, unsigned cpu, unsigned ncpus, struct vs_err *e)
{
	struct kvm_cpuid_entry2 *x;

	if (ncpus == 0 || cpu >= ncpus || ncpus > 255)
		return vs_fail(e, EINVAL, "cpuid: vCPU %u of %u", cpu, ncpus);
	x = vm_cpuid_find(c, 0, 0);
	if (!x)
		return vs_fail(e, EINVAL, "cpuid: the supported table has no leaf 0");
	uint32_t max_basic = x->eax;

	x = vm_cpuid_find(c, 1, 0);
	if (!x)
		return vs_fail(e, EINVAL, "cpuid: the supported table has no leaf 1");
	x->ecx |= L1_ECX_HYPERVISOR;
	x->ecx &= ~(L1_ECX_VMX | L1_ECX_SMX); /* no nested virtualisation offered */
	/* EBX: 31:24 initial APIC ID, 23:16 addressable logical processors */
	x->ebx = (x->ebx & 0xffff) | (cpu << 24) | ((ncpus > 1 ? (1u << id_bits(ncpus)) : 1) << 16);
	if (ncpus > 1)
		x->edx |= L1_EDX_HTT;
	else
		x->edx &= ~L1_EDX_HTT;

	/* leaf 4: deterministic cache parameters per subleaf */
	for (uint32_t sub = 0; sub < 16; sub++) {
		x = vm_cpuid_find(c, 4, sub);
		if (!x || (x->eax & 0x1f) == 0)
			break;
		unsigned level = (x->eax >> 5) & 7;
		unsigned sharing = level >= 3 ? ncpus : 1;
		x->eax &= 0x3fff;
		x->eax |= ((1u << id_bits(ncpus)) - 1) << 26;	/* cores per package - 1 */
		x->eax |= ((1u << id_bits(sharing)) - 1) << 14; /* threads sharing - 1 */
	}

	if (max_basic >= 0xb && topology_leaf(c, 0xb, cpu, ncpus) < 0)
		return vs_fail(e, ENOSPC, "cpuid: table full");
	if (vm_cpuid_find(c, 0x1f, 0) && topology_leaf(c, 0x1f, cpu, ncpus) < 0)
		return vs_fail(e, ENOSPC, "cpuid: table full");

	/* features a VM without these VMM parts must not see */
	x = vm_cpuid_find(c, 7, 0);
	if (x) {
		x->ebx &= ~(L7_EBX_SGX | L7_EBX_PT);
		x->ecx &= ~L7_ECX_SGX_LC;
		x->edx &= ~L7_EDX_ARCH_LBR;
	}
	drop(c, 0x12); /* SGX enumeration */
	drop(c, 0x14); /* Intel PT enumeration */

	/* AMD: NC, the number of cores - 1 */
	x = vm_cpuid_find(c, 0x80000008, 0);
	if (x)
		x->ecx = (x->ecx & ~0xffu) | (ncpus - 1);

	/* KVM paravirt leaves: the signature the guest looks for, and the
	 * features KVM implements, minus the extended MSI destination ID the
	 * VMM's MSI routing does not decode */
	x = vm_cpuid_find(c, 0x40000000, 0);
	if (!x && !(x = add(c, 0x40000000, 0, 0)))
		return vs_fail(e, ENOSPC, "cpuid: table full");
	x->eax = 0x40000001;
	memcpy(&x->ebx, "KVMK", 4);
	memcpy(&x->ecx, "VMKV", 4);
	memcpy(&x->edx, "M\0\0\0", 4);
	x = vm_cpuid_find(c, 0x40000001, 0);
	if (x)
		x->eax &= ~KVM_FEATURE_MSI_EXT_DEST_ID_BIT;
	return 0;
}
