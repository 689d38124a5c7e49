/*
 * The state directory of one container, <root>/<id>/ (0700), and the
 * runtime-spec state JSON (runtime-spec runtime.md "State").
 *
 *	state.json	what vessel-runtime remembers (versioned, see below)
 *	config.json	a copy of the bundle's config, for poststop hooks at delete
 *	exec.fifo	present from create until start: the init blocks on it
 *
 * The status is never stored: it is derived from the init process (alive,
 * zombie or gone, checked against its recorded start time so a reused pid is
 * not mistaken for the container) and the cgroup freezer.
 */
#ifndef VESSEL_RT_STATE_H
#define VESSEL_RT_STATE_H

#include <stdbool.h>
#include <sys/types.h>
#include <json-c/json.h>

#include "vessel/err.h"

#define CT_STATE_VERSION 1
#define CT_DEFAULT_ROOT	 "/run/vessel-runtime"
#define CT_EXEC_FIFO	 "exec.fifo"

enum ct_status { CT_CREATING, CT_CREATED, CT_RUNNING, CT_PAUSED, CT_STOPPED };

struct ct_state {
	char *id;
	char *dir;		       /* <root>/<id> */
	char *bundle;		       /* absolute */
	char *rootfs;		       /* absolute */
	pid_t pid;		       /* host pid of the container's init */
	unsigned long long start_time; /* /proc/<pid>/stat field 22 */
	char *created;		       /* RFC 3339, UTC */
	char *owner;		       /* user name of the creator ("" if unknown) */
	char *cgroup_path;
	bool systemd_cgroup;
	struct json_object *annotations; /* object, owned */
};

/* runc's rule: letters, digits, '_', '+', '-', '.'; not "." or "..". */
int ct_state_check_id(const char *id, struct vs_err *e);

/* malloc'ed "<root>/<id>". */
char *ct_state_dir(const char *root, const char *id);

/* Creates <root> (0700) if missing, then <root>/<id> exclusively: an existing
 * one is "container ID already exists". */
int ct_state_dir_create(const char *root, const char *id, struct vs_err *e);

/* Loads <root>/<id>/state.json; an unknown id is "container ID does not exist". */
int ct_state_load(const char *root, const char *id, struct ct_state **out, struct vs_err *e);
/* Parses a state.json buffer (what names it in errors); dir becomes s->dir. */
int ct_state_parse(const char *what, const char *buf, size_t len, const char *dir,
		   struct ct_state **out, struct vs_err *e);
int ct_state_save(const struct ct_state *s, struct vs_err *e);
void ct_state_free(struct ct_state *s);

/* Whether pid still runs the process that started at start_time (a zombie
 * counts as gone). */
bool ct_pid_alive(pid_t pid, unsigned long long start_time);
/* Field 22 of /proc/<pid>/stat; -1 if the process is gone. */
int ct_pid_start_time(pid_t pid, unsigned long long *out);

/* Derives the status (see top of file). */
enum ct_status ct_state_status(const struct ct_state *s);
const char *ct_status_name(enum ct_status st);

/*
 * The runtime-spec state JSON: ociVersion, id, status, pid (0 when stopped),
 * bundle, annotations, plus rootfs, created and owner as runc prints them.
 */
struct json_object *ct_state_to_json(const struct ct_state *s, enum ct_status st);
/* Same, as a malloc'ed string (pretty when asked): the stdin of hooks. */
char *ct_state_json_string(const struct ct_state *s, enum ct_status st, bool pretty);

/* RFC 3339 UTC with nanoseconds, malloc'ed. */
char *ct_now_rfc3339(void);

/* Lists the ids under root (sorted); a missing root is an empty list. */
int ct_state_list_ids(const char *root, char ***out, size_t *n, struct vs_err *e);

#endif
