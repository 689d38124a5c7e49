/* Control socket protocol and thread. Requests: {"cmd": VERB, ...}; answers
 * {"ok": true, ...} or {"ok": false, "error": "..."}. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vessel/json.h"
#include "vmm/control.h"

static char *reply_error(const char *msg)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string(msg));
	char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
								   JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return s;
}

static char *reply_ok(struct json_object *o)
{
	json_object_object_add(o, "ok", json_object_new_boolean(1));
	char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
								   JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return s;
}

static int do_status(const struct vm_control_ops *ops, struct json_object *req,
		     struct json_object *out, struct vs_err *e)
{
	struct vm_control_status st = {0};

	if (!ops->status)
		return vs_fail(e, ENOTSUP, "status not supported");
	ops->status(ops->opaque, &st);
	json_object_object_add(out, "state", json_object_new_string(st.state ? st.state : "?"));
	json_object_object_add(out, "vcpus", json_object_new_int64(st.vcpus));
	json_object_object_add(out, "memory", json_object_new_uint64(st.memory));
	json_object_object_add(out, "uptime_ns", json_object_new_uint64(st.uptime_ns));
	if (st.serial_pty && *st.serial_pty)
		json_object_object_add(out, "serial_pty", json_object_new_string(st.serial_pty));
	if (st.console_pty && *st.console_pty)
		json_object_object_add(out, "console_pty", json_object_new_string(st.console_pty));
	return 0;
}

static int do_pause(const struct vm_control_ops *ops, struct json_object *req,
		    struct json_object *out, struct vs_err *e)
{
	if (!ops->pause)
		return vs_fail(e, ENOTSUP, "pause not supported");
	return ops->pause(ops->opaque, e);
}

static int do_resume(const struct vm_control_ops *ops, struct json_object *req,
		     struct json_object *out, struct vs_err *e)
{
	if (!ops->resume)
		return vs_fail(e, ENOTSUP, "resume not supported");
	return ops->resume(ops->opaque, e);
}

static int do_shutdown(const struct vm_control_ops *ops, struct json_object *req,
		       struct json_object *out, struct vs_err *e)
{
	bool force = false;
	const char *how = NULL;

	if (vs_json_get_bool(req, "request", "force", false, &force, e) < 0)
		return -1;
	if (!ops->shutdown)
		return vs_fail(e, ENOTSUP, "shutdown not supported");
	if (ops->shutdown(ops->opaque, force, &how, e) < 0)
		return -1;
	json_object_object_add(out, "method", json_object_new_string(how ? how : "stop"));
	return 0;
}

static int do_metrics(const struct vm_control_ops *ops, struct json_object *req,
		      struct json_object *out, struct vs_err *e)
{
	if (!ops->metrics)
		return vs_fail(e, ENOTSUP, "metrics not supported");
	struct json_object *m = json_object_new_object();
	ops->metrics(ops->opaque, m);
	json_object_object_add(out, "metrics", m);
	return 0;
}

/* {"cmd":"balloon","target":BYTES} or "target_mib": MiB */
static int do_balloon(const struct vm_control_ops *ops, struct json_object *req,
		      struct json_object *out, struct vs_err *e)
{
	uint64_t bytes = 0, mib = 0;
	struct json_object *t = NULL, *m = NULL;

	if (!ops->balloon_set)
		return vs_fail(e, ENOTSUP, "balloon not supported");
	json_object_object_get_ex(req, "target", &t);
	json_object_object_get_ex(req, "target_mib", &m);
	if (!!t == !!m)
		return vs_fail(e, EINVAL, "request: give one of target (bytes) or target_mib");
	if (t && vs_json_get_u64(req, "request", "target", true, &bytes, e) < 0)
		return -1;
	if (m) {
		if (vs_json_get_u64(req, "request", "target_mib", true, &mib, e) < 0)
			return -1;
		if (mib > (UINT64_MAX >> 20))
			return vs_fail(e, EINVAL, "request.target_mib: too large");
		bytes = mib << 20;
	}
	if (ops->balloon_set(ops->opaque, bytes, e) < 0)
		return -1;
	json_object_object_add(out, "target", json_object_new_uint64(bytes));
	return 0;
}

static int do_balloon_stats(const struct vm_control_ops *ops, struct json_object *req,
			    struct json_object *out, struct vs_err *e)
{
	if (!ops->balloon_stats)
		return vs_fail(e, ENOTSUP, "balloon not supported");
	return ops->balloon_stats(ops->opaque, out, e);
}

static int do_snapshot(const struct vm_control_ops *ops, struct json_object *req,
		       struct json_object *out, struct vs_err *e)
{
	const char *path = NULL;
	bool diff = false, resume = true;

	if (!ops->snapshot)
		return vs_fail(e, ENOTSUP, "snapshot not supported");
	if (vs_json_get_str(req, "request", "path", true, &path, e) < 0 ||
	    vs_json_get_bool(req, "request", "diff", false, &diff, e) < 0 ||
	    vs_json_get_bool(req, "request", "resume", false, &resume, e) < 0)
		return -1;
	if (ops->snapshot(ops->opaque, path, diff, resume, e) < 0)
		return -1;
	json_object_object_add(out, "path", json_object_new_string(path));
	json_object_object_add(out, "state",
			       json_object_new_string(resume ? "running" : "exiting"));
	return 0;
}

static int do_migrate(const struct vm_control_ops *ops, struct json_object *req,
		      struct json_object *out, struct vs_err *e)
{
	const char *to = NULL;
	bool postcopy = false;

	if (!ops->migrate)
		return vs_fail(e, ENOTSUP, "migrate not supported");
	if (vs_json_get_str(req, "request", "to", true, &to, e) < 0 ||
	    vs_json_get_bool(req, "request", "postcopy", false, &postcopy, e) < 0)
		return -1;
	if (ops->migrate(ops->opaque, to, postcopy, e) < 0)
		return -1;
	json_object_object_add(out, "migrated_to", json_object_new_string(to));
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(const struct vm_control_ops *, struct json_object *, struct json_object *,
		  struct vs_err *);
} verbs[] = {
	{"status", do_status},
	{"pause", do_pause},
	{"resume", do_resume},
	{"shutdown", do_shutdown},
	{"metrics", do_metrics},
	{"balloon", do_balloon},
	{"balloon_stats", do_balloon_stats},
	{"snapshot", do_snapshot},
	{"migrate", do_migrate},
};

char *vm_control_handle(const struct vm_control_ops *ops, const char *line, size_t len)
{
	autojson struct json_object *req = NULL;
	struct vs_err e = {0};
	const char *cmd = NULL;

	if (vs_json_parse("request", line, len, &req, &e) < 0)
		return reply_error(e.msg);
	if (!json_object_is_type(req, json_type_object))
		return reply_error("request: expected a JSON object");
	if (vs_json_get_str(req, "request", "cmd", true, &cmd, &e) < 0)
		return reply_error(e.msg);
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(verbs[i].name, cmd))
			continue;
		struct json_object *out = json_object_new_object();
		if (verbs[i].fn(ops, req, out, &e) < 0) {
			json_object_put(out);
			char buf[600];
			return reply_error(vs_err_str(&e, buf, sizeof(buf)));
		}
		return reply_ok(out);
	}
	char msg[128];
	snprintf(msg, sizeof(msg), "unknown cmd \"%.64s\"", cmd);
	return reply_error(msg);
}

/* --- the socket thread --------------------------------------------------- */

#define MAX_CLIENTS 8

struct client {
	int fd;
	char *buf;
	size_t len;
};

struct vm_control {
	const struct vm_control_ops *ops;
	char *path;
	int listen_fd, stop_fd;
	struct client clients[MAX_CLIENTS];
	pthread_t thread;
};

static void drop_client(struct client *c)
{
	close(c->fd);
	free(c->buf);
	c->fd = -1;
	c->buf = NULL;
	c->len = 0;
}

/* MSG_NOSIGNAL: a client that went away must not SIGPIPE the VMM. */
static void send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void send_line(int fd, char *resp)
{
	if (!resp)
		return;
	send_all(fd, resp, strlen(resp));
	send_all(fd, "\n", 1);
	free(resp);
}

/* Reads what is there; answers every complete line. false: drop client. */
static bool serve(struct vm_control *c, struct client *cl)
{
	char tmp[4096];
	ssize_t n = recv(cl->fd, tmp, sizeof(tmp), MSG_DONTWAIT);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		return false;
	if (n < 0)
		return true;
	if (cl->len + (size_t)n > VM_CONTROL_MAX_LINE) {
		send_line(cl->fd, reply_error("request longer than 64 KiB"));
		return false;
	}
	char *nb = realloc(cl->buf, cl->len + (size_t)n + 1);
	if (!nb)
		return false;
	cl->buf = nb;
	memcpy(cl->buf + cl->len, tmp, (size_t)n);
	cl->len += (size_t)n;
	char *nl;
	while ((nl = memchr(cl->buf, '\n', cl->len))) {
		size_t l = (size_t)(nl - cl->buf);
		if (l > 0 && !(l == 1 && cl->buf[0] == '\r'))
			send_line(cl->fd, vm_control_handle(c->ops, cl->buf, l));
		memmove(cl->buf, nl + 1, cl->len - l - 1);
		cl->len -= l + 1;
	}
	return true;
}

static void *control_thread(void *arg)
{
	struct vm_control *c = arg;

	pthread_setname_np(pthread_self(), "control");
	for (;;) {
		struct pollfd p[2 + MAX_CLIENTS];
		int idx[MAX_CLIENTS];
		nfds_t n = 0;

		p[n++] = (struct pollfd){.fd = c->stop_fd, .events = POLLIN};
		p[n++] = (struct pollfd){.fd = c->listen_fd, .events = POLLIN};
		for (int i = 0; i < MAX_CLIENTS; i++) {
			if (c->clients[i].fd < 0)
				continue;
			idx[n - 2] = i;
			p[n++] = (struct pollfd){.fd = c->clients[i].fd, .events = POLLIN};
		}
		if (poll(p, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents)
			break;
		for (nfds_t k = 2; k < n; k++) {
			struct client *cl = &c->clients[idx[k - 2]];
			if (p[k].revents && !serve(c, cl))
				drop_client(cl);
		}
		if (p[1].revents & POLLIN) {
			int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
			if (fd < 0)
				continue;
			int slot = -1;
			for (int i = 0; i < MAX_CLIENTS && slot < 0; i++)
				if (c->clients[i].fd < 0)
					slot = i;
			if (slot < 0) {
				send_line(fd, reply_error("too many control connections"));
				close(fd);
				continue;
			}
			c->clients[slot].fd = fd;
		}
	}
	return NULL;
}

int vm_control_start(struct vm_control **out, const char *path, const struct vm_control_ops *ops,
		     struct vs_err *e)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct vm_control *c;

	*out = NULL;
	if (strlen(path) >= sizeof(sa.sun_path))
		return vs_fail(e, ENAMETOOLONG, "control socket %s: path too long", path);
	c = calloc(1, sizeof(*c));
	if (!c)
		return vs_fail(e, ENOMEM, "control socket: out of memory");
	c->ops = ops;
	c->stop_fd = -1;
	for (int i = 0; i < MAX_CLIENTS; i++)
		c->clients[i].fd = -1;
	strcpy(sa.sun_path, path);
	c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->listen_fd < 0) {
		vs_fail_errno(e, "control socket %s: socket", path);
		goto fail;
	}
	/* 0600 from the start: no window where others could connect */
	mode_t old = umask(0177);
	int r = bind(c->listen_fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0) {
		vs_fail_errno(e, "control socket %s: bind", path);
		goto fail;
	}
	c->path = strdup(path);
	if (listen(c->listen_fd, 8) < 0) {
		vs_fail_errno(e, "control socket %s: listen", path);
		goto fail;
	}
	c->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (c->stop_fd < 0) {
		vs_fail_errno(e, "control socket: eventfd");
		goto fail;
	}
	int err = pthread_create(&c->thread, NULL, control_thread, c);
	if (err) {
		vs_fail(e, err, "control socket: pthread_create");
		goto fail;
	}
	*out = c;
	return 0;
fail:
	if (c->path)
		unlink(c->path);
	free(c->path);
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	if (c->stop_fd >= 0)
		close(c->stop_fd);
	free(c);
	return -1;
}

void vm_control_stop(struct vm_control *c)
{
	uint64_t one = 1;

	if (!c)
		return;
	ssize_t w = write(c->stop_fd, &one, sizeof(one));
	(void)w;
	pthread_join(c->thread, NULL);
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (c->clients[i].fd >= 0)
			drop_client(&c->clients[i]);
	close(c->listen_fd);
	close(c->stop_fd);
	unlink(c->path);
	free(c->path);
	free(c);
}
