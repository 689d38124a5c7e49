/* libFuzzer target: the security sections of config.json. The input is one
 * JSON object parsed as linux.seccomp, as linux.resources and as
 * process.capabilities. Checks the invariants of what the parsers accept,
 * not just the absence of crashes; nothing is applied. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/caps.h"
#include "runtime/resources.h"
#include "runtime/seccomp.h"
#include "vessel/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *j = NULL;
	struct ct_seccomp *s = NULL;
	struct vs_cgroup_resources r;
	struct ct_caps c;
	struct vs_err e;

	if (vs_json_parse("fuzz", (const char *)data, size, &j, &e) < 0)
		return 0;
	if (ct_seccomp_parse(j, "fuzz", &s, &e) == 0) {
		/* NOTIFY is only accepted together with a listener path */
		(void)ct_seccomp_uses_notify(s);
		ct_seccomp_free(s);
	} else if (!e.msg[0]) {
		abort(); /* a failure always says why */
	}
	if (ct_resources_parse(j, "fuzz", &r, &e) == 0) {
		for (size_t i = 0; i < r.n_devices; i++) {
			const struct vs_cgroup_device_rule *d = &r.devices[i];

			if (!strchr("abc", d->type) ||
			    strspn(d->access, "rwm") != strlen(d->access))
				abort();
			if (d->major < -1 || d->minor < -1)
				abort();
		}
		for (size_t i = 0; i < r.n_hugetlb; i++)
			if (strchr(r.hugetlb[i].page_size, '/'))
				abort(); /* it becomes a file name */
		for (size_t i = 0; i < r.n_unified; i++)
			if (strchr(r.unified[i].key, '/'))
				abort();
		if (r.has_memory_swappiness && r.memory_swappiness > 100)
			abort();
	}
	vs_cgroup_resources_free(&r);
	if (ct_caps_parse(j, "fuzz", &c, &e) == 0) {
		uint64_t known =
			ct_caps_last_cap() >= 63 ? ~0ull : (2ull << ct_caps_last_cap()) - 1;

		if ((c.bounding | c.effective | c.permitted | c.inheritable | c.ambient) & ~known)
			abort();
	}
	json_object_put(j);
	return 0;
}
