/* insn_mxcsr: LDMXCSR / STMXCSR (SDM vol. 2 "LDMXCSR", "STMXCSR"; MXCSR
 * layout vol. 1 §10.2.3). The guest enables SSE (CR4.OSFXSR/OSXMMEXCPT,
 * CR0.EM clear, CR0.MP set), reads the reset value 0x1F80, round-trips
 * several values, checks that a loaded rounding mode really governs
 * CVTSS2SI (so the value reached the FPU, not just a copy) and that an
 * inexact conversion sets PE in what STMXCSR reads, and that a reserved bit
 * makes LDMXCSR raise #GP(0) without changing MXCSR. That last check runs
 * only with strict=1 on the command line (vessel-vmm): QEMU 7.2's TCG loads
 * reserved bits without a fault, so the reference cannot prove it. */
#include "insn.h"

static uint32_t st(void)
{
	uint32_t v;
	__asm__ volatile("stmxcsr %0" : "=m"(v) : : "memory");
	return v;
}

static void ld(uint32_t v)
{
	__asm__ volatile("ldmxcsr %0" : : "m"(v) : "memory");
}

/* CVTSS2SI under the current rounding mode */
static int32_t cvt(uint32_t bits)
{
	int32_t r;
	/* the compiler uses no SSE (-mno-sse), so xmm0 is free and cannot be
	 * named as a clobber */
	__asm__ volatile("movd %1, %%xmm0\n\tcvtss2si %%xmm0, %0" : "=r"(r) : "r"(bits));
	return r;
}

void guest_main(void)
{
	uint32_t r[4];

	cpuid_g(1, 0, r);
	if (!check(r[3] & (1u << 25), "insn_mxcsr_sse_cpuid", "CPUID.1:EDX %x lacks SSE", r[3]))
		return;
	write_cr0((read_cr0() & ~(CR0_EM | CR0_TS)) | CR0_MP);
	write_cr4(read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT);

	uint32_t v = st();
	check(v == 0x1f80, "insn_mxcsr_reset_value", "stmxcsr %x", v);

	static const uint32_t vals[] = {0x0000, 0x1f80, 0x9fbf, 0x7f80, 0x3f81};
	bool all = true;
	for (unsigned i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		ld(vals[i]);
		v = st();
		if (v != vals[i]) {
			report_fail("insn_mxcsr_round_trip", "loaded %x, read %x", vals[i], v);
			all = false;
		}
	}
	if (all)
		report_ok("insn_mxcsr_round_trip");

	/* 1.5 and -1.5 under RC = nearest, down, up, toward zero (bits 13-14),
	 * all exceptions masked */
	static const int32_t want_pos[4] = {2, 1, 2, 1}, want_neg[4] = {-2, -2, -1, -1};
	all = true;
	for (uint32_t rc = 0; rc < 4; rc++) {
		ld(0x1f80 | rc << 13);
		int32_t p = cvt(0x3fc00000), n = cvt(0xbfc00000);
		if (p != want_pos[rc] || n != want_neg[rc]) {
			report_fail("insn_mxcsr_rounding", "RC %u: 1.5 -> %d, -1.5 -> %d", rc, p,
				    n);
			all = false;
		}
	}
	if (all)
		report_ok("insn_mxcsr_rounding");

	/* the flags are sticky hardware state: PE (bit 5) after an inexact op */
	ld(0x1f80);
	(void)cvt(0x3fc00000);
	v = st();
	check(v == (0x1f80 | 0x20), "insn_mxcsr_precision_flag", "stmxcsr %x after 1.5 -> int", v);

	/* bits 16-31 are reserved: #GP(0), MXCSR unchanged */
	char strict[4];
	if (!cmdline_get("strict", strict, sizeof(strict)) || strcmp(strict, "1"))
		return;
	uint64_t at;
	uint32_t bad = 0x11f80;
	insn_catch(13);
	ld(0x1f81);
	__asm__ volatile("leaq 2f(%%rip), %%rax\n\t"
			 "movq %%rax, %1\n\t"
			 "leaq 1f(%%rip), %0\n"
			 "1:\tldmxcsr %2\n"
			 "2:"
			 : "=&r"(at), "=m"(insn_trap.resume)
			 : "m"(bad)
			 : "rax", "memory");
	check(insn_trap.hits == 1 && insn_trap.vector == 13 && insn_trap.error == 0,
	      "insn_mxcsr_reserved_gp", "hits %lu vector %lu error %lx", insn_trap.hits,
	      insn_trap.vector, insn_trap.error);
	check(insn_trap.rip == at, "insn_mxcsr_gp_rip", "saved rip %lx, ldmxcsr at %lx",
	      insn_trap.rip, at);
	v = st();
	check(v == 0x1f81, "insn_mxcsr_unchanged_after_gp", "stmxcsr %x", v);
}
