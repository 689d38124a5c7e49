/*
 * config.json (runtime-spec config.md): the document, root, mounts, hooks,
 * annotations, and the checks that span sections. The process and linux
 * objects have their own files.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vessel/cleanup.h"
#include "vessel/fs.h"
#include "runtime/spec_priv.h"

/* A top-level key of the document: "config.json: root: expected object". */
static int top_field(struct json_object *doc, const char *what, const char *key, json_type type,
		     bool required, struct json_object **out, struct vs_err *e)
{
	struct json_object *v = NULL;
	static const char *const names[] = {
		[json_type_null] = "null",     [json_type_boolean] = "boolean",
		[json_type_double] = "number", [json_type_int] = "integer",
		[json_type_object] = "object", [json_type_array] = "array",
		[json_type_string] = "string",
	};

	*out = NULL;
	if (!json_object_object_get_ex(doc, key, &v) || !v) {
		if (required)
			return vs_fail(e, EINVAL, "%s: %s: required field missing", what, key);
		return 0;
	}
	if (!json_object_is_type(v, type))
		return vs_fail(e, EINVAL, "%s: %s: expected %s, got %s", what, key, names[type],
			       vs_json_type_name(v));
	*out = v;
	return 0;
}

static void hook_list_free(struct ct_hook *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ct_hook_clear(&h[i]);
	free(h);
}

void ct_spec_free(struct ct_spec *s)
{
	if (!s)
		return;
	if (s->json)
		json_object_put(s->json);
	free(s->oci_version);
	free(s->root_path);
	free(s->hostname);
	free(s->domainname);
	for (size_t i = 0; i < s->n_mounts; i++) {
		struct ct_mount *m = &s->mounts[i];

		free(m->destination);
		free(m->type);
		free(m->source);
		vs_strvfreep(&m->options);
		free(m->uid_mappings);
		free(m->gid_mappings);
	}
	free(s->mounts);
	ct_process_free(s->process);
	ct_linux_clear(&s->lnx);
	hook_list_free(s->hooks.prestart, s->hooks.n_prestart);
	hook_list_free(s->hooks.create_runtime, s->hooks.n_create_runtime);
	hook_list_free(s->hooks.create_container, s->hooks.n_create_container);
	hook_list_free(s->hooks.start_container, s->hooks.n_start_container);
	hook_list_free(s->hooks.poststart, s->hooks.n_poststart);
	hook_list_free(s->hooks.poststop, s->hooks.n_poststop);
	ct_kv_free(s->annotations, s->n_annotations);
	free(s);
}

/* config.md "Specification version": SemVer, and we implement 1.x. */
static int check_version(const char *what, const char *v, struct vs_err *e)
{
	const char *p = v;

	if (strncmp(p, "1.", 2))
		goto bad;
	p += 2;
	if (*p < '0' || *p > '9')
		goto bad;
	while (*p >= '0' && *p <= '9')
		p++;
	/* a patch level and pre-release/build suffixes ("1.0.2-dev") are fine */
	if (*p && *p != '.' && *p != '-' && *p != '+')
		goto bad;
	return 0;
bad:
	return vs_fail(e, EINVAL, "%s: ociVersion: unsupported version \"%s\" (need 1.x)", what, v);
}

static int parse_root(struct json_object *doc, const char *what, struct ct_spec *s,
		      struct vs_err *e)
{
	struct json_object *root;
	char w[CT_WHERE_MAX];

	if (top_field(doc, what, "root", json_type_object, true, &root, e) < 0)
		return -1;
	snprintf(w, sizeof(w), "%s: root", what);
	if (ct_json_dup_str(root, w, "path", true, &s->root_path, e) < 0 ||
	    vs_json_get_bool(root, w, "readonly", false, &s->root_readonly, e) < 0)
		return -1;
	if (!s->root_path[0])
		return vs_fail(e, EINVAL, "%s.path: must not be empty", w);
	return 0;
}

static int parse_mounts(struct json_object *doc, const char *what, struct ct_spec *s,
			struct vs_err *e)
{
	struct json_object *arr;
	size_t n;

	if (top_field(doc, what, "mounts", json_type_array, false, &arr, e) < 0)
		return -1;
	if (!arr)
		return 0;
	n = json_object_array_length(arr);
	s->mounts = calloc(n ? n : 1, sizeof(*s->mounts));
	if (!s->mounts)
		return vs_fail(e, ENOMEM, "%s: mounts: out of memory", what);
	for (size_t i = 0; i < n; i++) {
		struct ct_mount *m = &s->mounts[i];
		struct json_object *o = json_object_array_get_idx(arr, i);
		char w[CT_WHERE_MAX];

		snprintf(w, sizeof(w), "%s: mounts[%zu]", what, i);
		if (!o || !json_object_is_type(o, json_type_object))
			return vs_fail(e, EINVAL, "%s: expected object, got %s", w,
				       o ? vs_json_type_name(o) : "null");
		s->n_mounts++;
		if (ct_json_dup_str(o, w, "destination", true, &m->destination, e) < 0 ||
		    ct_json_dup_str(o, w, "type", false, &m->type, e) < 0 ||
		    ct_json_dup_str(o, w, "source", false, &m->source, e) < 0 ||
		    vs_json_get_strv(o, w, "options", false, &m->options, e) < 0)
			return -1;
		if (m->destination[0] != '/')
			return vs_fail(e, EINVAL, "%s.destination: must be an absolute path", w);
		if (ct_id_maps_parse(o, w, "uidMappings", &m->uid_mappings, &m->n_uid_mappings, e) <
			    0 ||
		    ct_id_maps_parse(o, w, "gidMappings", &m->gid_mappings, &m->n_gid_mappings, e) <
			    0)
			return -1;
	}
	return 0;
}

static int parse_hook_list(struct json_object *hooks, const char *where, const char *key,
			   struct ct_hook **out, size_t *count, struct vs_err *e)
{
	struct json_object *arr = NULL;
	size_t n;

	if (vs_json_get_array(hooks, where, key, false, &arr, e) < 0)
		return -1;
	if (!arr)
		return 0;
	n = json_object_array_length(arr);
	*out = calloc(n ? n : 1, sizeof(**out));
	if (!*out)
		return vs_fail(e, ENOMEM, "%s.%s: out of memory", where, key);
	for (size_t i = 0; i < n; i++) {
		struct ct_hook *h = &(*out)[i];
		struct json_object *o;
		char w[CT_WHERE_MAX];
		int64_t t = 0;

		if (ct_json_elem_obj(arr, where, key, i, &o, e) < 0)
			return -1;
		snprintf(w, sizeof(w), "%s.%s[%zu]", where, key, i);
		(*count)++;
		if (ct_json_dup_str(o, w, "path", true, &h->path, e) < 0)
			return -1;
		/* config.md "POSIX-platform Hooks": path is absolute */
		if (h->path[0] != '/')
			return vs_fail(e, EINVAL, "%s.path: \"%s\" must be an absolute path", w,
				       h->path);
		if (vs_json_get_strv(o, w, "args", false, &h->args, e) < 0 ||
		    vs_json_get_strv(o, w, "env", false, &h->env, e) < 0)
			return -1;
		for (size_t k = 0; h->env && h->env[k]; k++)
			if (!strchr(h->env[k], '=') || h->env[k][0] == '=')
				return vs_fail(e, EINVAL,
					       "%s.env[%zu]: \"%s\" is not of the form KEY=value",
					       w, k, h->env[k]);
		/* timeout "MUST be greater than zero" */
		if (ct_json_has(o, "timeout")) {
			if (vs_json_get_i64(o, w, "timeout", true, &t, e) < 0)
				return -1;
			if (t <= 0)
				return vs_fail(e, EINVAL, "%s.timeout: %lld must be greater than 0",
					       w, (long long)t);
			if (t > INT_MAX / 1000)
				return vs_fail(e, ERANGE, "%s.timeout: %lld s is too large", w,
					       (long long)t);
			h->timeout = (int)t;
		}
	}
	return 0;
}

static int parse_hooks(struct json_object *doc, const char *what, struct ct_spec *s,
		       struct vs_err *e)
{
	struct json_object *hooks;
	struct ct_hooks *h = &s->hooks;
	char w[CT_WHERE_MAX];

	if (top_field(doc, what, "hooks", json_type_object, false, &hooks, e) < 0)
		return -1;
	if (!hooks)
		return 0;
	snprintf(w, sizeof(w), "%s: hooks", what);
	if (parse_hook_list(hooks, w, "prestart", &h->prestart, &h->n_prestart, e) < 0 ||
	    parse_hook_list(hooks, w, "createRuntime", &h->create_runtime, &h->n_create_runtime,
			    e) < 0 ||
	    parse_hook_list(hooks, w, "createContainer", &h->create_container,
			    &h->n_create_container, e) < 0 ||
	    parse_hook_list(hooks, w, "startContainer", &h->start_container, &h->n_start_container,
			    e) < 0 ||
	    parse_hook_list(hooks, w, "poststart", &h->poststart, &h->n_poststart, e) < 0 ||
	    parse_hook_list(hooks, w, "poststop", &h->poststop, &h->n_poststop, e) < 0)
		return -1;
	return 0;
}

/* config.md "Annotations": values MUST be strings, keys MUST NOT be empty. */
static int parse_annotations(struct json_object *doc, const char *what, struct ct_spec *s,
			     struct vs_err *e)
{
	struct json_object *a;
	char w[CT_WHERE_MAX];

	if (top_field(doc, what, "annotations", json_type_object, false, &a, e) < 0)
		return -1;
	if (!a)
		return 0;
	json_object_object_foreach(a, k, v)
	{
		(void)v;
		if (!k[0])
			return vs_fail(e, EINVAL, "%s: annotations: keys must not be empty", what);
	}
	snprintf(w, sizeof(w), "%s: annotations", what);
	return ct_kv_from_map(a, w, &s->annotations, &s->n_annotations, e);
}

const char *ct_spec_annotation(const struct ct_spec *s, const char *key)
{
	for (size_t i = 0; i < s->n_annotations; i++)
		if (!strcmp(s->annotations[i].key, key))
			return s->annotations[i].value;
	return NULL;
}

static int parse_doc(struct json_object *doc, const char *what, struct ct_spec *s, struct vs_err *e)
{
	struct json_object *v;
	char w[CT_WHERE_MAX];

	if (!json_object_is_type(doc, json_type_object))
		return vs_fail(e, EINVAL, "%s: expected a JSON object, got %s", what,
			       vs_json_type_name(doc));
	if (top_field(doc, what, "ociVersion", json_type_string, true, &v, e) < 0)
		return -1;
	s->oci_version = strdup(json_object_get_string(v));
	if (!s->oci_version)
		return vs_fail(e, ENOMEM, "%s: out of memory", what);
	if (check_version(what, s->oci_version, e) < 0)
		return -1;
	if (parse_root(doc, what, s, e) < 0)
		return -1;
	if (top_field(doc, what, "hostname", json_type_string, false, &v, e) < 0)
		return -1;
	if (v && !(s->hostname = strdup(json_object_get_string(v))))
		return vs_fail(e, ENOMEM, "%s: out of memory", what);
	if (top_field(doc, what, "domainname", json_type_string, false, &v, e) < 0)
		return -1;
	if (v && !(s->domainname = strdup(json_object_get_string(v))))
		return vs_fail(e, ENOMEM, "%s: out of memory", what);
	if (parse_mounts(doc, what, s, e) < 0)
		return -1;

	if (top_field(doc, what, "process", json_type_object, false, &v, e) < 0)
		return -1;
	snprintf(w, sizeof(w), "%s: process", what);
	if (v && ct_process_parse(v, w, &s->process, e) < 0)
		return -1;

	if (top_field(doc, what, "linux", json_type_object, false, &v, e) < 0)
		return -1;
	snprintf(w, sizeof(w), "%s: linux", what);
	if (ct_linux_parse(v, w, &s->lnx, e) < 0)
		return -1;

	/* sethostname(2)/setdomainname(2) would change the host's names */
	if (s->hostname && s->hostname[0] && !ct_spec_has_ns(s, CT_NS_UTS))
		return vs_fail(e, EINVAL, "%s: hostname: set but no uts namespace is requested",
			       what);
	if (s->domainname && s->domainname[0] && !ct_spec_has_ns(s, CT_NS_UTS))
		return vs_fail(e, EINVAL, "%s: domainname: set but no uts namespace is requested",
			       what);

	if (parse_hooks(doc, what, s, e) < 0 || parse_annotations(doc, what, s, e) < 0)
		return -1;
	return 0;
}

int ct_spec_parse(const char *what, const char *buf, size_t len, struct ct_spec **out,
		  struct vs_err *e)
{
	struct ct_spec *s;
	struct json_object *doc = NULL;

	if (vs_json_parse(what, buf, len, &doc, e) < 0)
		return -1;
	s = calloc(1, sizeof(*s));
	if (!s) {
		json_object_put(doc);
		return vs_fail(e, ENOMEM, "%s: out of memory", what);
	}
	s->json = doc;
	if (parse_doc(doc, what, s, e) < 0) {
		ct_spec_free(s);
		return -1;
	}
	*out = s;
	return 0;
}

int ct_spec_load(const char *bundle, struct ct_spec **out, struct vs_err *e)
{
	autofree char *path = vs_path_join(bundle, "config.json");
	autofree char *buf = NULL;
	size_t len;

	if (vs_read_file(path, &buf, &len, e) < 0)
		return -1;
	return ct_spec_parse(path, buf, len, out, e);
}
