/* One virtual machine: its KVM handles, memory, buses, devices, vCPU
 * threads and event loop, and what ends it. vm_run() is the whole life of
 * a VM; the control socket drives pause/resume/shutdown through vm_*(). */
#ifndef VMM_VM_H
#define VMM_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "vmm/boot/boot.h"
#include "vmm/bus.h"
#include "vmm/config.h"
#include "vmm/device.h"
#include "vmm/event.h"
#include "vmm/irq.h"
#include "vmm/kvm.h"
#include "vmm/memory.h"
#include "vmm/pci.h"
#include "vmm/vcpu.h"
#include "vmm/x86/cpuid.h"

/* Process exit statuses besides the guest's own (debug-exit (v << 1) | 1,
 * ACPI power-off 0). Even numbers, so they never look like a debug-exit. */
#define VM_EXIT_OK	     0
#define VM_EXIT_SETUP	     1	/* bad input or set-up failure */
#define VM_EXIT_INTERNAL     2	/* KVM_EXIT_INTERNAL_ERROR (emulation failure...) */
#define VM_EXIT_TRIPLE_FAULT 4	/* KVM_EXIT_SHUTDOWN */
#define VM_EXIT_FAIL_ENTRY   6	/* KVM_EXIT_FAIL_ENTRY */
#define VM_EXIT_UNEXPECTED   8	/* an exit the VMM does not handle, KVM_RUN error */
#define VM_EXIT_GUEST_CRASH  10 /* KVM_SYSTEM_EVENT_CRASH (pvpanic-like) */

/* MSI through GSI routing and irqfd: a small cache of (address, data)
 * routes, each with its own GSI and eventfd. */
#define VM_MSI_ROUTES	64
#define VM_MSI_GSI_BASE 24 /* after the IOAPIC's 24 pins */

struct vm_msi_route {
	uint64_t addr;
	uint32_t data;
	int fd; /* irqfd bound to gsi; -1: slot unused */
	uint64_t last_use;
};

struct vm_msi {
	pthread_mutex_t lock;
	struct vm_msi_route r[VM_MSI_ROUTES];
	uint64_t clock;
	bool use_signal; /* routing failed: fall back to KVM_SIGNAL_MSI */
};

struct vm {
	const struct vm_config *cfg;
	struct vm_kvm kvm;
	struct vm_memory mem;
	struct vm_bus pio, mmio;
	struct vm_pci_bus pci;
	struct vm_irq irq;
	struct vm_msi msi;
	struct vm_event_loop *loop;
	struct vm_ctx ctx;
	struct vm_cpuid supported; /* KVM_GET_SUPPORTED_CPUID */
	uint32_t *msr_list;
	unsigned nr_msrs;
	struct vm_vcpu vcpus[VM_MAX_CPUS];
	unsigned nr_vcpus;
	struct vm_boot_entry entry;
	const struct vm_device_ops *devs[64];
	unsigned nr_devs, devs_created;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	atomic_bool paused; /* written under lock; vCPU threads peek without */
	atomic_bool stopping;
	unsigned parked;
	struct kvm_clock_data paused_clock;
	bool exit_set;
	int exit_status;
	char exit_why[256];
	char report[4096]; /* crash report from a vCPU, printed by main */
	uint64_t start_ns;
	struct vm_control *control;
};

/* Builds and runs the VM until it ends; *status is the process exit status.
 * -1 with e filled when setting it up failed (status then VM_EXIT_SETUP). */
int vm_run(const struct vm_config *cfg, int *status, char *report, size_t report_len,
	   struct vs_err *e);

/* Ends the VM with status (first caller wins). Any thread. */
void vm_request_exit(struct vm *vm, int status, const char *why);
/* Parks every vCPU outside KVM_RUN and saves kvmclock; resume restores it. */
int vm_pause(struct vm *vm, struct vs_err *e);
int vm_resume(struct vm *vm, struct vs_err *e);
uint64_t vm_uptime_ns(struct vm *vm);

/* msi.c */
int vm_msi_init(struct vm *vm, struct vs_err *e);
void vm_msi_send(void *opaque, uint64_t addr, uint32_t data);
void vm_irq_set_line(void *opaque, uint32_t gsi, int level);
void vm_msi_free(struct vm *vm);

/* host_profile.c: guest kernel parameters for hosts with known quirks. */
/* Returns the profile to apply ("pvm" or NULL) for the configured value
 * (NULL = auto: detected). */
const char *vm_host_profile_select(const char *configured);
/* malloc'ed cmdline with the profile's parameters appended. */
char *vm_host_profile_cmdline(const char *profile, const char *cmdline);

#endif
