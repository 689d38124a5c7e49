/* Fallback for the few instructions a host's KVM may fail to emulate
 * (KVM_EXIT_INTERNAL_ERROR / KVM_INTERNAL_ERROR_EMULATION): int3, clac,
 * stac, ldmxcsr, stmxcsr, fwait. Decoding and the architectural effect are
 * pure functions; vcpu.c fetches the bytes and applies the effect through
 * KVM. Guest code is never patched. */
#ifndef VMM_X86_EMULATE_H
#define VMM_X86_EMULATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vessel/err.h"

enum vm_emu_op {
	VM_EMU_INT3,
	VM_EMU_CLAC,
	VM_EMU_STAC,
	VM_EMU_LDMXCSR,
	VM_EMU_STMXCSR,
	VM_EMU_FWAIT,
};

/* Segment register numbers, in the order of the SDM's Sreg encoding. */
enum { VM_SEG_ES, VM_SEG_CS, VM_SEG_SS, VM_SEG_DS, VM_SEG_FS, VM_SEG_GS };

/* What the decoder needs of the vCPU. gpr[] in encoding order: rax, rcx,
 * rdx, rbx, rsp, rbp, rsi, rdi, r8..r15. */
struct vm_emu_cpu {
	uint64_t gpr[16];
	uint64_t rip;
	bool long64; /* CS.L in long mode: 64-bit code */
	bool def32;  /* CS.D: 32-bit default sizes outside long64 */
	uint64_t seg_base[6];
};

struct vm_emu_insn {
	enum vm_emu_op op;
	unsigned len; /* bytes, prefixes included */
	bool has_mem; /* ldmxcsr/stmxcsr memory operand */
	uint64_t ea;  /* linear address of the operand */
};

#define VM_EMU_MAX_LEN 15

/* Decodes the instruction at bytes[0..n); -1 with e naming the bytes when
 * it is not one we emulate. */
int vm_emu_decode(const uint8_t *bytes, size_t n, const struct vm_emu_cpu *cpu,
		  struct vm_emu_insn *out, struct vs_err *e);

/* Architectural state the effects read. */
struct vm_emu_state {
	uint64_t rip, rflags;
	uint32_t mxcsr;
	uint16_t fcw, fsw;
	uint32_t mem_value; /* ldmxcsr: the 4 bytes at ea */
};

struct vm_emu_effect {
	uint64_t rip, rflags;
	bool set_mxcsr;
	uint32_t mxcsr;
	bool mem_write; /* stmxcsr: store value at ea */
	uint32_t mem_value;
	bool inject; /* exception to deliver */
	uint8_t vector;
	bool soft; /* software exception: pushed RIP is after it */
	bool has_error_code;
	uint32_t error_code;
};

#define VM_RFLAGS_AC  (1ull << 18)
#define VM_MXCSR_MASK 0xffffu /* all of bits 15:0 writable (DAZ present) */

/* The effect of executing insn in state; -1 when it cannot be emulated
 * (e.g. fwait with an unmasked x87 exception pending, which needs #MF
 * delivery through the x87 error path we do not model). */
int vm_emu_effect(const struct vm_emu_insn *insn, const struct vm_emu_state *st,
		  struct vm_emu_effect *out, struct vs_err *e);

const char *vm_emu_op_name(enum vm_emu_op op);

#endif
