/* The control socket: a Unix stream socket taking one JSON request per line
 * and answering one JSON object per line (docs/vmm.md). The protocol is a
 * pure function over a table of verbs, so it is tested without a VM; the
 * socket runs on its own thread. */
#ifndef VMM_CONTROL_H
#define VMM_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "vessel/err.h"

struct vm_control_status {
	const char *state; /* "running" | "paused" */
	unsigned vcpus;
	uint64_t memory; /* bytes */
	uint64_t uptime_ns;
	const char *serial_pty;	 /* pts path of a pty serial console, or NULL */
	const char *console_pty; /* same for the virtio console */
};

/* What the VM offers the control socket. Verbs that are NULL answer
 * "not supported"; snapshot/restore/migrate will be added here. */
struct vm_control_ops {
	void *opaque;
	void (*status)(void *opaque, struct vm_control_status *st);
	int (*pause)(void *opaque, struct vs_err *e);
	int (*resume)(void *opaque, struct vs_err *e);
	/* how: "acpi-power-button" or "stop" */
	int (*shutdown)(void *opaque, bool force, const char **how, struct vs_err *e);
	/* adds its counters to out (an object) */
	void (*metrics)(void *opaque, struct json_object *out);
	/* virtio-balloon: target size in bytes; stats into out (an object) */
	int (*balloon_set)(void *opaque, uint64_t bytes, struct vs_err *e);
	int (*balloon_stats)(void *opaque, struct json_object *out, struct vs_err *e);
	/* snapshot {"path", "diff", "resume"}; migrate {"to": "host:port",
	 * "postcopy"} (vmm/snapshot.h, docs/snapshots.md) */
	int (*snapshot)(void *opaque, const char *path, bool diff, bool resume, struct vs_err *e);
	int (*migrate)(void *opaque, const char *to, bool postcopy, struct vs_err *e);
};

#define VM_CONTROL_MAX_LINE 65536

/* One request (without its newline) -> malloc'ed response (without newline). */
char *vm_control_handle(const struct vm_control_ops *ops, const char *line, size_t len);

struct vm_control;
/* Creates the socket at path (mode 0600) and starts the thread. */
int vm_control_start(struct vm_control **out, const char *path, const struct vm_control_ops *ops,
		     struct vs_err *e);
/* Stops the thread, closes connections, removes the socket file. */
void vm_control_stop(struct vm_control *c);

#endif
