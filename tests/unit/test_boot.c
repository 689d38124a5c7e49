/* vmm/boot: format detection and the Linux, vmlinux, PVH and multiboot
 * loaders, run against synthetic images in a plain buffer. */
#include <elf.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "vessel/fs.h"
#include "vmm/boot/boot.h"
#include "vmm/layout.h"
#include "vmm/pci.h"

#define RAM (64ull << 20)

static uint8_t *ram;

static void guest(struct vm_memory *m)
{
	struct vs_err e;

	if (!ram)
		ram = malloc(RAM);
	memset(ram, 0, RAM);
	memset(m, 0, sizeof(*m));
	vm_mem_add_region(m, 0, RAM, ram, -1, 0, &e);
}

static uint64_t rd(uint64_t gpa, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)ram[gpa + i] << (8 * i);
	return v;
}

static void wr(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A bzImage: one setup sector after the boot sector, then "protected mode"
 * bytes. */
static size_t make_bzimage(uint8_t *img, unsigned version, uint16_t xloadflags)
{
	size_t len = 1024 + 4096;

	memset(img, 0, len);
	img[0x1f1] = 1; /* setup_sects */
	wr(img + 0x1fe, 0xaa55, 2);
	img[0x200] = 0xeb; /* jmp */
	img[0x201] = 0x66; /* header ends at 0x268 */
	memcpy(img + 0x202, "HdrS", 4);
	wr(img + 0x206, version, 2);
	img[0x211] = 1;			/* LOADED_HIGH */
	wr(img + 0x22c, 0x37ffffff, 4); /* initrd_addr_max */
	wr(img + 0x230, 0x200000, 4);	/* kernel_alignment */
	img[0x234] = 1;			/* relocatable */
	wr(img + 0x236, xloadflags, 2);
	wr(img + 0x238, 2047, 4);	/* cmdline_size */
	wr(img + 0x260, 0x10000, 4);	/* init_size */
	memset(img + 1024, 0x90, 4096); /* the "kernel" */
	img[1024] = 0xfa;
	return len;
}

TEST(bzimage_loads_at_1m_with_zero_page_and_64bit_entry)
{
	static uint8_t img[8192], initrd[10000];
	struct vm_memory m;
	struct vm_boot_entry ent;
	struct vs_err e;
	size_t len = make_bzimage(img, 0x20f, 1);

	guest(&m);
	memset(initrd, 0xab, sizeof(initrd));
	struct vm_boot_input in = {img,	     len,	  initrd, sizeof(initrd), "console=ttyS0",
				   "initrd", VM_ACPI_ADDR};
	REQUIRE(vm_boot_load(&m, &in, &ent, &e) == 0);
	CHECK_EQ(ent.kind, VM_BOOT_LINUX);
	CHECK_EQ(ent.mode, VM_ENTRY_LONG64);
	CHECK_EQ(ent.rip, 0x100200);
	CHECK_EQ(ent.rsi, VM_BOOT_PARAMS_ADDR);
	CHECK_EQ(ram[0x100000], 0xfa);
	CHECK_EQ(ram[0x100000 + 4095], 0x90);

	uint64_t zp = VM_BOOT_PARAMS_ADDR;
	CHECK_EQ(rd(zp + 0x202, 4), 0x53726448); /* header copied */
	CHECK_EQ(rd(zp + 0x206, 2), 0x20f);
	CHECK_EQ(ram[zp + 0x210], 0xff); /* type_of_loader */
	CHECK_EQ(rd(zp + 0x228, 4), VM_CMDLINE_ADDR);
	CHECK_STR((char *)ram + VM_CMDLINE_ADDR, "console=ttyS0");
	CHECK_EQ(rd(zp + 0x070, 8), VM_ACPI_ADDR);

	/* initrd: page aligned, as high as allowed, intact */
	uint64_t ia = rd(zp + 0x218, 4);
	CHECK_EQ(rd(zp + 0x21c, 4), sizeof(initrd));
	CHECK_EQ(ia & 0xfff, 0);
	CHECK(ia + sizeof(initrd) <= RAM);
	CHECK(ia + sizeof(initrd) > RAM - 8192);
	CHECK(ia >= 0x100000 + 0x10000);
	CHECK_EQ(ram[ia], 0xab);
	CHECK_EQ(ram[ia + sizeof(initrd) - 1], 0xab);

	/* e820: low RAM, reserved EBDA and ACPI, RAM from 1 MiB to the end */
	unsigned n = ram[zp + 0x1e8];
	REQUIRE(n >= 4);
	uint64_t ent0 = zp + 0x2d0;
	CHECK_EQ(rd(ent0, 8), 0);
	CHECK_EQ(rd(ent0 + 8, 8), VM_EBDA_START);
	CHECK_EQ(rd(ent0 + 16, 4), 1);
	int found_high = 0, found_acpi = 0;
	for (unsigned i = 0; i < n; i++) {
		uint64_t a = rd(ent0 + 20 * i, 8), s = rd(ent0 + 20 * i + 8, 8);
		uint32_t t = (uint32_t)rd(ent0 + 20 * i + 16, 4);
		if (a == 0x100000 && s == RAM - 0x100000 && t == 1)
			found_high = 1;
		if (a <= VM_ACPI_ADDR && a + s >= VM_ACPI_ADDR + VM_ACPI_SIZE && t == 2)
			found_acpi = 1;
	}
	CHECK(found_high);
	CHECK(found_acpi);
}

TEST(bzimage_header_errors_are_named)
{
	static uint8_t img[8192];
	struct vm_memory m;
	struct vm_boot_entry ent;
	struct vs_err e;
	size_t len;

	guest(&m);
	len = make_bzimage(img, 0x205, 1);
	struct vm_boot_input in = {img, len, NULL, 0, "", NULL, 0};
	CHECK_EQ(vm_boot_load(&m, &in, &ent, &e), -1);
	CHECK_CONTAINS(e.msg, "older than 2.06");

	make_bzimage(img, 0x20f, 0);
	CHECK_EQ(vm_boot_load(&m, &in, &ent, &e), -1);
	CHECK_CONTAINS(e.msg, "XLF_KERNEL_64");

	make_bzimage(img, 0x20f, 1);
	img[0x211] = 0;
	CHECK_EQ(vm_boot_load(&m, &in, &ent, &e), -1);
	CHECK_CONTAINS(e.msg, "LOADED_HIGH");

	make_bzimage(img, 0x20f, 1);
	img[0x1f1] = 40; /* setup past the end */
	CHECK_EQ(vm_boot_load(&m, &in, &ent, &e), -1);
	CHECK_CONTAINS(e.msg, "setup_sects");

	make_bzimage(img, 0x20f, 1);
	wr(img + 0x260, 0x8000000, 4); /* init_size beyond RAM */
	CHECK_EQ(vm_boot_load(&m, &in, &ent, &e), -1);
	CHECK_CONTAINS(e.msg, "needs 0x8000000 bytes");
}

TEST(bzimage_cmdline_longer_than_cmdline_size_is_refused)
{
	static uint8_t img[8192];
	static char cmd[3000];
	struct vm_memory m;
	struct vm_boot_entry ent;
	struct vs_err e;
	size_t len = make_bzimage(img, 0x20f, 1);

	guest(&m);
	memset(cmd, 'a', sizeof(cmd) - 1);
	struct vm_boot_input in = {img, len, NULL, 0, cmd, NULL, 0};
	CHECK_EQ(vm_boot_load(&m, &in, &ent, &e), -1);
	CHECK_CONTAINS(e.msg, "at most 2047");
}

TEST(initrd_too_big_for_guest_ram_is_refused)
{
	static uint8_t img[8192];
	struct vm_memory m;
	struct vm_boot_entry ent;
	struct vs_err e;
	size_t len = make_bzimage(img, 0x20f, 1);
	uint8_t *big = calloc(1, RAM);

	guest(&m);
	REQUIRE(big);
	struct vm_boot_input in = {img, len, big, RAM - 0x100000, "", "big.img", 0};
	CHECK_EQ(vm_boot_load(&m, &in, &ent, &e), -1);
	CHECK_CONTAINS(e.msg, "initrd big.img");
	CHECK_CONTAINS(e.msg, "do not fit");
	free(big);
}

/* A minimal x86 ELF executable: one PT_LOAD of code at paddr, optionally a
 * PT_NOTE with the Xen PVH entry and a multiboot header in the code. */
static size_t make_elf(uint8_t *img, int is64, uint64_t paddr, uint64_t entry, int pvh,
		       uint32_t pvh_entry, int multiboot)
{
	size_t ehsz = is64 ? 64 : 52, phsz = is64 ? 56 : 32;
	size_t phoff = ehsz, nph = pvh ? 2 : 1;
	size_t note_off = phoff + nph * phsz, note_len = pvh ? 12 + 4 + 8 : 0;
	size_t code_off = 0x1000, code_len = 0x200;

	memset(img, 0, code_off + code_len);
	memcpy(img, ELFMAG, 4);
	img[EI_CLASS] = is64 ? ELFCLASS64 : ELFCLASS32;
	img[EI_DATA] = ELFDATA2LSB;
	img[EI_VERSION] = 1;
	wr(img + 16, ET_EXEC, 2);
	wr(img + 18, is64 ? EM_X86_64 : EM_386, 2);
	wr(img + 20, 1, 4);
	if (is64) {
		wr(img + 24, entry, 8);
		wr(img + 32, phoff, 8);
		wr(img + 52, ehsz, 2);
		wr(img + 54, phsz, 2);
		wr(img + 56, nph, 2);
	} else {
		wr(img + 24, entry, 4);
		wr(img + 28, phoff, 4);
		wr(img + 40, ehsz, 2);
		wr(img + 42, phsz, 2);
		wr(img + 44, nph, 2);
	}
	for (size_t i = 0; i < nph; i++) {
		uint8_t *p = img + phoff + i * phsz;
		uint64_t type = i == 0 ? PT_LOAD : PT_NOTE;
		uint64_t off = i == 0 ? code_off : note_off, len = i == 0 ? code_len : note_len;
		uint64_t memsz = i == 0 ? code_len + 0x100 : note_len; /* some bss */
		wr(p, type, 4);
		if (is64) {
			wr(p + 8, off, 8);
			wr(p + 16, paddr, 8);
			wr(p + 24, i == 0 ? paddr : 0, 8);
			wr(p + 32, len, 8);
			wr(p + 40, memsz, 8);
		} else {
			wr(p + 4, off, 4);
			wr(p + 8, paddr, 4);
			wr(p + 12, i == 0 ? paddr : 0, 4);
			wr(p + 16, len, 4);
			wr(p + 20, memsz, 4);
		}
	}
	if (pvh) {
		uint8_t *n = img + note_off;
		wr(n, 4, 4);
		wr(n + 4, 8, 4);
		wr(n + 8, 18, 4);
		memcpy(n + 12, "Xen", 4);
		wr(n + 16, pvh_entry, 8);
	}
	memset(img + code_off, 0xf4, code_len);
	if (multiboot) {
		uint32_t flags = 0x3;
		wr(img + code_off + 16, 0x1BADB002, 4);
		wr(img + code_off + 20, flags, 4);
		wr(img + code_off + 24, -(0x1BADB002u + flags), 4);
	}
	return code_off + code_len;
}

TEST(pvh_elf_gets_start_info_and_32bit_entry)
{
	static uint8_t img[0x2000], initrd[5000];
	struct vm_memory m;
	struct vm_boot_entry ent;
	struct vs_err e;
	size_t len = make_elf(img, 1, 0x1000000, 0xffffffff81000000ull, 1, 0x1000040, 0);

	guest(&m);
	memset(initrd, 0x11, sizeof(initrd));
	struct vm_boot_input in = {img,	 len,	      initrd, sizeof(initrd), "root=/dev/vda",
				   NULL, VM_ACPI_ADDR};
	REQUIRE(vm_boot_load(&m, &in, &ent, &e) == 0);
	CHECK_EQ(ent.kind, VM_BOOT_PVH);
	CHECK_EQ(ent.mode, VM_ENTRY_PROT32);
	CHECK_EQ(ent.rip, 0x1000040);
	CHECK_EQ(ent.rbx, VM_BOOT_INFO_ADDR);
	CHECK_EQ(ram[0x1000000], 0xf4);
	CHECK_EQ(ram[0x1000000 + 0x200], 0); /* bss cleared */

	uint64_t si = VM_BOOT_INFO_ADDR;
	CHECK_EQ(rd(si, 4), 0x336ec578);
	CHECK_EQ(rd(si + 4, 4), 1);
	CHECK_EQ(rd(si + 12, 4), 1); /* nr_modules */
	uint64_t mod = rd(si + 16, 8);
	CHECK_EQ(rd(mod + 8, 8), sizeof(initrd));
	CHECK_EQ(ram[rd(mod, 8)], 0x11);
	CHECK_STR((char *)ram + rd(si + 24, 8), "root=/dev/vda");
	CHECK_EQ(rd(si + 32, 8), VM_ACPI_ADDR);
	uint64_t mm = rd(si + 40, 8);
	unsigned n = (unsigned)rd(si + 48, 4);
	REQUIRE(n >= 4);
	CHECK_EQ(rd(mm + 8, 8), VM_EBDA_START); /* first entry's size */
	CHECK_EQ(rd(mm + 16, 4), 1);
}

TEST(vmlinux_without_pvh_note_uses_64bit_protocol_at_elf_entry)
{
	static uint8_t img[0x2000];
	struct vm_memory m;
	struct vm_boot_entry ent;
	struct vs_err e;
	size_t len = make_elf(img, 1, 0x1000000, 0x1000000, 0, 0, 0);

	guest(&m);
	struct vm_boot_input in = {img, len, NULL, 0, "quiet", NULL, 0};
	REQUIRE(vm_boot_load(&m, &in, &ent, &e) == 0);
	CHECK_EQ(ent.kind, VM_BOOT_VMLINUX);
	CHECK_EQ(ent.mode, VM_ENTRY_LONG64);
	CHECK_EQ(ent.rip, 0x1000000);
	CHECK_EQ(ent.rsi, VM_BOOT_PARAMS_ADDR);
	CHECK_EQ(rd(VM_BOOT_PARAMS_ADDR + 0x202, 4), 0x53726448);
	CHECK_EQ(rd(VM_BOOT_PARAMS_ADDR + 0x228, 4), VM_CMDLINE_ADDR);

	/* a virtual entry address is refused, not jumped to */
	len = make_elf(img, 1, 0x1000000, 0xffffffff81000000ull, 0, 0, 0);
	in.kernel_len = len;
	CHECK_EQ(vm_boot_load(&m, &in, &ent, &e), -1);
	CHECK_CONTAINS(e.msg, "not a physical address");
}

TEST(multiboot_elf32_gets_info_and_magic)
{
	static uint8_t img[0x2000], initrd[3000];
	struct vm_memory m;
	struct vm_boot_entry ent;
	struct vs_err e;
	size_t len = make_elf(img, 0, 0x400000, 0x400020, 0, 0, 1);

	guest(&m);
	memset(initrd, 0x22, sizeof(initrd));
	struct vm_boot_input in = {img, len, initrd, sizeof(initrd), "-smp 2", NULL, 0};
	REQUIRE(vm_boot_load(&m, &in, &ent, &e) == 0);
	CHECK_EQ(ent.kind, VM_BOOT_MULTIBOOT);
	CHECK_EQ(ent.mode, VM_ENTRY_PROT32);
	CHECK_EQ(ent.rax, 0x2BADB002);
	CHECK_EQ(ent.rbx, VM_BOOT_INFO_ADDR);
	CHECK_EQ(ent.rip, 0x400020);

	uint64_t mbi = VM_BOOT_INFO_ADDR;
	uint32_t flags = (uint32_t)rd(mbi, 4);
	CHECK(flags & 1);  /* mem */
	CHECK(flags & 4);  /* cmdline */
	CHECK(flags & 8);  /* mods */
	CHECK(flags & 64); /* mmap */
	CHECK_EQ(rd(mbi + 4, 4), 639);
	CHECK_EQ(rd(mbi + 8, 4), (RAM - 0x100000) / 1024);
	CHECK_STR((char *)ram + rd(mbi + 16, 4), "-smp 2");
	CHECK_EQ(rd(mbi + 20, 4), 1);
	uint64_t mod = rd(mbi + 24, 4);
	uint64_t ms = rd(mod, 4), me = rd(mod + 4, 4);
	CHECK_EQ(me - ms, sizeof(initrd));
	CHECK_EQ(ms & 0xfff, 0);
	CHECK_EQ(ram[ms], 0x22);
	CHECK_STR((char *)ram + rd(mod + 8, 4), "-smp 2");
	uint64_t mmap = rd(mbi + 48, 4), mlen = rd(mbi + 44, 4);
	REQUIRE(mlen >= 24);
	CHECK_EQ(rd(mmap, 4), 20);
	CHECK_EQ(rd(mmap + 4, 8), 0);
	CHECK_EQ(rd(mmap + 12, 8), VM_EBDA_START);
}

TEST(multiboot_aout_kludge_loads_at_header_addresses)
{
	static uint8_t img[0x3000];
	struct vm_memory m;
	struct vm_boot_entry ent;
	struct vs_err e;
	uint32_t flags = 0x10000;

	guest(&m);
	memset(img, 0xcc, sizeof(img));
	/* header at file offset 0x40, image loaded from file offset 0 at 2 MiB */
	uint8_t *h = img + 0x40;
	wr(h, 0x1BADB002, 4);
	wr(h + 4, flags, 4);
	wr(h + 8, -(0x1BADB002u + flags), 4);
	wr(h + 12, 0x200040, 4); /* header_addr */
	wr(h + 16, 0x200000, 4); /* load_addr */
	wr(h + 20, 0x201000, 4); /* load_end_addr */
	wr(h + 24, 0x202000, 4); /* bss_end_addr */
	wr(h + 28, 0x200100, 4); /* entry */
	ram[0x201800] = 0x77;	 /* must be cleared as bss */
	struct vm_boot_input in = {img, sizeof(img), NULL, 0, "", NULL, 0};
	REQUIRE(vm_boot_load(&m, &in, &ent, &e) == 0);
	CHECK_EQ(ent.kind, VM_BOOT_MULTIBOOT);
	CHECK_EQ(ent.rip, 0x200100);
	CHECK_EQ(ram[0x200000], 0xcc);
	CHECK_EQ(rd(0x200040, 4), 0x1BADB002);
	CHECK_EQ(ram[0x200fff], 0xcc);
	CHECK_EQ(ram[0x201800], 0);
	CHECK(!(rd(VM_BOOT_INFO_ADDR, 4) & 8)); /* no modules */

	/* inconsistent addresses are refused */
	wr(h + 12, 0x100000, 4);
	CHECK_EQ(vm_boot_load(&m, &in, &ent, &e), -1);
	CHECK_CONTAINS(e.msg, "header_addr");
}

TEST(multiboot_bad_checksum_or_flags_is_not_multiboot)
{
	static uint8_t img[0x2000];
	struct vm_memory m;
	struct vm_boot_entry ent;
	struct vs_err e;
	size_t len = make_elf(img, 0, 0x400000, 0x400020, 0, 0, 1);

	guest(&m);
	img[0x1000 + 24] ^= 1; /* checksum */
	struct vm_boot_input in = {img, len, NULL, 0, "", NULL, 0};
	CHECK_EQ(vm_boot_load(&m, &in, &ent, &e), -1);
	CHECK_CONTAINS(e.msg, "32-bit ELF without a multiboot header");

	make_elf(img, 0, 0x400000, 0x400020, 0, 0, 1);
	uint32_t flags = 0x3 | 0x8; /* a required feature we do not know */
	wr(img + 0x1000 + 20, flags, 4);
	wr(img + 0x1000 + 24, -(0x1BADB002u + flags), 4);
	CHECK_EQ(vm_boot_load(&m, &in, &ent, &e), -1);
	CHECK_CONTAINS(e.msg, "unsupported required flags 0x8");
}

TEST(unknown_and_truncated_images_are_refused)
{
	static uint8_t img[0x2000];
	struct vm_memory m;
	struct vm_boot_entry ent;
	struct vs_err e;
	enum vm_boot_kind k;

	guest(&m);
	memset(img, 0x41, sizeof(img));
	CHECK_EQ(vm_boot_detect(img, sizeof(img), &k, &e), -1);
	CHECK_CONTAINS(e.msg, "unknown kernel format");

	size_t len = make_elf(img, 1, 0x1000000, 0x1000000, 0, 0, 0);
	CHECK_EQ(vm_boot_detect(img, 100, &k, &e), -1); /* phdrs cut off */
	CHECK_CONTAINS(e.msg, "program headers outside the file");
	wr(img + 64 + 32, 0x100000, 8); /* filesz past the end */
	CHECK_EQ(vm_boot_detect(img, len, &k, &e), -1);
	CHECK_CONTAINS(e.msg, "outside the file");

	make_elf(img, 1, 0x1000000, 0x1000000, 1, 0x1000000, 0);
	wr(img + 64 + 56 + 32, 0x1000, 8); /* note filesz past the end */
	CHECK_EQ(vm_boot_detect(img, len, &k, &e), -1);

	len = make_elf(img, 1, 0x80000, 0x80000, 0, 0, 0); /* below 1 MiB */
	struct vm_boot_input in = {img, len, NULL, 0, "", NULL, 0};
	CHECK_EQ(vm_boot_load(&m, &in, &ent, &e), -1);
	CHECK_CONTAINS(e.msg, "below 1 MiB");

	len = make_elf(img, 1, RAM - 0x100, RAM - 0x100, 0, 0, 0); /* past RAM */
	in.kernel_len = len;
	CHECK_EQ(vm_boot_load(&m, &in, &ent, &e), -1);
	CHECK_CONTAINS(e.msg, "does not fit in guest RAM");
}

TEST(e820_splits_ram_around_the_mmio_hole)
{
	struct vm_e820_entry map[VM_E820_MAX];
	unsigned n = vm_e820_build(5ull << 30, map);
	uint64_t ram_total = 0;
	int ecam = 0;

	REQUIRE(n <= VM_E820_MAX);
	for (unsigned i = 0; i < n; i++) {
		if (map[i].type == VM_E820_RAM)
			ram_total += map[i].size;
		if (map[i].addr == VM_PCI_ECAM_BASE && map[i].type == VM_E820_RESERVED)
			ecam = 1;
		/* no RAM inside the hole */
		if (map[i].type == VM_E820_RAM)
			CHECK(map[i].addr + map[i].size <= VM_MMIO_HOLE_START ||
			      map[i].addr >= VM_MMIO_HOLE_END);
		if (i)
			CHECK(map[i].addr >= map[i - 1].addr + map[i - 1].size);
	}
	CHECK(ecam);
	CHECK_EQ(map[n - 1].addr, 4ull << 30);
	CHECK_EQ(map[n - 1].size, 2ull << 30);
	/* all of it except the legacy area 640K..1M (EBDA and ACPI are not RAM) */
	CHECK_EQ(ram_total, (5ull << 30) - (VM_HIGH_MEM_START - VM_EBDA_START));

	uint64_t lo, hi;
	vm_mem_layout(1ull << 30, &lo, &hi);
	CHECK_EQ(lo, 1ull << 30);
	CHECK_EQ(hi, 0);
}

/* The project's own guest images (guests/, proven on QEMU) go through the
 * loaders they were built for. Skipped when they have not been built. */
TEST(project_guest_images_load_on_their_boot_paths)
{
	static const struct {
		const char *file;
		enum vm_boot_kind kind;
		enum vm_entry_mode mode;
	} imgs[] = {
		{"boot_multiboot.elf", VM_BOOT_MULTIBOOT, VM_ENTRY_PROT32},
		{"boot_pvh.elf", VM_BOOT_PVH, VM_ENTRY_PROT32},
		{"boot_linux.bzImage", VM_BOOT_LINUX, VM_ENTRY_LONG64},
	};
	const char *top = getenv("TOP");
	char path[512];
	int found = 0;

	for (size_t i = 0; i < sizeof(imgs) / sizeof(imgs[0]); i++) {
		struct vm_memory m;
		struct vm_boot_entry ent;
		struct vs_err e;
		char *buf = NULL;
		size_t len;

		snprintf(path, sizeof(path), "%s/build/guests/%s", top ? top : ".", imgs[i].file);
		if (vs_read_file(path, &buf, &len, &e) < 0)
			continue;
		found++;
		guest(&m);
		struct vm_boot_input in = {(uint8_t *)buf, len, NULL, 0, "x=1", NULL, VM_ACPI_ADDR};
		if (vm_boot_load(&m, &in, &ent, &e) < 0) {
			fprintf(stderr, "  %s: %s\n", imgs[i].file, e.msg);
			CHECK(0);
		} else {
			CHECK_EQ(ent.kind, imgs[i].kind);
			CHECK_EQ(ent.mode, imgs[i].mode);
			CHECK(ent.rip >= ent.kernel_start && ent.rip < ent.kernel_end);
			CHECK_STR((char *)ram + VM_CMDLINE_ADDR, "x=1");
		}
		free(buf);
	}
	if (!found)
		SKIP("no guest images under %s/build/guests (make guests)", top ? top : ".");
}
