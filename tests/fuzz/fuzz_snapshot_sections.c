/* Fuzzes the decoders of snapshot sections (vCPU, irqchip, machine) and a
 * whole state file through the restore's checks. The
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
	if (memcmp(&s.regs, &t.regs, sizeof(s.regs)) ||
	    memcmp(&s.lapic, &t.lapic, sizeof(s.lapic)) || s.nr_msrs != t.nr_msrs ||
	    s.xsave_len != t.xsave_len || s.tsc_khz != t.tsc_khz ||
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

/* A whole state file through the restore's verification (as a migration
 * destination sees it: no memory files), for a 1-vCPU, 16 MiB machine. */
static void state_case(const uint8_t *d, size_t n)
{
	struct vm_config cfg;
	struct vm_restore r;
	struct vs_err e;
	uint8_t *buf = malloc(n ? n : 1);

	vm_config_init(&cfg);
	cfg.cpus = 1;
	cfg.mem_size = 16 << 20;
	memcpy(buf, d, n);
	if (vm_restore_parse(&r, "fuzz", buf, n, &cfg, &e) == 0) {
		if (r.machine.cpus != 1 || !r.vcpus)
			abort();
		vm_restore_close(&r); /* frees buf */
	} else {
		free(buf);
	}
	vm_config_free(&cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0: vcpu_case(data + 1, size - 1); break;
	case 1: irqchip_case(data + 1, size - 1); break;
	case 2: machine_case(data + 1, size - 1); break;
	case 3: state_case(data + 1, size - 1); break;
	}
	return 0;
}
