/* Multiboot v1 (the Multiboot Specification 0.6.96, §3): a header in the
 * first 8192 bytes, an ELF32 image (or the a.out-kludge addresses of header
 * flag 16), entered in 32-bit protected mode with EAX = 0x2BADB002 and EBX
 * pointing at the multiboot information structure. Registers and layout
 * follow what QEMU's -kernel loader gives kvm-unit-tests. */
#include <errno.h>
#include <string.h>

#include "vmm/boot/boot.h"
#include "vmm/layout.h"

#define MB_MAGIC	 0x1BADB002u
#define MB_BOOT_MAGIC	 0x2BADB002u
#define MB_SEARCH	 8192
#define MB_F_PAGE_ALIGN	 (1u << 0)
#define MB_F_MEMINFO	 (1u << 1)
#define MB_F_VIDEO	 (1u << 2)
#define MB_F_AOUT_KLUDGE (1u << 16)

/* multiboot_info flags (§3.3) */
#define MBI_MEM		(1u << 0)
#define MBI_CMDLINE	(1u << 2)
#define MBI_MODS	(1u << 3)
#define MBI_MMAP	(1u << 6)
#define MBI_LOADER_NAME (1u << 9)

#define MBI_ADDR      VM_BOOT_INFO_ADDR
#define MBI_MODS_ADDR (VM_BOOT_INFO_ADDR + 0x100)
#define MBI_MMAP_ADDR (VM_BOOT_INFO_ADDR + 0x200)
#define MBI_NAME_ADDR (VM_BOOT_INFO_ADDR + 0x400)

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Offset of a valid header (magic, flags, checksum summing to 0), or -1. */
long vm_multiboot_find(const uint8_t *img, size_t len)
{
	for (size_t off = 0; off + 12 <= len && off + 12 <= MB_SEARCH; off += 4) {
		if (rd32(img + off) != MB_MAGIC)
			continue;
		if ((uint32_t)(rd32(img + off) + rd32(img + off + 4) + rd32(img + off + 8)) == 0)
			return (long)off;
	}
	return -1;
}

/* a.out kludge (§3.1.3): the header's own address fields say where the
 * file goes. */
static int load_aout(struct vm_memory *mem, const uint8_t *img, size_t len, size_t hoff,
		     uint64_t *lo, uint64_t *hi, uint64_t *entry, struct vs_err *e)
{
	if (hoff + 32 > len)
		return vs_fail(e, EINVAL,
			       "multiboot: header address fields past the end of the file");
	const uint8_t *h = img + hoff;
	uint32_t header_addr = rd32(h + 12), load_addr = rd32(h + 16), load_end = rd32(h + 20),
		 bss_end = rd32(h + 24);
	*entry = rd32(h + 28);

	if (load_addr > header_addr || header_addr - load_addr > hoff)
		return vs_fail(e, EINVAL,
			       "multiboot: load_addr 0x%x inconsistent with header_addr 0x%x",
			       load_addr, header_addr);
	size_t foff = hoff - (header_addr - load_addr);
	uint64_t size = load_end ? (uint64_t)load_end - load_addr : len - foff;
	if (load_end && load_end < load_addr)
		return vs_fail(e, EINVAL, "multiboot: load_end_addr below load_addr");
	if (size > len - foff)
		return vs_fail(e, EINVAL, "multiboot: load range 0x%x+0x%llx runs past the file",
			       load_addr, (unsigned long long)size);
	uint64_t end = (uint64_t)load_addr + size;
	if (bss_end && bss_end < end)
		return vs_fail(e, EINVAL, "multiboot: bss_end_addr 0x%x below the loaded image",
			       bss_end);
	uint64_t total_end = bss_end ? bss_end : end;
	if (load_addr < VM_HIGH_MEM_START)
		return vs_fail(e, EINVAL, "multiboot: load_addr 0x%x is below 1 MiB", load_addr);
	uint8_t *dst = vm_mem_ptr(mem, load_addr, total_end - load_addr);
	if (!dst)
		return vs_fail(e, EINVAL, "multiboot: image 0x%x-0x%llx does not fit in guest RAM",
			       load_addr, (unsigned long long)total_end);
	memcpy(dst, img + foff, size);
	memset(dst + size, 0, total_end - end);
	*lo = load_addr;
	*hi = total_end;
	return 0;
}

int vm_boot_multiboot(struct vm_memory *mem, const struct vm_boot_input *in,
		      struct vm_boot_entry *entry, struct vs_err *e)
{
	struct vm_e820_entry map[VM_E820_MAX];
	uint8_t page[0x500] = {0};
	uint64_t lo = 0, hi = 0, rip = 0, low, high;

	vm_mem_layout(vm_mem_size(mem), &low, &high);
	long hoff = vm_multiboot_find(in->kernel, in->kernel_len);
	if (hoff < 0)
		return vs_fail(e, EINVAL, "multiboot: no valid header in the first %d bytes",
			       MB_SEARCH);
	uint32_t flags = rd32(in->kernel + hoff + 4);
	/* bits 0-15 are requirements: refuse what we cannot honour (§3.1.2);
	 * video mode (bit 2) is a preference we leave unset, as QEMU does */
	uint32_t unknown = flags & 0xffff & ~(MB_F_PAGE_ALIGN | MB_F_MEMINFO | MB_F_VIDEO);
	if (unknown)
		return vs_fail(e, EINVAL, "multiboot: unsupported required flags 0x%x", unknown);

	if (flags & MB_F_AOUT_KLUDGE) {
		if (load_aout(mem, in->kernel, in->kernel_len, (size_t)hoff, &lo, &hi, &rip, e) < 0)
			return -1;
	} else {
		struct vm_elf elf;

		if (vm_elf_parse(in->kernel, in->kernel_len, &elf, e) < 0)
			return vs_err_prefix(e, "multiboot");
		if (elf.is64)
			return vs_fail(e, EINVAL,
				       "multiboot: a 64-bit ELF needs the a.out kludge "
				       "(header flag 16); give a 32-bit image");
		if (vm_elf_load(mem, in->kernel, in->kernel_len, &elf, &lo, &hi, e) < 0)
			return vs_err_prefix(e, "multiboot");
		rip = elf.entry;
	}
	if (hi > VM_MMIO_HOLE_START || rip >= hi || rip < lo)
		return vs_fail(
			e, EINVAL, "multiboot: entry 0x%llx outside the loaded image 0x%llx-0x%llx",
			(unsigned long long)rip, (unsigned long long)lo, (unsigned long long)hi);

	size_t clen = strlen(in->cmdline);
	if (clen >= VM_CMDLINE_MAX)
		return vs_fail(e, E2BIG, "kernel command line: %zu bytes, at most %llu", clen,
			       VM_CMDLINE_MAX - 1);
	if (vm_mem_write(mem, VM_CMDLINE_ADDR, in->cmdline, clen + 1) < 0)
		return vs_fail(e, EINVAL, "kernel command line: guest RAM too small");
	uint64_t initrd_addr = 0;
	if (vm_boot_place_initrd(mem, in, (hi + 0xfff) & ~0xfffull, low, &initrd_addr, e) < 0)
		return -1;

	uint8_t *mbi = page;
	uint32_t iflags = MBI_MEM | MBI_CMDLINE | MBI_MMAP | MBI_LOADER_NAME;
	wr(mbi + 4, VM_EBDA_START / 1024, 4);		  /* mem_lower, KiB */
	wr(mbi + 8, (low - VM_HIGH_MEM_START) / 1024, 4); /* mem_upper: up to the hole */
	wr(mbi + 16, VM_CMDLINE_ADDR, 4);
	if (in->initrd) {
		uint8_t *mod = page + (MBI_MODS_ADDR - MBI_ADDR);

		iflags |= MBI_MODS;
		wr(mbi + 20, 1, 4);
		wr(mbi + 24, MBI_MODS_ADDR, 4);
		wr(mod + 0, initrd_addr, 4);
		wr(mod + 4, initrd_addr + in->initrd_len, 4); /* exclusive end */
		wr(mod + 8, VM_CMDLINE_ADDR, 4);	      /* module string: the command line */
	}
	unsigned n = vm_e820_build(vm_mem_size(mem), map);
	uint8_t *mm = page + (MBI_MMAP_ADDR - MBI_ADDR);
	for (unsigned i = 0; i < n; i++) {
		wr(mm + 24 * i, 20, 4); /* size of the entry minus this field */
		wr(mm + 24 * i + 4, map[i].addr, 8);
		wr(mm + 24 * i + 12, map[i].size, 8);
		wr(mm + 24 * i + 20, map[i].type, 4);
	}
	wr(mbi + 44, 24 * n, 4);
	wr(mbi + 48, MBI_MMAP_ADDR, 4);
	memcpy(page + (MBI_NAME_ADDR - MBI_ADDR), "vessel-vmm", 11);
	wr(mbi + 64, MBI_NAME_ADDR, 4);
	wr(mbi + 0, iflags, 4);
	if (vm_mem_write(mem, MBI_ADDR, page, sizeof(page)) < 0)
		return vs_fail(e, EINVAL, "multiboot info: guest RAM too small");

	*entry = (struct vm_boot_entry){
		.kind = VM_BOOT_MULTIBOOT,
		.mode = VM_ENTRY_PROT32,
		.rip = rip,
		.rax = MB_BOOT_MAGIC,
		.rbx = MBI_ADDR,
		.kernel_start = lo,
		.kernel_end = hi,
		.initrd_addr = initrd_addr,
	};
	return 0;
}
