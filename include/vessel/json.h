/* JSON via json-c, with errors that name the file and field at fault. */
#ifndef VESSEL_JSON_H
#define VESSEL_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>
#include "vessel/err.h"

#define autojson __attribute__((cleanup(vs_json_putp)))
void vs_json_putp(struct json_object **j);

/* Parses a file; errors say "PATH: line N: ..." on syntax errors. */
int vs_json_load_file(const char *path, struct json_object **out, struct vs_err *e);
/* Parses a buffer; what names the source in error messages. */
int vs_json_parse(const char *what, const char *buf, size_t len, struct json_object **out,
		  struct vs_err *e);

/*
 * Typed field access. `where` is the dotted path of obj used in messages
 * ("config.json: process.user"). A missing key returns 0 and leaves *out
 * untouched unless `required`; a key of the wrong type is an error:
 * "config.json: process.user.uid: expected integer, got string".
 */
int vs_json_get_obj(struct json_object *obj, const char *where, const char *key, bool required,
		    struct json_object **out, struct vs_err *e);
int vs_json_get_array(struct json_object *obj, const char *where, const char *key, bool required,
		      struct json_object **out, struct vs_err *e);
int vs_json_get_str(struct json_object *obj, const char *where, const char *key, bool required,
		    const char **out, struct vs_err *e);
int vs_json_get_bool(struct json_object *obj, const char *where, const char *key, bool required,
		     bool *out, struct vs_err *e);
int vs_json_get_i64(struct json_object *obj, const char *where, const char *key, bool required,
		    int64_t *out, struct vs_err *e);
int vs_json_get_u64(struct json_object *obj, const char *where, const char *key, bool required,
		    uint64_t *out, struct vs_err *e);
/* Integer in [min, max]. */
int vs_json_get_range(struct json_object *obj, const char *where, const char *key, bool required,
		      int64_t min, int64_t max, int64_t *out, struct vs_err *e);
/* Array of strings -> NULL-terminated malloc'ed vector (strings copied). */
int vs_json_get_strv(struct json_object *obj, const char *where, const char *key, bool required,
		     char ***out, struct vs_err *e);

/* The JSON type of j as messages name it: "string", "integer", "object"... */
const char *vs_json_type_name(struct json_object *j);

/* Writes obj to path atomically (pretty when pretty is set). */
int vs_json_write_file(const char *path, struct json_object *obj, bool pretty, struct vs_err *e);

#endif
