/*
 * OCI linux.resources -> struct vs_cgroup_resources (include/vessel/cgroup.h).
 * Writing them to cgroups is libvessel's job (vs_cgroup_apply).
 */
#ifndef VESSEL_RUNTIME_RESOURCES_H
#define VESSEL_RUNTIME_RESOURCES_H

#include <json-c/json.h>

#include "vessel/cgroup.h"
#include "vessel/err.h"

/*
 * Parses linux.resources (j NULL: *out zeroed, nothing set). `where` names j
 * in messages ("config.json: linux.resources"). out is zeroed first; free it
 * with vs_cgroup_resources_free, also after a failure.
 */
int ct_resources_parse(struct json_object *j, const char *where, struct vs_cgroup_resources *out,
		       struct vs_err *e);

/* `update --resources FILE`: FILE holds a linux.resources object ("-" is
 * stdin). */
int ct_resources_load_file(const char *path, struct vs_cgroup_resources *out, struct vs_err *e);

/*
 * Adds the device rules every container gets after its own: /dev/null,
 * zero, full, random, urandom, tty, console, ptmx and /dev/pts/ (as runc and
 * crun do), so a spec whose devices list is just "deny all" still has a
 * usable /dev. The caller adds rules for linux.devices entries with
 * vs_cgroup_resources_add_device. Call for create, not for update.
 */
void ct_resources_add_default_devices(struct vs_cgroup_resources *r);

#endif
