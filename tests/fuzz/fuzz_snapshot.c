/* Fuzzes the snapshot container parser: any input must be refused cleanly or
 * parsed into sections that lie inside the buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/snapshot_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1);
	struct vm_snap s;
	struct vs_err e;

	memcpy(buf, data, size);
	if (vm_snap_parse("fuzz", buf, size, &s, &e) == 0) {
		for (uint32_t i = 0; i < s.nr; i++) {
			/* touch every byte so ASan checks the bounds */
			volatile uint8_t sum = 0;

			for (uint64_t k = 0; k < s.sec[i].len; k++)
				sum += s.sec[i].data[k];
			(void)sum;
		}
		vm_snap_close(&s);
	} else {
		free(buf);
	}
	return 0;
}
