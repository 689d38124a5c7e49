/* vmm/x86/emulate.c: the instruction fallback's decoder and effects. */
#include <string.h>

#include "test.h"
#include "vmm/x86/emulate.h"

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };

static struct vm_emu_cpu cpu64(void)
{
	struct vm_emu_cpu c;

	memset(&c, 0, sizeof(c));
	c.long64 = true;
	c.rip = 0xffffffff81000000ull;
	for (int i = 0; i < 16; i++)
		c.gpr[i] = 0x1000ull * (i + 1);
	c.seg_base[VM_SEG_FS] = 0x7f0000000000ull;
	c.seg_base[VM_SEG_GS] = 0xffff888000000000ull;
	c.seg_base[VM_SEG_DS] = 0x5000; /* ignored in 64-bit mode */
	return c;
}

#define B(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

static const struct {
	const char *name;
	const uint8_t *bytes;
	size_t n;
	enum vm_emu_op op;
	unsigned len;
	uint64_t ea; /* for memory forms, with cpu64() registers */
} table[] = {
	{"int3", B(0xcc), VM_EMU_INT3, 1, 0},
	{"fwait", B(0x9b, 0x90), VM_EMU_FWAIT, 1, 0},
	{"clac", B(0x0f, 0x01, 0xca), VM_EMU_CLAC, 3, 0},
	{"stac", B(0x0f, 0x01, 0xcb), VM_EMU_STAC, 3, 0},
	/* ldmxcsr (%rax) */
	{"ldmxcsr (%rax)", B(0x0f, 0xae, 0x10), VM_EMU_LDMXCSR, 3, 0x1000},
	/* ldmxcsr 0x8(%rsp) */
	{"ldmxcsr 8(%rsp)", B(0x0f, 0xae, 0x54, 0x24, 0x08), VM_EMU_LDMXCSR, 5, 0x5008},
	/* stmxcsr -0x4(%rbp) */
	{"stmxcsr -4(%rbp)", B(0x0f, 0xae, 0x5d, 0xfc), VM_EMU_STMXCSR, 4, 0x6000 - 4},
	/* ldmxcsr 0x100(%rbx,%rcx,4) disp32 */
	{"ldmxcsr 0x100(%rbx,%rcx,4)", B(0x0f, 0xae, 0x94, 0x8b, 0x00, 0x01, 0x00, 0x00),
	 VM_EMU_LDMXCSR, 8, 0x4000 + 0x2000 * 4 + 0x100},
	/* REX.B: ldmxcsr (%r13) needs mod 1 disp 0 */
	{"ldmxcsr 0(%r13)", B(0x41, 0x0f, 0xae, 0x55, 0x00), VM_EMU_LDMXCSR, 5, 0xe000},
	/* REX.X: ldmxcsr (%rax,%r12,2) -- r12 as index is real */
	{"ldmxcsr (%rax,%r12,2)", B(0x42, 0x0f, 0xae, 0x14, 0x60), VM_EMU_LDMXCSR, 5,
	 0x1000 + 0xd000 * 2},
	/* RIP-relative: stmxcsr 0x10(%rip), relative to the next instruction */
	{"stmxcsr 0x10(%rip)", B(0x0f, 0xae, 0x1d, 0x10, 0x00, 0x00, 0x00), VM_EMU_STMXCSR, 7,
	 0xffffffff81000000ull + 7 + 0x10},
	/* %gs: override adds the GS base */
	{"ldmxcsr %gs:0x20", B(0x65, 0x0f, 0xae, 0x14, 0x25, 0x20, 0x00, 0x00, 0x00),
	 VM_EMU_LDMXCSR, 9, 0xffff888000000020ull},
	/* 0x67: 32-bit address truncates */
	{"ldmxcsr (%eax) addr32", B(0x67, 0x0f, 0xae, 0x10), VM_EMU_LDMXCSR, 4, 0x1000},
};

TEST(decoder_table_gives_length_operation_and_address)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		struct vm_emu_cpu c = cpu64();
		struct vm_emu_insn in;
		struct vs_err e;

		if (vm_emu_decode(table[i].bytes, table[i].n, &c, &in, &e) < 0) {
			fprintf(stderr, "  %s: %s\n", table[i].name, e.msg);
			CHECK(0);
			continue;
		}
		if (in.op != table[i].op || in.len != table[i].len ||
		    (in.has_mem && in.ea != table[i].ea)) {
			fprintf(stderr, "  %s: op %d len %u ea 0x%llx\n", table[i].name, in.op,
				in.len, (unsigned long long)in.ea);
			CHECK(0);
		}
	}
}

TEST(decoder_32bit_mode_adds_segment_base_and_disp32_without_base)
{
	struct vm_emu_cpu c = cpu64();
	struct vm_emu_insn in;
	struct vs_err e;

	c.long64 = false;
	c.def32 = true;
	c.seg_base[VM_SEG_DS] = 0x10000;
	/* ldmxcsr 0x2000 (mod 0, rm 5: disp32, not rip-relative outside long mode) */
	REQUIRE(vm_emu_decode(B(0x0f, 0xae, 0x15, 0x00, 0x20, 0x00, 0x00), &c, &in, &e) == 0);
	CHECK_EQ(in.len, 7);
	CHECK_EQ(in.ea, 0x12000);
	/* 0x40 is "inc eax" outside long mode, not REX */
	CHECK_EQ(vm_emu_decode(B(0x40, 0x0f, 0xae, 0x10), &c, &in, &e), -1);
	/* 16-bit addressing refused */
	CHECK_EQ(vm_emu_decode(B(0x67, 0x0f, 0xae, 0x10), &c, &in, &e), -1);
	CHECK_CONTAINS(e.msg, "16-bit");
}

TEST(decoder_refuses_other_instructions_naming_the_bytes)
{
	struct vm_emu_cpu c = cpu64();
	struct vm_emu_insn in;
	struct vs_err e;

	CHECK_EQ(vm_emu_decode(B(0x0f, 0xc7, 0x0e), &c, &in, &e), -1); /* cmpxchg16b */
	CHECK_CONTAINS(e.msg, "[0f c7 0e]");
	CHECK_EQ(vm_emu_decode(B(0x0f, 0xae, 0xd0), &c, &in, &e), -1); /* mod 3 */
	CHECK_CONTAINS(e.msg, "0f ae");
	CHECK_EQ(vm_emu_decode(B(0x0f, 0xae, 0x28), &c, &in, &e), -1);	     /* xrstor */
	CHECK_EQ(vm_emu_decode(B(0xf3, 0x0f, 0xae, 0x10), &c, &in, &e), -1); /* F3: other insn */
	CHECK_EQ(vm_emu_decode(B(0xf0, 0xcc), &c, &in, &e), -1);
	CHECK_EQ(vm_emu_decode(B(0x0f, 0xae, 0x14), &c, &in, &e), -1); /* SIB missing */
	CHECK_CONTAINS(e.msg, "truncated");
	CHECK_EQ(vm_emu_decode(B(0x0f, 0xae, 0x90, 0x01), &c, &in, &e), -1); /* disp32 cut */
	CHECK_EQ(vm_emu_decode(B(0x66), &c, &in, &e), -1);
}

TEST(effects_of_int3_clac_stac_advance_rip)
{
	struct vm_emu_insn in = {.op = VM_EMU_INT3, .len = 1};
	struct vm_emu_state st = {.rip = 0x1000, .rflags = 0x2 | VM_RFLAGS_AC};
	struct vm_emu_effect ef;
	struct vs_err e;

	REQUIRE(vm_emu_effect(&in, &st, &ef, &e) == 0);
	CHECK_EQ(ef.rip, 0x1001);
	CHECK(ef.inject && ef.soft);
	CHECK_EQ(ef.vector, 3);

	in = (struct vm_emu_insn){.op = VM_EMU_CLAC, .len = 3};
	REQUIRE(vm_emu_effect(&in, &st, &ef, &e) == 0);
	CHECK_EQ(ef.rip, 0x1003);
	CHECK_EQ(ef.rflags, 0x2);
	CHECK(!ef.inject);
	in.op = VM_EMU_STAC;
	st.rflags = 0x2;
	REQUIRE(vm_emu_effect(&in, &st, &ef, &e) == 0);
	CHECK_EQ(ef.rflags, 0x2 | VM_RFLAGS_AC);
}

TEST(effects_of_ldmxcsr_stmxcsr_and_reserved_bits_fault)
{
	struct vm_emu_insn in = {.op = VM_EMU_LDMXCSR, .len = 4, .has_mem = true, .ea = 0x10};
	struct vm_emu_state st = {.rip = 0x2000, .rflags = 2, .mxcsr = 0x1f80, .mem_value = 0x9fc0};
	struct vm_emu_effect ef;
	struct vs_err e;

	REQUIRE(vm_emu_effect(&in, &st, &ef, &e) == 0);
	CHECK(ef.set_mxcsr);
	CHECK_EQ(ef.mxcsr, 0x9fc0);
	CHECK_EQ(ef.rip, 0x2004);

	st.mem_value = 0x10000; /* reserved bit */
	REQUIRE(vm_emu_effect(&in, &st, &ef, &e) == 0);
	CHECK(!ef.set_mxcsr);
	CHECK(ef.inject && ef.has_error_code);
	CHECK_EQ(ef.vector, 13);
	CHECK_EQ(ef.rip, 0x2000); /* faults do not retire */

	in.op = VM_EMU_STMXCSR;
	REQUIRE(vm_emu_effect(&in, &st, &ef, &e) == 0);
	CHECK(ef.mem_write);
	CHECK_EQ(ef.mem_value, 0x1f80);
}

TEST(fwait_is_a_noop_unless_an_unmasked_x87_exception_is_pending)
{
	struct vm_emu_insn in = {.op = VM_EMU_FWAIT, .len = 1};
	struct vm_emu_state st = {.rip = 0x3000, .rflags = 2, .fcw = 0x37f, .fsw = 0x0001};
	struct vm_emu_effect ef;
	struct vs_err e;

	REQUIRE(vm_emu_effect(&in, &st, &ef, &e) == 0); /* IE set but masked */
	CHECK_EQ(ef.rip, 0x3001);
	CHECK(!ef.inject);
	st.fcw = 0x37e; /* IE unmasked */
	CHECK_EQ(vm_emu_effect(&in, &st, &ef, &e), -1);
	CHECK_CONTAINS(e.msg, "unmasked x87 exception");
}
