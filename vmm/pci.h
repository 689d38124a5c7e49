/* PCI: the host bridge (legacy 0xCF8/0xCFC and ECAM) and device registration.
 * Devices fill their own configuration space and BARs; the bus moves BARs on
 * the MMIO/PIO buses when the guest reprograms them. */
#ifndef VMM_PCI_H
#define VMM_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/bus.h"
#include "vessel/err.h"

/* Guest physical layout, shared with the ACPI tables (MCFG, DSDT _CRS). */
#define VM_PCI_ECAM_BASE 0xe0000000ull /* bus 0 only: 1 MiB */
#define VM_PCI_ECAM_SIZE 0x00100000ull
#define VM_PCI_MMIO_BASE 0xc0000000ull /* 32-bit BAR window */
#define VM_PCI_MMIO_SIZE 0x20000000ull
#define VM_PCI_MAX_DEVS	 32
/* Legacy INTx of device slot N is routed to GSI VM_PCI_INTX_GSI(N). */
#define VM_PCI_INTX_GSI(slot) (16 + ((slot) % 8))

struct vm_pci_dev;

struct vm_pci_bar {
	uint64_t size; /* power of two; 0: BAR unused */
	bool is_io;    /* I/O space BAR (else 64-bit or 32-bit memory) */
	bool is_64;
	uint64_t addr; /* current guest address, as programmed */
	vm_io_fn fn;   /* access handler, offset from BAR start */
	void *opaque;
	bool mapped; /* registered on its bus at addr (vmm/pci.c) */
};

struct vm_pci_dev {
	const char *name;
	uint8_t slot;	      /* assigned by vm_pci_register */
	uint8_t config[4096]; /* configuration space (extended, for ECAM) */
	uint8_t wmask[4096];  /* which config bits the guest may write */
	struct vm_pci_bar bar[6];
	/* called after a guest config write has been applied (MSI-X enable...) */
	void (*config_written)(struct vm_pci_dev *d, uint32_t off, uint32_t len);
	/* called before a guest config read is served, so a device can fill
	 * bytes whose value comes from elsewhere (virtio's PCI_CFG window) */
	void (*config_read)(struct vm_pci_dev *d, uint32_t off, uint32_t len);
	void *opaque;
	uint16_t cap_end; /* next free capability offset (vm_pci_add_cap) */
};

struct vm_pci_bus {
	struct vm_bus *pio, *mmio;
	struct vm_pci_dev *devs[VM_PCI_MAX_DEVS];
	uint32_t cf8;	    /* latched CONFIG_ADDRESS */
	uint64_t next_mmio; /* BAR allocator for firmware-less boot */
	uint16_t next_io;
	struct vm_pci_dev host_bridge; /* slot 0 (vmm/pci.c) */
	uint32_t intx_asserted;	       /* slots whose INTx is asserted */
};

int vm_pci_bus_init(struct vm_pci_bus *pci, struct vm_bus *pio, struct vm_bus *mmio,
		    struct vs_err *e);
/* Sets the header type 0 fields (vendor/device/class...), allocates and maps
 * the BARs (the VMM is the firmware here), claims a slot. */
int vm_pci_register(struct vm_pci_bus *pci, struct vm_pci_dev *d, struct vs_err *e);
/* Config space accessors the host bridge (and tests) use. */
uint32_t vm_pci_config_read(struct vm_pci_bus *pci, uint8_t slot, uint32_t off, uint32_t len);
void vm_pci_config_write(struct vm_pci_bus *pci, uint8_t slot, uint32_t off, uint32_t len,
			 uint32_t val);
/* Adds a capability to d's list; returns its offset in config space. */
int vm_pci_add_cap(struct vm_pci_dev *d, const void *cap, uint8_t len);
/* Drives slot's INTx. Slots share GSIs (VM_PCI_INTX_GSI), so the line is
 * the OR of every slot routed to it, as wired-OR on a real board; irq is
 * told only when that OR changes. */
struct vm_irq;
void vm_pci_set_intx(struct vm_pci_bus *pci, const struct vm_irq *irq, uint8_t slot, bool level);
/* Re-maps d's BARs from its config space (after a restore wrote it back). */
void vm_pci_update_bars(struct vm_pci_bus *pci, struct vm_pci_dev *d);
/* Unmaps every device's BARs and drops the port/ECAM handlers (optional at
 * exit: nothing is allocated). */
void vm_pci_bus_destroy(struct vm_pci_bus *pci);

#endif
