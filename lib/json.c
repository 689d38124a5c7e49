#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "vessel/cleanup.h"
#include "vessel/fs.h"
#include "vessel/json.h"

void vs_json_putp(struct json_object **j)
{
	if (*j)
		json_object_put(*j);
}

int vs_json_parse(const char *what, const char *buf, size_t len, struct json_object **out,
		  struct vs_err *e)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *j;
	enum json_tokener_error jerr;

	if (!tok)
		return vs_fail(e, ENOMEM, "%s: out of memory", what);
	j = json_tokener_parse_ex(tok, buf, (int)len);
	jerr = json_tokener_get_error(tok);
	if (!j || jerr != json_tokener_success) {
		/* count the line the tokener stopped at, for a findable message */
		size_t off = json_tokener_get_parse_end(tok), line = 1;

		for (size_t i = 0; i < off && i < len; i++)
			line += buf[i] == '\n';
		if (jerr == json_tokener_continue || (!j && jerr == json_tokener_success))
			vs_fail(e, EINVAL, "%s: line %zu: unexpected end of JSON", what, line);
		else
			vs_fail(e, EINVAL, "%s: line %zu: invalid JSON: %s", what, line,
				json_tokener_error_desc(jerr));
		json_object_put(j);
		json_tokener_free(tok);
		return -1;
	}
	/* trailing garbage after the document */
	for (size_t i = json_tokener_get_parse_end(tok); i < len; i++) {
		if (buf[i] != ' ' && buf[i] != '\n' && buf[i] != '\t' && buf[i] != '\r' &&
		    buf[i] != '\0') {
			json_object_put(j);
			json_tokener_free(tok);
			return vs_fail(e, EINVAL, "%s: trailing data after JSON document", what);
		}
	}
	json_tokener_free(tok);
	*out = j;
	return 0;
}

int vs_json_load_file(const char *path, struct json_object **out, struct vs_err *e)
{
	autofree char *buf = NULL;
	size_t len;

	if (vs_read_file(path, &buf, &len, e) < 0)
		return -1;
	return vs_json_parse(path, buf, len, out, e);
}

const char *vs_json_type_name(struct json_object *j)
{
	switch (json_object_get_type(j)) {
	case json_type_null: return "null";
	case json_type_boolean: return "boolean";
	case json_type_double: return "number";
	case json_type_int: return "integer";
	case json_type_object: return "object";
	case json_type_array: return "array";
	case json_type_string: return "string";
	}
	return "unknown";
}

/* Looks key up; 1 found, 0 absent (fine), -1 absent but required. */
static int lookup(struct json_object *obj, const char *where, const char *key, bool required,
		  json_type want, const char *want_name, struct json_object **out, struct vs_err *e)
{
	struct json_object *v = NULL;

	if (!obj || !json_object_object_get_ex(obj, key, &v) || !v) {
		if (required)
			return vs_fail(e, EINVAL, "%s.%s: required field missing", where, key);
		return 0;
	}
	if (!json_object_is_type(v, want))
		return vs_fail(e, EINVAL, "%s.%s: expected %s, got %s", where, key, want_name,
			       vs_json_type_name(v));
	*out = v;
	return 1;
}

int vs_json_get_obj(struct json_object *obj, const char *where, const char *key, bool required,
		    struct json_object **out, struct vs_err *e)
{
	int r = lookup(obj, where, key, required, json_type_object, "object", out, e);

	return r < 0 ? -1 : 0;
}

int vs_json_get_array(struct json_object *obj, const char *where, const char *key, bool required,
		      struct json_object **out, struct vs_err *e)
{
	int r = lookup(obj, where, key, required, json_type_array, "array", out, e);

	return r < 0 ? -1 : 0;
}

int vs_json_get_str(struct json_object *obj, const char *where, const char *key, bool required,
		    const char **out, struct vs_err *e)
{
	struct json_object *v;
	int r = lookup(obj, where, key, required, json_type_string, "string", &v, e);

	if (r > 0)
		*out = json_object_get_string(v);
	return r < 0 ? -1 : 0;
}

int vs_json_get_bool(struct json_object *obj, const char *where, const char *key, bool required,
		     bool *out, struct vs_err *e)
{
	struct json_object *v;
	int r = lookup(obj, where, key, required, json_type_boolean, "boolean", &v, e);

	if (r > 0)
		*out = json_object_get_boolean(v);
	return r < 0 ? -1 : 0;
}

/* json-c keeps integers as int64 or uint64; both are reached through here. */
static int get_int(struct json_object *obj, const char *where, const char *key, bool required,
		   struct json_object **v, struct vs_err *e)
{
	int r = lookup(obj, where, key, required, json_type_int, "integer", v, e);

	if (r == 0 || r < 0)
		return r;
	return 1;
}

int vs_json_get_i64(struct json_object *obj, const char *where, const char *key, bool required,
		    int64_t *out, struct vs_err *e)
{
	struct json_object *v;
	int r = get_int(obj, where, key, required, &v, e);

	if (r <= 0)
		return r;
	errno = 0;
	int64_t x = json_object_get_int64(v);
	if (errno == ERANGE || (x == INT64_MAX && json_object_get_uint64(v) > INT64_MAX))
		return vs_fail(e, ERANGE, "%s.%s: integer out of range", where, key);
	*out = x;
	return 0;
}

int vs_json_get_u64(struct json_object *obj, const char *where, const char *key, bool required,
		    uint64_t *out, struct vs_err *e)
{
	struct json_object *v;
	int r = get_int(obj, where, key, required, &v, e);

	if (r <= 0)
		return r;
	if (json_object_get_int64(v) < 0)
		return vs_fail(e, ERANGE, "%s.%s: must not be negative", where, key);
	*out = json_object_get_uint64(v);
	return 0;
}

int vs_json_get_range(struct json_object *obj, const char *where, const char *key, bool required,
		      int64_t min, int64_t max, int64_t *out, struct vs_err *e)
{
	int64_t v;
	bool present = false;
	struct json_object *probe;

	if (obj && json_object_object_get_ex(obj, key, &probe) && probe)
		present = true;
	if (vs_json_get_i64(obj, where, key, required, &v, e) < 0)
		return -1;
	if (!present)
		return 0;
	if (v < min || v > max)
		return vs_fail(e, ERANGE,
			       "%s.%s: %" PRId64 " out of range [%" PRId64 ", %" PRId64 "]", where,
			       key, v, min, max);
	*out = v;
	return 0;
}

int vs_json_get_strv(struct json_object *obj, const char *where, const char *key, bool required,
		     char ***out, struct vs_err *e)
{
	struct json_object *arr = NULL;
	size_t n;
	char **v;

	if (vs_json_get_array(obj, where, key, required, &arr, e) < 0)
		return -1;
	if (!arr)
		return 0;
	n = json_object_array_length(arr);
	v = calloc(n + 1, sizeof(*v));
	if (!v)
		return vs_fail(e, ENOMEM, "%s.%s: out of memory", where, key);
	for (size_t i = 0; i < n; i++) {
		struct json_object *s = json_object_array_get_idx(arr, i);

		if (!json_object_is_type(s, json_type_string)) {
			vs_fail(e, EINVAL, "%s.%s[%zu]: expected string, got %s", where, key, i,
				s ? vs_json_type_name(s) : "null");
			vs_strvfreep(&v);
			return -1;
		}
		v[i] = strdup(json_object_get_string(s));
		if (!v[i]) {
			vs_strvfreep(&v);
			return vs_fail(e, ENOMEM, "%s.%s: out of memory", where, key);
		}
	}
	if (*out)
		vs_strvfreep(out);
	*out = v;
	return 0;
}

int vs_json_write_file(const char *path, struct json_object *obj, bool pretty, struct vs_err *e)
{
	const char *s = json_object_to_json_string_ext(
		obj, (pretty ? JSON_C_TO_STRING_PRETTY : JSON_C_TO_STRING_PLAIN) |
			     JSON_C_TO_STRING_NOSLASHESCAPE);

	return vs_write_file_atomic(path, s, strlen(s), 0644, e);
}
