/* vCPUs: creation (CPUID, MSRs, LAPIC, boot registers), the KVM_RUN
 * thread and its exit dispatch, kicks, and the fatal-exit report. */
#ifndef VMM_VCPU_H
#define VMM_VCPU_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "vessel/err.h"

#define VM_EXIT_REASONS 64 /* counters per KVM_EXIT_* value */

struct vm;

struct vm_vcpu {
	struct vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
	_Atomic uint64_t exits[VM_EXIT_REASONS];
	_Atomic uint64_t emulated; /* instructions done by the fallback */
};

int vm_vcpu_create(struct vm *vm, unsigned id, struct vs_err *e);
/* The kick signal's handler: before seccomp, which forbids sigaction. */
int vm_vcpu_signals_init(struct vs_err *e);
int vm_vcpu_start(struct vm_vcpu *v, struct vs_err *e);
void vm_vcpu_kick(struct vm_vcpu *v);
void vm_vcpu_destroy(struct vm_vcpu *v);
/* Formats the report of a fatal exit into buf (pure, for tests). */
void vm_vcpu_format_report(char *buf, size_t len, unsigned id, const char *what,
			   const struct kvm_regs *r, const struct kvm_sregs *s, const uint8_t *insn,
			   size_t ninsn);

#endif
