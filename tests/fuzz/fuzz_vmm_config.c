/* libFuzzer target: the VMM's JSON machine description. Any input gives a
 * config or an error naming the field, without crashes or leaks. */
#include <stddef.h>
#include <stdint.h>

#include "vmm/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vm_config c;
	struct vs_err e;

	vm_config_init(&c);
	if (vm_config_from_json(&c, "vm.json", (const char *)data, size, &e) == 0)
		(void)vm_config_validate(&c, &e);
	vm_config_free(&c);
	return 0;
}
