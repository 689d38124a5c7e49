/* libFuzzer target: the instruction fallback's decoder (bytes come from
 * guest memory). Decoded lengths never exceed what was given. */
#include <stdlib.h>
#include <string.h>

#include "vmm/x86/emulate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vm_emu_cpu cpu;
	struct vm_emu_insn in;
	struct vm_emu_effect ef;
	struct vm_emu_state st = {.rip = 0x1000, .rflags = 2, .mxcsr = 0x1f80, .fcw = 0x37f};
	struct vs_err e;

	if (size < 1)
		return 0;
	memset(&cpu, 0xa5, sizeof(cpu));
	cpu.long64 = data[0] & 1;
	cpu.def32 = data[0] & 2;
	if (vm_emu_decode(data + 1, size - 1, &cpu, &in, &e) == 0) {
		if (in.len == 0 || in.len > size - 1 || in.len > VM_EMU_MAX_LEN)
			abort();
		(void)vm_emu_effect(&in, &st, &ef, &e);
	}
	return 0;
}
