/* The Linux x86 boot protocol (Documentation/arch/x86/boot.rst): a bzImage's
 * protected-mode kernel loaded at 1 MiB and entered at its 64-bit entry, or a
 * plain vmlinux ELF entered at its ELF entry, both with a zero page (struct
 * boot_params) describing memory, command line, initrd and ACPI. */
#include <errno.h>
#include <string.h>

#include "vmm/boot/boot.h"
#include "vmm/layout.h"

/* setup header offsets in the image and in the zero page (boot.rst "THE REAL-MODE
 * KERNEL HEADER"); both use the same offsets */
#define H_SETUP_SECTS	  0x1f1
#define H_BOOT_FLAG	  0x1fe
#define H_JUMP		  0x200
#define H_HEADER	  0x202
#define H_VERSION	  0x206
#define H_TYPE_OF_LOADER  0x210
#define H_LOADFLAGS	  0x211
#define H_RAMDISK_IMAGE	  0x218
#define H_RAMDISK_SIZE	  0x21c
#define H_CMD_LINE_PTR	  0x228
#define H_INITRD_ADDR_MAX 0x22c
#define H_KERNEL_ALIGN	  0x230
#define H_RELOCATABLE	  0x234
#define H_XLOADFLAGS	  0x236
#define H_CMDLINE_SIZE	  0x238
#define H_HW_SUBARCH	  0x23c
#define H_PREF_ADDRESS	  0x258
#define H_INIT_SIZE	  0x260
#define ZP_SENTINEL	  0x1ef

#define LOADED_HIGH   (1u << 0)
#define XLF_KERNEL_64 (1u << 0)

static uint64_t rd(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void wr(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static int put_cmdline(struct vm_memory *mem, const char *cmdline, uint64_t limit, struct vs_err *e)
{
	size_t n = strlen(cmdline);

	if (n > limit || n >= VM_CMDLINE_MAX)
		return vs_fail(
			e, E2BIG, "kernel command line: %zu bytes, the kernel takes at most %llu",
			n,
			(unsigned long long)(limit < VM_CMDLINE_MAX ? limit : VM_CMDLINE_MAX - 1));
	if (vm_mem_write(mem, VM_CMDLINE_ADDR, cmdline, n + 1) < 0)
		return vs_fail(e, EINVAL, "kernel command line: guest RAM too small");
	return 0;
}

/* The parts of the zero page both Linux paths share. zp already holds the
 * setup header. */
static int fill_zero_page(struct vm_memory *mem, uint8_t *zp, const struct vm_boot_input *in,
			  uint64_t initrd_addr, struct vs_err *e)
{
	struct vm_e820_entry map[VM_E820_MAX];
	unsigned n = vm_e820_build(vm_mem_size(mem), map);

	zp[ZP_SENTINEL] = 0;	     /* else the kernel thinks we left garbage behind */
	zp[H_TYPE_OF_LOADER] = 0xff; /* undefined loader ID */
	wr(zp + H_CMD_LINE_PTR, VM_CMDLINE_ADDR, 4);
	wr(zp + H_RAMDISK_IMAGE, initrd_addr, 4);
	wr(zp + H_RAMDISK_SIZE, in->initrd ? in->initrd_len : 0, 4);
	wr(zp + H_HW_SUBARCH, 0, 4); /* a normal PC */
	wr(zp + VM_LINUX_ZP_RSDP, in->rsdp_addr, 8);
	zp[VM_LINUX_ZP_E820_NR] = (uint8_t)n;
	for (unsigned i = 0; i < n; i++) {
		uint8_t *ent = zp + VM_LINUX_ZP_E820 + 20 * i;
		wr(ent, map[i].addr, 8);
		wr(ent + 8, map[i].size, 8);
		wr(ent + 16, map[i].type, 4);
	}
	if (vm_mem_write(mem, VM_BOOT_PARAMS_ADDR, zp, 4096) < 0)
		return vs_fail(e, EINVAL, "zero page: guest RAM too small");
	return 0;
}

int vm_boot_linux(struct vm_memory *mem, const struct vm_boot_input *in,
		  struct vm_boot_entry *entry, struct vs_err *e)
{
	const uint8_t *k = in->kernel;
	uint8_t zp[4096] = {0};
	uint64_t low, high;

	vm_mem_layout(vm_mem_size(mem), &low, &high);
	if (in->kernel_len < 0x270 || rd(k + H_BOOT_FLAG, 2) != 0xaa55 ||
	    memcmp(k + H_HEADER, "HdrS", 4))
		return vs_fail(e, EINVAL, "bzImage: no \"HdrS\" setup header");
	unsigned version = (unsigned)rd(k + H_VERSION, 2);
	if (version < 0x206)
		return vs_fail(e, EINVAL, "bzImage: boot protocol %u.%02u is older than 2.06",
			       version >> 8, version & 0xff);
	if (!(k[H_LOADFLAGS] & LOADED_HIGH))
		return vs_fail(e, EINVAL, "bzImage: not LOADED_HIGH (a zImage is not supported)");
	if (version >= 0x20c && !(rd(k + H_XLOADFLAGS, 2) & XLF_KERNEL_64))
		return vs_fail(e, EINVAL, "bzImage: no 64-bit entry point (XLF_KERNEL_64 clear)");

	uint64_t setup_sects = k[H_SETUP_SECTS] ? k[H_SETUP_SECTS] : 4;
	uint64_t pm_off = (setup_sects + 1) * 512;
	if (pm_off >= in->kernel_len)
		return vs_fail(e, EINVAL,
			       "bzImage: setup_sects %llu points past the end of the file",
			       (unsigned long long)setup_sects);
	uint64_t pm_len = in->kernel_len - pm_off;

	/* A relocatable kernel moves itself to an aligned place; one that is
	 * not must sit at pref_address (boot.rst: relocatable_kernel). */
	uint64_t load = VM_HIGH_MEM_START;
	uint64_t align = rd(k + H_KERNEL_ALIGN, 4);
	if (!k[H_RELOCATABLE] && version >= 0x20a) {
		load = rd(k + H_PREF_ADDRESS, 8);
		if (align && (load & (align - 1)))
			return vs_fail(e, EINVAL,
				       "bzImage: pref_address 0x%llx not aligned to 0x%llx",
				       (unsigned long long)load, (unsigned long long)align);
	}
	/* init_size: the memory the kernel needs from its load address until
	 * it has set itself up (2.10+); earlier, trust the image size */
	uint64_t need = version >= 0x20a ? rd(k + H_INIT_SIZE, 4) : 0;
	if (need < pm_len)
		need = pm_len;
	if (load + need > low)
		return vs_fail(e, ENOMEM,
			       "bzImage: needs 0x%llx bytes at 0x%llx, guest RAM below 3 GiB ends "
			       "at 0x%llx",
			       (unsigned long long)need, (unsigned long long)load,
			       (unsigned long long)low);
	if (vm_mem_write(mem, load, k + pm_off, pm_len) < 0)
		return vs_fail(e, EINVAL, "bzImage: kernel does not fit in guest RAM");

	uint64_t cmdline_max = rd(k + H_CMDLINE_SIZE, 4);
	if (put_cmdline(mem, in->cmdline, cmdline_max, e) < 0)
		return -1;

	uint64_t initrd_max = version >= 0x203 ? rd(k + H_INITRD_ADDR_MAX, 4) : 0x37ffffff;
	uint64_t top = initrd_max + 1 < low ? initrd_max + 1 : low;
	uint64_t initrd_addr = 0;
	if (vm_boot_place_initrd(mem, in, (load + need + 0xfff) & ~0xfffull, top, &initrd_addr, e) <
	    0)
		return -1;

	/* the setup header as the image has it: from 0x1f1 to the end of the
	 * jump's target (boot.rst: "the header ends at 0x202 + byte 0x201") */
	uint64_t hdr_end = H_HEADER + k[H_JUMP + 1];
	if (hdr_end > in->kernel_len || hdr_end > sizeof(zp))
		return vs_fail(e, EINVAL, "bzImage: setup header runs past the file");
	memcpy(zp + H_SETUP_SECTS, k + H_SETUP_SECTS, hdr_end - H_SETUP_SECTS);
	if (fill_zero_page(mem, zp, in, initrd_addr, e) < 0)
		return -1;

	*entry = (struct vm_boot_entry){
		.kind = VM_BOOT_LINUX,
		.mode = VM_ENTRY_LONG64,
		.rip = load + 0x200, /* boot.rst "64-bit BOOT PROTOCOL" */
		.rsi = VM_BOOT_PARAMS_ADDR,
		.rsp = VM_BOOT_STACK_TOP,
		.kernel_start = load,
		.kernel_end = load + need,
		.initrd_addr = initrd_addr,
	};
	return 0;
}

/* A vmlinux without a PVH note: its segments go to their physical
 * addresses and it is entered at e_entry (x86-64 vmlinux links
 * ENTRY(phys_startup_64), a physical address) with a zero page whose setup
 * header we make up, as for a bzImage's 64-bit entry. */
int vm_boot_vmlinux(struct vm_memory *mem, const struct vm_boot_input *in,
		    struct vm_boot_entry *entry, struct vs_err *e)
{
	struct vm_elf elf;
	uint8_t zp[4096] = {0};
	uint64_t lo, hi, low, high;

	vm_mem_layout(vm_mem_size(mem), &low, &high);
	if (vm_elf_parse(in->kernel, in->kernel_len, &elf, e) < 0)
		return vs_err_prefix(e, "vmlinux");
	if (!elf.is64)
		return vs_fail(e, EINVAL,
			       "vmlinux: a 32-bit ELF without a multiboot header or "
			       "PVH note cannot be booted");
	int inside = 0;
	for (unsigned i = 0; i < elf.nsegs; i++)
		if (elf.entry >= elf.segs[i].paddr &&
		    elf.entry - elf.segs[i].paddr < elf.segs[i].memsz)
			inside = 1;
	if (!inside)
		return vs_fail(e, EINVAL,
			       "vmlinux: entry 0x%llx is not a physical address inside a segment",
			       (unsigned long long)elf.entry);
	if (vm_elf_load(mem, in->kernel, in->kernel_len, &elf, &lo, &hi, e) < 0)
		return vs_err_prefix(e, "vmlinux");
	if (put_cmdline(mem, in->cmdline, VM_CMDLINE_MAX - 1, e) < 0)
		return -1;
	uint64_t initrd_addr = 0;
	if (vm_boot_place_initrd(mem, in, (hi + 0xfff) & ~0xfffull,
				 low < 0x38000000 ? low : 0x38000000, &initrd_addr, e) < 0)
		return -1;

	wr(zp + H_BOOT_FLAG, 0xaa55, 2);
	memcpy(zp + H_HEADER, "HdrS", 4);
	wr(zp + H_VERSION, 0x20f, 2);
	zp[H_LOADFLAGS] = LOADED_HIGH;
	wr(zp + H_KERNEL_ALIGN, 0x1000000, 4);
	wr(zp + H_CMDLINE_SIZE, VM_CMDLINE_MAX - 1, 4);
	if (fill_zero_page(mem, zp, in, initrd_addr, e) < 0)
		return -1;
	*entry = (struct vm_boot_entry){
		.kind = VM_BOOT_VMLINUX,
		.mode = VM_ENTRY_LONG64,
		.rip = elf.entry,
		.rsi = VM_BOOT_PARAMS_ADDR,
		.rsp = VM_BOOT_STACK_TOP,
		.kernel_start = lo,
		.kernel_end = hi,
		.initrd_addr = initrd_addr,
	};
	return 0;
}
