/* The guest memory map: where RAM is (vm_mem_layout) and what the guest is
 * told about it (e820 for Linux and PVH, multiboot mmap). */
#include "vmm/boot/boot.h"
#include "vmm/layout.h"
#include "vmm/pci.h"

void vm_mem_layout(uint64_t mem_size, uint64_t *low, uint64_t *high)
{
	*low = mem_size < VM_MMIO_HOLE_START ? mem_size : VM_MMIO_HOLE_START;
	*high = mem_size - *low;
}

unsigned vm_e820_build(uint64_t mem_size, struct vm_e820_entry *out)
{
	uint64_t low, high;
	unsigned n = 0;

	vm_mem_layout(mem_size, &low, &high);
	/* conventional memory, then the EBDA a PC BIOS would keep there */
	out[n++] = (struct vm_e820_entry){0, VM_EBDA_START, VM_E820_RAM};
	out[n++] = (struct vm_e820_entry){VM_EBDA_START, 0xa0000 - VM_EBDA_START, VM_E820_RESERVED};
	/* ACPI tables and the BIOS area: the guest must not reuse them; the
	 * RSDP lives here, so "reclaimable" would be wrong */
	out[n++] = (struct vm_e820_entry){VM_ACPI_ADDR, VM_HIGH_MEM_START - VM_ACPI_ADDR,
					  VM_E820_RESERVED};
	if (low > VM_HIGH_MEM_START)
		out[n++] = (struct vm_e820_entry){VM_HIGH_MEM_START, low - VM_HIGH_MEM_START,
						  VM_E820_RAM};
	/* Linux uses MMCONFIG only when the ECAM window is reserved in e820
	 * (arch/x86/pci/mmconfig-shared.c is_mmconf_reserved) */
	out[n++] = (struct vm_e820_entry){VM_PCI_ECAM_BASE, VM_PCI_ECAM_SIZE, VM_E820_RESERVED};
	if (high)
		out[n++] = (struct vm_e820_entry){VM_MMIO_HOLE_END, high, VM_E820_RAM};
	return n;
}
