/* The machine description: command-line flags and the JSON config file fill
 * one struct vm_config; vm_config_validate() does the cross-field checks.
 * Every error names the flag or JSON field (and file) at fault. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vessel/cleanup.h"
#include "vessel/fs.h"
#include "vessel/json.h"
#include "vmm/config.h"
#include "vmm/layout.h"

#define MEM_MIN	    (1ull << 20)
#define MEM_MAX	    (1ull << 40)
#define DISK_ID_MAX 20 /* virtio 1.2 §5.2.6: VIRTIO_BLK_ID_BYTES */

void vm_config_init(struct vm_config *c)
{
	memset(c, 0, sizeof(*c));
	c->cpus = 1;
	c->mem_size = 128ull << 20;
	c->serial.kind = VM_CONSOLE_STDOUT;
	c->console.kind = VM_CONSOLE_NONE;
}

static void replace_str(char **dst, const char *src)
{
	free(*dst);
	*dst = src ? strdup(src) : NULL;
	if (src && !*dst)
		abort(); /* out of memory at start-up: nothing to recover */
}

void vm_config_free(struct vm_config *c)
{
	free(c->kernel);
	free(c->initrd);
	free(c->cmdline);
	for (unsigned i = 0; i < c->nr_disks; i++) {
		free(c->disks[i].path);
		free(c->disks[i].id);
	}
	for (unsigned i = 0; i < c->nr_nets; i++)
		free(c->nets[i].tap);
	free(c->vsock.uds_path);
	free(c->serial.path);
	free(c->console.path);
	free(c->control_socket);
	free(c->host_profile);
	free(c->restore);
	free(c->migrate_listen);
	for (unsigned i = 0; i < c->nr_identity; i++) {
		free(c->identity[i].key);
		free(c->identity[i].value);
	}
	memset(c, 0, sizeof(*c));
}

/* --- value parsers shared by flags and JSON ---------------------------- */

/* "128M", "1G", "4096K"; a bare number is MiB, as QEMU's -m reads it. */
static int parse_mem(const char *what, const char *s, uint64_t *out, struct vs_err *e)
{
	unsigned long long v;
	size_t n = strlen(s);

	if (n && isdigit((unsigned char)s[n - 1])) {
		char *end;

		errno = 0;
		v = strtoull(s, &end, 10);
		if (errno || *end || !isdigit((unsigned char)*s) || v > (~0ull >> 20))
			return vs_fail(e, EINVAL, "%s: invalid size \"%s\"", what, s);
		v <<= 20;
	} else if (vs_parse_size(s, &v) < 0) {
		return vs_fail(e, EINVAL, "%s: invalid size \"%s\" (use e.g. 512M, 2G)", what, s);
	}
	*out = v;
	return 0;
}

static int parse_uint(const char *what, const char *s, uint64_t max, uint64_t *out,
		      struct vs_err *e)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (!isdigit((unsigned char)*s))
		return vs_fail(e, EINVAL, "%s: expected a number, got \"%s\"", what, s);
	v = strtoull(s, &end, 0);
	if (errno || *end || v > max)
		return vs_fail(e, EINVAL, "%s: invalid number \"%s\"", what, s);
	*out = v;
	return 0;
}

static int parse_mac(const char *what, const char *s, uint8_t mac[6], struct vs_err *e)
{
	unsigned b[6];
	char tail;

	if (strlen(s) != 17 || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
				      &b[4], &b[5], &tail) != 6)
		return vs_fail(e, EINVAL, "%s: invalid MAC \"%s\" (want xx:xx:xx:xx:xx:xx)", what,
			       s);
	if (b[0] & 1)
		return vs_fail(e, EINVAL, "%s: MAC %s is a multicast address", what, s);
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

/* stdout | file:PATH | pty | none */
static int parse_console(const char *what, const char *s, struct vm_console_cfg *out,
			 struct vs_err *e)
{
	struct vm_console_cfg c = {0};

	if (!strcmp(s, "stdout"))
		c.kind = VM_CONSOLE_STDOUT;
	else if (!strcmp(s, "pty"))
		c.kind = VM_CONSOLE_PTY;
	else if (!strcmp(s, "none"))
		c.kind = VM_CONSOLE_NONE;
	else if (!strncmp(s, "file:", 5) && s[5])
		c.kind = VM_CONSOLE_FILE;
	else
		return vs_fail(e, EINVAL, "%s: \"%s\": expected stdout, file:PATH, pty or none",
			       what, s);
	free(out->path);
	out->path = NULL;
	out->kind = c.kind;
	if (c.kind == VM_CONSOLE_FILE)
		replace_str(&out->path, s + 5);
	return 0;
}

static int parse_backend(const char *what, const char *s, struct vm_config *c, struct vs_err *e)
{
	if (!strcmp(s, "anon"))
		c->mem_memfd = false;
	else if (!strcmp(s, "memfd"))
		c->mem_memfd = true;
	else if (!strcmp(s, "uffd"))
		c->restore_uffd = true; /* with --restore: lazy pages */
	else
		return vs_fail(e, EINVAL, "%s: \"%s\": expected anon, memfd or uffd", what, s);
	return 0;
}

/* KEY=VALUE; the key becomes the fw_cfg file name opt/vessel/KEY. */
static int parse_identity(struct vm_config *c, const char *s, struct vs_err *e)
{
	const char *eq = strchr(s, '=');
	size_t klen = eq ? (size_t)(eq - s) : 0;

	if (!eq || klen == 0 || klen > 40 || strcspn(s, "/") < klen)
		return vs_fail(e, EINVAL,
			       "--identity %s: expected KEY=VALUE (key 1..40 characters, "
			       "no '/')",
			       s);
	if (c->nr_identity == VM_MAX_IDENTITY)
		return vs_fail(e, E2BIG, "--identity: at most %d", VM_MAX_IDENTITY);
	for (unsigned i = 0; i < c->nr_identity; i++)
		if (strlen(c->identity[i].key) == klen && !strncmp(c->identity[i].key, s, klen))
			return vs_fail(e, EEXIST, "--identity %.*s given twice", (int)klen, s);
	c->identity[c->nr_identity].key = strndup(s, klen);
	c->identity[c->nr_identity].value = strdup(eq + 1);
	if (!c->identity[c->nr_identity].key || !c->identity[c->nr_identity].value)
		abort(); /* out of memory at start-up */
	c->nr_identity++;
	return 0;
}

static int parse_profile(const char *what, const char *s, struct vm_config *c, struct vs_err *e)
{
	if (strcmp(s, "auto") && strcmp(s, "none") && strcmp(s, "pvm"))
		return vs_fail(e, EINVAL, "%s: \"%s\": expected auto, none or pvm", what, s);
	/* NULL is auto: detect at start-up */
	replace_str(&c->host_profile, strcmp(s, "auto") ? s : NULL);
	return 0;
}

static int add_disk(struct vm_config *c, const char *what, const char *path, bool ro,
		    const char *id, struct vs_err *e)
{
	if (c->nr_disks >= VM_MAX_DISKS)
		return vs_fail(e, E2BIG, "%s: more than %d disks", what, VM_MAX_DISKS);
	if (!*path)
		return vs_fail(e, EINVAL, "%s: empty path", what);
	if (id && strlen(id) > DISK_ID_MAX)
		return vs_fail(e, EINVAL, "%s: id \"%s\" longer than %d bytes", what, id,
			       DISK_ID_MAX);
	struct vm_disk_cfg *d = &c->disks[c->nr_disks++];
	d->path = NULL;
	d->id = NULL;
	replace_str(&d->path, path);
	replace_str(&d->id, id);
	d->readonly = ro;
	return 0;
}

static int add_net(struct vm_config *c, const char *what, const char *tap, const char *mac,
		   struct vs_err *e)
{
	uint8_t m[6];

	if (c->nr_nets >= VM_MAX_NETS)
		return vs_fail(e, E2BIG, "%s: more than %d network devices", what, VM_MAX_NETS);
	if (!tap || !*tap)
		return vs_fail(e, EINVAL, "%s: tap=NAME is required", what);
	if (strlen(tap) >= IFNAMSIZ)
		return vs_fail(e, EINVAL, "%s: tap name \"%s\" longer than %d bytes", what, tap,
			       IFNAMSIZ - 1);
	if (mac && parse_mac(what, mac, m, e) < 0)
		return -1;
	struct vm_net_cfg *n = &c->nets[c->nr_nets++];
	n->tap = NULL;
	replace_str(&n->tap, tap);
	n->has_mac = mac != NULL;
	if (mac)
		memcpy(n->mac, m, 6);
	return 0;
}

/* --- command line ------------------------------------------------------- */

/* "PATH[,ro][,id=X]" */
static int parse_disk_opt(struct vm_config *c, const char *arg, struct vs_err *e)
{
	autofree char *s = strdup(arg);
	char *save = NULL, *path, *tok;
	const char *id = NULL;
	bool ro = false;

	if (!s)
		abort();
	path = strtok_r(s, ",", &save);
	if (!path)
		return vs_fail(e, EINVAL, "--disk: empty path");
	while ((tok = strtok_r(NULL, ",", &save))) {
		if (!strcmp(tok, "ro") || !strcmp(tok, "readonly"))
			ro = true;
		else if (!strncmp(tok, "id=", 3))
			id = tok + 3;
		else
			return vs_fail(e, EINVAL, "--disk %s: unknown option \"%s\"", arg, tok);
	}
	return add_disk(c, "--disk", path, ro, id, e);
}

/* "tap=NAME[,mac=xx:..]" */
static int parse_net_opt(struct vm_config *c, const char *arg, struct vs_err *e)
{
	autofree char *s = strdup(arg);
	char *save = NULL, *tok;
	const char *tap = NULL, *mac = NULL;

	if (!s)
		abort();
	for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strncmp(tok, "tap=", 4))
			tap = tok + 4;
		else if (!strncmp(tok, "mac=", 4))
			mac = tok + 4;
		else
			return vs_fail(e, EINVAL, "--net %s: unknown option \"%s\"", arg, tok);
	}
	return add_net(c, "--net", tap, mac, e);
}

/* "cid=N,path=P" */
static int parse_vsock_opt(struct vm_config *c, const char *arg, struct vs_err *e)
{
	autofree char *s = strdup(arg);
	char *save = NULL, *tok;
	uint64_t cid = 0;
	bool have_cid = false;
	const char *path = NULL;

	if (!s)
		abort();
	for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strncmp(tok, "cid=", 4)) {
			if (parse_uint("--vsock cid", tok + 4, UINT32_MAX, &cid, e) < 0)
				return -1;
			have_cid = true;
		} else if (!strncmp(tok, "path=", 5)) {
			path = tok + 5;
		} else {
			return vs_fail(e, EINVAL, "--vsock %s: unknown option \"%s\"", arg, tok);
		}
	}
	if (!have_cid || !path || !*path)
		return vs_fail(e, EINVAL, "--vsock %s: both cid=N and path=P are required", arg);
	c->vsock.enabled = true;
	c->vsock.cid = cid;
	replace_str(&c->vsock.uds_path, path);
	return 0;
}

enum opt_id {
	O_KERNEL,
	O_INITRD,
	O_CMDLINE,
	O_MEMORY,
	O_CPUS,
	O_CONFIG,
	O_DISK,
	O_NET,
	O_VSOCK,
	O_RNG,
	O_BALLOON,
	O_CONSOLE,
	O_SERIAL,
	O_CONTROL,
	O_BACKEND,
	O_HUGEPAGES,
	O_NO_SECCOMP,
	O_PROFILE,
	O_BOOT_TIMES,
	O_RESTORE,
	O_MIGRATE_LISTEN,
	O_IDENTITY,
};

static const struct {
	const char *name;
	enum opt_id id;
	bool has_arg;
} opts[] = {
	{"kernel", O_KERNEL, true},
	{"initrd", O_INITRD, true},
	{"cmdline", O_CMDLINE, true},
	{"memory", O_MEMORY, true},
	{"cpus", O_CPUS, true},
	{"config", O_CONFIG, true},
	{"disk", O_DISK, true},
	{"net", O_NET, true},
	{"vsock", O_VSOCK, true},
	{"rng", O_RNG, false},
	{"balloon", O_BALLOON, false},
	{"console", O_CONSOLE, true},
	{"serial", O_SERIAL, true},
	{"control-socket", O_CONTROL, true},
	{"memory-backend", O_BACKEND, true},
	{"hugepages", O_HUGEPAGES, false},
	{"no-seccomp", O_NO_SECCOMP, false},
	{"host-profile", O_PROFILE, true},
	{"boot-times", O_BOOT_TIMES, false},
	{"restore", O_RESTORE, true},
	{"migrate-listen", O_MIGRATE_LISTEN, true},
	{"identity", O_IDENTITY, true},
};

static int apply_opt(struct vm_config *c, enum opt_id id, const char *v, struct vs_err *e)
{
	uint64_t n;

	switch (id) {
	case O_KERNEL: replace_str(&c->kernel, v); return 0;
	case O_INITRD: replace_str(&c->initrd, v); return 0;
	case O_CMDLINE: replace_str(&c->cmdline, v); return 0;
	case O_MEMORY: return parse_mem("--memory", v, &c->mem_size, e);
	case O_CPUS:
		if (parse_uint("--cpus", v, UINT32_MAX, &n, e) < 0)
			return -1;
		c->cpus = (unsigned)n;
		return 0;
	case O_CONFIG: return vm_config_from_file(c, v, e);
	case O_DISK: return parse_disk_opt(c, v, e);
	case O_NET: return parse_net_opt(c, v, e);
	case O_VSOCK: return parse_vsock_opt(c, v, e);
	case O_RNG: c->rng = true; return 0;
	case O_BALLOON: c->balloon = true; return 0;
	case O_CONSOLE: return parse_console("--console", v, &c->console, e);
	case O_SERIAL: return parse_console("--serial", v, &c->serial, e);
	case O_CONTROL: replace_str(&c->control_socket, v); return 0;
	case O_BACKEND: return parse_backend("--memory-backend", v, c, e);
	case O_HUGEPAGES: c->mem_hugepages = true; return 0;
	case O_NO_SECCOMP: c->no_seccomp = true; return 0;
	case O_PROFILE: return parse_profile("--host-profile", v, c, e);
	case O_BOOT_TIMES: c->boot_times = true; return 0;
	case O_RESTORE: replace_str(&c->restore, v); return 0;
	case O_MIGRATE_LISTEN: replace_str(&c->migrate_listen, v); return 0;
	case O_IDENTITY: return parse_identity(c, v, e);
	}
	return vs_fail(e, EINVAL, "internal: unhandled option");
}

/* Flags apply in order, so "--config f --memory 1G" overrides the file's
 * memory; both "--flag value" and "--flag=value" work. */
int vm_config_from_args(struct vm_config *c, int argc, char **argv, struct vs_err *e)
{
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *val = NULL;
		size_t nlen;

		if (strncmp(a, "--", 2) || !a[2])
			return vs_fail(e, EINVAL, "unexpected argument \"%s\"", a);
		a += 2;
		const char *eq = strchr(a, '=');
		nlen = eq ? (size_t)(eq - a) : strlen(a);
		size_t k;
		for (k = 0; k < sizeof(opts) / sizeof(opts[0]); k++)
			if (strlen(opts[k].name) == nlen && !strncmp(opts[k].name, a, nlen))
				break;
		if (k == sizeof(opts) / sizeof(opts[0]))
			return vs_fail(e, EINVAL, "unknown option --%.*s", (int)nlen, a);
		if (opts[k].has_arg) {
			if (eq)
				val = eq + 1;
			else if (i + 1 < argc)
				val = argv[++i];
			else
				return vs_fail(e, EINVAL, "--%s: missing value", opts[k].name);
		} else if (eq) {
			return vs_fail(e, EINVAL, "--%s takes no value", opts[k].name);
		}
		if (apply_opt(c, opts[k].id, val, e) < 0)
			return -1;
	}
	return 0;
}

/* --- JSON file ---------------------------------------------------------- */

static int json_str_field(struct json_object *o, const char *file, const char *key, char **dst,
			  struct vs_err *e);

/* Unknown keys are refused: a typo ("vcpu") must not silently become a
 * default. */
static int check_keys(struct json_object *obj, const char *file, const char *field,
		      const char *const *known, struct vs_err *e)
{
	json_object_object_foreach(obj, key, val)
	{
		(void)val;
		bool ok = false;
		for (const char *const *k = known; *k; k++)
			if (!strcmp(*k, key))
				ok = true;
		if (!ok)
			return vs_fail(e, EINVAL, "%s: %s%sunknown field \"%s\"", file, field,
				       *field ? ": " : "", key);
	}
	return 0;
}

/* The value at key, of type want; NULL when absent. field is the dotted
 * path used in messages ("disks[1].readonly"). */
static int jget(struct json_object *o, const char *file, const char *field, const char *key,
		json_type want, struct json_object **out, struct vs_err *e)
{
	struct json_object *v = NULL;
	char name[160];

	*out = NULL;
	snprintf(name, sizeof(name), "%s%s%s", field, *field ? "." : "", key);
	if (!json_object_object_get_ex(o, key, &v) || !v)
		return 0;
	/* a whole number written as 2.0 is still not an integer: be strict */
	if (!json_object_is_type(v, want))
		return vs_fail(e, EINVAL, "%s: %s: expected %s, got %s", file, name,
			       json_type_to_name(want), json_type_to_name(json_object_get_type(v)));
	*out = v;
	return 0;
}

static int jstr(struct json_object *o, const char *file, const char *field, const char *key,
		const char **out, struct vs_err *e)
{
	struct json_object *v;

	*out = NULL;
	if (jget(o, file, field, key, json_type_string, &v, e) < 0)
		return -1;
	if (v)
		*out = json_object_get_string(v);
	return 0;
}

static int jbool(struct json_object *o, const char *file, const char *field, const char *key,
		 bool *out, struct vs_err *e)
{
	struct json_object *v;

	if (jget(o, file, field, key, json_type_boolean, &v, e) < 0)
		return -1;
	if (v)
		*out = json_object_get_boolean(v);
	return 0;
}

/* Non-negative integer up to max; *present tells whether the key was there. */
static int juint(struct json_object *o, const char *file, const char *field, const char *key,
		 uint64_t max, uint64_t *out, bool *present, struct vs_err *e)
{
	struct json_object *v;

	*present = false;
	if (jget(o, file, field, key, json_type_int, &v, e) < 0)
		return -1;
	if (!v)
		return 0;
	errno = 0;
	int64_t i = json_object_get_int64(v);
	if (i < 0 || (uint64_t)i > max || (errno == ERANGE))
		return vs_fail(e, EINVAL, "%s: %s%s%s: %lld out of range 0..%llu", file, field,
			       *field ? "." : "", key, (long long)i, (unsigned long long)max);
	*out = (uint64_t)i;
	*present = true;
	return 0;
}

static int json_disks(struct vm_config *c, struct json_object *root, const char *file,
		      struct vs_err *e)
{
	static const char *const keys[] = {"path", "readonly", "id", NULL};
	struct json_object *arr;

	if (jget(root, file, "", "disks", json_type_array, &arr, e) < 0)
		return -1;
	for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
		struct json_object *d = json_object_array_get_idx(arr, i);
		char field[32], what[200];
		const char *path = NULL, *id = NULL;
		bool ro = false;

		snprintf(field, sizeof(field), "disks[%zu]", i);
		if (!json_object_is_type(d, json_type_object))
			return vs_fail(e, EINVAL, "%s: %s: expected object", file, field);
		if (check_keys(d, file, field, keys, e) < 0)
			return -1;
		if (jstr(d, file, field, "path", &path, e) < 0 ||
		    jbool(d, file, field, "readonly", &ro, e) < 0 ||
		    jstr(d, file, field, "id", &id, e) < 0)
			return -1;
		if (!path)
			return vs_fail(e, EINVAL, "%s: %s.path: required field missing", file,
				       field);
		snprintf(what, sizeof(what), "%s: %s", file, field);
		if (add_disk(c, what, path, ro, id, e) < 0)
			return -1;
	}
	return 0;
}

static int json_nets(struct vm_config *c, struct json_object *root, const char *file,
		     struct vs_err *e)
{
	static const char *const keys[] = {"tap", "mac", NULL};
	struct json_object *arr;

	if (jget(root, file, "", "nets", json_type_array, &arr, e) < 0)
		return -1;
	for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
		struct json_object *n = json_object_array_get_idx(arr, i);
		char field[32], what[200];
		const char *tap = NULL, *mac = NULL;

		snprintf(field, sizeof(field), "nets[%zu]", i);
		if (!json_object_is_type(n, json_type_object))
			return vs_fail(e, EINVAL, "%s: %s: expected object", file, field);
		if (check_keys(n, file, field, keys, e) < 0 ||
		    jstr(n, file, field, "tap", &tap, e) < 0 ||
		    jstr(n, file, field, "mac", &mac, e) < 0)
			return -1;
		snprintf(what, sizeof(what), "%s: %s", file, field);
		if (add_net(c, what, tap, mac, e) < 0)
			return -1;
	}
	return 0;
}

static int json_vsock(struct vm_config *c, struct json_object *root, const char *file,
		      struct vs_err *e)
{
	static const char *const keys[] = {"cid", "uds_path", NULL};
	struct json_object *v;
	const char *path = NULL;
	uint64_t cid = 0;
	bool has_cid;

	if (jget(root, file, "", "vsock", json_type_object, &v, e) < 0)
		return -1;
	if (!v)
		return 0;
	if (check_keys(v, file, "vsock", keys, e) < 0 ||
	    juint(v, file, "vsock", "cid", UINT32_MAX, &cid, &has_cid, e) < 0 ||
	    jstr(v, file, "vsock", "uds_path", &path, e) < 0)
		return -1;
	if (!has_cid)
		return vs_fail(e, EINVAL, "%s: vsock.cid: required field missing", file);
	if (!path || !*path)
		return vs_fail(e, EINVAL, "%s: vsock.uds_path: required field missing", file);
	c->vsock.enabled = true;
	c->vsock.cid = cid;
	replace_str(&c->vsock.uds_path, path);
	return 0;
}

/* "console": {"serial": "stdout|file:P|pty|none", "virtio": "..."} */
static int json_console(struct vm_config *c, struct json_object *root, const char *file,
			struct vs_err *e)
{
	static const char *const keys[] = {"serial", "virtio", NULL};
	struct json_object *v;
	const char *s = NULL;
	char what[200];

	if (jget(root, file, "", "console", json_type_object, &v, e) < 0)
		return -1;
	if (!v)
		return 0;
	if (check_keys(v, file, "console", keys, e) < 0)
		return -1;
	if (jstr(v, file, "console", "serial", &s, e) < 0)
		return -1;
	snprintf(what, sizeof(what), "%s: console.serial", file);
	if (s && parse_console(what, s, &c->serial, e) < 0)
		return -1;
	if (jstr(v, file, "console", "virtio", &s, e) < 0)
		return -1;
	snprintf(what, sizeof(what), "%s: console.virtio", file);
	if (s && parse_console(what, s, &c->console, e) < 0)
		return -1;
	return 0;
}

static int config_from_root(struct vm_config *c, const char *path, struct json_object *root,
			    struct vs_err *e);

int vm_config_from_file(struct vm_config *c, const char *path, struct vs_err *e)
{
	autojson struct json_object *root = NULL;

	if (vs_json_load_file(path, &root, e) < 0)
		return -1;
	return config_from_root(c, path, root, e);
}

int vm_config_from_json(struct vm_config *c, const char *what, const char *buf, size_t len,
			struct vs_err *e)
{
	autojson struct json_object *root = NULL;

	if (vs_json_parse(what, buf, len, &root, e) < 0)
		return -1;
	return config_from_root(c, what, root, e);
}

static int config_from_root(struct vm_config *c, const char *path, struct json_object *root,
			    struct vs_err *e)
{
	static const char *const keys[] = {
		"vcpus",	  "memory",    "kernel",  "initrd",
		"cmdline",	  "disks",     "nets",	  "vsock",
		"console",	  "rng",       "balloon", "control_socket",
		"memory_backend", "hugepages", "seccomp", "host_profile",
		"boot_times",	  NULL,
	};
	struct json_object *v;
	const char *s;
	uint64_t n;
	bool has, b;
	char what[200];

	if (!json_object_is_type(root, json_type_object))
		return vs_fail(e, EINVAL, "%s: expected a JSON object at the top", path);
	if (check_keys(root, path, "", keys, e) < 0)
		return -1;

	if (juint(root, path, "", "vcpus", UINT32_MAX, &n, &has, e) < 0)
		return -1;
	if (has)
		c->cpus = (unsigned)n;
	/* memory: integer MiB or a size string */
	if (json_object_object_get_ex(root, "memory", &v) && v) {
		snprintf(what, sizeof(what), "%s: memory", path);
		if (json_object_is_type(v, json_type_string)) {
			if (parse_mem(what, json_object_get_string(v), &c->mem_size, e) < 0)
				return -1;
		} else if (json_object_is_type(v, json_type_int)) {
			int64_t mib = json_object_get_int64(v);
			if (mib <= 0 || mib > (int64_t)(MEM_MAX >> 20))
				return vs_fail(e, EINVAL, "%s: %lld MiB out of range", what,
					       (long long)mib);
			c->mem_size = (uint64_t)mib << 20;
		} else {
			return vs_fail(e, EINVAL,
				       "%s: expected string (\"512M\") or integer (MiB), got %s",
				       what, json_type_to_name(json_object_get_type(v)));
		}
	}
	if (json_str_field(root, path, "kernel", &c->kernel, e) < 0 ||
	    json_str_field(root, path, "initrd", &c->initrd, e) < 0 ||
	    json_str_field(root, path, "cmdline", &c->cmdline, e) < 0 ||
	    json_str_field(root, path, "control_socket", &c->control_socket, e) < 0)
		return -1;
	if (json_disks(c, root, path, e) < 0 || json_nets(c, root, path, e) < 0 ||
	    json_vsock(c, root, path, e) < 0 || json_console(c, root, path, e) < 0)
		return -1;
	if (jbool(root, path, "", "rng", &c->rng, e) < 0 ||
	    jbool(root, path, "", "balloon", &c->balloon, e) < 0 ||
	    jbool(root, path, "", "hugepages", &c->mem_hugepages, e) < 0 ||
	    jbool(root, path, "", "boot_times", &c->boot_times, e) < 0)
		return -1;
	b = !c->no_seccomp;
	if (jbool(root, path, "", "seccomp", &b, e) < 0)
		return -1;
	c->no_seccomp = !b;
	if (jstr(root, path, "", "memory_backend", &s, e) < 0)
		return -1;
	snprintf(what, sizeof(what), "%s: memory_backend", path);
	if (s && parse_backend(what, s, c, e) < 0)
		return -1;
	if (jstr(root, path, "", "host_profile", &s, e) < 0)
		return -1;
	snprintf(what, sizeof(what), "%s: host_profile", path);
	if (s && parse_profile(what, s, c, e) < 0)
		return -1;
	return 0;
}

static int json_str_field(struct json_object *o, const char *file, const char *key, char **dst,
			  struct vs_err *e)
{
	const char *s;

	if (jstr(o, file, "", key, &s, e) < 0)
		return -1;
	if (s)
		replace_str(dst, s);
	return 0;
}

/* --- validation ---------------------------------------------------------- */

static int check_readable_file(const char *what, const char *path, struct vs_err *e)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return vs_fail_errno(e, "%s %s", what, path);
	if (S_ISDIR(st.st_mode))
		return vs_fail(e, EISDIR, "%s %s: is a directory", what, path);
	if (access(path, R_OK) < 0)
		return vs_fail_errno(e, "%s %s", what, path);
	return 0;
}

int vm_config_validate(const struct vm_config *c, struct vs_err *e)
{
	if (c->cpus < 1 || c->cpus > VM_MAX_CPUS)
		return vs_fail(e, EINVAL, "cpus: %u out of range 1..%d", c->cpus, VM_MAX_CPUS);
	if (c->mem_size < MEM_MIN || c->mem_size > MEM_MAX)
		return vs_fail(e, EINVAL, "memory: %llu bytes out of range 1M..1T",
			       (unsigned long long)c->mem_size);
	if (c->mem_size & 0xfff)
		return vs_fail(e, EINVAL, "memory: %llu bytes is not a multiple of 4K",
			       (unsigned long long)c->mem_size);
	if (c->mem_hugepages && (c->mem_size & ((2ull << 20) - 1)))
		return vs_fail(e, EINVAL, "memory: %llu bytes is not a multiple of 2M (hugepages)",
			       (unsigned long long)c->mem_size);
	if (c->restore && c->migrate_listen)
		return vs_fail(e, EINVAL,
			       "--restore and --migrate-listen: one source of state only");
	if (c->restore_uffd && !c->restore)
		return vs_fail(e, EINVAL, "--memory-backend uffd: only with --restore");
	/* a restored or received VM brings its memory: no kernel to load */
	if (!c->kernel && !c->restore && !c->migrate_listen)
		return vs_fail(e, EINVAL, "no kernel given (--kernel FILE or \"kernel\")");
	if (c->kernel && check_readable_file("kernel", c->kernel, e) < 0)
		return -1;
	if (c->initrd && check_readable_file("initrd", c->initrd, e) < 0)
		return -1;
	if (c->cmdline && strlen(c->cmdline) >= VM_CMDLINE_MAX)
		return vs_fail(e, E2BIG, "cmdline: %zu bytes, at most %d", strlen(c->cmdline),
			       (int)VM_CMDLINE_MAX - 1);
	for (unsigned i = 0; i < c->nr_disks; i++) {
		char what[32];

		snprintf(what, sizeof(what), "disk %u", i);
		if (check_readable_file(what, c->disks[i].path, e) < 0)
			return -1;
		if (!c->disks[i].readonly && access(c->disks[i].path, W_OK) < 0)
			return vs_fail_errno(e, "disk %u %s: not writable (add ,ro?)", i,
					     c->disks[i].path);
	}
	if (c->vsock.enabled) {
		if (c->vsock.cid < 3 || c->vsock.cid > 0xfffffffe)
			return vs_fail(e, EINVAL, "vsock: cid %llu out of range 3..4294967294",
				       (unsigned long long)c->vsock.cid);
		/* room for "_PORT" suffixes the device appends */
		if (strlen(c->vsock.uds_path) + 12 > sizeof(((struct sockaddr_un *)0)->sun_path))
			return vs_fail(e, ENAMETOOLONG, "vsock: path %s too long",
				       c->vsock.uds_path);
	}
	if (c->control_socket) {
		struct stat st;

		if (strlen(c->control_socket) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			return vs_fail(e, ENAMETOOLONG, "control socket %s: path too long",
				       c->control_socket);
		if (lstat(c->control_socket, &st) == 0)
			return vs_fail(e, EEXIST, "control socket %s: already exists",
				       c->control_socket);
	}
	for (int k = 0; k < 2; k++) {
		const struct vm_console_cfg *cc = k ? &c->console : &c->serial;
		if (cc->kind == VM_CONSOLE_FILE && (!cc->path || !*cc->path))
			return vs_fail(e, EINVAL, "%s: file: needs a path",
				       k ? "console" : "serial");
	}
	return 0;
}
