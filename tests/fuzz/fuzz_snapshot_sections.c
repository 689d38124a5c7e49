/* Fuzzes the decoders of snapshot sections (vCPU, irqchip, machine). The
 * first byte picks the decoder. Whatever decodes must encode back to bytes
 * that decode to the same state (the decoders accept only what the encoders
 * write), and refusals must leave nothing allocated (ASan's leak check). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/snapshot.h"
#include "vmm/x86/vcpu_state.h"

static void vcpu_case(const uint8_t *d, size_t n)
{
	struct vm_vcpu_state s, t;
	struct vm_state_writer w;
	struct vs_err e;

	if (vm_vcpu_state_decode("fuzz", d, n, &s, &e) < 0)
		return;
	vm_sw_init(&w);
	vm_vcpu_state_encode(&s, &w);
	if (vm_vcpu_state_decode("fuzz", w.buf, w.len, &t, &e) < 0)
		abort();
	if (memcmp(&s.regs, &t.regs, sizeof(s.regs)) || memcmp(&s.lapic, &t.lapic, sizeof(s.lapic)) ||
	    s.nr_msrs != t.nr_msrs || s.xsave_len != t.xsave_len || s.tsc_khz != t.tsc_khz ||
	    (s.nr_msrs && memcmp(s.msrs, t.msrs, s.nr_msrs * sizeof(*s.msrs))) ||
	    (s.xsave_len && memcmp(s.xsave, t.xsave, s.xsave_len)))
		abort();
	vm_vcpu_state_free(&s);
	vm_vcpu_state_free(&t);
	vm_sw_free(&w);
}

static void irqchip_case(const uint8_t *d, size_t n)
{
	struct vm_irqchip_state s, t;
	struct vm_state_writer w;
	struct vs_err e;

	if (vm_irqchip_state_decode("fuzz", d, n, &s, &e) < 0)
		return;
	vm_sw_init(&w);
	vm_irqchip_state_encode(&s, &w);
	if (vm_irqchip_state_decode("fuzz", w.buf, w.len, &t, &e) < 0 || memcmp(&s, &t, sizeof(s)))
		abort();
	vm_sw_free(&w);
}

static void machine_case(const uint8_t *d, size_t n)
{
	static struct vm_machine_desc s, t;
	struct vm_state_writer w;
	struct vs_err e;

	if (vm_machine_decode("fuzz", d, n, &s, &e) < 0)
		return;
	vm_sw_init(&w);
	vm_machine_encode(&s, &w);
	/* the encoding is canonical: the same bytes come back */
	if (w.len != n || memcmp(w.buf, d, n))
		abort();
	if (vm_machine_decode("fuzz", w.buf, w.len, &t, &e) < 0 || memcmp(&s, &t, sizeof(s)))
		abort();
	vm_sw_free(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0: vcpu_case(data + 1, size - 1); break;
	case 1: irqchip_case(data + 1, size - 1); break;
	case 2: machine_case(data + 1, size - 1); break;
	}
	return 0;
}
