/* insn_int3: INT3 (0xCC) must deliver #BP, vector 3, as a trap: the saved
 * RIP is the byte after the int3, CS and RSP are those of the interrupted
 * code, and execution resumes there after IRET (SDM vol. 2 "INT n/INTO/INT3",
 * vol. 3 §6.5 trap class). The PVM host cannot emulate int3, so vessel-vmm
 * has to inject #BP itself; the guest checks what arrives. Three int3 in a
 * row must give three deliveries. */
#include "insn.h"

void guest_main(void)
{
	uint64_t after, rsp_before, rflags_before;
	uint16_t cs;

	insn_catch(3);
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	__asm__ volatile("pushfq\n\tpopq %1\n\t"
			 "movq %%rsp, %2\n\t"
			 "leaq 1f(%%rip), %0\n\t"
			 "int3\n"
			 "1:"
			 : "=&r"(after), "=&r"(rflags_before), "=&r"(rsp_before)
			 :
			 : "memory");
	check(insn_trap.hits == 1, "insn_int3_delivered", "%lu deliveries", insn_trap.hits);
	check(insn_trap.vector == 3, "insn_int3_vector", "vector %lu", insn_trap.vector);
	check(insn_trap.rip == after, "insn_int3_rip_after", "saved rip %lx, int3 ends at %lx",
	      insn_trap.rip, after);
	check(*(const uint8_t *)(after - 1) == 0xcc, "insn_int3_opcode", "byte before rip %02x",
	      *(const uint8_t *)(after - 1));
	check(insn_trap.cs == cs, "insn_int3_cs", "saved cs %lx, running with %x", insn_trap.cs,
	      cs);
	check(insn_trap.rsp == rsp_before, "insn_int3_rsp", "saved rsp %lx, was %lx", insn_trap.rsp,
	      rsp_before);
	/* RF and the arithmetic flags may differ; IF/DF/AC/IOPL must not */
	uint64_t keep = (1ul << 9) | (1ul << 10) | RFLAGS_AC | (3ul << 12);
	check((insn_trap.rflags & keep) == (rflags_before & keep), "insn_int3_rflags",
	      "saved rflags %lx, was %lx", insn_trap.rflags, rflags_before);

	__asm__ volatile("int3\n\tint3\n\tint3" ::: "memory");
	check(insn_trap.hits == 4, "insn_int3_repeated", "%lu deliveries after 3 more",
	      insn_trap.hits);
	printf_g("insn_int3: resumed after %lu breakpoints\n", insn_trap.hits);
}
