/* The KVM-side state of the machine for snapshots and migration: each
 * vCPU's registers, LAPIC, events, MSRs and FPU/XSAVE, and the VM's
 * irqchips, PIT and kvmclock. The core owns these sections (see
 * docs/snapshot-format.md); get/set talk to KVM, write/read are pure and
 * unit tested. Save with the VM paused. */
#ifndef VMM_VCPU_STATE_H
#define VMM_VCPU_STATE_H

#include <stdint.h>
#include <linux/kvm.h>

#include "vmm/state.h"
#include "vessel/err.h"

#define VM_VCPU_STATE_VERSION 1
#define VM_STATE_MAX_MSRS     256

struct vm_vcpu_state {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu;
	uint32_t xsave[1024]; /* struct kvm_xsave region: the legacy 4 KiB (KVM_GET_XSAVE) */
	struct kvm_xcrs xcrs;
	struct kvm_debugregs debugregs;
	struct kvm_lapic_state lapic;
	struct kvm_mp_state mp;
	struct kvm_vcpu_events events;
	uint32_t nmsrs;
	struct kvm_msr_entry msrs[VM_STATE_MAX_MSRS];
};

struct vm_machine_state {
	struct kvm_irqchip pic_master, pic_slave, ioapic;
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
};

/* Serialised as a version byte and tagged fields (tag, length, bytes), so a
 * reader refuses a field whose size it does not know. */
void vm_vcpu_state_write(const struct vm_vcpu_state *s, struct vm_state_writer *w);
int vm_vcpu_state_read(struct vm_vcpu_state *s, struct vm_state_reader *r, struct vs_err *e);
void vm_machine_state_write(const struct vm_machine_state *s, struct vm_state_writer *w);
int vm_machine_state_read(struct vm_machine_state *s, struct vm_state_reader *r, struct vs_err *e);

/* KVM: read or load one vCPU (msr_list: the MSRs to save, from
 * KVM_GET_MSR_INDEX_LIST) and the VM-wide state. */
int vm_vcpu_state_get(int vcpu_fd, const uint32_t *msr_list, unsigned nmsrs,
		      struct vm_vcpu_state *s, struct vs_err *e);
int vm_vcpu_state_set(int vcpu_fd, const struct vm_vcpu_state *s, struct vs_err *e);
int vm_machine_state_get(int vm_fd, struct vm_machine_state *s, struct vs_err *e);
int vm_machine_state_set(int vm_fd, const struct vm_machine_state *s, struct vs_err *e);

#endif
