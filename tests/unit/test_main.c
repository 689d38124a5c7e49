/* Runner for one unit-test binary: runs every registered TEST in order. */
#include <stdio.h>
#include <string.h>

#include "test.h"

struct vt_case *vt_cases;
int vt_failed_now;
char vt_skip_reason[256];

void vt_register(struct vt_case *c)
{
	/* append, so tests run in the order they appear in the file */
	struct vt_case **p = &vt_cases;

	while (*p)
		p = &(*p)->next;
	*p = c;
}

int main(int argc, char **argv)
{
	int failed = 0;

	for (struct vt_case *c = vt_cases; c; c = c->next) {
		if (argc > 1 && strcmp(argv[1], c->name))
			continue;
		vt_failed_now = 0;
		vt_skip_reason[0] = '\0';
		c->fn();
		fflush(stderr);
		if (vt_failed_now) {
			printf("not ok %s\n", c->name);
			failed++;
		} else if (vt_skip_reason[0]) {
			printf("skip %s: %s\n", c->name, vt_skip_reason);
		} else {
			printf("ok %s\n", c->name);
		}
		fflush(stdout);
	}
	return failed ? 1 : 0;
}
