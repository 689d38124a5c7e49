/* libFuzzer: runtime/state.c's state.json parser. The state directory is
 * root-owned but still input read back from disk: a corrupt or hostile file
 * must give an error, never a crash. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "runtime/state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ct_state *s = NULL;
	struct vs_err e = {0};

	if (ct_state_parse("state.json", (const char *)data, size, "/run/x/c", &s, &e) == 0) {
		/* what commands do with a loaded state */
		char *json = ct_state_json_string(s, CT_STOPPED, true);

		free(json);
		ct_state_free(s);
	}
	return 0;
}
