/* The container state directory and the runtime-spec state JSON. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vessel/cgroup.h"
#include "vessel/cleanup.h"
#include "vessel/fs.h"
#include "vessel/json.h"
#include "runtime/state.h"

#define OCI_VERSION "1.2.0"

int ct_state_check_id(const char *id, struct vs_err *e)
{
	if (!id || !*id)
		return vs_fail(e, EINVAL, "container id is empty");
	if (strlen(id) > 1024)
		return vs_fail(e, EINVAL, "container id is too long");
	if (!strcmp(id, ".") || !strcmp(id, ".."))
		return vs_fail(e, EINVAL, "invalid container id \"%s\"", id);
	for (const char *p = id; *p; p++) {
		char c = *p;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '+' || c == '-' || c == '.'))
			return vs_fail(
				e, 0,
				"invalid container id \"%s\": only letters, digits and _+-. are allowed",
				id);
	}
	return 0;
}

char *ct_state_dir(const char *root, const char *id)
{
	return vs_path_join(root, id);
}

int ct_state_dir_create(const char *root, const char *id, struct vs_err *e)
{
	autofree char *dir = ct_state_dir(root, id);

	if (vs_mkdir_p(root, 0700, e) < 0)
		return vs_err_prefix(e, "state root %s", root);
	if (mkdir(dir, 0700) < 0) {
		if (errno == EEXIST)
			return vs_fail(e, 0, "container %s already exists", id);
		return vs_fail_errno(e, "state directory %s", dir);
	}
	return 0;
}

void ct_state_free(struct ct_state *s)
{
	if (!s)
		return;
	free(s->id);
	free(s->dir);
	free(s->bundle);
	free(s->rootfs);
	free(s->created);
	free(s->owner);
	free(s->cgroup_path);
	if (s->annotations)
		json_object_put(s->annotations);
	free(s);
}

static char *dup_or_empty(const char *s)
{
	char *r = strdup(s ? s : "");

	if (!r)
		abort();
	return r;
}

int ct_state_load(const char *root, const char *id, struct ct_state **out, struct vs_err *e)
{
	autofree char *dir = NULL, *path = NULL, *buf = NULL;
	size_t len;
	struct stat st;

	if (ct_state_check_id(id, e) < 0)
		return -1;
	dir = ct_state_dir(root, id);
	path = vs_path_join(dir, "state.json");
	if (stat(dir, &st) < 0) {
		if (errno == ENOENT)
			return vs_fail(e, ENOENT, "container %s does not exist", id);
		return vs_fail_errno(e, "state directory %s", dir);
	}
	if (access(path, F_OK) < 0 && errno == ENOENT)
		/* a create still in progress (or one that died before saving) */
		return vs_fail(e, ENOENT, "container %s does not exist (no %s)", id, path);
	if (vs_read_file(path, &buf, &len, e) < 0)
		return -1;
	if (ct_state_parse(path, buf, len, dir, out, e) < 0)
		return -1;
	if (strcmp((*out)->id, id)) {
		vs_fail(e, EINVAL, "%s: id \"%s\" does not match the directory", path, (*out)->id);
		ct_state_free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

int ct_state_parse(const char *what, const char *buf, size_t len, const char *dir,
		   struct ct_state **out, struct vs_err *e)
{
	autojson struct json_object *j = NULL;
	const char *str;
	int64_t v;
	struct json_object *ann = NULL;

	if (vs_json_parse(what, buf, len, &j, e) < 0)
		return -1;
	if (!json_object_is_type(j, json_type_object))
		return vs_fail(e, EINVAL, "%s: expected an object", what);
	if (vs_json_get_i64(j, what, "vessel_state_version", true, &v, e) < 0)
		return -1;
	if (v != CT_STATE_VERSION)
		return vs_fail(e, EINVAL, "%s: state version %lld is not supported (expected %d)",
			       what, (long long)v, CT_STATE_VERSION);

	struct ct_state *s = calloc(1, sizeof(*s));

	if (!s)
		abort();
	s->dir = dup_or_empty(dir);
	if (vs_json_get_str(j, what, "id", true, &str, e) < 0)
		goto fail;
	s->id = dup_or_empty(str);
	if (vs_json_get_str(j, what, "bundle", true, &str, e) < 0)
		goto fail;
	s->bundle = dup_or_empty(str);
	if (vs_json_get_str(j, what, "rootfs", true, &str, e) < 0)
		goto fail;
	s->rootfs = dup_or_empty(str);
	if (vs_json_get_range(j, what, "pid", true, 0, INT32_MAX, &v, e) < 0)
		goto fail;
	s->pid = (pid_t)v;
	if (vs_json_get_range(j, what, "start_time", true, 0, INT64_MAX, &v, e) < 0)
		goto fail;
	s->start_time = (unsigned long long)v;
	str = NULL;
	if (vs_json_get_str(j, what, "created", false, &str, e) < 0)
		goto fail;
	s->created = dup_or_empty(str);
	str = NULL;
	if (vs_json_get_str(j, what, "owner", false, &str, e) < 0)
		goto fail;
	s->owner = dup_or_empty(str);
	str = NULL;
	if (vs_json_get_str(j, what, "cgroup_path", false, &str, e) < 0)
		goto fail;
	s->cgroup_path = str ? dup_or_empty(str) : NULL;
	if (vs_json_get_bool(j, what, "systemd_cgroup", false, &s->systemd_cgroup, e) < 0)
		goto fail;
	if (vs_json_get_obj(j, what, "annotations", false, &ann, e) < 0)
		goto fail;
	s->annotations = ann ? json_object_get(ann) : json_object_new_object();
	*out = s;
	return 0;
fail:
	ct_state_free(s);
	return -1;
}

int ct_state_save(const struct ct_state *s, struct vs_err *e)
{
	autojson struct json_object *j = json_object_new_object();
	autofree char *path = vs_path_join(s->dir, "state.json");

	json_object_object_add(j, "vessel_state_version", json_object_new_int(CT_STATE_VERSION));
	json_object_object_add(j, "id", json_object_new_string(s->id));
	json_object_object_add(j, "bundle", json_object_new_string(s->bundle));
	json_object_object_add(j, "rootfs", json_object_new_string(s->rootfs));
	json_object_object_add(j, "pid", json_object_new_int(s->pid));
	json_object_object_add(j, "start_time", json_object_new_int64((int64_t)s->start_time));
	json_object_object_add(j, "created", json_object_new_string(s->created ? s->created : ""));
	json_object_object_add(j, "owner", json_object_new_string(s->owner ? s->owner : ""));
	if (s->cgroup_path)
		json_object_object_add(j, "cgroup_path", json_object_new_string(s->cgroup_path));
	json_object_object_add(j, "systemd_cgroup", json_object_new_boolean(s->systemd_cgroup));
	json_object_object_add(j, "annotations",
			       s->annotations ? json_object_get(s->annotations)
					      : json_object_new_object());
	return vs_json_write_file(path, j, true, e);
}

int ct_pid_start_time(pid_t pid, unsigned long long *out)
{
	char path[64], buf[1024];
	autoclose int fd = -1;
	ssize_t n;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* comm (field 2) may hold spaces and parentheses: parse after the last ')' */
	char *p = strrchr(buf, ')');

	if (!p || p[1] != ' ')
		return -1;
	p += 2;
	char st = *p;
	/* fields from 3 (state) on; start time is field 22 */
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return -1;
		p++;
	}
	if (st == 'Z' || st == 'X')
		return -1;
	*out = strtoull(p, NULL, 10);
	return 0;
}

bool ct_pid_alive(pid_t pid, unsigned long long start_time)
{
	unsigned long long t;

	if (ct_pid_start_time(pid, &t) < 0)
		return false;
	return t == start_time;
}

enum ct_status ct_state_status(const struct ct_state *s)
{
	if (!ct_pid_alive(s->pid, s->start_time))
		return CT_STOPPED;

	autofree char *fifo = vs_path_join(s->dir, CT_EXEC_FIFO);

	if (access(fifo, F_OK) == 0)
		return CT_CREATED;
	if (s->cgroup_path) {
		/* the freezer decides paused (v1 freezer.state, v2 cgroup.freeze) */
		struct vs_cgroup *cg = NULL;
		bool frozen = false;

		if (vs_cgroup_open(s->cgroup_path, &cg, NULL) == 0 &&
		    vs_cgroup_is_frozen(cg, &frozen, NULL) == 0 && frozen) {
			vs_cgroup_free(cg);
			return CT_PAUSED;
		}
		vs_cgroup_free(cg);
	}
	return CT_RUNNING;
}

const char *ct_status_name(enum ct_status st)
{
	switch (st) {
	case CT_CREATING: return "creating";
	case CT_CREATED: return "created";
	case CT_RUNNING: return "running";
	case CT_PAUSED: return "paused";
	case CT_STOPPED: return "stopped";
	}
	return "unknown";
}

struct json_object *ct_state_to_json(const struct ct_state *s, enum ct_status st)
{
	struct json_object *j = json_object_new_object();

	json_object_object_add(j, "ociVersion", json_object_new_string(OCI_VERSION));
	json_object_object_add(j, "id", json_object_new_string(s->id));
	json_object_object_add(j, "pid", json_object_new_int(st == CT_STOPPED ? 0 : s->pid));
	json_object_object_add(j, "status", json_object_new_string(ct_status_name(st)));
	json_object_object_add(j, "bundle", json_object_new_string(s->bundle));
	json_object_object_add(j, "rootfs", json_object_new_string(s->rootfs));
	json_object_object_add(j, "created", json_object_new_string(s->created ? s->created : ""));
	json_object_object_add(j, "owner", json_object_new_string(s->owner ? s->owner : ""));
	json_object_object_add(j, "annotations",
			       s->annotations ? json_object_get(s->annotations)
					      : json_object_new_object());
	return j;
}

char *ct_state_json_string(const struct ct_state *s, enum ct_status st, bool pretty)
{
	autojson struct json_object *j = ct_state_to_json(s, st);
	const char *str = json_object_to_json_string_ext(
		j, pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
				    JSON_C_TO_STRING_NOSLASHESCAPE
			  : JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	char *r = strdup(str);

	if (!r)
		abort();
	return r;
}

char *ct_now_rfc3339(void)
{
	struct timespec ts;
	struct tm tm;
	char buf[64];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	return vs_strdup_printf("%s.%09ldZ", buf, ts.tv_nsec);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int ct_state_list_ids(const char *root, char ***out, size_t *n, struct vs_err *e)
{
	DIR *d = opendir(root);
	struct dirent *de;
	char **v = NULL;
	size_t cnt = 0;

	*out = NULL;
	*n = 0;
	if (!d) {
		if (errno == ENOENT)
			return 0;
		return vs_fail_errno(e, "state root %s", root);
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (ct_state_check_id(de->d_name, NULL) < 0)
			continue;
		v = realloc(v, (cnt + 2) * sizeof(*v));
		if (!v)
			abort();
		v[cnt++] = dup_or_empty(de->d_name);
		v[cnt] = NULL;
	}
	closedir(d);
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmp_str);
	*out = v;
	*n = cnt;
	return 0;
}
