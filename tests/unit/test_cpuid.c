/* vmm/x86: CPUID filtering and topology, boot MSRs, boot registers, GDT,
 * page tables and guest page walks. */
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "vmm/layout.h"
#include "vmm/x86/cpuid.h"
#include "vmm/x86/msr.h"
#include "vmm/x86/regs.h"

static void ent(struct vm_cpuid *c, uint32_t fn, uint32_t idx, int indexed, uint32_t a, uint32_t b,
		uint32_t cc, uint32_t d)
{
	struct kvm_cpuid_entry2 *x = &c->ent[c->nent++];

	memset(x, 0, sizeof(*x));
	x->function = fn;
	x->index = idx;
	x->flags = indexed ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0;
	x->eax = a;
	x->ebx = b;
	x->ecx = cc;
	x->edx = d;
}

/* Something like what KVM reports on an Intel host. */
static void host_table(struct vm_cpuid *c)
{
	memset(c, 0, sizeof(*c));
	ent(c, 0, 0, 0, 0x1f, 0x756e6547, 0x6c65746e, 0x49656e69);
	ent(c, 1, 0, 0, 0x806f8, 0xff0800, 0x7ffefbff | (1u << 5), 0xbfebfbff & ~(1u << 28));
	ent(c, 4, 0, 1, 0x1c004121, 0x1c0003f, 0x3f, 0);   /* L1d */
	ent(c, 4, 1, 1, 0x1c004122, 0x1c0003f, 0x3f, 0);   /* L1i */
	ent(c, 4, 2, 1, 0x1c004143, 0x3c0003f, 0x7ff, 0);  /* L2 */
	ent(c, 4, 3, 1, 0x1c03c163, 0x3c0003f, 0xbfff, 4); /* L3 */
	ent(c, 4, 4, 1, 0, 0, 0, 0);
	ent(c, 7, 0, 1, 0, 0xffffffff, 0xffffffff, 0xffffffff);
	ent(c, 0xb, 0, 1, 1, 2, 0x100, 5);
	ent(c, 0xb, 1, 1, 7, 112, 0x201, 5);
	ent(c, 0x12, 0, 1, 1, 0, 0, 0);
	ent(c, 0x1f, 0, 1, 1, 2, 0x100, 5);
	ent(c, 0x40000001, 0, 0, 0x01ffffff, 0, 0, 0);
	ent(c, 0x80000008, 0, 0, 0x3030, 0, 0x3f, 0);
}

TEST(cpuid_sets_hypervisor_bit_apic_id_and_kvm_signature)
{
	static struct vm_cpuid c;
	struct vs_err e;

	host_table(&c);
	REQUIRE(vm_cpuid_configure(&c, 2, 4, &e) == 0);
	struct kvm_cpuid_entry2 *l1 = vm_cpuid_find(&c, 1, 0);
	REQUIRE(l1);
	CHECK(l1->ecx & (1u << 31));
	CHECK(!(l1->ecx & (1u << 5))); /* VMX hidden */
	CHECK_EQ(l1->ebx >> 24, 2);    /* APIC ID */
	CHECK_EQ((l1->ebx >> 16) & 0xff, 4);
	CHECK_EQ(l1->ebx & 0xffff, 0x0800); /* CLFLUSH size kept */
	CHECK(l1->edx & (1u << 28));

	struct kvm_cpuid_entry2 *sig = vm_cpuid_find(&c, 0x40000000, 0);
	REQUIRE(sig);
	char s[13] = {0};
	memcpy(s, &sig->ebx, 4);
	memcpy(s + 4, &sig->ecx, 4);
	memcpy(s + 8, &sig->edx, 4);
	CHECK_STR(s, "KVMKVMKVM");
	CHECK_EQ(sig->eax, 0x40000001);
	struct kvm_cpuid_entry2 *feat = vm_cpuid_find(&c, 0x40000001, 0);
	REQUIRE(feat);
	CHECK(feat->eax & 1);		  /* kvmclock kept */
	CHECK(!(feat->eax & (1u << 15))); /* ext dest id removed */
}

TEST(cpuid_topology_leaves_describe_one_package_of_n_cores)
{
	static struct vm_cpuid c;
	struct vs_err e;

	host_table(&c);
	REQUIRE(vm_cpuid_configure(&c, 5, 6, &e) == 0);
	struct kvm_cpuid_entry2 *smt = vm_cpuid_find(&c, 0xb, 0), *core = vm_cpuid_find(&c, 0xb, 1),
				*end = vm_cpuid_find(&c, 0xb, 2);
	REQUIRE(smt && core && end);
	CHECK_EQ(smt->ebx, 1);
	CHECK_EQ((smt->ecx >> 8) & 0xff, 1);
	CHECK_EQ(smt->edx, 5);
	CHECK_EQ(core->eax, 3); /* 6 IDs need 3 bits */
	CHECK_EQ(core->ebx, 6);
	CHECK_EQ((core->ecx >> 8) & 0xff, 2);
	CHECK_EQ(core->edx, 5);
	CHECK_EQ((end->ecx >> 8) & 0xff, 0);
	CHECK(vm_cpuid_find(&c, 0x1f, 1) != NULL);
	CHECK_EQ(vm_cpuid_find(&c, 0x1f, 1)->ebx, 6);

	struct kvm_cpuid_entry2 *l1d = vm_cpuid_find(&c, 4, 0), *l3 = vm_cpuid_find(&c, 4, 3);
	REQUIRE(l1d && l3);
	CHECK_EQ(l1d->eax >> 26, 7);	       /* cores per package - 1 (power of 2) */
	CHECK_EQ((l1d->eax >> 14) & 0xfff, 0); /* L1 private */
	CHECK_EQ((l3->eax >> 14) & 0xfff, 7);  /* L3 shared by all */
	CHECK_EQ(l1d->eax & 0x3fff, 0x0121);   /* cache type/level kept */
	CHECK_EQ(vm_cpuid_find(&c, 0x80000008, 0)->ecx & 0xff, 5);
}

TEST(cpuid_removes_features_the_vmm_does_not_emulate)
{
	static struct vm_cpuid c;
	struct vs_err e;

	host_table(&c);
	REQUIRE(vm_cpuid_configure(&c, 0, 1, &e) == 0);
	struct kvm_cpuid_entry2 *l7 = vm_cpuid_find(&c, 7, 0);
	REQUIRE(l7);
	CHECK(!(l7->ebx & (1u << 2)));	/* SGX */
	CHECK(!(l7->ebx & (1u << 25))); /* PT */
	CHECK(l7->ebx & 1);		/* others kept */
	CHECK(vm_cpuid_find(&c, 0x12, 0) == NULL);
	CHECK(!(vm_cpuid_find(&c, 1, 0)->edx & (1u << 28))); /* one CPU: no HTT */
}

TEST(cpuid_refuses_bad_cpu_index_and_missing_leaves)
{
	static struct vm_cpuid c;
	struct vs_err e;

	host_table(&c);
	CHECK_EQ(vm_cpuid_configure(&c, 4, 4, &e), -1);
	memset(&c, 0, sizeof(c));
	CHECK_EQ(vm_cpuid_configure(&c, 0, 1, &e), -1);
	CHECK_CONTAINS(e.msg, "no leaf 0");
}

TEST(msr_boot_list_clears_syscall_msrs_and_enables_fast_strings)
{
	struct kvm_msr_entry out[32];
	unsigned n = vm_msr_boot_list(NULL, 0, out, 32);
	int lstar = 0, misc = 0;

	CHECK(n >= 10);
	for (unsigned i = 0; i < n; i++) {
		if (out[i].index == VM_MSR_LSTAR && out[i].data == 0)
			lstar = 1;
		if (out[i].index == VM_MSR_IA32_MISC_ENABLE && (out[i].data & 1))
			misc = 1;
	}
	CHECK(lstar && misc);

	/* only MSRs KVM says it supports */
	uint32_t sup[] = {VM_MSR_STAR, VM_MSR_IA32_TSC, 0x12345};
	n = vm_msr_boot_list(sup, 3, out, 32);
	CHECK_EQ(n, 2);
	CHECK_EQ(vm_msr_boot_list(NULL, 0, out, 3), 3);
}

static uint8_t *ram;
#define RAM (16ull << 20)

static void guest(struct vm_memory *m)
{
	struct vs_err e;

	if (!ram)
		ram = malloc(RAM);
	memset(ram, 0, RAM);
	memset(m, 0, sizeof(*m));
	vm_mem_add_region(m, 0, RAM, ram, -1, 0, &e);
}

TEST(long_mode_boot_state_has_paging_and_flat_64bit_cs)
{
	struct vm_memory m;
	struct vs_err e;
	struct kvm_sregs s;
	struct kvm_regs r;
	struct vm_boot_entry ent = {
		.mode = VM_ENTRY_LONG64, .rip = 0x100200, .rsi = VM_BOOT_PARAMS_ADDR};

	guest(&m);
	REQUIRE(vm_x86_write_gdt(&m, VM_ENTRY_LONG64, &e) == 0);
	REQUIRE(vm_x86_write_page_tables(&m, &e) == 0);
	memset(&s, 0, sizeof(s));
	s.apic_base = 0xfee00900;
	vm_x86_boot_sregs(VM_ENTRY_LONG64, &s);
	vm_x86_boot_regs(&ent, &r);
	CHECK_EQ(s.cs.selector, 0x10);
	CHECK_EQ(s.cs.l, 1);
	CHECK_EQ(s.cs.db, 0);
	CHECK_EQ(s.cs.type, 0xb);
	CHECK_EQ(s.ds.selector, 0x18);
	CHECK_EQ(s.ds.limit, 0xffffffff);
	CHECK_EQ(s.tr.type, 0xb);
	CHECK(s.cr0 & VM_CR0_PG);
	CHECK(s.cr4 & VM_CR4_PAE);
	CHECK_EQ(s.efer, VM_EFER_LME | VM_EFER_LMA);
	CHECK_EQ(s.cr3, VM_PML4_ADDR);
	CHECK_EQ(s.apic_base, 0xfee00900); /* left as KVM had it */
	CHECK_EQ(r.rip, 0x100200);
	CHECK_EQ(r.rsi, VM_BOOT_PARAMS_ADDR);
	CHECK_EQ(r.rflags, 2);

	/* the GDT in memory agrees with the loaded CS */
	uint64_t d = 0;
	memcpy(&d, ram + VM_GDT_ADDR + 0x10, 8);
	CHECK(d == 0x00af9b000000ffffull);
	struct kvm_segment seg;
	vm_gdt_to_segment(d, 0x10, &seg);
	CHECK(memcmp(&seg, &s.cs, sizeof(seg)) == 0);

	/* identity map: every 2 MiB page of the first 4 GiB */
	uint64_t gpa;
	CHECK_EQ(vm_x86_translate(&m, &s, 0x123456, &gpa), 0);
	CHECK_EQ(gpa, 0x123456);
	CHECK_EQ(vm_x86_translate(&m, &s, 0xfee00010, &gpa), 0);
	CHECK_EQ(gpa, 0xfee00010);
	CHECK_EQ(vm_x86_translate(&m, &s, 0x100000000ull, &gpa), -1);
}

TEST(protected_mode_boot_state_is_flat_32bit_without_paging)
{
	struct kvm_sregs s;
	struct kvm_regs r;
	struct vm_boot_entry ent = {.mode = VM_ENTRY_PROT32,
				    .rip = 0x400020,
				    .rax = 0x2BADB002,
				    .rbx = VM_BOOT_INFO_ADDR};

	memset(&s, 0, sizeof(s));
	vm_x86_boot_sregs(VM_ENTRY_PROT32, &s);
	vm_x86_boot_regs(&ent, &r);
	CHECK_EQ(s.cr0 & (VM_CR0_PE | VM_CR0_PG), VM_CR0_PE);
	CHECK_EQ(s.efer, 0);
	CHECK_EQ(s.cs.db, 1);
	CHECK_EQ(s.cs.l, 0);
	CHECK_EQ(s.cs.base, 0);
	CHECK_EQ(s.cs.limit, 0xffffffff);
	CHECK_EQ(s.tr.limit, 0x67);
	CHECK_EQ(r.rax, 0x2BADB002);
	CHECK_EQ(r.rbx, VM_BOOT_INFO_ADDR);
	CHECK_EQ(r.rflags & (1u << 9), 0); /* IF clear */
}

static void put64(uint64_t gpa, uint64_t v)
{
	memcpy(ram + gpa, &v, 8);
}

TEST(page_walk_follows_4k_pages_and_refuses_unmapped)
{
	struct vm_memory m;
	struct kvm_sregs s = {0};
	uint64_t gpa;
	uint8_t buf[8];

	guest(&m);
	s.cr0 = VM_CR0_PE | VM_CR0_PG;
	s.cr4 = VM_CR4_PAE;
	s.efer = VM_EFER_LME | VM_EFER_LMA;
	s.cr3 = 0x10000;
	/* kernel-half address 0xffffffff81000000 -> 0x200000 through 4K pages */
	uint64_t va = 0xffffffff81000000ull;
	put64(0x10000 + ((va >> 39) & 0x1ff) * 8, 0x11000 | 3);
	put64(0x11000 + ((va >> 30) & 0x1ff) * 8, 0x12000 | 3);
	put64(0x12000 + ((va >> 21) & 0x1ff) * 8, 0x13000 | 3);
	put64(0x13000 + ((va >> 12) & 0x1ff) * 8, 0x200000 | 3);
	put64(0x13000 + (((va >> 12) & 0x1ff) + 1) * 8, 0x300000 | 3);
	CHECK_EQ(vm_x86_translate(&m, &s, va + 0x10, &gpa), 0);
	CHECK_EQ(gpa, 0x200010);
	CHECK_EQ(vm_x86_translate(&m, &s, va + 0x1008, &gpa), 0);
	CHECK_EQ(gpa, 0x300008);
	CHECK_EQ(vm_x86_translate(&m, &s, va + 0x2000, &gpa), -1); /* not present */

	/* a read across the page boundary stitches both pages */
	ram[0x200ffe] = 0xaa;
	ram[0x300000] = 0xbb;
	CHECK_EQ(vm_x86_read_virt(&m, &s, va + 0xffe, buf, 3), 3);
	CHECK_EQ(buf[0], 0xaa);
	CHECK_EQ(buf[2], 0xbb);
	CHECK_EQ(vm_x86_read_virt(&m, &s, va + 0x1ffe, buf, 4), 2);
	CHECK_EQ(vm_x86_write_virt(&m, &s, va + 0x1ffe, buf, 4), -1);

	/* a table pointing outside guest RAM */
	put64(0x12000 + ((va >> 21) & 0x1ff) * 8, 0x7f000000 | 3);
	CHECK_EQ(vm_x86_translate(&m, &s, va, &gpa), -1);
}

TEST(page_walk_handles_32bit_and_pae_paging)
{
	struct vm_memory m;
	struct kvm_sregs s = {0};
	uint64_t gpa;

	guest(&m);
	/* paging off */
	s.cr0 = VM_CR0_PE;
	CHECK_EQ(vm_x86_translate(&m, &s, 0x1234, &gpa), 0);
	CHECK_EQ(gpa, 0x1234);
	/* 32-bit with a 4 MiB page */
	s.cr0 |= VM_CR0_PG;
	s.cr4 = VM_CR4_PSE;
	s.cr3 = 0x20000;
	uint32_t pde = 0x800000 | 0x83;
	memcpy(ram + 0x20000 + (0xc0000000u >> 22) * 4, &pde, 4);
	CHECK_EQ(vm_x86_translate(&m, &s, 0xc0012345, &gpa), 0);
	CHECK_EQ(gpa, 0x812345);
	/* PAE with a 2 MiB page */
	s.cr4 = VM_CR4_PAE;
	s.cr3 = 0x30000;
	put64(0x30000 + 3 * 8, 0x31000 | 1);
	put64(0x31000 + 1 * 8, 0xa00000 | 0x83);
	CHECK_EQ(vm_x86_translate(&m, &s, 0xc0212345, &gpa), 0);
	CHECK_EQ(gpa, 0xa12345);
}
