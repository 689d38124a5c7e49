/* PVH direct boot (Xen's docs/misc/pvh.pandoc, as Linux and QEMU implement
 * it): an ELF whose XEN_ELFNOTE_PHYS32_ENTRY note gives a 32-bit entry,
 * entered in protected mode with paging off and EBX pointing at
 * struct hvm_start_info (xen/include/public/arch-x86/hvm/start_info.h). */
#include <errno.h>
#include <string.h>

#include "vmm/boot/boot.h"
#include "vmm/layout.h"

#define HVM_START_MAGIC 0x336ec578

/* start_info, its module list and memory map share one page */
#define SI_ADDR	     VM_BOOT_INFO_ADDR
#define MODLIST_ADDR (VM_BOOT_INFO_ADDR + 0x40)
#define MEMMAP_ADDR  (VM_BOOT_INFO_ADDR + 0x80)

static void wr(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

int vm_boot_pvh(struct vm_memory *mem, const struct vm_boot_input *in, struct vm_boot_entry *entry,
		struct vs_err *e)
{
	struct vm_elf elf;
	struct vm_e820_entry map[VM_E820_MAX];
	uint8_t page[0x400] = {0};
	uint64_t lo, hi, low, high;

	vm_mem_layout(vm_mem_size(mem), &low, &high);
	if (vm_elf_parse(in->kernel, in->kernel_len, &elf, e) < 0)
		return vs_err_prefix(e, "PVH kernel");
	if (!elf.has_pvh)
		return vs_fail(e, EINVAL, "PVH kernel: no XEN_ELFNOTE_PHYS32_ENTRY note");
	if (elf.pvh_entry >= VM_MMIO_HOLE_START)
		return vs_fail(e, EINVAL, "PVH kernel: entry 0x%llx is not in low RAM",
			       (unsigned long long)elf.pvh_entry);
	if (vm_elf_load(mem, in->kernel, in->kernel_len, &elf, &lo, &hi, e) < 0)
		return vs_err_prefix(e, "PVH kernel");

	size_t clen = strlen(in->cmdline);
	if (clen >= VM_CMDLINE_MAX)
		return vs_fail(e, E2BIG, "kernel command line: %zu bytes, at most %llu", clen,
			       VM_CMDLINE_MAX - 1);
	if (vm_mem_write(mem, VM_CMDLINE_ADDR, in->cmdline, clen + 1) < 0)
		return vs_fail(e, EINVAL, "kernel command line: guest RAM too small");

	uint64_t initrd_addr = 0;
	if (vm_boot_place_initrd(mem, in, (hi + 0xfff) & ~0xfffull, low, &initrd_addr, e) < 0)
		return -1;

	unsigned n = vm_e820_build(vm_mem_size(mem), map);
	uint8_t *si = page, *mod = page + (MODLIST_ADDR - SI_ADDR),
		*mm = page + (MEMMAP_ADDR - SI_ADDR);
	wr(si + 0, HVM_START_MAGIC, 4);
	wr(si + 4, 1, 4); /* version 1: has the memory map */
	wr(si + 8, 0, 4); /* flags */
	wr(si + 12, in->initrd ? 1 : 0, 4);
	wr(si + 16, in->initrd ? MODLIST_ADDR : 0, 8);
	wr(si + 24, VM_CMDLINE_ADDR, 8);
	wr(si + 32, in->rsdp_addr, 8);
	wr(si + 40, MEMMAP_ADDR, 8);
	wr(si + 48, n, 4);
	if (in->initrd) {
		wr(mod + 0, initrd_addr, 8);
		wr(mod + 8, in->initrd_len, 8);
		wr(mod + 16, 0, 8); /* no module command line */
	}
	for (unsigned i = 0; i < n; i++) {
		wr(mm + 24 * i, map[i].addr, 8);
		wr(mm + 24 * i + 8, map[i].size, 8);
		wr(mm + 24 * i + 16, map[i].type, 4);
	}
	if (vm_mem_write(mem, SI_ADDR, page, sizeof(page)) < 0)
		return vs_fail(e, EINVAL, "PVH start_info: guest RAM too small");

	*entry = (struct vm_boot_entry){
		.kind = VM_BOOT_PVH,
		.mode = VM_ENTRY_PROT32,
		.rip = elf.pvh_entry,
		.rbx = SI_ADDR,
		.kernel_start = lo,
		.kernel_end = hi,
		.initrd_addr = initrd_addr,
	};
	return 0;
}
