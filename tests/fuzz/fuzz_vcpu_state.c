/* libFuzzer target: vCPU and machine state sections from a snapshot file.
 * Any input is read back whole or refused with a message. */
#include <stdlib.h>

#include "vmm/vcpu_state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vm_vcpu_state s;
	struct vm_machine_state m;
	struct vm_state_reader r;
	struct vs_err e;

	vm_sr_init(&r, "vcpu0", data, size);
	if (vm_vcpu_state_read(&s, &r, &e) == 0 && s.nmsrs > VM_STATE_MAX_MSRS)
		abort();
	vm_sr_init(&r, "machine", data, size);
	(void)vm_machine_state_read(&m, &r, &e);
	return 0;
}
