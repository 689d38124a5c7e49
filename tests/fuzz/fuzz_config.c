/* libFuzzer target: config.json parser. Any input must give either a spec
 * or an error, without crashes, leaks or undefined behaviour. */
#include <stddef.h>
#include <stdint.h>

#include "vessel/log.h"
#include "runtime/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ct_spec *s = NULL;
	struct vs_err e;

	if (ct_spec_parse("config.json", (const char *)data, size, &s, &e) == 0) {
		/* exercise the lookups callers make on a parsed spec */
		for (int t = 0; t < CT_NS_COUNT; t++)
			(void)ct_spec_ns_path(s, (enum ct_ns_type)t);
		(void)ct_spec_annotation(s, "org.opencontainers.image.stopSignal");
		ct_spec_free(s);
	}
	return 0;
}
