/* Helpers shared by the config.json parser files (spec*.c); not an API. */
#ifndef VESSEL_RT_SPEC_PRIV_H
#define VESSEL_RT_SPEC_PRIV_H

#include "runtime/spec.h"
#include "vessel/json.h"

/* Size of the field-path buffers ("config.json: linux.devices[3]"). */
#define CT_WHERE_MAX 384

/* Whether obj has key with a non-null value (null counts as absent, as in
 * lib/json.c's getters). */
bool ct_json_has(struct json_object *obj, const char *key);

/* "string", "integer", ... as lib/json.c words them. */

/* vs_json_get_str() that copies the string into *out (freeing an old one). */
int ct_json_dup_str(struct json_object *obj, const char *where, const char *key, bool required,
		    char **out, struct vs_err *e);

/* Element i of an array that must be an object; "where.key[i]: expected object". */
int ct_json_elem_obj(struct json_object *arr, const char *where, const char *key, size_t i,
		     struct json_object **out, struct vs_err *e);

/* Integer field in [0, UINT32_MAX]. */
int ct_json_get_u32(struct json_object *obj, const char *where, const char *key, bool required,
		    uint32_t *out, struct vs_err *e);

/* uidMappings-style array under key; checks size > 0, no 32-bit overflow,
 * no overlapping ranges (user_namespaces(7)). */
int ct_id_maps_parse(struct json_object *obj, const char *where, const char *key,
		     struct ct_id_map **out, size_t *n, struct vs_err *e);

/* A {"k": "v"} object under key into a ct_kv array. */
int ct_kv_parse(struct json_object *obj, const char *where, const char *key, struct ct_kv **out,
		size_t *n, struct vs_err *e);
/* Same from the map object itself; `where` names it. */
int ct_kv_from_map(struct json_object *map, const char *where, struct ct_kv **out, size_t *n,
		   struct vs_err *e);
void ct_kv_free(struct ct_kv *kv, size_t n);

/* A string vector whose entries must be absolute paths. */
int ct_abs_strv_parse(struct json_object *obj, const char *where, const char *key, char ***out,
		      struct vs_err *e);

/* Sections of the document (spec_linux.c, spec.c). */
int ct_linux_parse(struct json_object *j, const char *where, struct ct_linux *l, struct vs_err *e);
void ct_linux_clear(struct ct_linux *l);

#endif
