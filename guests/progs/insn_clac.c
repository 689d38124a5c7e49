/* insn_clac: CLAC clears and STAC sets RFLAGS.AC (bit 18) and touch nothing
 * else (SDM vol. 2 "CLAC", "STAC"). Both exist only with CPUID.(7,0):EBX
 * bit 20 (SMAP); CR4.SMAP need not be set for them to work at CPL 0. */
#include "insn.h"

static uint64_t run(bool set_ac_first, bool do_stac, uint64_t *before)
{
	uint64_t b, a;

	if (do_stac)
		__asm__ volatile("pushfq\n\t"
				 "orq %2, (%%rsp)\n\t"
				 "testb %3, %3\n\t"
				 "jnz 1f\n\t"
				 "andq %4, (%%rsp)\n"
				 "1:\tpopfq\n\t"
				 "pushfq\n\tpopq %0\n\t"
				 "stac\n\t"
				 "pushfq\n\tpopq %1"
				 : "=&r"(b), "=&r"(a)
				 : "r"(RFLAGS_AC), "q"((uint8_t)set_ac_first), "r"(~RFLAGS_AC)
				 : "cc", "memory");
	else
		__asm__ volatile("pushfq\n\t"
				 "orq %2, (%%rsp)\n\t"
				 "testb %3, %3\n\t"
				 "jnz 1f\n\t"
				 "andq %4, (%%rsp)\n"
				 "1:\tpopfq\n\t"
				 "pushfq\n\tpopq %0\n\t"
				 "clac\n\t"
				 "pushfq\n\tpopq %1"
				 : "=&r"(b), "=&r"(a)
				 : "r"(RFLAGS_AC), "q"((uint8_t)set_ac_first), "r"(~RFLAGS_AC)
				 : "cc", "memory");
	*before = b;
	return a;
}

void guest_main(void)
{
	uint32_t r[4];
	uint64_t before, after;

	cpuid_g(7, 0, r);
	if (!check(r[1] & (1u << 20), "insn_clac_smap_cpuid", "CPUID.7.0:EBX %x lacks SMAP", r[1]))
		return;

	after = run(true, false, &before);
	check(before & RFLAGS_AC, "insn_clac_ac_preset", "popf did not set AC: %lx", before);
	check(!(after & RFLAGS_AC), "insn_clac_clears_ac", "rflags %lx after clac", after);
	check((after | RFLAGS_AC) == (before | RFLAGS_AC), "insn_clac_other_flags",
	      "rflags %lx -> %lx", before, after);

	after = run(false, true, &before);
	check(!(before & RFLAGS_AC), "insn_stac_ac_precleared", "AC still set: %lx", before);
	check(after & RFLAGS_AC, "insn_stac_sets_ac", "rflags %lx after stac", after);
	check((after & ~RFLAGS_AC) == (before & ~RFLAGS_AC), "insn_stac_other_flags",
	      "rflags %lx -> %lx", before, after);

	/* idempotent: stac with AC set keeps it, clac with AC clear keeps it clear */
	after = run(true, true, &before);
	check(after == before, "insn_stac_when_set", "rflags %lx -> %lx", before, after);
	after = run(false, false, &before);
	check(after == before, "insn_clac_when_clear", "rflags %lx -> %lx", before, after);
}
