/* x86 CPU state at boot: the GDT, identity page tables and registers each
 * boot path asks for, and guest-virtual to guest-physical translation for
 * error reports and the instruction fallback. Pure functions over guest
 * memory and KVM's register structs, so they are tested without KVM. */
#ifndef VMM_X86_REGS_H
#define VMM_X86_REGS_H

#include <stdint.h>
#include <linux/kvm.h>

#include "vmm/boot/boot.h"
#include "vmm/memory.h"
#include "vessel/err.h"

/* Selectors of the boot GDT (the Linux boot protocol wants CS 0x10, DS 0x18) */
#define VM_SEL_TSS  0x08
#define VM_SEL_CODE 0x10
#define VM_SEL_DATA 0x18

#define VM_CR0_PE   (1ull << 0)
#define VM_CR0_ET   (1ull << 4)
#define VM_CR0_PG   (1ull << 31)
#define VM_CR4_PSE  (1ull << 4)
#define VM_CR4_PAE  (1ull << 5)
#define VM_CR4_LA57 (1ull << 12)
#define VM_EFER_LME (1ull << 8)
#define VM_EFER_LMA (1ull << 10)
#define VM_EFER_NXE (1ull << 11)

/* A GDT descriptor from access/flags in the kernel's GDT_ENTRY layout
 * (0xa09b: 64-bit code...), base and 20-bit limit. */
uint64_t vm_gdt_entry(uint16_t flags, uint32_t base, uint32_t limit);
/* The hidden part of a segment register loaded from that descriptor. */
void vm_gdt_to_segment(uint64_t desc, uint16_t selector, struct kvm_segment *seg);

/* Writes the boot GDT (mode decides a 64-bit or 32-bit code segment) at
 * VM_GDT_ADDR and an empty IDT at VM_IDT_ADDR. */
int vm_x86_write_gdt(struct vm_memory *m, enum vm_entry_mode mode, struct vs_err *e);
/* Identity-maps the first 4 GiB with 2 MiB pages at VM_PML4_ADDR.. */
int vm_x86_write_page_tables(struct vm_memory *m, struct vs_err *e);

/* Sets the segment, control and descriptor-table registers of sregs (which
 * comes from KVM_GET_SREGS, so APIC base and the rest stay as KVM has
 * them) for mode. */
void vm_x86_boot_sregs(enum vm_entry_mode mode, struct kvm_sregs *s);
void vm_x86_boot_regs(const struct vm_boot_entry *ent, struct kvm_regs *r);

/* Walks the guest's page tables as the CPU would for sregs' paging mode
 * (off, 32-bit, PAE, 4- or 5-level). -1 when not mapped or a table lies
 * outside guest memory. */
int vm_x86_translate(const struct vm_memory *m, const struct kvm_sregs *s, uint64_t gva,
		     uint64_t *gpa);
/* Reads len bytes at a guest virtual address (may cross pages); returns
 * bytes read (fewer when a page is not mapped). */
size_t vm_x86_read_virt(const struct vm_memory *m, const struct kvm_sregs *s, uint64_t gva,
			void *buf, size_t len);
int vm_x86_write_virt(const struct vm_memory *m, const struct kvm_sregs *s, uint64_t gva,
		      const void *buf, size_t len);

#endif
