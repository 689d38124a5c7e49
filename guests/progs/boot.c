/* boot_multiboot, boot_pvh, boot_linux: the same checks behind every boot
 * path. The image (boot stub) decides the path; the test passes on the
 * command line what the guest must find:
 *   expect_path=multiboot|pvh|linux  the path the loader should have used
 *   expect_entry=linux-32|linux-64   (Linux only) which entry point ran
 *   expect_mem=SIZE                  the --memory / -m given to the VMM
 * and reads back the echoed "cmdline='...'" line to compare it byte for byte. */
#include "guest.h"

extern char _start_image[], _end[];

static const char *family(enum boot_path p)
{
	return p == BOOT_LINUX32 || p == BOOT_LINUX64 ? "linux" : boot_path_name(p);
}

static void check_magic(const char *fam)
{
	char name[64];

	snprintf_g(name, sizeof(name), "boot_%s_magic", fam);
	switch (boot.path) {
	case BOOT_MULTIBOOT:
		/* Multiboot 0.6.96 §3.2: EAX holds 0x2BADB002 at entry */
		check(boot.magic == 0x2badb002, name, "EAX was 0x%x", boot.magic);
		break;
	case BOOT_PVH:
		check(boot.magic == 0x336ec578, name, "start_info.magic 0x%x", boot.magic);
		break;
	case BOOT_LINUX32:
	case BOOT_LINUX64: {
		const uint8_t *bp = (const uint8_t *)boot.info;
		uint16_t version = *(const uint16_t *)(bp + 0x206);
		check(boot.magic == 0x53726448 && version >= 0x200, name,
		      "boot_params header magic 0x%x version 0x%x", boot.magic, version);
		break;
	}
	}
}

static void check_cmdline(const char *fam)
{
	char name[64], want[32];

	printf_g("cmdline='%s'\n", boot.cmdline);
	snprintf_g(name, sizeof(name), "boot_%s_cmdline", fam);
	if (!check(cmdline_get("expect_path", want, sizeof(want)), name,
		   "no expect_path= on the command line '%s'", boot.cmdline))
		return;
	snprintf_g(name, sizeof(name), "boot_%s_path", fam);
	check(strcmp(want, fam) == 0, name, "image for %s but expect_path=%s", fam, want);
	if (cmdline_get("expect_entry", want, sizeof(want))) {
		snprintf_g(name, sizeof(name), "boot_%s_entry", fam);
		check(strcmp(want, boot_path_name(boot.path)) == 0, name,
		      "entered through %s, expected %s", boot_path_name(boot.path), want);
	}
}

static void check_memory(const char *fam)
{
	char name[64];
	uint64_t mem;

	for (unsigned i = 0; i < boot.nr_map; i++)
		printf_g("e820: %lx-%lx type %u\n", boot.map[i].addr,
			 boot.map[i].addr + boot.map[i].size, boot.map[i].type);
	snprintf_g(name, sizeof(name), "boot_%s_memmap", fam);
	if (!check(!boot.error && boot.nr_map > 0, name, "%s",
		   boot.error ? boot.error : "empty memory map"))
		return;

	/* the loaded image must sit inside one usable range */
	bool image_ok = false, low_ok = false;
	for (unsigned i = 0; i < boot.nr_map; i++) {
		const struct mem_range *r = &boot.map[i];
		if (r->type != E820_RAM)
			continue;
		if (r->addr <= (uint64_t)_start_image && r->addr + r->size >= (uint64_t)_end)
			image_ok = true;
		if (r->addr == 0 && r->size >= 0x9f000)
			low_ok = true;
	}
	snprintf_g(name, sizeof(name), "boot_%s_image_in_ram", fam);
	check(image_ok, name, "%p-%p not inside a usable range", _start_image, _end);
	snprintf_g(name, sizeof(name), "boot_%s_low_ram", fam);
	check(low_ok, name, "no usable range covering 0-0x9f000");

	snprintf_g(name, sizeof(name), "boot_%s_ram_size", fam);
	if (!cmdline_get_u64("expect_mem", &mem)) {
		report_fail(name, "no expect_mem= on the command line");
		return;
	}
	/* firmware and the VMM keep a little for themselves (EBDA, ACPI, BIOS),
	 * never more than a few MiB; they must never report more than given. */
	check(boot.ram_total <= mem && boot.ram_total + (16ul << 20) >= mem, name,
	      "usable RAM %lu KiB for %lu KiB given", boot.ram_total >> 10, mem >> 10);
	if (mem < 0xc0000000ul) {
		snprintf_g(name, sizeof(name), "boot_%s_ram_top", fam);
		check(boot.ram_top <= mem, name, "usable RAM up to 0x%lx beyond 0x%lx",
		      boot.ram_top, mem);
	}
}

/* the stub must have switched to its own tables, whatever the loader had */
static void check_paging(const char *fam)
{
	char name[64];
	uint64_t cr3;

	__asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
	snprintf_g(name, sizeof(name), "boot_%s_own_page_tables", fam);
	check((cr3 & ~0xfffull) == (uint64_t)boot_pml4, name, "CR3 0x%lx, tables at %p", cr3,
	      (void *)boot_pml4);
}

void guest_main(void)
{
	const char *fam = family(boot.path);

	printf_g("boot: entered through %s, info at 0x%lx\n", boot_path_name(boot.path), boot.info);
	check_magic(fam);
	check_paging(fam);
	check_cmdline(fam);
	check_memory(fam);
}
