/* The 64-bit C entry every boot stub reaches: turns the path-specific boot
 * information (multiboot info, PVH start_info, Linux boot_params) into one
 * struct boot_info, installs exception handlers that report instead of
 * triple-faulting, and runs the guest program. */
#include "guest.h"

struct boot_info boot;

/* Filled by the assembly boot stubs (boot/common.S) before paging is on. */
extern uint32_t boot_entry_path, boot_entry_magic;
extern uint64_t boot_entry_info;

const char *boot_path_name(enum boot_path p)
{
	switch (p) {
	case BOOT_MULTIBOOT: return "multiboot";
	case BOOT_PVH: return "pvh";
	case BOOT_LINUX32: return "linux-32";
	case BOOT_LINUX64: return "linux-64";
	}
	return "unknown";
}

static void add_range(uint64_t addr, uint64_t size, uint32_t type)
{
	if (boot.nr_map >= BOOT_MAX_RANGES)
		return;
	boot.map[boot.nr_map++] = (struct mem_range){addr, size, type};
	if (type == E820_RAM) {
		boot.ram_total += size;
		if (addr + size > boot.ram_top)
			boot.ram_top = addr + size;
	}
}

/* Multiboot 0.6.96 §3.3: flags bit 2 cmdline, bit 6 mmap_length/mmap_addr;
 * each mmap entry is preceded by its own size field. */
static void parse_multiboot(const uint8_t *mbi)
{
	uint32_t flags = *(const uint32_t *)mbi;

	if (flags & (1u << 2))
		boot.cmdline = (const char *)(uintptr_t) * (const uint32_t *)(mbi + 16);
	if (!(flags & (1u << 6))) {
		boot.error = "multiboot info has no memory map (flags bit 6 clear)";
		return;
	}
	uint32_t len = *(const uint32_t *)(mbi + 44);
	uint64_t p = *(const uint32_t *)(mbi + 48), end = p + len;
	while (p + 24 <= end) {
		const uint8_t *ent = (const uint8_t *)p;
		uint32_t size = *(const uint32_t *)ent;
		add_range(*(const uint64_t *)(ent + 4), *(const uint64_t *)(ent + 12),
			  *(const uint32_t *)(ent + 20));
		p += size + 4;
	}
}

/* Xen's arch-x86/hvm/start_info.h: magic, version, flags, nr_modules,
 * modlist_paddr, cmdline_paddr, rsdp_paddr, then (version >= 1) memmap_paddr
 * and memmap_entries of {addr, size, type, reserved}. */
static void parse_pvh(const uint8_t *si)
{
	boot.magic = *(const uint32_t *)si;
	uint32_t version = *(const uint32_t *)(si + 4);
	uint64_t cmd = *(const uint64_t *)(si + 24);

	if (cmd)
		boot.cmdline = (const char *)cmd;
	if (version < 1) {
		boot.error = "start_info version 0 carries no memory map";
		return;
	}
	const uint8_t *mm = (const uint8_t *)*(const uint64_t *)(si + 40);
	uint32_t n = *(const uint32_t *)(si + 48);
	for (uint32_t i = 0; i < n; i++, mm += 24)
		add_range(*(const uint64_t *)mm, *(const uint64_t *)(mm + 8),
			  *(const uint32_t *)(mm + 16));
}

/* Linux Documentation/arch/x86/zero-page.rst: e820_entries at 0x1e8, the
 * table at 0x2d0 (20-byte packed entries); boot.rst: cmd_line_ptr at 0x228,
 * ext_cmd_line_ptr at 0x0c8 holds bits 32-63. */
static void parse_linux(const uint8_t *bp)
{
	boot.magic = *(const uint32_t *)(bp + 0x202);
	uint64_t cmd = *(const uint32_t *)(bp + 0x228) | (uint64_t) * (const uint32_t *)(bp + 0xc8)
								 << 32;
	if (cmd)
		boot.cmdline = (const char *)cmd;
	unsigned n = bp[0x1e8];
	if (n > 128) {
		boot.error = "boot_params.e820_entries above 128";
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *ent = bp + 0x2d0 + 20 * i;
		add_range(*(const uint64_t *)ent, *(const uint64_t *)(ent + 8),
			  *(const uint32_t *)(ent + 16));
	}
}

/* --- exceptions ----------------------------------------------------------- */
struct idt_gate {
	uint16_t off0, sel;
	uint8_t ist, attr;
	uint16_t off1;
	uint32_t off2, zero;
} __attribute__((packed));

static struct idt_gate idt[32] __attribute__((aligned(16)));
extern const uint64_t exception_stubs[32];

struct exc_frame {
	uint64_t vector, error, rip, cs, rflags, rsp, ss;
};

void exception_handler(struct exc_frame *f);
void exception_handler(struct exc_frame *f)
{
	uint64_t cr2;

	__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	report_fail("exception", "vector %lu error %lx rip %lx rsp %lx cr2 %lx", f->vector,
		    f->error, f->rip, f->rsp, cr2);
	guest_exit(1);
}

static void idt_init(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) idtr = {sizeof(idt) - 1, (uint64_t)idt};

	for (int i = 0; i < 32; i++) {
		uint64_t a = exception_stubs[i];
		idt[i] = (struct idt_gate){(uint16_t)a,		0x08, 0, 0x8e, (uint16_t)(a >> 16),
					   (uint32_t)(a >> 32), 0};
	}
	__asm__ volatile("lidt %0" : : "m"(idtr));
}

void guest_start(void);
void guest_start(void)
{
	serial_init();
	idt_init();
	boot.path = (enum boot_path)boot_entry_path;
	boot.magic = boot_entry_magic;
	boot.info = boot_entry_info;
	boot.cmdline = "";
	switch (boot.path) {
	case BOOT_MULTIBOOT: parse_multiboot((const uint8_t *)boot.info); break;
	case BOOT_PVH: parse_pvh((const uint8_t *)boot.info); break;
	case BOOT_LINUX32:
	case BOOT_LINUX64: parse_linux((const uint8_t *)boot.info); break;
	}
	guest_main();
	guest_exit(guest_failures ? 1 : 0);
}
