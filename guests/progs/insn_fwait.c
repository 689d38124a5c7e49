/* insn_fwait: WAIT/FWAIT (SDM vol. 2 "WAIT/FWAIT"; vol. 1 §8.7 x87
 * exception synchronisation). With nothing pending it does nothing. After
 * an unmasked x87 exception (divide by zero with ZM cleared in the control
 * word) the exception is pending (status ZE and ES) and the next FWAIT must
 * raise #MF, vector 16, as a fault on the FWAIT itself (CR0.NE set: native
 * reporting); after FNCLEX it is quiet again. With CR0.MP and CR0.TS set it
 * must raise #NM, vector 7 (vol. 3 §2.5 CR0.MP). */
#include "insn.h"

/* fwait with insn_trap.resume armed; returns the fwait's address */
static uint64_t fwait_at(void)
{
	uint64_t at;
	__asm__ volatile("leaq 2f(%%rip), %%rax\n\t"
			 "movq %%rax, %1\n\t"
			 "leaq 1f(%%rip), %0\n"
			 "1:\tfwait\n"
			 "2:"
			 : "=&r"(at), "=m"(insn_trap.resume)
			 :
			 : "rax", "memory");
	insn_trap.resume = 0;
	return at;
}

static uint16_t fstatus(void)
{
	uint16_t sw;
	__asm__ volatile("fnstsw %0" : "=m"(sw));
	return sw;
}

void guest_main(void)
{
	uint64_t at;
	uint16_t sw, cw = 0x037b; /* default 0x037f with ZM (bit 2) cleared */

	write_cr0((read_cr0() & ~(CR0_EM | CR0_TS)) | CR0_MP | CR0_NE);
	insn_catch(16);
	insn_catch(7);
	__asm__ volatile("fninit" ::: "memory");

	fwait_at();
	check(insn_trap.hits == 0, "insn_fwait_quiet", "trapped: vector %lu", insn_trap.vector);

	/* 1.0 / 0.0 with the divisor in memory (no operand-order ambiguity) */
	static const uint32_t zero_f = 0;
	__asm__ volatile("fldcw %0\n\tfld1\n\tfdivs %1" : : "m"(cw), "m"(zero_f) : "memory");
	sw = fstatus();
	check((sw & 0x84) == 0x84, "insn_fwait_zero_divide_pending", "status word %x", sw);
	at = fwait_at();
	check(insn_trap.hits == 1 && insn_trap.vector == 16, "insn_fwait_mf", "hits %lu vector %lu",
	      insn_trap.hits, insn_trap.vector);
	check(insn_trap.rip == at, "insn_fwait_mf_rip", "saved rip %lx, fwait at %lx",
	      insn_trap.rip, at);

	__asm__ volatile("fnclex" ::: "memory");
	sw = fstatus();
	fwait_at();
	check(insn_trap.hits == 1 && !(sw & 0x80), "insn_fwait_quiet_after_fnclex",
	      "hits %lu status %x", insn_trap.hits, sw);

	write_cr0(read_cr0() | CR0_TS);
	at = fwait_at();
	__asm__ volatile("clts" ::: "memory");
	check(insn_trap.hits == 2 && insn_trap.vector == 7, "insn_fwait_nm_with_ts",
	      "hits %lu vector %lu", insn_trap.hits, insn_trap.vector);
	check(insn_trap.rip == at, "insn_fwait_nm_rip", "saved rip %lx, fwait at %lx",
	      insn_trap.rip, at);
	fwait_at();
	check(insn_trap.hits == 2, "insn_fwait_quiet_after_clts", "hits %lu", insn_trap.hits);
}
