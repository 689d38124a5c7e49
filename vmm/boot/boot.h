/* Loading a guest kernel into guest memory: format detection and the three
 * boot paths (Linux boot protocol, PVH, multiboot v1). Everything here is a
 * pure function of the image bytes and a struct vm_memory, so it is unit
 * tested without KVM; the vCPU code turns struct vm_boot_entry into
 * registers (vmm/x86/regs.h). */
#ifndef VMM_BOOT_H
#define VMM_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/memory.h"
#include "vessel/err.h"

enum vm_boot_kind {
	VM_BOOT_LINUX,	   /* bzImage, Linux boot protocol, 64-bit entry */
	VM_BOOT_VMLINUX,   /* ELF64 without PVH note: 64-bit Linux boot protocol */
	VM_BOOT_PVH,	   /* ELF with XEN_ELFNOTE_PHYS32_ENTRY */
	VM_BOOT_MULTIBOOT, /* multiboot v1: ELF32 or a.out kludge */
};

const char *vm_boot_kind_name(enum vm_boot_kind k);

/* What the loader needs besides guest memory. */
struct vm_boot_input {
	const uint8_t *kernel;
	size_t kernel_len;
	const uint8_t *initrd; /* NULL: none */
	size_t initrd_len;
	const char *cmdline; /* never NULL ("" for none) */
	const char *initrd_name;
	uint64_t rsdp_addr; /* 0: no ACPI tables */
};

enum vm_entry_mode {
	VM_ENTRY_LONG64, /* long mode, identity paging, CS 0x10 64-bit */
	VM_ENTRY_PROT32, /* protected mode, paging off, flat 4 GiB CS 0x10 */
};

/* The BSP's state at entry, as the boot path defines it. */
struct vm_boot_entry {
	enum vm_boot_kind kind;
	enum vm_entry_mode mode;
	uint64_t rip, rsi, rax, rbx, rsp;
	uint64_t kernel_start, kernel_end; /* guest physical, for messages */
	uint64_t initrd_addr;
};

/* e820 types (ACPI 6.4 §15: address range types) */
#define VM_E820_RAM	 1
#define VM_E820_RESERVED 2
#define VM_E820_ACPI	 3

struct vm_e820_entry {
	uint64_t addr, size;
	uint32_t type;
};

#define VM_E820_MAX 8

/* The guest's memory map for mem_size bytes of RAM laid out as
 * vm_mem_layout() does; returns the number of entries. */
unsigned vm_e820_build(uint64_t mem_size, struct vm_e820_entry *out);

/* Where RAM sits: [0, low) and, when mem_size exceeds the MMIO hole start,
 * [4 GiB, 4 GiB + high). */
void vm_mem_layout(uint64_t mem_size, uint64_t *low, uint64_t *high);

/* Detects the format; e says what was checked when nothing matches. */
int vm_boot_detect(const uint8_t *img, size_t len, enum vm_boot_kind *kind, struct vs_err *e);

/* Detects and loads; fills entry. mem must cover the layout of its size. */
int vm_boot_load(struct vm_memory *mem, const struct vm_boot_input *in, struct vm_boot_entry *entry,
		 struct vs_err *e);

/* Offset of a valid multiboot v1 header in the first 8 KiB, or -1. */
long vm_multiboot_find(const uint8_t *img, size_t len);

/* The individual paths (vm_boot_load picks one). */
int vm_boot_linux(struct vm_memory *mem, const struct vm_boot_input *in,
		  struct vm_boot_entry *entry, struct vs_err *e);
int vm_boot_vmlinux(struct vm_memory *mem, const struct vm_boot_input *in,
		    struct vm_boot_entry *entry, struct vs_err *e);
int vm_boot_pvh(struct vm_memory *mem, const struct vm_boot_input *in, struct vm_boot_entry *entry,
		struct vs_err *e);
int vm_boot_multiboot(struct vm_memory *mem, const struct vm_boot_input *in,
		      struct vm_boot_entry *entry, struct vs_err *e);

/* --- ELF, shared by PVH, vmlinux and multiboot ------------------------- */

#define VM_ELF_MAX_SEGS 16

struct vm_elf_seg {
	uint64_t paddr, offset, filesz, memsz;
};

struct vm_elf {
	int is64;
	uint64_t entry;
	unsigned nsegs;
	struct vm_elf_seg segs[VM_ELF_MAX_SEGS];
	int has_pvh;
	uint64_t pvh_entry; /* XEN_ELFNOTE_PHYS32_ENTRY */
};

/* Parses an x86 ELF32/ELF64 executable: PT_LOAD segments and the PVH note,
 * every offset checked against len. */
int vm_elf_parse(const uint8_t *img, size_t len, struct vm_elf *elf, struct vs_err *e);
/* Copies the segments to their physical addresses (>= 1 MiB); lo and hi get
 * the lowest and highest loaded address. */
int vm_elf_load(struct vm_memory *mem, const uint8_t *img, size_t len, const struct vm_elf *elf,
		uint64_t *lo, uint64_t *hi, struct vs_err *e);

/* Places the initrd page aligned as high as possible in [min_addr, max_end)
 * (max_end exclusive); returns its address in *addr. */
int vm_boot_place_initrd(struct vm_memory *mem, const struct vm_boot_input *in, uint64_t min_addr,
			 uint64_t max_end, uint64_t *addr, struct vs_err *e);

/* Linux boot protocol constants used by tests and the loader. */
#define VM_LINUX_HDR_OFF    0x1f1
#define VM_LINUX_ZP_E820_NR 0x1e8
#define VM_LINUX_ZP_E820    0x2d0
#define VM_LINUX_ZP_RSDP    0x070

#endif
