/* libFuzzer target: kernel image detection and loading (bzImage setup
 * header, ELF program headers and notes, multiboot header) into a 32 MiB
 * guest. The first byte picks an initrd size; the rest is the image. */
#include <stdlib.h>
#include <string.h>

#include "vmm/boot/boot.h"

#define RAM (32u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *ram;
	static uint8_t initrd[8192];
	struct vm_memory m = {0};
	struct vm_boot_entry ent;
	struct vs_err e;

	if (size < 1)
		return 0;
	if (!ram && !(ram = malloc(RAM)))
		return 0;
	vm_mem_add_region(&m, 0, RAM, ram, -1, 0, &e);
	size_t ilen = (size_t)data[0] * 32;
	struct vm_boot_input in = {
		.kernel = data + 1,
		.kernel_len = size - 1,
		.initrd = ilen ? initrd : NULL,
		.initrd_len = ilen,
		.cmdline = "console=ttyS0",
		.rsdp_addr = 0xe0000,
	};
	if (vm_boot_load(&m, &in, &ent, &e) == 0) {
		/* whatever was accepted lies inside guest RAM */
		if (ent.kernel_end > RAM || ent.initrd_addr + ilen > RAM)
			abort();
	}
	return 0;
}
