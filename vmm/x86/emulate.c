/* Decoder and effects for the fallback instructions (Intel SDM vol. 2:
 * §2.1 instruction format, §2.2.1 REX, tables 2-2/2-3 ModRM and SIB;
 * INT3, CLAC, STAC, LDMXCSR, STMXCSR, WAIT/FWAIT). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmm/x86/emulate.h"

const char *vm_emu_op_name(enum vm_emu_op op)
{
	switch (op) {
	case VM_EMU_INT3: return "int3";
	case VM_EMU_CLAC: return "clac";
	case VM_EMU_STAC: return "stac";
	case VM_EMU_LDMXCSR: return "ldmxcsr";
	case VM_EMU_STMXCSR: return "stmxcsr";
	case VM_EMU_FWAIT: return "fwait";
	}
	return "?";
}

static int unsupported(const uint8_t *b, size_t n, const char *why, struct vs_err *e)
{
	char hex[3 * VM_EMU_MAX_LEN + 1] = "";
	size_t off = 0;

	for (size_t i = 0; i < n && i < VM_EMU_MAX_LEN; i++)
		off += (size_t)snprintf(hex + off, sizeof(hex) - off, "%s%02x", i ? " " : "", b[i]);
	return vs_fail(e, ENOTSUP, "cannot emulate instruction [%s]: %s", hex, why);
}

static int64_t sext(uint64_t v, unsigned bytes)
{
	unsigned shift = 64 - 8 * bytes;

	return (int64_t)(v << shift) >> shift;
}

/* ModRM memory operand in 32/64-bit addressing. p points at ModRM. */
static int decode_modrm(const uint8_t *b, size_t n, size_t p, const struct vm_emu_cpu *cpu,
			unsigned rex, bool addr32, int seg_override, size_t *end, uint64_t *ea,
			struct vs_err *e)
{
	uint8_t modrm = b[p++];
	unsigned mod = modrm >> 6, rm = modrm & 7;
	uint64_t addr = 0;
	int seg = VM_SEG_DS;
	bool rip_rel = false;

	if (mod == 3)
		return unsupported(b, n, "register operand where memory is required (#UD)", e);
	if (rm == 4) {
		if (p >= n)
			return unsupported(b, n, "truncated SIB", e);
		uint8_t sib = b[p++];
		unsigned scale = sib >> 6, index = ((sib >> 3) & 7) | ((rex & 2) << 2),
			 base = (sib & 7) | ((rex & 1) << 3);
		if (index != 4) /* rsp as index means none; r12 is a real index */
			addr += cpu->gpr[index] << scale;
		if ((sib & 7) == 5 && mod == 0) {
			/* no base: disp32 follows */
		} else {
			addr += cpu->gpr[base];
			if (base == 4 || base == 5) /* rsp, rbp; not r12, r13 */
				seg = VM_SEG_SS;
		}
		if ((sib & 7) == 5 && mod == 0)
			mod = 4; /* marker: disp32 */
	} else if (rm == 5 && mod == 0) {
		rip_rel = cpu->long64;
		mod = 4;
	} else {
		unsigned reg = rm | ((rex & 1) << 3);
		addr += cpu->gpr[reg];
		if (reg == 5)
			seg = VM_SEG_SS; /* rbp-based */
	}
	unsigned disp_len = mod == 1 ? 1 : (mod == 2 || mod == 4) ? 4 : 0;
	if (p + disp_len > n)
		return unsupported(b, n, "truncated displacement", e);
	uint64_t disp = 0;
	for (unsigned i = 0; i < disp_len; i++)
		disp |= (uint64_t)b[p + i] << (8 * i);
	p += disp_len;
	if (disp_len)
		addr += (uint64_t)sext(disp, disp_len);
	*end = p;
	if (rip_rel)
		addr += cpu->rip; /* caller adds the length: next-RIP relative */
	if (addr32)
		addr &= 0xffffffffull;
	if (seg_override >= 0)
		seg = seg_override;
	/* in 64-bit mode only FS and GS have a base (SDM vol. 1 §3.4.2.1) */
	if (!cpu->long64 || seg == VM_SEG_FS || seg == VM_SEG_GS)
		addr += cpu->seg_base[seg];
	if (!cpu->long64)
		addr &= 0xffffffffull;
	*ea = addr;
	/* rip-relative is resolved by the caller once the length is known */
	return rip_rel ? 1 : 0;
}

int vm_emu_decode(const uint8_t *b, size_t n, const struct vm_emu_cpu *cpu, struct vm_emu_insn *out,
		  struct vs_err *e)
{
	size_t p = 0;
	int seg_override = -1;
	bool opsize = false, addrsize = false, rep = false;
	unsigned rex = 0;

	memset(out, 0, sizeof(*out));
	if (n > VM_EMU_MAX_LEN)
		n = VM_EMU_MAX_LEN;
	for (; p < n; p++) {
		switch (b[p]) {
		case 0x26: seg_override = VM_SEG_ES; continue;
		case 0x2e: seg_override = VM_SEG_CS; continue;
		case 0x36: seg_override = VM_SEG_SS; continue;
		case 0x3e: seg_override = VM_SEG_DS; continue;
		case 0x64: seg_override = VM_SEG_FS; continue;
		case 0x65: seg_override = VM_SEG_GS; continue;
		case 0x66: opsize = true; continue;
		case 0x67: addrsize = true; continue;
		case 0xf2:
		case 0xf3: rep = true; continue;
		case 0xf0: return unsupported(b, n, "lock prefix", e);
		}
		break;
	}
	/* REX must come last, right before the opcode (64-bit mode only) */
	if (cpu->long64 && p < n && (b[p] & 0xf0) == 0x40)
		rex = b[p++] & 0xf;
	if (p >= n)
		return unsupported(b, n, "truncated", e);

	bool addr32 = cpu->long64 ? addrsize : true;
	if (!cpu->long64 && (cpu->def32 == addrsize))
		return unsupported(b, n, "16-bit addressing", e);

	uint8_t op = b[p++];
	if (op == 0xcc) {
		out->op = VM_EMU_INT3;
		out->len = (unsigned)p;
		return 0;
	}
	if (op == 0x9b) {
		out->op = VM_EMU_FWAIT;
		out->len = (unsigned)p;
		return 0;
	}
	if (op != 0x0f || p >= n)
		return unsupported(b, n, "not an instruction the fallback knows", e);
	op = b[p++];
	if (op == 0x01 && p < n && (b[p] == 0xca || b[p] == 0xcb)) {
		if (opsize || rep)
			return unsupported(b, n, "prefixed clac/stac", e);
		out->op = b[p] == 0xca ? VM_EMU_CLAC : VM_EMU_STAC;
		out->len = (unsigned)p + 1;
		return 0;
	}
	if (op == 0xae && p < n) {
		unsigned reg = (b[p] >> 3) & 7;
		if ((b[p] >> 6) == 3 || (reg != 2 && reg != 3))
			return unsupported(b, n, "0f ae form other than ldmxcsr/stmxcsr", e);
		/* 66/F2/F3 select other instructions in this group */
		if (opsize || rep)
			return unsupported(b, n, "prefixed 0f ae", e);
		size_t end = 0;
		uint64_t ea = 0;
		int r = decode_modrm(b, n, p, cpu, rex, addr32, seg_override, &end, &ea, e);
		if (r < 0)
			return -1;
		out->op = reg == 2 ? VM_EMU_LDMXCSR : VM_EMU_STMXCSR;
		out->len = (unsigned)end;
		out->has_mem = true;
		out->ea = r == 1 ? ea + out->len : ea;
		if (r == 1 && addr32)
			out->ea &= 0xffffffffull;
		return 0;
	}
	return unsupported(b, n, "not an instruction the fallback knows", e);
}

int vm_emu_effect(const struct vm_emu_insn *insn, const struct vm_emu_state *st,
		  struct vm_emu_effect *out, struct vs_err *e)
{
	memset(out, 0, sizeof(*out));
	out->rip = st->rip + insn->len;
	out->rflags = st->rflags;
	switch (insn->op) {
	case VM_EMU_INT3:
		/* #BP is a trap: delivered with RIP after the int3 */
		out->inject = true;
		out->vector = 3;
		out->soft = true;
		return 0;
	case VM_EMU_CLAC: out->rflags &= ~VM_RFLAGS_AC; return 0;
	case VM_EMU_STAC: out->rflags |= VM_RFLAGS_AC; return 0;
	case VM_EMU_LDMXCSR:
		if (st->mem_value & ~VM_MXCSR_MASK) {
			/* reserved bits: #GP(0), the instruction does not retire */
			out->rip = st->rip;
			out->inject = true;
			out->vector = 13;
			out->has_error_code = true;
			out->error_code = 0;
			return 0;
		}
		out->set_mxcsr = true;
		out->mxcsr = st->mem_value;
		return 0;
	case VM_EMU_STMXCSR:
		out->mem_write = true;
		out->mem_value = st->mxcsr;
		return 0;
	case VM_EMU_FWAIT: {
		/* pending: an exception flag in FSW whose mask bit in FCW is clear */
		unsigned pending = st->fsw & 0x3f & ~st->fcw;
		if (pending)
			return vs_fail(e, ENOTSUP,
				       "fwait with an unmasked x87 exception pending (FSW 0x%04x, "
				       "FCW 0x%04x)",
				       st->fsw, st->fcw);
		return 0;
	}
	}
	return vs_fail(e, EINVAL, "internal: op %d", (int)insn->op);
}
