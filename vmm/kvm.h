/* The KVM system and VM file descriptors: opening /dev/kvm with clear
 * errors for what is missing, and the VM-wide set-up (irqchip, PIT, TSS,
 * guest memory slots). */
#ifndef VMM_KVM_H
#define VMM_KVM_H

#include <stdint.h>

#include "vmm/memory.h"
#include "vessel/err.h"

#define VM_KVM_DEV "/dev/kvm"
/* Where KVM on Intel keeps the real-mode TSS (3 pages) and the identity
 * page table; both inside the MMIO hole, clear of every device. */
#define VM_KVM_IDENTITY_MAP_ADDR 0xfffbc000ull
#define VM_KVM_TSS_ADDR		 0xfffbd000ull

struct vm_kvm {
	int fd; /* /dev/kvm */
	int vm_fd;
	int run_size; /* mmap size of struct kvm_run */
	int max_vcpus;
};

/* A capability the VMM cannot work without. */
struct vm_kvm_cap {
	int cap;
	const char *name;
};
extern const struct vm_kvm_cap vm_kvm_required_caps[];

/* Opens path (VM_KVM_DEV), checks the API version and every required
 * capability; errors name the device and the missing capability. */
int vm_kvm_open(struct vm_kvm *k, const char *path, struct vs_err *e);
/* KVM_CREATE_VM, TSS and identity-map addresses, in-kernel IRQCHIP, PIT. */
int vm_kvm_create_vm(struct vm_kvm *k, unsigned vcpus, struct vs_err *e);
/* One memory slot per region of m. */
int vm_kvm_set_memory(struct vm_kvm *k, const struct vm_memory *m, struct vs_err *e);
void vm_kvm_close(struct vm_kvm *k);

#endif
