/* vCPU and irqchip state sections: round trips with synthetic state, and
 * the refusals of damaged sections. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "vmm/x86/vcpu_state.h"

static void fill(void *p, size_t n, uint8_t seed)
{
	uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(seed + i * 7);
}

static void synthetic(struct vm_vcpu_state *s, bool with_xsave)
{
	memset(s, 0, sizeof(*s));
	fill(&s->regs, sizeof(s->regs), 1);
	fill(&s->sregs, sizeof(s->sregs), 2);
	fill(&s->fpu, sizeof(s->fpu), 3);
	fill(&s->lapic, sizeof(s->lapic), 4);
	fill(&s->events, sizeof(s->events), 5);
	fill(&s->dregs, sizeof(s->dregs), 6);
	s->mp.mp_state = KVM_MP_STATE_HALTED;
	s->tsc_khz = 2995200;
	if (with_xsave) {
		s->xsave_len = 4096 + 64;
		s->xsave = malloc(s->xsave_len);
		fill(s->xsave, s->xsave_len, 8);
		s->has_xcrs = true;
		s->xcrs.nr_xcrs = 1;
		s->xcrs.xcrs[0].value = 7;
	}
	s->nr_msrs = 3;
	s->msrs = calloc(3, sizeof(*s->msrs));
	s->msrs[0] = (struct kvm_msr_entry){.index = 0x10, .data = 0x123456789abcull};
	s->msrs[1] = (struct kvm_msr_entry){.index = 0xc0000080, .data = 0xd01};
	s->msrs[2] = (struct kvm_msr_entry){.index = 0x4b564d01, .data = 0x7fff001};
}

static void encode(const struct vm_vcpu_state *s, struct vm_state_writer *w)
{
	vm_sw_init(w);
	vm_vcpu_state_encode(s, w);
}

TEST(vcpu_state_round_trips_every_field)
{
	struct vm_vcpu_state s, d;
	struct vm_state_writer w;
	struct vs_err e = {0};

	synthetic(&s, true);
	encode(&s, &w);
	REQUIRE(!w.failed);
	REQUIRE(vm_vcpu_state_decode("vcpu.0", w.buf, w.len, &d, &e) == 0);
	CHECK(!memcmp(&s.regs, &d.regs, sizeof(s.regs)));
	CHECK(!memcmp(&s.sregs, &d.sregs, sizeof(s.sregs)));
	CHECK(!memcmp(&s.fpu, &d.fpu, sizeof(s.fpu)));
	CHECK(!memcmp(&s.lapic, &d.lapic, sizeof(s.lapic)));
	CHECK(!memcmp(&s.events, &d.events, sizeof(s.events)));
	CHECK(!memcmp(&s.dregs, &d.dregs, sizeof(s.dregs)));
	CHECK_EQ(d.mp.mp_state, KVM_MP_STATE_HALTED);
	CHECK_EQ(d.tsc_khz, 2995200);
	REQUIRE(d.xsave != NULL);
	CHECK_EQ(d.xsave_len, s.xsave_len);
	CHECK(!memcmp(s.xsave, d.xsave, s.xsave_len));
	CHECK(d.has_xcrs);
	CHECK_EQ(d.xcrs.xcrs[0].value, 7);
	REQUIRE(d.nr_msrs == 3);
	CHECK_EQ(d.msrs[0].index, 0x10);
	CHECK_EQ(d.msrs[0].data, 0x123456789abcull);
	CHECK_EQ(d.msrs[2].index, 0x4b564d01);
	vm_vcpu_state_free(&d);
	vm_vcpu_state_free(&s);
	vm_sw_free(&w);
}

TEST(vcpu_state_without_xsave_round_trips)
{
	struct vm_vcpu_state s, d;
	struct vm_state_writer w;
	struct vs_err e = {0};

	synthetic(&s, false);
	encode(&s, &w);
	REQUIRE(vm_vcpu_state_decode("vcpu.0", w.buf, w.len, &d, &e) == 0);
	CHECK(d.xsave == NULL);
	CHECK(!d.has_xcrs);
	CHECK_EQ(d.nr_msrs, 3);
	vm_vcpu_state_free(&d);
	vm_vcpu_state_free(&s);
	vm_sw_free(&w);
}

TEST(vcpu_state_every_truncation_is_refused)
{
	struct vm_vcpu_state s, d;
	struct vm_state_writer w;
	struct vs_err e = {0};
	unsigned refused = 0;

	synthetic(&s, true);
	encode(&s, &w);
	for (size_t n = 0; n < w.len; n++) {
		if (vm_vcpu_state_decode("vcpu.0", w.buf, n, &d, &e) < 0)
			refused++;
		else
			vm_vcpu_state_free(&d);
	}
	/* a cut inside a field is truncation; a cut between fields drops the
	 * last field (tsc_khz), which is required: every prefix is refused */
	CHECK_EQ(refused, w.len);
	vm_vcpu_state_free(&s);
	vm_sw_free(&w);
}

TEST(vcpu_state_refuses_other_version_and_names_it)
{
	struct vm_vcpu_state s, d;
	struct vm_state_writer w;
	struct vs_err e = {0};

	synthetic(&s, false);
	encode(&s, &w);
	w.buf[0] = 99;
	CHECK(vm_vcpu_state_decode("vcpu.1", w.buf, w.len, &d, &e) < 0);
	CHECK_CONTAINS(e.msg, "vcpu.1: version 99");
	vm_vcpu_state_free(&s);
	vm_sw_free(&w);
}

TEST(vcpu_state_refuses_missing_field_by_name)
{
	struct vm_state_writer w;
	struct vm_vcpu_state d;
	struct kvm_regs regs = {0};
	struct vs_err e = {0};

	vm_sw_init(&w);
	vm_sw_u32(&w, VM_VCPU_STATE_VERSION);
	vm_sw_u16(&w, 1);
	vm_sw_u32(&w, sizeof(regs));
	vm_sw_bytes(&w, &regs, sizeof(regs));
	CHECK(vm_vcpu_state_decode("vcpu.0", w.buf, w.len, &d, &e) < 0);
	CHECK_CONTAINS(e.msg, "field sregs missing");
	vm_sw_free(&w);
}

TEST(vcpu_state_refuses_wrong_size_duplicate_and_unknown_fields)
{
	struct vm_state_writer w;
	struct vm_vcpu_state d;
	uint8_t junk[600] = {0};
	struct vs_err e = {0};

	vm_sw_init(&w);
	vm_sw_u32(&w, VM_VCPU_STATE_VERSION);
	vm_sw_u16(&w, 1);
	vm_sw_u32(&w, 8);
	vm_sw_bytes(&w, junk, 8);
	CHECK(vm_vcpu_state_decode("vcpu.0", w.buf, w.len, &d, &e) < 0);
	CHECK_CONTAINS(e.msg, "regs is 8 bytes");
	vm_sw_free(&w);

	vm_sw_init(&w);
	vm_sw_u32(&w, VM_VCPU_STATE_VERSION);
	for (int i = 0; i < 2; i++) {
		vm_sw_u16(&w, 9); /* mp_state */
		vm_sw_u32(&w, 4);
		vm_sw_u32(&w, 0);
	}
	CHECK(vm_vcpu_state_decode("vcpu.0", w.buf, w.len, &d, &e) < 0);
	CHECK_CONTAINS(e.msg, "mp_state appears twice");
	vm_sw_free(&w);

	vm_sw_init(&w);
	vm_sw_u32(&w, VM_VCPU_STATE_VERSION);
	vm_sw_u16(&w, 77);
	vm_sw_u32(&w, 0);
	CHECK(vm_vcpu_state_decode("vcpu.0", w.buf, w.len, &d, &e) < 0);
	CHECK_CONTAINS(e.msg, "unknown field 77");
	vm_sw_free(&w);
}

TEST(vcpu_state_refuses_msr_count_beyond_limit_and_bad_mp_state)
{
	struct vm_state_writer w;
	struct vm_vcpu_state d;
	struct vs_err e = {0};

	vm_sw_init(&w);
	vm_sw_u32(&w, VM_VCPU_STATE_VERSION);
	vm_sw_u16(&w, 6);
	vm_sw_u32(&w, 4);
	vm_sw_u32(&w, 100000);
	CHECK(vm_vcpu_state_decode("vcpu.0", w.buf, w.len, &d, &e) < 0);
	CHECK_CONTAINS(e.msg, "100000 MSRs");
	vm_sw_free(&w);

	vm_sw_init(&w);
	vm_sw_u32(&w, VM_VCPU_STATE_VERSION);
	vm_sw_u16(&w, 9);
	vm_sw_u32(&w, 4);
	vm_sw_u32(&w, 200);
	CHECK(vm_vcpu_state_decode("vcpu.0", w.buf, w.len, &d, &e) < 0);
	CHECK_CONTAINS(e.msg, "mp_state 200 unknown");
	vm_sw_free(&w);
}

TEST(irqchip_state_round_trips_and_checks_chip_ids)
{
	struct vm_irqchip_state s, d;
	struct vm_state_writer w;
	struct vs_err e = {0};

	memset(&s, 0, sizeof(s));
	for (unsigned i = 0; i < 3; i++) {
		fill(&s.chip[i], sizeof(s.chip[i]), 10 + i);
		s.chip[i].chip_id = i;
	}
	fill(&s.pit, sizeof(s.pit), 20);
	s.clock.clock = 123456789;
	vm_sw_init(&w);
	vm_irqchip_state_encode(&s, &w);
	REQUIRE(vm_irqchip_state_decode("irqchip", w.buf, w.len, &d, &e) == 0);
	CHECK(!memcmp(&s, &d, sizeof(s)));

	/* the IOAPIC's chip id, 4 bytes into its field body, made 0 */
	size_t ioapic = 4 + 2 * (6 + sizeof(struct kvm_irqchip)) + 6;
	w.buf[ioapic] = 0;
	CHECK(vm_irqchip_state_decode("irqchip", w.buf, w.len, &d, &e) < 0);
	CHECK_CONTAINS(e.msg, "ioapic has chip id 0");
	CHECK(vm_irqchip_state_decode("irqchip", w.buf, w.len - 10, &d, &e) < 0);
	vm_sw_free(&w);
}
