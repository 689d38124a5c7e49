/* Small typed-JSON helpers for the config.json parser. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vessel/cleanup.h"
#include "runtime/spec_priv.h"

bool ct_json_has(struct json_object *obj, const char *key)
{
	struct json_object *v = NULL;

	return obj && json_object_object_get_ex(obj, key, &v) && v;
}

int ct_json_dup_str(struct json_object *obj, const char *where, const char *key, bool required,
		    char **out, struct vs_err *e)
{
	const char *s = NULL;
	char *d;

	if (vs_json_get_str(obj, where, key, required, &s, e) < 0)
		return -1;
	if (!s)
		return 0;
	d = strdup(s);
	if (!d)
		return vs_fail(e, ENOMEM, "%s.%s: out of memory", where, key);
	free(*out);
	*out = d;
	return 0;
}

int ct_json_elem_obj(struct json_object *arr, const char *where, const char *key, size_t i,
		     struct json_object **out, struct vs_err *e)
{
	struct json_object *v = json_object_array_get_idx(arr, i);

	if (!v || !json_object_is_type(v, json_type_object))
		return vs_fail(e, EINVAL, "%s.%s[%zu]: expected object, got %s", where, key, i,
			       v ? vs_json_type_name(v) : "null");
	*out = v;
	return 0;
}

int ct_json_get_u32(struct json_object *obj, const char *where, const char *key, bool required,
		    uint32_t *out, struct vs_err *e)
{
	int64_t v = -1;

	if (vs_json_get_range(obj, where, key, required, 0, UINT32_MAX, &v, e) < 0)
		return -1;
	if (v >= 0)
		*out = (uint32_t)v;
	return 0;
}

static bool ranges_overlap(uint64_t a, uint64_t b, uint64_t len_a, uint64_t len_b)
{
	return a < b + len_b && b < a + len_a;
}

int ct_id_maps_parse(struct json_object *obj, const char *where, const char *key,
		     struct ct_id_map **out, size_t *n, struct vs_err *e)
{
	struct json_object *arr = NULL;
	autofree struct ct_id_map *maps = NULL;
	size_t len;

	if (vs_json_get_array(obj, where, key, false, &arr, e) < 0)
		return -1;
	if (!arr)
		return 0;
	len = json_object_array_length(arr);
	maps = calloc(len ? len : 1, sizeof(*maps));
	if (!maps)
		return vs_fail(e, ENOMEM, "%s.%s: out of memory", where, key);
	for (size_t i = 0; i < len; i++) {
		struct json_object *m;
		char w[CT_WHERE_MAX];
		struct ct_id_map *p = &maps[i];

		if (ct_json_elem_obj(arr, where, key, i, &m, e) < 0)
			return -1;
		snprintf(w, sizeof(w), "%s.%s[%zu]", where, key, i);
		if (ct_json_get_u32(m, w, "containerID", true, &p->container_id, e) < 0 ||
		    ct_json_get_u32(m, w, "hostID", true, &p->host_id, e) < 0 ||
		    ct_json_get_u32(m, w, "size", true, &p->size, e) < 0)
			return -1;
		if (p->size == 0)
			return vs_fail(e, EINVAL, "%s.size: must be greater than 0", w);
		/* ids are 32 bits and (uid_t)-1 is never valid (user_namespaces(7)) */
		if ((uint64_t)p->host_id + p->size > UINT32_MAX)
			return vs_fail(e, ERANGE,
				       "%s: hostID %" PRIu32 " + size %" PRIu32
				       " overflows the 32-bit id range",
				       w, p->host_id, p->size);
		if ((uint64_t)p->container_id + p->size > UINT32_MAX)
			return vs_fail(e, ERANGE,
				       "%s: containerID %" PRIu32 " + size %" PRIu32
				       " overflows the 32-bit id range",
				       w, p->container_id, p->size);
		/* the kernel refuses overlapping ranges on either side */
		for (size_t k = 0; k < i; k++) {
			if (ranges_overlap(p->container_id, maps[k].container_id, p->size,
					   maps[k].size))
				return vs_fail(e, EINVAL, "%s: containerID range overlaps %s[%zu]",
					       w, key, k);
			if (ranges_overlap(p->host_id, maps[k].host_id, p->size, maps[k].size))
				return vs_fail(e, EINVAL, "%s: hostID range overlaps %s[%zu]", w,
					       key, k);
		}
	}
	free(*out);
	*out = vs_steal_ptr(maps);
	*n = len;
	return 0;
}

void ct_kv_free(struct ct_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

int ct_kv_from_map(struct json_object *map, const char *where, struct ct_kv **out, size_t *n,
		   struct vs_err *e)
{
	size_t len = (size_t)json_object_object_length(map), i = 0;
	struct ct_kv *kv = calloc(len ? len : 1, sizeof(*kv));

	if (!kv)
		return vs_fail(e, ENOMEM, "%s: out of memory", where);
	json_object_object_foreach(map, k, v)
	{
		if (!v || !json_object_is_type(v, json_type_string)) {
			vs_fail(e, EINVAL, "%s.%s: expected string, got %s", where, k,
				v ? vs_json_type_name(v) : "null");
			ct_kv_free(kv, i);
			return -1;
		}
		kv[i].key = strdup(k);
		kv[i].value = strdup(json_object_get_string(v));
		i++;
		if (!kv[i - 1].key || !kv[i - 1].value) {
			ct_kv_free(kv, i);
			return vs_fail(e, ENOMEM, "%s: out of memory", where);
		}
	}
	ct_kv_free(*out, *n);
	*out = kv;
	*n = i;
	return 0;
}

int ct_kv_parse(struct json_object *obj, const char *where, const char *key, struct ct_kv **out,
		size_t *n, struct vs_err *e)
{
	struct json_object *map = NULL;
	char w[CT_WHERE_MAX];

	if (vs_json_get_obj(obj, where, key, false, &map, e) < 0)
		return -1;
	if (!map)
		return 0;
	snprintf(w, sizeof(w), "%s.%s", where, key);
	return ct_kv_from_map(map, w, out, n, e);
}

int ct_abs_strv_parse(struct json_object *obj, const char *where, const char *key, char ***out,
		      struct vs_err *e)
{
	autostrv char **v = NULL;

	if (vs_json_get_strv(obj, where, key, false, &v, e) < 0)
		return -1;
	for (size_t i = 0; v && v[i]; i++)
		if (v[i][0] != '/')
			return vs_fail(e, EINVAL, "%s.%s[%zu]: \"%s\" must be an absolute path",
				       where, key, i, v[i]);
	if (v) {
		vs_strvfreep(out);
		*out = vs_steal_ptr(v);
	}
	return 0;
}
