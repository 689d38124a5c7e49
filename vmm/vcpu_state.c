/* vCPU and VM state for snapshots (api.rst §4: KVM_GET/SET_REGS, SREGS,
 * FPU, XSAVE, XCRS, DEBUGREGS, LAPIC, MP_STATE, VCPU_EVENTS, MSRS; IRQCHIP,
 * PIT2, CLOCK). Restore order follows what KVM needs: MP state and
 * registers first, the LAPIC before MSRs (TSC deadline), events last. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm/vcpu_state.h"

enum {
	T_REGS = 1,
	T_SREGS,
	T_FPU,
	T_XSAVE,
	T_XCRS,
	T_DEBUGREGS,
	T_LAPIC,
	T_MP,
	T_EVENTS,
	T_MSRS,
	T_PIC_MASTER = 32,
	T_PIC_SLAVE,
	T_IOAPIC,
	T_PIT,
	T_CLOCK,
};

static void field(struct vm_state_writer *w, uint32_t tag, const void *p, size_t len)
{
	vm_sw_u32(w, tag);
	vm_sw_u32(w, (uint32_t)len);
	vm_sw_bytes(w, p, len);
}

struct slot {
	uint32_t tag;
	void *p;
	size_t len;
	const char *name;
	int seen;
};

/* A field whose size depends on its content (the MSR list). */
typedef int (*var_field_fn)(void *ctx, struct vm_state_reader *r, uint32_t len, struct vs_err *e);

/* Reads tagged fields into slots; every slot must appear exactly once with
 * its exact size; var_tag (0: none) goes to var_fn. */
static int read_fields(struct vm_state_reader *r, struct slot *slots, unsigned n, uint32_t var_tag,
		       var_field_fn var_fn, void *ctx, struct vs_err *e)
{
	int var_seen = 0;

	while (r->pos < r->len) {
		uint32_t tag, len;

		if (vm_sr_u32(r, &tag, e) < 0 || vm_sr_u32(r, &len, e) < 0)
			return -1;
		if (var_tag && tag == var_tag) {
			if (var_seen)
				return vs_fail(e, EINVAL, "%s: field %u twice", r->what, tag);
			if (len > r->len - r->pos)
				return vs_fail(e, EINVAL, "%s: field %u truncated", r->what, tag);
			size_t end = r->pos + len;
			if (var_fn(ctx, r, len, e) < 0)
				return -1;
			if (r->pos != end)
				return vs_fail(e, EINVAL, "%s: field %u length mismatch", r->what,
					       tag);
			var_seen = 1;
			continue;
		}
		struct slot *s = NULL;
		for (unsigned i = 0; i < n; i++)
			if (slots[i].tag == tag)
				s = &slots[i];
		if (!s)
			return vs_fail(e, EINVAL, "%s: unknown field %u", r->what, tag);
		if (s->seen)
			return vs_fail(e, EINVAL, "%s: field %s twice", r->what, s->name);
		if (len != s->len)
			return vs_fail(e, EINVAL, "%s: field %s has %u bytes, expected %zu",
				       r->what, s->name, len, s->len);
		if (vm_sr_bytes(r, s->p, len, e) < 0)
			return -1;
		s->seen = 1;
	}
	for (unsigned i = 0; i < n; i++)
		if (!slots[i].seen)
			return vs_fail(e, EINVAL, "%s: field %s missing", r->what, slots[i].name);
	if (var_tag && !var_seen)
		return vs_fail(e, EINVAL, "%s: field %u missing", r->what, var_tag);
	return 0;
}

static int read_msrs(void *ctx, struct vm_state_reader *r, uint32_t len, struct vs_err *e)
{
	struct vm_vcpu_state *s = ctx;
	uint32_t cnt;

	if (vm_sr_u32(r, &cnt, e) < 0)
		return -1;
	if (cnt > VM_STATE_MAX_MSRS || len != 4 + cnt * sizeof(s->msrs[0]))
		return vs_fail(e, EINVAL, "%s: msrs: %u entries in %u bytes", r->what, cnt, len);
	if (vm_sr_bytes(r, s->msrs, cnt * sizeof(s->msrs[0]), e) < 0)
		return -1;
	s->nmsrs = cnt;
	return 0;
}

void vm_vcpu_state_write(const struct vm_vcpu_state *s, struct vm_state_writer *w)
{
	vm_sw_u8(w, VM_VCPU_STATE_VERSION);
	field(w, T_REGS, &s->regs, sizeof(s->regs));
	field(w, T_SREGS, &s->sregs, sizeof(s->sregs));
	field(w, T_FPU, &s->fpu, sizeof(s->fpu));
	field(w, T_XSAVE, s->xsave, sizeof(s->xsave));
	field(w, T_XCRS, &s->xcrs, sizeof(s->xcrs));
	field(w, T_DEBUGREGS, &s->debugregs, sizeof(s->debugregs));
	field(w, T_LAPIC, &s->lapic, sizeof(s->lapic));
	field(w, T_MP, &s->mp, sizeof(s->mp));
	field(w, T_EVENTS, &s->events, sizeof(s->events));
	/* only the MSRs that were read: count, then entries */
	vm_sw_u32(w, T_MSRS);
	vm_sw_u32(w, (uint32_t)(4 + s->nmsrs * sizeof(s->msrs[0])));
	vm_sw_u32(w, s->nmsrs);
	vm_sw_bytes(w, s->msrs, s->nmsrs * sizeof(s->msrs[0]));
}

int vm_vcpu_state_read(struct vm_vcpu_state *s, struct vm_state_reader *r, struct vs_err *e)
{
	uint8_t ver;

	memset(s, 0, sizeof(*s));
	if (vm_sr_u8(r, &ver, e) < 0)
		return -1;
	if (ver != VM_VCPU_STATE_VERSION)
		return vs_fail(e, EINVAL, "%s: version %u, this vessel-vmm reads %u", r->what, ver,
			       VM_VCPU_STATE_VERSION);
	struct slot slots[] = {
		{T_REGS, &s->regs, sizeof(s->regs), "regs", 0},
		{T_SREGS, &s->sregs, sizeof(s->sregs), "sregs", 0},
		{T_FPU, &s->fpu, sizeof(s->fpu), "fpu", 0},
		{T_XSAVE, s->xsave, sizeof(s->xsave), "xsave", 0},
		{T_XCRS, &s->xcrs, sizeof(s->xcrs), "xcrs", 0},
		{T_DEBUGREGS, &s->debugregs, sizeof(s->debugregs), "debugregs", 0},
		{T_LAPIC, &s->lapic, sizeof(s->lapic), "lapic", 0},
		{T_MP, &s->mp, sizeof(s->mp), "mp_state", 0},
		{T_EVENTS, &s->events, sizeof(s->events), "events", 0},
	};
	return read_fields(r, slots, sizeof(slots) / sizeof(slots[0]), T_MSRS, read_msrs, s, e);
}

void vm_machine_state_write(const struct vm_machine_state *s, struct vm_state_writer *w)
{
	vm_sw_u8(w, VM_VCPU_STATE_VERSION);
	field(w, T_PIC_MASTER, &s->pic_master, sizeof(s->pic_master));
	field(w, T_PIC_SLAVE, &s->pic_slave, sizeof(s->pic_slave));
	field(w, T_IOAPIC, &s->ioapic, sizeof(s->ioapic));
	field(w, T_PIT, &s->pit, sizeof(s->pit));
	field(w, T_CLOCK, &s->clock, sizeof(s->clock));
}

int vm_machine_state_read(struct vm_machine_state *s, struct vm_state_reader *r, struct vs_err *e)
{
	uint8_t ver;

	memset(s, 0, sizeof(*s));
	if (vm_sr_u8(r, &ver, e) < 0)
		return -1;
	if (ver != VM_VCPU_STATE_VERSION)
		return vs_fail(e, EINVAL, "%s: version %u, this vessel-vmm reads %u", r->what, ver,
			       VM_VCPU_STATE_VERSION);
	struct slot slots[] = {
		{T_PIC_MASTER, &s->pic_master, sizeof(s->pic_master), "pic_master", 0},
		{T_PIC_SLAVE, &s->pic_slave, sizeof(s->pic_slave), "pic_slave", 0},
		{T_IOAPIC, &s->ioapic, sizeof(s->ioapic), "ioapic", 0},
		{T_PIT, &s->pit, sizeof(s->pit), "pit", 0},
		{T_CLOCK, &s->clock, sizeof(s->clock), "clock", 0},
	};
	if (read_fields(r, slots, sizeof(slots) / sizeof(slots[0]), 0, NULL, NULL, e) < 0)
		return -1;
	/* the chip IDs are part of the data KVM is given back: they must match */
	if (s->pic_master.chip_id != KVM_IRQCHIP_PIC_MASTER ||
	    s->pic_slave.chip_id != KVM_IRQCHIP_PIC_SLAVE ||
	    s->ioapic.chip_id != KVM_IRQCHIP_IOAPIC)
		return vs_fail(e, EINVAL, "%s: irqchip IDs do not match their fields", r->what);
	return 0;
}

/* --- KVM ------------------------------------------------------------------- */

#define KVM_DO(fd, req, p, what)                                                                   \
	do {                                                                                       \
		if (ioctl(fd, req, p) < 0)                                                         \
			return vs_fail_errno(e, "%s", what);                                       \
	} while (0)

int vm_vcpu_state_get(int fd, const uint32_t *msr_list, unsigned nmsrs, struct vm_vcpu_state *s,
		      struct vs_err *e)
{
	memset(s, 0, sizeof(*s));
	KVM_DO(fd, KVM_GET_MP_STATE, &s->mp, "KVM_GET_MP_STATE");
	KVM_DO(fd, KVM_GET_REGS, &s->regs, "KVM_GET_REGS");
	KVM_DO(fd, KVM_GET_SREGS, &s->sregs, "KVM_GET_SREGS");
	KVM_DO(fd, KVM_GET_FPU, &s->fpu, "KVM_GET_FPU");
	KVM_DO(fd, KVM_GET_XSAVE, (struct kvm_xsave *)s->xsave, "KVM_GET_XSAVE");
	KVM_DO(fd, KVM_GET_XCRS, &s->xcrs, "KVM_GET_XCRS");
	KVM_DO(fd, KVM_GET_DEBUGREGS, &s->debugregs, "KVM_GET_DEBUGREGS");
	KVM_DO(fd, KVM_GET_LAPIC, &s->lapic, "KVM_GET_LAPIC");
	KVM_DO(fd, KVM_GET_VCPU_EVENTS, &s->events, "KVM_GET_VCPU_EVENTS");

	/* struct kvm_msrs with room for the entries */
	struct {
		uint32_t nmsrs, pad;
		struct kvm_msr_entry ent[VM_STATE_MAX_MSRS];
	} *m = calloc(1, sizeof(*m));
	if (!m)
		return vs_fail(e, ENOMEM, "MSR buffer");
	for (unsigned i = 0; i < nmsrs && m->nmsrs < VM_STATE_MAX_MSRS; i++)
		m->ent[m->nmsrs++].index = msr_list[i];
	int got = ioctl(fd, KVM_GET_MSRS, m);
	if (got < 0) {
		free(m);
		return vs_fail_errno(e, "KVM_GET_MSRS");
	}
	/* KVM stops at the first MSR it cannot read: keep what it read */
	s->nmsrs = (uint32_t)got;
	memcpy(s->msrs, m->ent, (size_t)got * sizeof(m->ent[0]));
	free(m);
	return 0;
}

int vm_vcpu_state_set(int fd, const struct vm_vcpu_state *s, struct vs_err *e)
{
	KVM_DO(fd, KVM_SET_MP_STATE, &s->mp, "KVM_SET_MP_STATE");
	KVM_DO(fd, KVM_SET_REGS, &s->regs, "KVM_SET_REGS");
	KVM_DO(fd, KVM_SET_SREGS, &s->sregs, "KVM_SET_SREGS");
	KVM_DO(fd, KVM_SET_XSAVE, (const struct kvm_xsave *)s->xsave, "KVM_SET_XSAVE");
	KVM_DO(fd, KVM_SET_XCRS, &s->xcrs, "KVM_SET_XCRS");
	KVM_DO(fd, KVM_SET_DEBUGREGS, &s->debugregs, "KVM_SET_DEBUGREGS");
	KVM_DO(fd, KVM_SET_LAPIC, &s->lapic, "KVM_SET_LAPIC");

	struct {
		uint32_t nmsrs, pad;
		struct kvm_msr_entry ent[VM_STATE_MAX_MSRS];
	} *m = calloc(1, sizeof(*m));
	if (!m)
		return vs_fail(e, ENOMEM, "MSR buffer");
	m->nmsrs = s->nmsrs;
	memcpy(m->ent, s->msrs, s->nmsrs * sizeof(s->msrs[0]));
	int set = ioctl(fd, KVM_SET_MSRS, m);
	free(m);
	if (set < 0)
		return vs_fail_errno(e, "KVM_SET_MSRS");
	if ((uint32_t)set != s->nmsrs)
		return vs_fail(e, EINVAL, "KVM_SET_MSRS: MSR 0x%x refused", s->msrs[set].index);
	KVM_DO(fd, KVM_SET_VCPU_EVENTS, &s->events, "KVM_SET_VCPU_EVENTS");
	return 0;
}

int vm_machine_state_get(int fd, struct vm_machine_state *s, struct vs_err *e)
{
	memset(s, 0, sizeof(*s));
	s->pic_master.chip_id = KVM_IRQCHIP_PIC_MASTER;
	s->pic_slave.chip_id = KVM_IRQCHIP_PIC_SLAVE;
	s->ioapic.chip_id = KVM_IRQCHIP_IOAPIC;
	KVM_DO(fd, KVM_GET_IRQCHIP, &s->pic_master, "KVM_GET_IRQCHIP (PIC master)");
	KVM_DO(fd, KVM_GET_IRQCHIP, &s->pic_slave, "KVM_GET_IRQCHIP (PIC slave)");
	KVM_DO(fd, KVM_GET_IRQCHIP, &s->ioapic, "KVM_GET_IRQCHIP (IOAPIC)");
	KVM_DO(fd, KVM_GET_PIT2, &s->pit, "KVM_GET_PIT2");
	KVM_DO(fd, KVM_GET_CLOCK, &s->clock, "KVM_GET_CLOCK");
	return 0;
}

int vm_machine_state_set(int fd, const struct vm_machine_state *s, struct vs_err *e)
{
	KVM_DO(fd, KVM_SET_IRQCHIP, &s->pic_master, "KVM_SET_IRQCHIP (PIC master)");
	KVM_DO(fd, KVM_SET_IRQCHIP, &s->pic_slave, "KVM_SET_IRQCHIP (PIC slave)");
	KVM_DO(fd, KVM_SET_IRQCHIP, &s->ioapic, "KVM_SET_IRQCHIP (IOAPIC)");
	KVM_DO(fd, KVM_SET_PIT2, &s->pit, "KVM_SET_PIT2");
	/* only the clock value: flags from GET are not all valid for SET */
	struct kvm_clock_data c = {.clock = s->clock.clock};
	KVM_DO(fd, KVM_SET_CLOCK, &c, "KVM_SET_CLOCK");
	return 0;
}
