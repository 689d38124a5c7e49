/* vCPU and in-kernel device state sections: a version, then tagged
 * fields (u16 tag, u32 length, bytes). The KVM structs go in as the
 * kernel's x86-64 ABI lays them out; MSRs are written field by field.
 * Decoding trusts nothing: sizes are exact, counts bounded, each required
 * field present once. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm/x86/vcpu_state.h"

enum {
	T_REGS = 1,
	T_SREGS,
	T_FPU,
	T_XSAVE,
	T_XCRS,
	T_MSRS,
	T_LAPIC,
	T_EVENTS,
	T_MPSTATE,
	T_DEBUGREGS,
	T_TSC_KHZ,
	T_MAX
};

/* bit per tag that must be present in a vCPU section */
#define VCPU_REQUIRED                                                                              \
	((1u << T_REGS) | (1u << T_SREGS) | (1u << T_FPU) | (1u << T_MSRS) | (1u << T_LAPIC) |     \
	 (1u << T_EVENTS) | (1u << T_MPSTATE) | (1u << T_DEBUGREGS) | (1u << T_TSC_KHZ))

enum { I_PIC_MASTER = 1, I_PIC_SLAVE, I_IOAPIC, I_PIT, I_CLOCK, I_MAX };
#define IRQ_REQUIRED 0x3eu /* tags 1..5 */

/* KVM_MP_STATE_RUNNABLE (0) .. KVM_MP_STATE_AP_RESET_HOLD (10), api.rst 4.38 */
#define MP_STATE_LAST 10u

static void field(struct vm_state_writer *w, uint16_t tag, const void *p, uint32_t len)
{
	vm_sw_u16(w, tag);
	vm_sw_u32(w, len);
	vm_sw_bytes(w, p, len);
}

void vm_vcpu_state_free(struct vm_vcpu_state *s)
{
	free(s->xsave);
	free(s->msrs);
	memset(s, 0, sizeof(*s));
}

void vm_vcpu_state_encode(const struct vm_vcpu_state *s, struct vm_state_writer *w)
{
	vm_sw_u32(w, VM_VCPU_STATE_VERSION);
	field(w, T_REGS, &s->regs, sizeof(s->regs));
	field(w, T_SREGS, &s->sregs, sizeof(s->sregs));
	field(w, T_FPU, &s->fpu, sizeof(s->fpu));
	if (s->xsave)
		field(w, T_XSAVE, s->xsave, s->xsave_len);
	if (s->has_xcrs)
		field(w, T_XCRS, &s->xcrs, sizeof(s->xcrs));
	vm_sw_u16(w, T_MSRS);
	vm_sw_u32(w, 4 + s->nr_msrs * 12u);
	vm_sw_u32(w, s->nr_msrs);
	for (uint32_t i = 0; i < s->nr_msrs; i++) {
		vm_sw_u32(w, s->msrs[i].index);
		vm_sw_u64(w, s->msrs[i].data);
	}
	field(w, T_LAPIC, &s->lapic, sizeof(s->lapic));
	field(w, T_EVENTS, &s->events, sizeof(s->events));
	field(w, T_MPSTATE, &s->mp, sizeof(s->mp));
	field(w, T_DEBUGREGS, &s->dregs, sizeof(s->dregs));
	vm_sw_u16(w, T_TSC_KHZ);
	vm_sw_u32(w, 4);
	vm_sw_u32(w, s->tsc_khz);
}

static const char *vcpu_tag_name(unsigned t)
{
	static const char *const n[T_MAX] = {
		[T_REGS] = "regs",	     [T_SREGS] = "sregs",     [T_FPU] = "fpu",
		[T_XSAVE] = "xsave",	     [T_XCRS] = "xcrs",	      [T_MSRS] = "msrs",
		[T_LAPIC] = "lapic",	     [T_EVENTS] = "events",   [T_MPSTATE] = "mp_state",
		[T_DEBUGREGS] = "debugregs", [T_TSC_KHZ] = "tsc_khz",
	};
	return t < T_MAX && n[t] ? n[t] : "?";
}

/* Reads the header and the next field's tag and length; *body points into
 * buf. Returns 1 for a field, 0 at the end. */
static int next_field(struct vm_state_reader *r, uint16_t *tag, uint32_t *flen,
		      const uint8_t **body, struct vs_err *e)
{
	if (r->pos == r->len)
		return 0;
	if (vm_sr_u16(r, tag, e) < 0 || vm_sr_u32(r, flen, e) < 0)
		return -1;
	if (*flen > r->len - r->pos)
		return vs_fail(e, EINVAL, "%s: field %u of %u bytes runs past the section end",
			       r->what, *tag, *flen);
	*body = r->buf + r->pos;
	r->pos += *flen;
	return 1;
}

static int check_version(struct vm_state_reader *r, struct vs_err *e)
{
	uint32_t v;

	if (vm_sr_u32(r, &v, e) < 0)
		return -1;
	if (v != VM_VCPU_STATE_VERSION)
		return vs_fail(e, EINVAL, "%s: version %u, this vessel-vmm reads version %u",
			       r->what, v, VM_VCPU_STATE_VERSION);
	return 0;
}

static int exact(const char *what, const char *name, uint32_t got, size_t want, struct vs_err *e)
{
	if (got != want)
		return vs_fail(e, EINVAL, "%s: %s is %u bytes, expected %zu", what, name, got,
			       want);
	return 0;
}

static int decode_msrs(const char *what, const uint8_t *b, uint32_t flen, struct vm_vcpu_state *s,
		       struct vs_err *e)
{
	struct vm_state_reader r;
	uint32_t n;

	vm_sr_init(&r, what, b, flen);
	if (vm_sr_u32(&r, &n, e) < 0)
		return -1;
	if (n > VM_VCPU_MAX_MSRS)
		return vs_fail(e, EINVAL, "%s: %u MSRs, at most %u allowed", what, n,
			       VM_VCPU_MAX_MSRS);
	if (flen != 4 + n * 12u)
		return vs_fail(e, EINVAL, "%s: msrs: %u bytes for %u entries", what, flen, n);
	s->msrs = calloc(n ? n : 1, sizeof(*s->msrs));
	if (!s->msrs)
		return vs_fail(e, ENOMEM, "%s: out of memory", what);
	s->nr_msrs = n;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t data;

		if (vm_sr_u32(&r, &s->msrs[i].index, e) < 0 || vm_sr_u64(&r, &data, e) < 0)
			return -1;
		s->msrs[i].data = data;
		for (uint32_t j = 0; j < i; j++)
			if (s->msrs[j].index == s->msrs[i].index)
				return vs_fail(e, EINVAL, "%s: MSR 0x%x saved twice", what,
					       s->msrs[i].index);
	}
	return 0;
}

static int decode_vcpu_field(const char *what, uint16_t tag, const uint8_t *b, uint32_t flen,
			     struct vm_vcpu_state *s, struct vs_err *e)
{
	const char *n = vcpu_tag_name(tag);

	switch (tag) {
	case T_REGS:
		if (exact(what, n, flen, sizeof(s->regs), e) < 0)
			return -1;
		memcpy(&s->regs, b, flen);
		return 0;
	case T_SREGS:
		if (exact(what, n, flen, sizeof(s->sregs), e) < 0)
			return -1;
		memcpy(&s->sregs, b, flen);
		return 0;
	case T_FPU:
		if (exact(what, n, flen, sizeof(s->fpu), e) < 0)
			return -1;
		memcpy(&s->fpu, b, flen);
		return 0;
	case T_XSAVE:
		if (flen < sizeof(struct kvm_xsave) || flen > VM_VCPU_MAX_XSAVE || flen % 4)
			return vs_fail(e, EINVAL,
				       "%s: xsave is %u bytes, expected a multiple of 4 in %zu..%u",
				       what, flen, sizeof(struct kvm_xsave), VM_VCPU_MAX_XSAVE);
		s->xsave = malloc(flen);
		if (!s->xsave)
			return vs_fail(e, ENOMEM, "%s: out of memory", what);
		memcpy(s->xsave, b, flen);
		s->xsave_len = flen;
		return 0;
	case T_XCRS:
		if (exact(what, n, flen, sizeof(s->xcrs), e) < 0)
			return -1;
		memcpy(&s->xcrs, b, flen);
		if (s->xcrs.nr_xcrs > KVM_MAX_XCRS)
			return vs_fail(e, EINVAL, "%s: xcrs: %u entries, at most %d", what,
				       s->xcrs.nr_xcrs, KVM_MAX_XCRS);
		s->has_xcrs = true;
		return 0;
	case T_MSRS: return decode_msrs(what, b, flen, s, e);
	case T_LAPIC:
		if (exact(what, n, flen, sizeof(s->lapic), e) < 0)
			return -1;
		memcpy(&s->lapic, b, flen);
		return 0;
	case T_EVENTS:
		if (exact(what, n, flen, sizeof(s->events), e) < 0)
			return -1;
		memcpy(&s->events, b, flen);
		return 0;
	case T_MPSTATE:
		if (exact(what, n, flen, sizeof(s->mp), e) < 0)
			return -1;
		memcpy(&s->mp, b, flen);
		if (s->mp.mp_state > MP_STATE_LAST)
			return vs_fail(e, EINVAL, "%s: mp_state %u unknown", what, s->mp.mp_state);
		return 0;
	case T_DEBUGREGS:
		if (exact(what, n, flen, sizeof(s->dregs), e) < 0)
			return -1;
		memcpy(&s->dregs, b, flen);
		return 0;
	case T_TSC_KHZ:
		if (exact(what, n, flen, 4, e) < 0)
			return -1;
		s->tsc_khz = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
			     (uint32_t)b[3] << 24;
		return 0;
	}
	return vs_fail(e, EINVAL, "%s: unknown field %u", what, tag);
}

int vm_vcpu_state_decode(const char *what, const void *buf, size_t len, struct vm_vcpu_state *s,
			 struct vs_err *e)
{
	struct vm_state_reader r;
	uint32_t seen = 0;
	int rc;

	memset(s, 0, sizeof(*s));
	vm_sr_init(&r, what, buf, len);
	if (check_version(&r, e) < 0)
		return -1;
	for (;;) {
		uint16_t tag;
		uint32_t flen;
		const uint8_t *b;

		rc = next_field(&r, &tag, &flen, &b, e);
		if (rc <= 0)
			break;
		if (tag > 0 && tag < T_MAX && (seen & (1u << tag))) {
			rc = vs_fail(e, EINVAL, "%s: field %s appears twice", what,
				     vcpu_tag_name(tag));
			break;
		}
		rc = decode_vcpu_field(what, tag, b, flen, s, e);
		if (rc < 0)
			break;
		seen |= 1u << tag;
	}
	if (rc == 0 && (seen & VCPU_REQUIRED) != VCPU_REQUIRED) {
		unsigned t = 1;

		while ((seen | ~VCPU_REQUIRED) & (1u << t))
			t++;
		rc = vs_fail(e, EINVAL, "%s: field %s missing", what, vcpu_tag_name(t));
	}
	if (rc < 0) {
		vm_vcpu_state_free(s);
		return -1;
	}
	return 0;
}

void vm_irqchip_state_encode(const struct vm_irqchip_state *s, struct vm_state_writer *w)
{
	vm_sw_u32(w, VM_VCPU_STATE_VERSION);
	for (unsigned i = 0; i < 3; i++)
		field(w, I_PIC_MASTER + i, &s->chip[i], sizeof(s->chip[i]));
	field(w, I_PIT, &s->pit, sizeof(s->pit));
	field(w, I_CLOCK, &s->clock, sizeof(s->clock));
}

int vm_irqchip_state_decode(const char *what, const void *buf, size_t len,
			    struct vm_irqchip_state *s, struct vs_err *e)
{
	static const char *const names[I_MAX] = {"?",	   "pic-master", "pic-slave",
						 "ioapic", "pit",	 "clock"};
	struct vm_state_reader r;
	uint32_t seen = 0;
	int rc;

	memset(s, 0, sizeof(*s));
	vm_sr_init(&r, what, buf, len);
	if (check_version(&r, e) < 0)
		return -1;
	for (;;) {
		uint16_t tag;
		uint32_t flen;
		const uint8_t *b;

		rc = next_field(&r, &tag, &flen, &b, e);
		if (rc < 0)
			return -1;
		if (rc == 0)
			break;
		if (tag == 0 || tag >= I_MAX)
			return vs_fail(e, EINVAL, "%s: unknown field %u", what, tag);
		if (seen & (1u << tag))
			return vs_fail(e, EINVAL, "%s: field %s appears twice", what, names[tag]);
		seen |= 1u << tag;
		if (tag <= I_IOAPIC) {
			struct kvm_irqchip *c = &s->chip[tag - I_PIC_MASTER];

			if (exact(what, names[tag], flen, sizeof(*c), e) < 0)
				return -1;
			memcpy(c, b, flen);
			if (c->chip_id != (uint32_t)(tag - I_PIC_MASTER))
				return vs_fail(e, EINVAL, "%s: %s has chip id %u", what, names[tag],
					       c->chip_id);
		} else if (tag == I_PIT) {
			if (exact(what, names[tag], flen, sizeof(s->pit), e) < 0)
				return -1;
			memcpy(&s->pit, b, flen);
		} else {
			if (exact(what, names[tag], flen, sizeof(s->clock), e) < 0)
				return -1;
			memcpy(&s->clock, b, flen);
		}
	}
	if (seen != IRQ_REQUIRED) {
		unsigned t = 1;

		while (seen & (1u << t))
			t++;
		return vs_fail(e, EINVAL, "%s: field %s missing", what, names[t]);
	}
	return 0;
}

/* --- ioctls -------------------------------------------------------------- */

/* KVM_GET_MSRS stops at the first MSR it cannot read (api.rst 4.18): read in
 * runs, dropping the ones this host refuses, so the save keeps the rest. */
static int get_msrs(int vcpu_fd, const uint32_t *list, unsigned n, struct vm_vcpu_state *s,
		    struct vs_err *e)
{
	struct kvm_msrs *m = calloc(1, sizeof(*m) + (n ? n : 1) * sizeof(struct kvm_msr_entry));
	unsigned done = 0, kept = 0;

	if (!m)
		return vs_fail(e, ENOMEM, "MSRs: out of memory");
	s->msrs = calloc(n ? n : 1, sizeof(*s->msrs));
	if (!s->msrs) {
		free(m);
		return vs_fail(e, ENOMEM, "MSRs: out of memory");
	}
	while (done < n) {
		m->nmsrs = n - done;
		for (unsigned i = 0; i < m->nmsrs; i++)
			m->entries[i] = (struct kvm_msr_entry){.index = list[done + i]};
		int r = ioctl(vcpu_fd, KVM_GET_MSRS, m);
		if (r < 0) {
			free(m);
			return vs_fail_errno(e, "KVM_GET_MSRS");
		}
		memcpy(s->msrs + kept, m->entries, (size_t)r * sizeof(*s->msrs));
		kept += r;
		done += r + 1; /* skip the one it refused */
	}
	s->nr_msrs = kept;
	free(m);
	return 0;
}

int vm_vcpu_state_get(int kvm_fd, int vcpu_fd, const uint32_t *msr_list, unsigned nr_msrs,
		      struct vm_vcpu_state *s, struct vs_err *e)
{
	memset(s, 0, sizeof(*s));
	if (nr_msrs > VM_VCPU_MAX_MSRS)
		nr_msrs = VM_VCPU_MAX_MSRS;
	if (ioctl(vcpu_fd, KVM_GET_REGS, &s->regs) < 0)
		return vs_fail_errno(e, "KVM_GET_REGS");
	if (ioctl(vcpu_fd, KVM_GET_SREGS, &s->sregs) < 0)
		return vs_fail_errno(e, "KVM_GET_SREGS");
	if (ioctl(vcpu_fd, KVM_GET_FPU, &s->fpu) < 0)
		return vs_fail_errno(e, "KVM_GET_FPU");
	int xs = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
	unsigned long req = KVM_GET_XSAVE2;
	if (xs <= 0) {
		req = KVM_GET_XSAVE;
		xs = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE) > 0
			     ? (int)sizeof(struct kvm_xsave)
			     : 0;
	}
	if (xs > 0) {
		size_t n = ((size_t)xs + 3) & ~(size_t)3;
		if (n < sizeof(struct kvm_xsave))
			n = sizeof(struct kvm_xsave);
		if (n > VM_VCPU_MAX_XSAVE)
			return vs_fail(e, E2BIG, "XSAVE area of %zu bytes", n);
		s->xsave = calloc(1, n);
		if (!s->xsave)
			return vs_fail(e, ENOMEM, "XSAVE: out of memory");
		s->xsave_len = (uint32_t)n;
		if (ioctl(vcpu_fd, req, s->xsave) < 0)
			goto fail_errno_xsave;
	}
	if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0) {
		if (ioctl(vcpu_fd, KVM_GET_XCRS, &s->xcrs) < 0) {
			vs_fail_errno(e, "KVM_GET_XCRS");
			goto fail;
		}
		s->has_xcrs = true;
	}
	if (get_msrs(vcpu_fd, msr_list, nr_msrs, s, e) < 0)
		goto fail;
	if (ioctl(vcpu_fd, KVM_GET_LAPIC, &s->lapic) < 0) {
		vs_fail_errno(e, "KVM_GET_LAPIC");
		goto fail;
	}
	if (ioctl(vcpu_fd, KVM_GET_VCPU_EVENTS, &s->events) < 0) {
		vs_fail_errno(e, "KVM_GET_VCPU_EVENTS");
		goto fail;
	}
	if (ioctl(vcpu_fd, KVM_GET_MP_STATE, &s->mp) < 0) {
		vs_fail_errno(e, "KVM_GET_MP_STATE");
		goto fail;
	}
	if (ioctl(vcpu_fd, KVM_GET_DEBUGREGS, &s->dregs) < 0) {
		vs_fail_errno(e, "KVM_GET_DEBUGREGS");
		goto fail;
	}
	int khz = ioctl(vcpu_fd, KVM_GET_TSC_KHZ, 0);
	s->tsc_khz = khz > 0 ? (uint32_t)khz : 0;
	return 0;
fail_errno_xsave:
	vs_fail_errno(e, req == KVM_GET_XSAVE2 ? "KVM_GET_XSAVE2" : "KVM_GET_XSAVE");
fail:
	vm_vcpu_state_free(s);
	return -1;
}

/* Order as the kernel needs it: TSC frequency before the TSC MSR, special
 * registers (EFER, CR4.OSXSAVE) before XSAVE and XCRs, MSRs before the
 * LAPIC (APIC base), events last (they refer to the restored state). */
int vm_vcpu_state_set(int kvm_fd, int vcpu_fd, const struct vm_vcpu_state *s, struct vs_err *e)
{
	if (s->tsc_khz) {
		int cur = ioctl(vcpu_fd, KVM_GET_TSC_KHZ, 0);
		if (cur > 0 && (uint32_t)cur != s->tsc_khz &&
		    ioctl(vcpu_fd, KVM_SET_TSC_KHZ, (unsigned long)s->tsc_khz) < 0)
			return vs_fail_errno(e,
					     "KVM_SET_TSC_KHZ %u (this host: %d kHz, and it cannot "
					     "scale the guest TSC)",
					     s->tsc_khz, cur);
	}
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &s->sregs) < 0)
		return vs_fail_errno(e, "KVM_SET_SREGS");
	if (ioctl(vcpu_fd, KVM_SET_REGS, &s->regs) < 0)
		return vs_fail_errno(e, "KVM_SET_REGS");
	if (s->xsave) {
		int have = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
		if (have <= 0)
			have = sizeof(struct kvm_xsave);
		/* KVM_SET_XSAVE reads as many bytes as KVM_CAP_XSAVE2 says: give
		 * it a buffer of that size, zero beyond what was saved */
		size_t n = (size_t)have > s->xsave_len ? (size_t)have : s->xsave_len;
		uint8_t *x = calloc(1, n);
		if (!x)
			return vs_fail(e, ENOMEM, "XSAVE: out of memory");
		memcpy(x, s->xsave, s->xsave_len);
		int r = ioctl(vcpu_fd, KVM_SET_XSAVE, x);
		free(x);
		if (r < 0)
			return vs_fail_errno(e, "KVM_SET_XSAVE");
	} else if (ioctl(vcpu_fd, KVM_SET_FPU, &s->fpu) < 0) {
		return vs_fail_errno(e, "KVM_SET_FPU");
	}
	if (s->has_xcrs && ioctl(vcpu_fd, KVM_SET_XCRS, &s->xcrs) < 0)
		return vs_fail_errno(e, "KVM_SET_XCRS");

	struct kvm_msrs *m = calloc(1, sizeof(*m) + (s->nr_msrs + 1) * sizeof(m->entries[0]));
	if (!m)
		return vs_fail(e, ENOMEM, "MSRs: out of memory");
	m->nmsrs = s->nr_msrs;
	memcpy(m->entries, s->msrs, s->nr_msrs * sizeof(m->entries[0]));
	int r = ioctl(vcpu_fd, KVM_SET_MSRS, m);
	free(m);
	if (r < 0)
		return vs_fail_errno(e, "KVM_SET_MSRS");
	if ((uint32_t)r != s->nr_msrs)
		return vs_fail(e, EINVAL, "KVM_SET_MSRS: this host refused MSR 0x%x",
			       s->msrs[r].index);
	if (ioctl(vcpu_fd, KVM_SET_DEBUGREGS, &s->dregs) < 0)
		return vs_fail_errno(e, "KVM_SET_DEBUGREGS");
	if (ioctl(vcpu_fd, KVM_SET_LAPIC, &s->lapic) < 0)
		return vs_fail_errno(e, "KVM_SET_LAPIC");
	if (ioctl(vcpu_fd, KVM_SET_MP_STATE, &s->mp) < 0)
		return vs_fail_errno(e, "KVM_SET_MP_STATE");
	if (ioctl(vcpu_fd, KVM_SET_VCPU_EVENTS, &s->events) < 0)
		return vs_fail_errno(e, "KVM_SET_VCPU_EVENTS");
	return 0;
}

int vm_irqchip_state_get(int vm_fd, struct vm_irqchip_state *s, struct vs_err *e)
{
	memset(s, 0, sizeof(*s));
	for (unsigned i = 0; i < 3; i++) {
		s->chip[i].chip_id = i;
		if (ioctl(vm_fd, KVM_GET_IRQCHIP, &s->chip[i]) < 0)
			return vs_fail_errno(e, "KVM_GET_IRQCHIP %u", i);
	}
	if (ioctl(vm_fd, KVM_GET_PIT2, &s->pit) < 0)
		return vs_fail_errno(e, "KVM_GET_PIT2");
	if (ioctl(vm_fd, KVM_GET_CLOCK, &s->clock) < 0)
		return vs_fail_errno(e, "KVM_GET_CLOCK");
	return 0;
}

int vm_irqchip_state_set(int vm_fd, const struct vm_irqchip_state *s, struct vs_err *e)
{
	for (unsigned i = 0; i < 3; i++) {
		struct kvm_irqchip c = s->chip[i];
		if (ioctl(vm_fd, KVM_SET_IRQCHIP, &c) < 0)
			return vs_fail_errno(e, "KVM_SET_IRQCHIP %u", i);
	}
	struct kvm_pit_state2 pit = s->pit;
	if (ioctl(vm_fd, KVM_SET_PIT2, &pit) < 0)
		return vs_fail_errno(e, "KVM_SET_PIT2");
	/* only the clock value: the host's TSC and realtime differ now */
	struct kvm_clock_data c = {.clock = s->clock.clock};
	if (ioctl(vm_fd, KVM_SET_CLOCK, &c) < 0)
		return vs_fail_errno(e, "KVM_SET_CLOCK");
	return 0;
}
