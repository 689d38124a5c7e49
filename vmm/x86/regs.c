/* Boot CPU state and guest page walks (Intel SDM vol. 3A §3.4.5 segment
 * descriptors, §4 paging). */
#include <errno.h>
#include <string.h>

#include "vmm/layout.h"
#include "vessel/le.h"
#include "vmm/x86/regs.h"

#define GDT_CODE64  0xa09b /* G, L, P, DPL0, S, execute/read accessed */
#define GDT_CODE32  0xc09b /* G, D, P, DPL0, S, execute/read accessed */
#define GDT_DATA    0xc093 /* G, B, P, DPL0, S, read/write accessed */
#define GDT_TSS	    0x008b /* P, busy 32-bit TSS */
#define GDT_ENTRIES 4

uint64_t vm_gdt_entry(uint16_t flags, uint32_t base, uint32_t limit)
{
	return ((uint64_t)(base & 0xff000000) << 32) | ((uint64_t)(flags & 0xf0ff) << 40) |
	       ((uint64_t)(limit & 0xf0000) << 32) | ((uint64_t)(base & 0xffffff) << 16) |
	       (limit & 0xffff);
}

void vm_gdt_to_segment(uint64_t d, uint16_t selector, struct kvm_segment *seg)
{
	uint32_t limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));
	uint8_t g = (d >> 55) & 1;

	memset(seg, 0, sizeof(*seg));
	seg->base = ((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000);
	seg->limit = g ? (limit << 12) | 0xfff : limit;
	seg->selector = selector;
	seg->type = (d >> 40) & 0xf;
	seg->s = (d >> 44) & 1;
	seg->dpl = (d >> 45) & 3;
	seg->present = (d >> 47) & 1;
	seg->avl = (d >> 52) & 1;
	seg->l = (d >> 53) & 1;
	seg->db = (d >> 54) & 1;
	seg->g = g;
	seg->unusable = !seg->present;
}

static void boot_gdt(enum vm_entry_mode mode, uint64_t gdt[GDT_ENTRIES])
{
	gdt[0] = 0;
	gdt[1] = vm_gdt_entry(GDT_TSS, 0, 0x67); /* PVH: 32-bit TSS, base 0, limit 0x67 */
	gdt[2] = vm_gdt_entry(mode == VM_ENTRY_LONG64 ? GDT_CODE64 : GDT_CODE32, 0, 0xfffff);
	gdt[3] = vm_gdt_entry(GDT_DATA, 0, 0xfffff);
}

int vm_x86_write_gdt(struct vm_memory *m, enum vm_entry_mode mode, struct vs_err *e)
{
	uint64_t gdt[GDT_ENTRIES], idt = 0;
	uint8_t buf[sizeof(gdt)];

	boot_gdt(mode, gdt);
	for (unsigned i = 0; i < GDT_ENTRIES; i++)
		for (unsigned b = 0; b < 8; b++)
			buf[i * 8 + b] = (uint8_t)(gdt[i] >> (8 * b));
	if (vm_mem_write(m, VM_GDT_ADDR, buf, sizeof(buf)) < 0 ||
	    vm_mem_write(m, VM_IDT_ADDR, &idt, sizeof(idt)) < 0)
		return vs_fail(e, EINVAL, "boot GDT: guest RAM too small");
	return 0;
}

int vm_x86_write_page_tables(struct vm_memory *m, struct vs_err *e)
{
	uint8_t *pml4 = vm_mem_ptr(m, VM_PML4_ADDR, 4096);
	uint8_t *pdpt = vm_mem_ptr(m, VM_PDPT_ADDR, 4096);
	uint8_t *pd = vm_mem_ptr(m, VM_PD_ADDR, 4 * 4096);

	if (!pml4 || !pdpt || !pd)
		return vs_fail(e, EINVAL, "boot page tables: guest RAM too small");
	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	vs_le_put64(pml4, VM_PDPT_ADDR | 0x3); /* present, writable */
	for (uint64_t i = 0; i < 4; i++) {
		vs_le_put64(pdpt + 8 * i, (VM_PD_ADDR + i * 4096) | 0x3);
		for (uint64_t j = 0; j < 512; j++)
			vs_le_put64(pd + i * 4096 + 8 * j,
				    ((i * 512 + j) << 21) | 0x83); /* 2 MiB page */
	}
	return 0;
}

void vm_x86_boot_sregs(enum vm_entry_mode mode, struct kvm_sregs *s)
{
	uint64_t gdt[GDT_ENTRIES];

	boot_gdt(mode, gdt);
	vm_gdt_to_segment(gdt[2], VM_SEL_CODE, &s->cs);
	vm_gdt_to_segment(gdt[3], VM_SEL_DATA, &s->ds);
	s->es = s->fs = s->gs = s->ss = s->ds;
	vm_gdt_to_segment(gdt[1], VM_SEL_TSS, &s->tr);
	memset(&s->ldt, 0, sizeof(s->ldt));
	s->ldt.type = 2; /* LDT, unusable: nothing loaded */
	s->ldt.unusable = 1;
	s->gdt.base = VM_GDT_ADDR;
	s->gdt.limit = sizeof(gdt) - 1;
	s->idt.base = VM_IDT_ADDR;
	s->idt.limit = 7;
	s->cr2 = 0;
	if (mode == VM_ENTRY_LONG64) {
		s->cr0 = VM_CR0_PE | VM_CR0_ET | VM_CR0_PG;
		s->cr3 = VM_PML4_ADDR;
		s->cr4 = VM_CR4_PAE;
		s->efer = VM_EFER_LME | VM_EFER_LMA;
	} else {
		/* PVH and multiboot: protected mode, paging off */
		s->cr0 = VM_CR0_PE | VM_CR0_ET;
		s->cr3 = 0;
		s->cr4 = 0;
		s->efer = 0;
	}
}

void vm_x86_boot_regs(const struct vm_boot_entry *ent, struct kvm_regs *r)
{
	memset(r, 0, sizeof(*r));
	r->rflags = 0x2; /* reserved bit 1; IF, TF, VM clear */
	r->rip = ent->rip;
	r->rsi = ent->rsi;
	r->rax = ent->rax;
	r->rbx = ent->rbx;
	r->rsp = ent->rsp;
}

/* One page-table entry of 4 or 8 bytes. */
static int read_pte(const struct vm_memory *m, uint64_t addr, unsigned size, uint64_t *v)
{
	uint8_t b[8];

	if (vm_mem_read(m, addr, b, size) < 0)
		return -1;
	*v = 0;
	for (unsigned i = 0; i < size; i++)
		*v |= (uint64_t)b[i] << (8 * i);
	return 0;
}

int vm_x86_translate(const struct vm_memory *m, const struct kvm_sregs *s, uint64_t gva,
		     uint64_t *gpa)
{
	const uint64_t addr_mask = 0x000ffffffffff000ull; /* bits 51:12 */
	uint64_t pte;

	if (!(s->cr0 & VM_CR0_PG)) {
		*gpa = s->efer & VM_EFER_LMA ? gva : (gva & 0xffffffffull);
		return 0;
	}
	if (!(s->cr4 & VM_CR4_PAE)) {
		/* 32-bit paging: 10/10/12, 4 MiB pages with CR4.PSE */
		uint32_t va = (uint32_t)gva;
		if (read_pte(m, (s->cr3 & 0xfffff000) + ((va >> 22) << 2), 4, &pte) < 0 ||
		    !(pte & 1))
			return -1;
		if ((pte & 0x80) && (s->cr4 & VM_CR4_PSE)) {
			*gpa = (pte & 0xffc00000) | (((pte >> 13) & 0xff) << 32) | (va & 0x3fffff);
			return 0;
		}
		if (read_pte(m, (pte & 0xfffff000) + (((va >> 12) & 0x3ff) << 2), 4, &pte) < 0 ||
		    !(pte & 1))
			return -1;
		*gpa = (pte & 0xfffff000) | (va & 0xfff);
		return 0;
	}
	if (!(s->efer & VM_EFER_LMA)) {
		/* PAE: 2/9/9/12 */
		uint32_t va = (uint32_t)gva;
		if (read_pte(m, (s->cr3 & 0xffffffe0) + ((va >> 30) << 3), 8, &pte) < 0 ||
		    !(pte & 1))
			return -1;
		if (read_pte(m, (pte & addr_mask) + (((va >> 21) & 0x1ff) << 3), 8, &pte) < 0 ||
		    !(pte & 1))
			return -1;
		if (pte & 0x80) {
			*gpa = (pte & 0x000fffffffe00000ull) | (va & 0x1fffff);
			return 0;
		}
		if (read_pte(m, (pte & addr_mask) + (((va >> 12) & 0x1ff) << 3), 8, &pte) < 0 ||
		    !(pte & 1))
			return -1;
		*gpa = (pte & addr_mask) | (va & 0xfff);
		return 0;
	}
	/* 4-level, or 5-level with CR4.LA57 */
	int levels = s->cr4 & VM_CR4_LA57 ? 5 : 4;
	uint64_t table = s->cr3 & addr_mask;
	for (int lvl = levels; lvl >= 1; lvl--) {
		unsigned shift = 12 + 9 * (lvl - 1);
		if (read_pte(m, table + (((gva >> shift) & 0x1ff) << 3), 8, &pte) < 0 || !(pte & 1))
			return -1;
		/* PS in a PDPTE (1 GiB) or PDE (2 MiB) ends the walk */
		if ((lvl == 2 || lvl == 3) && (pte & 0x80)) {
			uint64_t page_mask = (1ull << shift) - 1;
			*gpa = (pte & addr_mask & ~page_mask) | (gva & page_mask);
			return 0;
		}
		table = pte & addr_mask;
	}
	*gpa = table | (gva & 0xfff);
	return 0;
}

size_t vm_x86_read_virt(const struct vm_memory *m, const struct kvm_sregs *s, uint64_t gva,
			void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		uint64_t gpa, n = 4096 - ((gva + done) & 0xfff);
		if (n > len - done)
			n = len - done;
		if (vm_x86_translate(m, s, gva + done, &gpa) < 0 ||
		    vm_mem_read(m, gpa, (uint8_t *)buf + done, n) < 0)
			break;
		done += n;
	}
	return done;
}

int vm_x86_write_virt(const struct vm_memory *m, const struct kvm_sregs *s, uint64_t gva,
		      const void *buf, size_t len)
{
	size_t done = 0;

	/* translate everything first: a write is all or nothing */
	while (done < len) {
		uint64_t gpa, n = 4096 - ((gva + done) & 0xfff);
		if (n > len - done)
			n = len - done;
		if (vm_x86_translate(m, s, gva + done, &gpa) < 0 || !vm_mem_ptr(m, gpa, n))
			return -1;
		done += n;
	}
	for (done = 0; done < len;) {
		uint64_t gpa, n = 4096 - ((gva + done) & 0xfff);
		if (n > len - done)
			n = len - done;
		vm_x86_translate(m, s, gva + done, &gpa);
		vm_mem_write(m, gpa, (const uint8_t *)buf + done, n);
		done += n;
	}
	return 0;
}
