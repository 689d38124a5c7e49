/* vmm/vcpu_state.c: vCPU and VM state sections for snapshots. */
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "vmm/vcpu_state.h"

static void fill(void *p, size_t n, uint8_t seed)
{
	uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(seed + i * 7);
}

static struct vm_vcpu_state *sample(void)
{
	struct vm_vcpu_state *s = calloc(1, sizeof(*s));

	fill(&s->regs, sizeof(s->regs), 1);
	fill(&s->sregs, sizeof(s->sregs), 2);
	fill(&s->fpu, sizeof(s->fpu), 3);
	fill(s->xsave, sizeof(s->xsave), 4);
	fill(&s->xcrs, sizeof(s->xcrs), 5);
	fill(&s->debugregs, sizeof(s->debugregs), 6);
	fill(&s->lapic, sizeof(s->lapic), 7);
	s->mp.mp_state = KVM_MP_STATE_HALTED;
	fill(&s->events, sizeof(s->events), 9);
	s->nmsrs = 3;
	for (unsigned i = 0; i < 3; i++) {
		s->msrs[i].index = 0xc0000080 + i;
		s->msrs[i].data = 0x1000 * (i + 1);
	}
	return s;
}

TEST(vcpu_state_round_trips_every_field)
{
	struct vm_vcpu_state *a = sample(), *b = calloc(1, sizeof(*b));
	struct vm_state_writer w;
	struct vm_state_reader r;
	struct vs_err e;

	vm_sw_init(&w);
	vm_vcpu_state_write(a, &w);
	REQUIRE(!w.failed);
	vm_sr_init(&r, "vcpu0", w.buf, w.len);
	REQUIRE(vm_vcpu_state_read(b, &r, &e) == 0);
	CHECK(memcmp(a, b, sizeof(*a)) == 0);
	CHECK_EQ(b->nmsrs, 3);
	CHECK_EQ(b->msrs[2].data, 0x3000);
	vm_sw_free(&w);
	free(a);
	free(b);
}

TEST(vcpu_state_refuses_damaged_sections_naming_them)
{
	struct vm_vcpu_state *a = sample(), *b = calloc(1, sizeof(*b));
	struct vm_state_writer w;
	struct vm_state_reader r;
	struct vs_err e;

	vm_sw_init(&w);
	vm_vcpu_state_write(a, &w);
	REQUIRE(!w.failed);

	/* truncated anywhere */
	vm_sr_init(&r, "vcpu1", w.buf, w.len - 5);
	CHECK_EQ(vm_vcpu_state_read(b, &r, &e), -1);
	CHECK_CONTAINS(e.msg, "vcpu1");
	/* another version */
	w.buf[0] = 9;
	vm_sr_init(&r, "vcpu1", w.buf, w.len);
	CHECK_EQ(vm_vcpu_state_read(b, &r, &e), -1);
	CHECK_CONTAINS(e.msg, "version 9");
	w.buf[0] = VM_VCPU_STATE_VERSION;
	/* the first field (regs) claims another size */
	uint32_t bad = 8;
	memcpy(w.buf + 1 + 4, &bad, 4);
	vm_sr_init(&r, "vcpu1", w.buf, w.len);
	CHECK_EQ(vm_vcpu_state_read(b, &r, &e), -1);
	CHECK_CONTAINS(e.msg, "regs has 8 bytes");
	uint32_t good = sizeof(a->regs), unknown = 77;
	memcpy(w.buf + 1 + 4, &good, 4);
	memcpy(w.buf + 1, &unknown, 4);
	vm_sr_init(&r, "vcpu1", w.buf, w.len);
	CHECK_EQ(vm_vcpu_state_read(b, &r, &e), -1);
	CHECK_CONTAINS(e.msg, "unknown field 77");
	vm_sw_free(&w);

	/* a field left out */
	vm_sw_init(&w);
	vm_sw_u8(&w, VM_VCPU_STATE_VERSION);
	vm_sw_u32(&w, 1);
	vm_sw_u32(&w, sizeof(a->regs));
	vm_sw_bytes(&w, &a->regs, sizeof(a->regs));
	vm_sr_init(&r, "vcpu2", w.buf, w.len);
	CHECK_EQ(vm_vcpu_state_read(b, &r, &e), -1);
	CHECK_CONTAINS(e.msg, "missing");
	vm_sw_free(&w);

	/* an MSR count that does not match its length, or is too large */
	a->nmsrs = VM_STATE_MAX_MSRS;
	vm_sw_init(&w);
	vm_vcpu_state_write(a, &w);
	size_t msr_at = w.len - (4 + 4 + 4 + VM_STATE_MAX_MSRS * sizeof(a->msrs[0]));
	uint32_t cnt = VM_STATE_MAX_MSRS + 1;
	memcpy(w.buf + msr_at + 8, &cnt, 4);
	vm_sr_init(&r, "vcpu3", w.buf, w.len);
	CHECK_EQ(vm_vcpu_state_read(b, &r, &e), -1);
	CHECK_CONTAINS(e.msg, "msrs: 257 entries");
	vm_sw_free(&w);
	free(a);
	free(b);
}

TEST(machine_state_round_trips_and_checks_chip_ids)
{
	struct vm_machine_state a, b;
	struct vm_state_writer w;
	struct vm_state_reader r;
	struct vs_err e;

	fill(&a, sizeof(a), 11);
	a.pic_master.chip_id = KVM_IRQCHIP_PIC_MASTER;
	a.pic_slave.chip_id = KVM_IRQCHIP_PIC_SLAVE;
	a.ioapic.chip_id = KVM_IRQCHIP_IOAPIC;
	vm_sw_init(&w);
	vm_machine_state_write(&a, &w);
	vm_sr_init(&r, "machine", w.buf, w.len);
	REQUIRE(vm_machine_state_read(&b, &r, &e) == 0);
	CHECK(memcmp(&a, &b, sizeof(a)) == 0);
	vm_sw_free(&w);

	a.ioapic.chip_id = KVM_IRQCHIP_PIC_MASTER;
	vm_sw_init(&w);
	vm_machine_state_write(&a, &w);
	vm_sr_init(&r, "machine", w.buf, w.len);
	CHECK_EQ(vm_machine_state_read(&b, &r, &e), -1);
	CHECK_CONTAINS(e.msg, "irqchip IDs");
	vm_sw_free(&w);
}
