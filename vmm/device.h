/* What a device sees of the machine, and how devices register themselves.
 * The VMM core knows no device by name: it walks the vm_devices section. */
#ifndef VMM_DEVICE_H
#define VMM_DEVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/bus.h"
#include "vmm/config.h"
#include "vmm/event.h"
#include "vmm/irq.h"
#include "vmm/memory.h"
#include "vmm/pci.h"
#include "vmm/state.h"
#include "vessel/err.h"

struct vm_ctx {
	const struct vm_config *cfg;
	struct vm_memory *mem;
	struct vm_bus *pio, *mmio;
	struct vm_pci_bus *pci;
	struct vm_irq *irq;
	struct vm_event_loop *loop;
	/* KVM_IOEVENTFD on a guest address; NULL or -1: not available, the
	 * device's MMIO handler sees the write instead. */
	int (*add_ioeventfd)(struct vm_ctx *ctx, uint64_t addr, uint32_t len, bool is_pio, int fd,
			     struct vs_err *e);
	/* Ends the VM: status is the process exit status (debug-exit: (v<<1)|1,
	 * power-off 0, reset: the core decides). Any thread. */
	void (*request_exit)(struct vm_ctx *ctx, int status, const char *why);
	/* Monotonic ns since process start (boot-time marker). */
	uint64_t (*uptime_ns)(struct vm_ctx *ctx);
	void *core; /* the VMM core's own state */
};

/*
 * One kind of device. create() decides from ctx->cfg how many instances it
 * makes (none, one, one per disk...) and registers their port, MMIO or PCI
 * handlers; state is saved and restored per instance, in creation order.
 */
struct vm_device_ops {
	const char *name;
	int order; /* lower creates first: platform 0, pci 10, virtio 20 */
	int (*create)(struct vm_ctx *ctx, struct vs_err *e);
	/* Number of instances created (for save/restore), and per instance: */
	unsigned (*count)(void);
	int (*save)(unsigned idx, struct vm_state_writer *w);
	int (*restore)(unsigned idx, struct vm_state_reader *r, struct vs_err *e);
	void (*destroy)(void);
};

#define VM_DEVICE(ops)                                                                             \
	static const struct vm_device_ops *const vm_device_ptr_##ops                               \
		__attribute__((used, section("vm_devices"), aligned(sizeof(void *)))) = &ops

/* The linker provides these for the vm_devices section. */
extern const struct vm_device_ops *const __start_vm_devices[];
extern const struct vm_device_ops *const __stop_vm_devices[];

#endif
