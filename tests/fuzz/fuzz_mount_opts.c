/* libFuzzer target: mounts[].options and linux.sysctl keys, the two string
 * parsers of the rootfs module. Input: options separated by newlines; each
 * is also tried as a sysctl key. Checks the invariants, not just no crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "runtime/mount_opts.h"
#include "runtime/sysctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1);
	char *v[65];
	size_t n = 0;
	struct ct_mount_opts o;
	struct vs_err e;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (char *save = NULL, *t = strtok_r(buf, "\n", &save); t && n < 64;
	     t = strtok_r(NULL, "\n", &save))
		v[n++] = t;
	v[n] = NULL;

	if (ct_mount_opts_parse(v, "fuzz", &o, &e) == 0) {
		/* a flag is never both set and cleared; data holds only
		 * what no table entry took */
		if (o.flags & o.cleared)
			abort();
		if ((o.attr_set & o.attr_clr) & ~(uint64_t)MOUNT_ATTR__ATIME)
			abort();
		if (o.data && strlen(o.data) > size + n)
			abort();
		(void)ct_mount_opts_remount_flags(&o, (unsigned long)size);
		ct_mount_opts_free(&o);
	}
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		unsigned long prop;

		if (ct_sysctl_path(v[i], path, sizeof(path)) == 0 &&
		    (strncmp(path, "/proc/sys/", 10) || strstr(path, "/../") || strstr(path, "//")))
			abort();
		(void)ct_propagation_parse(v[i], &prop);
	}
	free(buf);
	return 0;
}
