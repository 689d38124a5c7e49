/* Port-I/O and MMIO dispatch: a device claims an address range and gets the
 * accesses that fall in it, as an offset from the start of its range. */
#ifndef VMM_BUS_H
#define VMM_BUS_H

#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>

#include "vessel/err.h"

/* data holds len (1, 2, 4 or 8) bytes, little-endian; a read fills it. */
typedef void (*vm_io_fn)(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

#define VM_BUS_MAX_RANGES 64

struct vm_bus_range {
	uint64_t base, len;
	vm_io_fn fn;
	void *opaque;
	const char *name;
};

struct vm_bus {
	const char *name;      /* "pio" or "mmio", for messages */
	pthread_rwlock_t lock; /* PCI BAR moves re-register while vCPUs run */
	struct vm_bus_range ranges[VM_BUS_MAX_RANGES];
	unsigned nr;
};

void vm_bus_init(struct vm_bus *bus, const char *name);
/* Fails on overlap with an existing range, naming both devices. */
int vm_bus_register(struct vm_bus *bus, uint64_t base, uint64_t len, vm_io_fn fn, void *opaque,
		    const char *name, struct vs_err *e);
void vm_bus_unregister(struct vm_bus *bus, uint64_t base, void *opaque);
/* Returns false when no device claims addr: reads then see all-ones, writes
 * are dropped, as on a real bus with nothing behind it. */
bool vm_bus_dispatch(struct vm_bus *bus, uint64_t addr, uint8_t *data, uint32_t len, bool is_write);

#endif
