/*
 * Process capabilities (OCI process.capabilities).
 *
 * Order in the container's init, around the user switch:
 *   ct_caps_drop_bounding()        while still uid 0 with CAP_SETPCAP
 *   prctl(PR_SET_KEEPCAPS, 1); setresgid/setresuid(...)
 *   ct_caps_apply()                sets effective/permitted/inheritable, then ambient
 *
 * Capabilities the runtime itself does not hold (not in its bounding or
 * permitted set, e.g. CAP_SYS_RESOURCE on the development machines) cannot
 * be given to a container; rather than failing the container they are
 * left out with a warning, once, at apply time.
 */
#ifndef VESSEL_RUNTIME_CAPS_H
#define VESSEL_RUNTIME_CAPS_H

#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>

#include "vessel/err.h"

/* One bit per capability number (bit 21 = CAP_SYS_ADMIN). */
struct ct_caps {
	uint64_t bounding, effective, inheritable, permitted, ambient;
	bool set; /* process.capabilities was present */
};

/*
 * Parses process.capabilities (j may be NULL: nothing set). `where` names j
 * in messages ("config.json: process.capabilities"). Names are
 * "CAP_SYS_ADMIN"...; an unknown name is an error naming field[i]; a name
 * this kernel does not know (> /proc/sys/kernel/cap_last_cap) is skipped
 * with a warning.
 */
int ct_caps_parse(struct json_object *j, const char *where, struct ct_caps *out, struct vs_err *e);

/* Capability number for "CAP_CHOWN" (or "chown"); -1 if unknown. */
int ct_caps_from_name(const char *name);
/* "CAP_CHOWN" for 0; NULL if unknown. */
const char *ct_caps_name(int cap);
/* Highest capability number the running kernel knows. */
int ct_caps_last_cap(void);

/* Drops every capability not in c->bounding from the bounding set. Call
 * before changing uid (needs CAP_SETPCAP). No-op when !c->set. */
int ct_caps_drop_bounding(const struct ct_caps *c, struct vs_err *e);

/* Sets E/P/I with capset(2), then clears and raises the ambient set. Call
 * after setresuid with PR_SET_KEEPCAPS. No-op when !c->set. */
int ct_caps_apply(const struct ct_caps *c, struct vs_err *e);

#endif
