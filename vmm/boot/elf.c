/* ELF executables for the boot paths (ELF spec, System V gABI §Program
 * Header and §Note Section). The image is untrusted: every header, segment
 * and note is checked against the file length before it is used. */
#include <elf.h>
#include <errno.h>
#include <string.h>

#include "vmm/boot/boot.h"
#include "vmm/layout.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18 /* xen/include/public/elfnote.h */

/* off + len inside [0, total) without overflow */
static int in_file(uint64_t off, uint64_t len, size_t total)
{
	return off <= total && len <= total - off;
}

static uint64_t rd(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Walks one PT_NOTE segment for the Xen PVH entry note. */
static int scan_notes(const uint8_t *img, size_t len, uint64_t off, uint64_t size,
		      struct vm_elf *elf, struct vs_err *e)
{
	if (!in_file(off, size, len))
		return vs_fail(e, EINVAL, "ELF note segment at 0x%llx+0x%llx outside the file",
			       (unsigned long long)off, (unsigned long long)size);
	uint64_t pos = 0;
	while (size - pos >= 12) {
		const uint8_t *n = img + off + pos;
		uint64_t namesz = rd(n, 4), descsz = rd(n + 4, 4), type = rd(n + 8, 4);
		uint64_t name_pad = (namesz + 3) & ~3ull, desc_pad = (descsz + 3) & ~3ull;

		if (name_pad > size - pos - 12 || desc_pad > size - pos - 12 - name_pad)
			return vs_fail(e, EINVAL, "ELF note at 0x%llx overruns its segment",
				       (unsigned long long)(off + pos));
		const uint8_t *name = n + 12, *desc = n + 12 + name_pad;
		if (type == XEN_ELFNOTE_PHYS32_ENTRY && namesz == 4 && !memcmp(name, "Xen", 4)) {
			/* Linux emits it as a pointer-sized value; 4 bytes on 32-bit */
			if (descsz != 4 && descsz != 8)
				return vs_fail(e, EINVAL, "PVH entry note: bad size %llu",
					       (unsigned long long)descsz);
			elf->has_pvh = 1;
			elf->pvh_entry = rd(desc, (unsigned)descsz);
		}
		pos += 12 + name_pad + desc_pad;
	}
	return 0;
}

int vm_elf_parse(const uint8_t *img, size_t len, struct vm_elf *elf, struct vs_err *e)
{
	memset(elf, 0, sizeof(*elf));
	if (len < EI_NIDENT || memcmp(img, ELFMAG, SELFMAG))
		return vs_fail(e, EINVAL, "not an ELF file");
	if (img[EI_DATA] != ELFDATA2LSB)
		return vs_fail(e, EINVAL, "ELF: not little-endian");
	int is64 = img[EI_CLASS] == ELFCLASS64;
	if (!is64 && img[EI_CLASS] != ELFCLASS32)
		return vs_fail(e, EINVAL, "ELF: unknown class %u", img[EI_CLASS]);
	size_t ehsize = is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
	if (len < ehsize)
		return vs_fail(e, EINVAL, "ELF: truncated header");

	uint64_t type, machine, phoff, phentsize, phnum;
	if (is64) {
		const uint8_t *h = img;
		type = rd(h + 16, 2);
		machine = rd(h + 18, 2);
		elf->entry = rd(h + 24, 8);
		phoff = rd(h + 32, 8);
		phentsize = rd(h + 54, 2);
		phnum = rd(h + 56, 2);
		if (machine != EM_X86_64)
			return vs_fail(e, EINVAL, "ELF64: machine %llu is not x86-64",
				       (unsigned long long)machine);
	} else {
		const uint8_t *h = img;
		type = rd(h + 16, 2);
		machine = rd(h + 18, 2);
		elf->entry = rd(h + 24, 4);
		phoff = rd(h + 28, 4);
		phentsize = rd(h + 42, 2);
		phnum = rd(h + 44, 2);
		if (machine != EM_386)
			return vs_fail(e, EINVAL, "ELF32: machine %llu is not i386",
				       (unsigned long long)machine);
	}
	elf->is64 = is64;
	if (type != ET_EXEC)
		return vs_fail(e, EINVAL, "ELF: type %llu is not an executable",
			       (unsigned long long)type);
	size_t want = is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	if (phentsize != want)
		return vs_fail(e, EINVAL, "ELF: program header size %llu, expected %zu",
			       (unsigned long long)phentsize, want);
	if (phnum == 0 || !in_file(phoff, phnum * phentsize, len))
		return vs_fail(e, EINVAL, "ELF: program headers outside the file");

	for (uint64_t i = 0; i < phnum; i++) {
		const uint8_t *p = img + phoff + i * phentsize;
		uint64_t ptype = rd(p, 4), off, paddr, filesz, memsz;

		if (is64) {
			off = rd(p + 8, 8);
			paddr = rd(p + 24, 8);
			filesz = rd(p + 32, 8);
			memsz = rd(p + 40, 8);
		} else {
			off = rd(p + 4, 4);
			paddr = rd(p + 12, 4);
			filesz = rd(p + 16, 4);
			memsz = rd(p + 20, 4);
		}
		if (ptype == PT_NOTE) {
			if (scan_notes(img, len, off, filesz, elf, e) < 0)
				return -1;
			continue;
		}
		if (ptype != PT_LOAD || memsz == 0)
			continue;
		if (filesz > memsz || !in_file(off, filesz, len))
			return vs_fail(e, EINVAL,
				       "ELF: segment %llu: file range 0x%llx+0x%llx "
				       "outside the file or larger than its memory size",
				       (unsigned long long)i, (unsigned long long)off,
				       (unsigned long long)filesz);
		if (paddr + memsz < paddr)
			return vs_fail(e, EINVAL, "ELF: segment %llu wraps around",
				       (unsigned long long)i);
		if (elf->nsegs >= VM_ELF_MAX_SEGS)
			return vs_fail(e, EINVAL, "ELF: more than %d loadable segments",
				       VM_ELF_MAX_SEGS);
		elf->segs[elf->nsegs++] = (struct vm_elf_seg){paddr, off, filesz, memsz};
	}
	if (elf->nsegs == 0)
		return vs_fail(e, EINVAL, "ELF: no loadable segment");
	return 0;
}

int vm_elf_load(struct vm_memory *mem, const uint8_t *img, size_t len, const struct vm_elf *elf,
		uint64_t *lo, uint64_t *hi, struct vs_err *e)
{
	uint64_t l = UINT64_MAX, h = 0;

	for (unsigned i = 0; i < elf->nsegs; i++) {
		const struct vm_elf_seg *s = &elf->segs[i];

		/* below 1 MiB sit the VMM's own boot structures and ACPI tables */
		if (s->paddr < VM_HIGH_MEM_START)
			return vs_fail(e, EINVAL, "ELF segment at 0x%llx is below 1 MiB",
				       (unsigned long long)s->paddr);
		uint8_t *dst = vm_mem_ptr(mem, s->paddr, s->memsz);
		if (!dst || !in_file(s->offset, s->filesz, len))
			return vs_fail(e, EINVAL,
				       "ELF segment at 0x%llx+0x%llx does not fit in guest RAM",
				       (unsigned long long)s->paddr, (unsigned long long)s->memsz);
		memcpy(dst, img + s->offset, s->filesz);
		memset(dst + s->filesz, 0, s->memsz - s->filesz);
		if (s->paddr < l)
			l = s->paddr;
		if (s->paddr + s->memsz > h)
			h = s->paddr + s->memsz;
	}
	*lo = l;
	*hi = h;
	return 0;
}
