/* Shared by the insn_* guests: catch an exception the test provokes on
 * purpose, record the frame the CPU pushed, and carry on.
 *
 * insn_catch(V) points IDT gate V (3, 7, 13 or 16) at a stub that stores
 * the vector, error code, saved RIP, CS, RFLAGS and RSP in insn_trap and
 * counts the hit. A trap (#BP) returns to the saved RIP, which already
 * points after the instruction; a fault (#NM, #GP, #MF) saves the RIP of
 * the faulting instruction, so the test sets insn_trap.resume to the
 * address to continue at (one shot). Other vectors keep the library's
 * "not ok exception" handler, so an unexpected exception still fails.
 * Frame layout: SDM vol. 3 §6.14.1 (64-bit mode always pushes SS:RSP). */
#ifndef INSN_H
#define INSN_H

#include "guest.h"

struct insn_trap {
	uint64_t hits, vector, error, rip, cs, rflags, rsp, resume;
};

struct insn_trap insn_trap;

/* offsets into struct insn_trap used by the stub below */
_Static_assert(__builtin_offsetof(struct insn_trap, resume) == 56, "insn_trap layout");

__asm__(".text\n"
	".macro insn_stub n, err\n"
	".globl insn_stub_\\n\n"
	"insn_stub_\\n:\n"
	".if \\err == 0\n"
	"	pushq $0\n"
	".endif\n"
	"	pushq $\\n\n"
	"	jmp insn_trap_common\n"
	".endm\n"
	"insn_stub 3, 0\n"
	"insn_stub 7, 0\n"
	"insn_stub 13, 1\n"
	"insn_stub 16, 0\n"
	"insn_trap_common:\n"
	/* stack: rax, vector, error, rip, cs, rflags, rsp, ss */
	"	pushq %rax\n"
	"	movq 8(%rsp), %rax\n	movq %rax, insn_trap+8(%rip)\n"
	"	movq 16(%rsp), %rax\n	movq %rax, insn_trap+16(%rip)\n"
	"	movq 24(%rsp), %rax\n	movq %rax, insn_trap+24(%rip)\n"
	"	movq 32(%rsp), %rax\n	movq %rax, insn_trap+32(%rip)\n"
	"	movq 40(%rsp), %rax\n	movq %rax, insn_trap+40(%rip)\n"
	"	movq 48(%rsp), %rax\n	movq %rax, insn_trap+48(%rip)\n"
	"	incq insn_trap(%rip)\n"
	"	movq insn_trap+56(%rip), %rax\n"
	"	testq %rax, %rax\n"
	"	jz 1f\n"
	"	movq %rax, 24(%rsp)\n"
	"	movq $0, insn_trap+56(%rip)\n"
	"1:	popq %rax\n"
	"	addq $16, %rsp\n"
	"	iretq\n");

extern const char insn_stub_3[], insn_stub_7[], insn_stub_13[], insn_stub_16[];

static inline void insn_catch(unsigned vector)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) idtr;
	const char *stub = vector == 3	  ? insn_stub_3
			   : vector == 7  ? insn_stub_7
			   : vector == 13 ? insn_stub_13
					  : insn_stub_16;
	uint64_t a = (uint64_t)stub;
	uint16_t cs;

	__asm__ volatile("sidt %0" : "=m"(idtr));
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	volatile uint32_t *g = (volatile uint32_t *)(idtr.base + 16 * vector);
	/* 64-bit interrupt gate, present, DPL 0 (SDM vol. 3 figure 6-8) */
	g[0] = (uint32_t)(a & 0xffff) | ((uint32_t)cs << 16);
	g[1] = (uint32_t)(a & 0xffff0000) | 0x8e00;
	g[2] = (uint32_t)(a >> 32);
	g[3] = 0;
}

static inline void cpuid_g(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid"
			 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}

static inline uint64_t read_cr0(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr0, %0" : "=r"(v));
	return v;
}
static inline void write_cr0(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory");
}
static inline uint64_t read_cr4(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr4, %0" : "=r"(v));
	return v;
}
static inline void write_cr4(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory");
}

#define CR0_MP	       (1ul << 1)
#define CR0_EM	       (1ul << 2)
#define CR0_TS	       (1ul << 3)
#define CR0_NE	       (1ul << 5)
#define CR4_OSFXSR     (1ul << 9)
#define CR4_OSXMMEXCPT (1ul << 10)
#define RFLAGS_AC      (1ul << 18)

#endif
