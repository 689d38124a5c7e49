/*
 * The saved state of one x86 vCPU and of the VM-wide in-kernel devices
 * (irqchip, PIT, kvmclock), and their snapshot sections. Encoding and
 * decoding are pure functions over the KVM ABI structs (the x86-64 kernel's
 * layout, little-endian), so they are unit-tested and fuzzed without KVM;
 * vm_vcpu_state_get/set are the thin ioctl layer (docs/snapshots.md).
 */
#ifndef VMM_X86_VCPU_STATE_H
#define VMM_X86_VCPU_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "vmm/state.h"
#include "vessel/err.h"

#define VM_VCPU_STATE_VERSION 1u
/* Refused above these: a hostile file must not make the decoder allocate
 * without bound. KVM's own MSR list is a few hundred; XSAVE with AMX is
 * about 11 KiB. */
#define VM_VCPU_MAX_MSRS  1024u
#define VM_VCPU_MAX_XSAVE (64u * 1024u)

struct vm_vcpu_state {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu;
	uint8_t *xsave;	    /* NULL: the host had no XSAVE (fpu is used) */
	uint32_t xsave_len; /* bytes, a multiple of 4, >= sizeof(struct kvm_xsave) */
	bool has_xcrs;
	struct kvm_xcrs xcrs;
	struct kvm_msr_entry *msrs;
	uint32_t nr_msrs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events events;
	struct kvm_mp_state mp;
	struct kvm_debugregs dregs;
	uint32_t tsc_khz; /* 0: unknown */
};

void vm_vcpu_state_free(struct vm_vcpu_state *s);
/* Appends the section body for s to w. */
void vm_vcpu_state_encode(const struct vm_vcpu_state *s, struct vm_state_writer *w);
/* Parses a section body into s (allocating xsave and msrs); every field is
 * required once, sizes must be exact, counts are bounded. On failure s is
 * left empty and e names the field. */
int vm_vcpu_state_decode(const char *what, const void *buf, size_t len, struct vm_vcpu_state *s,
			 struct vs_err *e);

/* VM-wide in-kernel state: PIC master and slave, IOAPIC, PIT, kvmclock. */
struct vm_irqchip_state {
	struct kvm_irqchip chip[3]; /* KVM_IRQCHIP_PIC_MASTER, _SLAVE, _IOAPIC */
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
};

void vm_irqchip_state_encode(const struct vm_irqchip_state *s, struct vm_state_writer *w);
int vm_irqchip_state_decode(const char *what, const void *buf, size_t len,
			    struct vm_irqchip_state *s, struct vs_err *e);

/* The ioctl layer. msr_list: the indices to save (KVM_GET_MSR_INDEX_LIST). */
int vm_vcpu_state_get(int kvm_fd, int vcpu_fd, const uint32_t *msr_list, unsigned nr_msrs,
		      struct vm_vcpu_state *s, struct vs_err *e);
int vm_vcpu_state_set(int kvm_fd, int vcpu_fd, const struct vm_vcpu_state *s, struct vs_err *e);
int vm_irqchip_state_get(int vm_fd, struct vm_irqchip_state *s, struct vs_err *e);
int vm_irqchip_state_set(int vm_fd, const struct vm_irqchip_state *s, struct vs_err *e);

#endif
