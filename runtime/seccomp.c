/* seccomp: OCI linux.seccomp (runtime-spec config-linux.md "Seccomp") turned
 * into a libseccomp filter at parse time, so every error shows up before the
 * container exists; the container's init only loads it. */
#include <ctype.h>
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "runtime/seccomp.h"
#include "vessel/cleanup.h"
#include "vessel/fs.h"
#include "vessel/json.h"
#include "vessel/log.h"

struct ct_seccomp {
	scmp_filter_ctx ctx;
	bool notify;
	char *listener_path;
	char *listener_metadata;
	char *id, *bundle; /* for the listener's state message */
};

static const struct {
	const char *name;
	uint32_t action; /* ERRNO/TRACE get their data added */
} actions[] = {
	{"SCMP_ACT_KILL", SCMP_ACT_KILL},
	{"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD},
	{"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS},
	{"SCMP_ACT_TRAP", SCMP_ACT_TRAP},
	{"SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0)},
	{"SCMP_ACT_TRACE", SCMP_ACT_TRACE(0)},
	{"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW},
	{"SCMP_ACT_LOG", SCMP_ACT_LOG},
	{"SCMP_ACT_NOTIFY", SCMP_ACT_NOTIFY},
};

static const struct {
	const char *name;
	enum scmp_compare op;
} ops[] = {
	{"SCMP_CMP_NE", SCMP_CMP_NE},
	{"SCMP_CMP_LT", SCMP_CMP_LT},
	{"SCMP_CMP_LE", SCMP_CMP_LE},
	{"SCMP_CMP_EQ", SCMP_CMP_EQ},
	{"SCMP_CMP_GE", SCMP_CMP_GE},
	{"SCMP_CMP_GT", SCMP_CMP_GT},
	{"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
};

static const struct {
	const char *name;
	enum scmp_filter_attr attr;
} flags[] = {
	{"SECCOMP_FILTER_FLAG_TSYNC", SCMP_FLTATR_CTL_TSYNC},
	{"SECCOMP_FILTER_FLAG_LOG", SCMP_FLTATR_CTL_LOG},
	{"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SCMP_FLTATR_CTL_SSB},
};

/* Action for `name` (field at where.key); errno_ret applies to ERRNO/TRACE. */
static int parse_action(struct json_object *obj, const char *where, const char *key,
			const char *errno_key, struct ct_seccomp *s, uint32_t *out,
			struct vs_err *e)
{
	const char *name = NULL;
	int64_t ret = EPERM;

	if (vs_json_get_str(obj, where, key, true, &name, e) < 0 ||
	    vs_json_get_range(obj, where, errno_key, false, 0, 0xffff, &ret, e) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
		if (strcmp(actions[i].name, name))
			continue;
		*out = actions[i].action;
		if (*out == SCMP_ACT_ERRNO(0))
			*out = SCMP_ACT_ERRNO((uint32_t)ret);
		else if (*out == SCMP_ACT_TRACE(0))
			*out = SCMP_ACT_TRACE((uint32_t)ret);
		else if (*out == SCMP_ACT_NOTIFY)
			s->notify = true;
		return 0;
	}
	return vs_fail(e, EINVAL, "%s.%s: unknown action \"%s\"", where, key, name);
}

static int parse_arches(struct json_object *j, const char *where, struct ct_seccomp *s,
			struct vs_err *e)
{
	autostrv char **arches = NULL;

	if (vs_json_get_strv(j, where, "architectures", false, &arches, e) < 0)
		return -1;
	for (size_t i = 0; arches && arches[i]; i++) {
		char low[64];
		const char *a = arches[i];
		uint32_t token;
		int rc;

		if (strncmp(a, "SCMP_ARCH_", 10) || strlen(a + 10) >= sizeof(low))
			return vs_fail(e, EINVAL,
				       "%s.architectures[%zu]: unknown architecture "
				       "\"%s\"",
				       where, i, a);
		for (size_t k = 0;; k++) {
			low[k] = (char)tolower((unsigned char)a[10 + k]);
			if (!low[k])
				break;
		}
		token = seccomp_arch_resolve_name(low);
		if (token == 0)
			return vs_fail(e, EINVAL,
				       "%s.architectures[%zu]: unknown architecture "
				       "\"%s\"",
				       where, i, a);
		rc = seccomp_arch_add(s->ctx, token);
		if (rc < 0 && rc != -EEXIST)
			return vs_fail(e, -rc, "%s.architectures[%zu]: add \"%s\"", where, i, a);
	}
	return 0;
}

static int parse_flags(struct json_object *j, const char *where, struct ct_seccomp *s,
		       struct vs_err *e)
{
	autostrv char **fl = NULL;

	if (vs_json_get_strv(j, where, "flags", false, &fl, e) < 0)
		return -1;
	for (size_t i = 0; fl && fl[i]; i++) {
		size_t k;
		int rc;

		for (k = 0; k < sizeof(flags) / sizeof(flags[0]); k++)
			if (!strcmp(flags[k].name, fl[i]))
				break;
		if (k == sizeof(flags) / sizeof(flags[0]))
			return vs_fail(e, EINVAL,
				       "%s.flags[%zu]: unknown or unsupported flag "
				       "\"%s\"",
				       where, i, fl[i]);
		rc = seccomp_attr_set(s->ctx, flags[k].attr, 1);
		if (rc < 0)
			return vs_fail(e, -rc,
				       "%s.flags[%zu]: %s not supported by this kernel "
				       "or libseccomp",
				       where, i, fl[i]);
	}
	return 0;
}

static int parse_args(struct json_object *rule, const char *where, struct scmp_arg_cmp **out,
		      unsigned *n, struct vs_err *e)
{
	struct json_object *args = NULL;
	size_t len;

	*out = NULL;
	*n = 0;
	if (vs_json_get_array(rule, where, "args", false, &args, e) < 0)
		return -1;
	if (!args || !(len = json_object_array_length(args)))
		return 0;
	if (len > 6)
		return vs_fail(e, EINVAL, "%s.args: %zu comparisons, at most 6", where, len);
	*out = calloc(len, sizeof(**out));
	if (!*out)
		abort();
	for (size_t i = 0; i < len; i++) {
		struct json_object *a = json_object_array_get_idx(args, i);
		autofree char *w = vs_strdup_printf("%s.args[%zu]", where, i);
		int64_t index = 0;
		uint64_t value = 0, two = 0;
		const char *op = NULL;
		size_t k;

		if (!json_object_is_type(a, json_type_object))
			return vs_fail(e, EINVAL, "%s: expected object", w);
		if (vs_json_get_range(a, w, "index", true, 0, 5, &index, e) < 0 ||
		    vs_json_get_u64(a, w, "value", true, &value, e) < 0 ||
		    vs_json_get_u64(a, w, "valueTwo", false, &two, e) < 0 ||
		    vs_json_get_str(a, w, "op", true, &op, e) < 0)
			return -1;
		for (k = 0; k < sizeof(ops) / sizeof(ops[0]); k++)
			if (!strcmp(ops[k].name, op))
				break;
		if (k == sizeof(ops) / sizeof(ops[0]))
			return vs_fail(e, EINVAL, "%s.op: unknown operator \"%s\"", w, op);
		/* libseccomp takes one comparison per argument in a rule (it
		 * returns EINVAL otherwise): say so here, naming both entries */
		for (size_t p = 0; p < i; p++)
			if ((*out)[p].arg == (unsigned)index)
				return vs_fail(e, EINVAL,
					       "%s.index: argument %lld is already "
					       "compared by %s.args[%zu]; libseccomp allows one "
					       "comparison per argument in a rule (use two rules)",
					       w, (long long)index, where, p);
		(*out)[i] = (struct scmp_arg_cmp){(unsigned)index, ops[k].op, value, two};
		(*n)++;
	}
	return 0;
}

static int parse_rule(struct json_object *rule, const char *where, uint32_t def,
		      struct ct_seccomp *s, struct vs_err *e)
{
	autostrv char **names = NULL;
	autofree struct scmp_arg_cmp *args = NULL;
	unsigned nargs;
	uint32_t action;

	if (!json_object_is_type(rule, json_type_object))
		return vs_fail(e, EINVAL, "%s: expected object", where);
	if (vs_json_get_strv(rule, where, "names", true, &names, e) < 0 ||
	    parse_action(rule, where, "action", "errnoRet", s, &action, e) < 0 ||
	    parse_args(rule, where, &args, &nargs, e) < 0)
		return -1;
	if (!names[0])
		return vs_fail(e, EINVAL, "%s.names: empty", where);
	/* same as the default: nothing to add (libseccomp would refuse it) */
	if (action == def)
		return 0;
	for (size_t i = 0; names[i]; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);
		int rc;

		/* profiles name syscalls of other kernels and arches: skip */
		if (nr == __NR_SCMP_ERROR) {
			vs_debug("%s.names[%zu]: unknown syscall \"%s\"; skipped", where, i,
				 names[i]);
			continue;
		}
		rc = seccomp_rule_add_array(s->ctx, action, nr, nargs, args);
		if (rc < 0)
			return vs_fail(e, -rc, "%s: syscall \"%s\": libseccomp refused the rule",
				       where, names[i]);
	}
	return 0;
}

int ct_seccomp_parse(struct json_object *j, const char *where, struct ct_seccomp **out,
		     struct vs_err *e)
{
	struct ct_seccomp *s;
	struct json_object *rules = NULL;
	uint32_t def;
	const char *lp = NULL, *meta = NULL;
	int ret = -1;

	*out = NULL;
	if (!j)
		return 0;
	if (!json_object_is_type(j, json_type_object))
		return vs_fail(e, EINVAL, "%s: expected object", where);
	s = calloc(1, sizeof(*s));
	if (!s)
		abort();
	if (parse_action(j, where, "defaultAction", "defaultErrnoRet", s, &def, e) < 0)
		goto out;
	s->ctx = seccomp_init(def);
	if (!s->ctx) {
		vs_fail(e, EINVAL, "%s.defaultAction: libseccomp refused it", where);
		goto out;
	}
	/* the runtime sets no_new_privs itself when the spec asks for it */
	seccomp_attr_set(s->ctx, SCMP_FLTATR_CTL_NNP, 0);
	/* kernel errors as they are (EACCES...), not libseccomp's ECANCELED */
	seccomp_attr_set(s->ctx, SCMP_FLTATR_API_SYSRAWRC, 1);
	if (parse_arches(j, where, s, e) < 0 || parse_flags(j, where, s, e) < 0 ||
	    vs_json_get_str(j, where, "listenerPath", false, &lp, e) < 0 ||
	    vs_json_get_str(j, where, "listenerMetadata", false, &meta, e) < 0 ||
	    vs_json_get_array(j, where, "syscalls", false, &rules, e) < 0)
		goto out;
	for (size_t i = 0; rules && i < json_object_array_length(rules); i++) {
		autofree char *w = vs_strdup_printf("%s.syscalls[%zu]", where, i);

		if (parse_rule(json_object_array_get_idx(rules, i), w, def, s, e) < 0)
			goto out;
	}
	if (s->notify && (!lp || !*lp)) {
		vs_fail(e, EINVAL,
			"%s: SCMP_ACT_NOTIFY needs listenerPath (a Unix socket "
			"that receives the notification fd)",
			where);
		goto out;
	}
	if (lp && *lp && lp[0] != '/') {
		vs_fail(e, EINVAL, "%s.listenerPath: \"%s\" is not absolute", where, lp);
		goto out;
	}
	s->listener_path = lp ? strdup(lp) : NULL;
	s->listener_metadata = meta ? strdup(meta) : NULL;
	*out = s;
	s = NULL;
	ret = 0;
out:
	ct_seccomp_free(s);
	return ret;
}

bool ct_seccomp_uses_notify(const struct ct_seccomp *s)
{
	return s && s->notify;
}

/* Sends the listener fd with the containerProcessState the spec describes. */
static int send_listener(const struct ct_seccomp *s, int fd, struct vs_err *e)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	autoclose int sk = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	autojson struct json_object *st = json_object_new_object();
	struct json_object *fds = json_object_new_array();
	struct json_object *state = json_object_new_object();
	char cbuf[CMSG_SPACE(sizeof(int))] = {0};
	const char *msg;
	struct iovec iov;
	struct msghdr mh = {0};
	struct cmsghdr *cm;

	if (sk < 0)
		return vs_fail_errno(e, "seccomp: listener socket");
	if (strlen(s->listener_path) >= sizeof(sa.sun_path))
		return vs_fail(e, ENAMETOOLONG, "seccomp: listenerPath %s: too long",
			       s->listener_path);
	strcpy(sa.sun_path, s->listener_path);
	if (connect(sk, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return vs_fail_errno(e, "seccomp: connect to listenerPath %s", s->listener_path);
	json_object_array_add(fds, json_object_new_string("seccompFd"));
	json_object_object_add(st, "ociVersion", json_object_new_string("1.0.2"));
	json_object_object_add(st, "fds", fds);
	json_object_object_add(st, "pid", json_object_new_int(getpid()));
	json_object_object_add(
		st, "metadata",
		json_object_new_string(s->listener_metadata ? s->listener_metadata : ""));
	json_object_object_add(state, "ociVersion", json_object_new_string("1.0.2"));
	json_object_object_add(state, "status", json_object_new_string("creating"));
	json_object_object_add(state, "pid", json_object_new_int(getpid()));
	if (s->id)
		json_object_object_add(state, "id", json_object_new_string(s->id));
	if (s->bundle)
		json_object_object_add(state, "bundle", json_object_new_string(s->bundle));
	json_object_object_add(st, "state", state);
	msg = json_object_to_json_string_ext(st, JSON_C_TO_STRING_PLAIN);
	iov.iov_base = (void *)msg;
	iov.iov_len = strlen(msg);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof(cbuf);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (sendmsg(sk, &mh, MSG_NOSIGNAL) < 0)
		return vs_fail_errno(e, "seccomp: send the listener fd to %s", s->listener_path);
	return 0;
}

int ct_seccomp_apply(const struct ct_seccomp *s, struct vs_err *e)
{
	int rc;

	if (!s)
		return 0;
	rc = seccomp_load(s->ctx);
	if (rc == -EACCES || rc == -EPERM)
		return vs_fail(e, -rc,
			       "seccomp: load filter: needs no_new_privs "
			       "(process.noNewPrivileges) or CAP_SYS_ADMIN at this point");
	if (rc < 0)
		return vs_fail(e, -rc, "seccomp: load filter");
	if (s->notify) {
		autoclose int fd = seccomp_notify_fd(s->ctx);

		if (fd < 0)
			return vs_fail(e, -fd, "seccomp: no listener fd after loading");
		if (send_listener(s, fd, e) < 0)
			return -1;
	}
	return 0;
}

void ct_seccomp_set_container(struct ct_seccomp *s, const char *id, const char *bundle)
{
	if (!s)
		return;
	free(s->id);
	free(s->bundle);
	s->id = id ? strdup(id) : NULL;
	s->bundle = bundle ? strdup(bundle) : NULL;
}

void ct_seccomp_free(struct ct_seccomp *s)
{
	if (!s)
		return;
	free(s->id);
	free(s->bundle);
	if (s->ctx)
		seccomp_release(s->ctx);
	free(s->listener_path);
	free(s->listener_metadata);
	free(s);
}
