/*
 * The config.json that `vessel-runtime spec` writes: a conservative starting
 * point (a shell in ./rootfs, few capabilities, the usual kernel filesystems,
 * /proc and /sys holes masked) that a user edits.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vessel/json.h"
#include "runtime/spec.h"

static const char default_json[] =
	"{"
	"\"ociVersion\": \"1.2.0\","
	"\"process\": {"
	"  \"terminal\": true,"
	"  \"user\": {\"uid\": 0, \"gid\": 0},"
	"  \"args\": [\"sh\"],"
	"  \"env\": [\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\","
	"            \"TERM=xterm\"],"
	"  \"cwd\": \"/\","
	"  \"capabilities\": {"
	"    \"bounding\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"],"
	"    \"effective\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"],"
	"    \"permitted\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"]"
	"  },"
	"  \"rlimits\": [{\"type\": \"RLIMIT_NOFILE\", \"hard\": 1024, \"soft\": 1024}],"
	"  \"noNewPrivileges\": true"
	"},"
	"\"root\": {\"path\": \"rootfs\", \"readonly\": true},"
	"\"hostname\": \"vessel\","
	"\"mounts\": ["
	"  {\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"},"
	"  {\"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\","
	"   \"options\": [\"nosuid\", \"strictatime\", \"mode=755\", \"size=65536k\"]},"
	"  {\"destination\": \"/dev/pts\", \"type\": \"devpts\", \"source\": \"devpts\","
	"   \"options\": [\"nosuid\", \"noexec\", \"newinstance\", \"ptmxmode=0666\","
	"                 \"mode=0620\", \"gid=5\"]},"
	"  {\"destination\": \"/dev/shm\", \"type\": \"tmpfs\", \"source\": \"shm\","
	"   \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"mode=1777\", \"size=65536k\"]},"
	"  {\"destination\": \"/dev/mqueue\", \"type\": \"mqueue\", \"source\": \"mqueue\","
	"   \"options\": [\"nosuid\", \"noexec\", \"nodev\"]},"
	"  {\"destination\": \"/sys\", \"type\": \"sysfs\", \"source\": \"sysfs\","
	"   \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"ro\"]},"
	"  {\"destination\": \"/sys/fs/cgroup\", \"type\": \"cgroup\", \"source\": \"cgroup\","
	"   \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"relatime\", \"ro\"]}"
	"],"
	"\"linux\": {"
	"  \"resources\": {\"devices\": [{\"allow\": false, \"access\": \"rwm\"}]},"
	"  \"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"network\"}, {\"type\": \"ipc\"},"
	"                   {\"type\": \"uts\"}, {\"type\": \"mount\"}, {\"type\": \"cgroup\"}],"
	"  \"maskedPaths\": [\"/proc/acpi\", \"/proc/asound\", \"/proc/kcore\", \"/proc/keys\","
	"                    \"/proc/latency_stats\", \"/proc/timer_list\", \"/proc/timer_stats\","
	"                    \"/proc/sched_debug\", \"/proc/scsi\", \"/sys/firmware\","
	"                    \"/sys/devices/virtual/powercap\"],"
	"  \"readonlyPaths\": [\"/proc/bus\", \"/proc/fs\", \"/proc/irq\", \"/proc/sys\","
	"                      \"/proc/sysrq-trigger\"]"
	"}"
	"}";

static struct json_object *id_map(uint32_t host_id)
{
	struct json_object *arr = json_object_new_array(), *m = json_object_new_object();

	json_object_object_add(m, "containerID", json_object_new_int64(0));
	json_object_object_add(m, "hostID", json_object_new_int64(host_id));
	json_object_object_add(m, "size", json_object_new_int64(1));
	json_object_array_add(arr, m);
	return arr;
}

/*
 * What an unprivileged user can run: a user namespace mapping them to root;
 * no network namespace (nothing could configure one); /sys bound from the
 * host, as sysfs cannot be mounted without owning the network namespace;
 * devpts without gid=5 (that group is not mapped); no resource limits, as
 * the user has no cgroup of their own to write to.
 */
static void make_rootless(struct json_object *doc)
{
	struct json_object *lx, *ns, *mounts, *newns;

	json_object_object_get_ex(doc, "linux", &lx);
	json_object_object_del(lx, "resources");
	json_object_object_get_ex(lx, "namespaces", &ns);
	newns = json_object_new_array();
	for (size_t i = 0; i < json_object_array_length(ns); i++) {
		struct json_object *n = json_object_array_get_idx(ns, i), *t;

		json_object_object_get_ex(n, "type", &t);
		if (strcmp(json_object_get_string(t), "network"))
			json_object_array_add(newns, json_object_get(n));
	}
	struct json_object *user = json_object_new_object();
	json_object_object_add(user, "type", json_object_new_string("user"));
	json_object_array_add(newns, user);
	json_object_object_add(lx, "namespaces", newns);
	json_object_object_add(lx, "uidMappings", id_map((uint32_t)geteuid()));
	json_object_object_add(lx, "gidMappings", id_map((uint32_t)getegid()));

	json_object_object_get_ex(doc, "mounts", &mounts);
	for (size_t i = 0; i < json_object_array_length(mounts); i++) {
		struct json_object *m = json_object_array_get_idx(mounts, i), *d, *opts;
		const char *dest;

		json_object_object_get_ex(m, "destination", &d);
		dest = json_object_get_string(d);
		if (!strcmp(dest, "/sys")) {
			json_object_object_add(m, "type", json_object_new_string("none"));
			json_object_object_add(m, "source", json_object_new_string("/sys"));
			opts = json_object_new_array();
			json_object_array_add(opts, json_object_new_string("rbind"));
			json_object_array_add(opts, json_object_new_string("nosuid"));
			json_object_array_add(opts, json_object_new_string("noexec"));
			json_object_array_add(opts, json_object_new_string("nodev"));
			json_object_array_add(opts, json_object_new_string("ro"));
			json_object_object_add(m, "options", opts);
		} else if (!strcmp(dest, "/dev/pts")) {
			json_object_object_get_ex(m, "options", &opts);
			for (size_t k = json_object_array_length(opts); k-- > 0;)
				if (!strcmp(json_object_get_string(
						    json_object_array_get_idx(opts, k)),
					    "gid=5"))
					json_object_array_del_idx(opts, k, 1);
		}
	}
	/* /sys/fs/cgroup comes with the recursive /sys bind: no mount of its own */
	for (size_t i = json_object_array_length(mounts); i-- > 0;) {
		struct json_object *d;

		json_object_object_get_ex(json_object_array_get_idx(mounts, i), "destination", &d);
		if (!strcmp(json_object_get_string(d), "/sys/fs/cgroup"))
			json_object_array_del_idx(mounts, i, 1);
	}
}

char *ct_spec_default_json(bool rootless)
{
	struct json_object *doc = json_tokener_parse(default_json);
	char *out;

	if (!doc)
		abort(); /* the literal above is valid JSON; tests parse it */
	if (rootless)
		make_rootless(doc);
	out = strdup(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
								 JSON_C_TO_STRING_SPACED |
								 JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(doc);
	if (!out)
		abort();
	return out;
}
