/* Which boot path an image takes, and the pieces the paths share. */
#include <errno.h>
#include <string.h>

#include "vmm/boot/boot.h"

const char *vm_boot_kind_name(enum vm_boot_kind k)
{
	switch (k) {
	case VM_BOOT_LINUX: return "bzImage";
	case VM_BOOT_VMLINUX: return "vmlinux";
	case VM_BOOT_PVH: return "PVH ELF";
	case VM_BOOT_MULTIBOOT: return "multiboot";
	}
	return "?";
}

/*
 * Order matters: a bzImage is recognised by its setup header; an ELF with
 * the PVH note boots PVH even if it is also a vmlinux (the note is the
 * kernel saying it supports it); a multiboot header wins over a bare ELF64
 * entry point.
 */
int vm_boot_detect(const uint8_t *img, size_t len, enum vm_boot_kind *kind, struct vs_err *e)
{
	struct vm_elf elf;
	struct vs_err elf_err = {0};
	int is_elf = len >= 4 && !memcmp(img, "\177ELF", 4);

	if (len >= 0x206 && img[0x1fe] == 0x55 && img[0x1ff] == 0xaa &&
	    !memcmp(img + 0x202, "HdrS", 4)) {
		*kind = VM_BOOT_LINUX;
		return 0;
	}
	int elf_ok = is_elf && vm_elf_parse(img, len, &elf, &elf_err) == 0;
	if (elf_ok && elf.has_pvh) {
		*kind = VM_BOOT_PVH;
		return 0;
	}
	if (vm_multiboot_find(img, len) >= 0) {
		*kind = VM_BOOT_MULTIBOOT;
		return 0;
	}
	if (elf_ok && elf.is64) {
		*kind = VM_BOOT_VMLINUX;
		return 0;
	}
	if (is_elf && !elf_ok)
		return vs_fail(e, EINVAL, "unusable ELF image: %s", elf_err.msg);
	if (is_elf)
		return vs_fail(e, EINVAL, "32-bit ELF without a multiboot header or PVH note");
	return vs_fail(e, EINVAL,
		       "unknown kernel format (not a bzImage, PVH ELF, multiboot or ELF64 image)");
}

int vm_boot_load(struct vm_memory *mem, const struct vm_boot_input *in, struct vm_boot_entry *entry,
		 struct vs_err *e)
{
	enum vm_boot_kind kind;

	if (vm_boot_detect(in->kernel, in->kernel_len, &kind, e) < 0)
		return -1;
	switch (kind) {
	case VM_BOOT_LINUX: return vm_boot_linux(mem, in, entry, e);
	case VM_BOOT_VMLINUX: return vm_boot_vmlinux(mem, in, entry, e);
	case VM_BOOT_PVH: return vm_boot_pvh(mem, in, entry, e);
	case VM_BOOT_MULTIBOOT: return vm_boot_multiboot(mem, in, entry, e);
	}
	return vs_fail(e, EINVAL, "internal: boot kind %d", (int)kind);
}

int vm_boot_place_initrd(struct vm_memory *mem, const struct vm_boot_input *in, uint64_t min_addr,
			 uint64_t max_end, uint64_t *addr, struct vs_err *e)
{
	const char *name = in->initrd_name ? in->initrd_name : "initrd";

	*addr = 0;
	if (!in->initrd)
		return 0;
	uint64_t size = in->initrd_len, top = max_end & ~0xfffull;
	if (size == 0)
		return vs_fail(e, EINVAL, "initrd %s: empty file", name);
	if (top < min_addr || size > top - min_addr)
		return vs_fail(
			e, ENOMEM,
			"initrd %s: %llu bytes do not fit in guest RAM between 0x%llx and 0x%llx",
			name, (unsigned long long)size, (unsigned long long)min_addr,
			(unsigned long long)top);
	uint64_t a = (top - size) & ~0xfffull;
	if (vm_mem_write(mem, a, in->initrd, size) < 0)
		return vs_fail(e, EINVAL, "initrd %s: 0x%llx+%llu is not guest RAM", name,
			       (unsigned long long)a, (unsigned long long)size);
	*addr = a;
	return 0;
}
