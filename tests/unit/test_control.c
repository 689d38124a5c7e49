/* vmm/control.c: the control socket protocol and thread. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "test.h"
#include "vmm/control.h"

struct fake {
	bool paused;
	int shutdowns;
	bool forced;
};

static void f_status(void *o, struct vm_control_status *st)
{
	struct fake *f = o;

	st->state = f->paused ? "paused" : "running";
	st->vcpus = 2;
	st->memory = 128ull << 20;
	st->uptime_ns = 12345;
}

static int f_pause(void *o, struct vs_err *e)
{
	struct fake *f = o;

	if (f->paused)
		return vs_fail(e, EINVAL, "already paused");
	f->paused = true;
	return 0;
}

static int f_resume(void *o, struct vs_err *e)
{
	struct fake *f = o;

	if (!f->paused)
		return vs_fail(e, EINVAL, "not paused");
	f->paused = false;
	return 0;
}

static int f_shutdown(void *o, bool force, const char **how, struct vs_err *e)
{
	struct fake *f = o;

	f->shutdowns++;
	f->forced = force;
	*how = force ? "stop" : "acpi-power-button";
	return 0;
}

static void f_metrics(void *o, struct json_object *out)
{
	json_object_object_add(out, "exits_io", json_object_new_int64(7));
}

#define REQ(ops, s) vm_control_handle(ops, s, strlen(s))

TEST(control_status_reports_state_vcpus_memory_uptime)
{
	struct fake f = {0};
	struct vm_control_ops ops = {.opaque = &f,
				     .status = f_status,
				     .pause = f_pause,
				     .resume = f_resume,
				     .shutdown = f_shutdown,
				     .metrics = f_metrics};
	char *r = REQ(&ops, "{\"cmd\":\"status\"}");

	CHECK_STR(r, "{\"state\":\"running\",\"vcpus\":2,\"memory\":134217728,"
		     "\"uptime_ns\":12345,\"ok\":true}");
	free(r);
}

TEST(control_pause_resume_change_state_and_refuse_repeats)
{
	struct fake f = {0};
	struct vm_control_ops ops = {.opaque = &f,
				     .status = f_status,
				     .pause = f_pause,
				     .resume = f_resume,
				     .shutdown = f_shutdown,
				     .metrics = f_metrics};
	char *r;

	r = REQ(&ops, "{\"cmd\":\"pause\"}");
	CHECK_STR(r, "{\"ok\":true}");
	free(r);
	CHECK(f.paused);
	r = REQ(&ops, "{\"cmd\":\"status\"}");
	CHECK_CONTAINS(r, "\"state\":\"paused\"");
	free(r);
	r = REQ(&ops, "{\"cmd\":\"pause\"}");
	CHECK_STR(r, "{\"ok\":false,\"error\":\"already paused: Invalid argument\"}");
	free(r);
	r = REQ(&ops, "{\"cmd\":\"resume\"}");
	CHECK_STR(r, "{\"ok\":true}");
	free(r);
	CHECK(!f.paused);
}

TEST(control_shutdown_and_metrics)
{
	struct fake f = {0};
	struct vm_control_ops ops = {.opaque = &f,
				     .status = f_status,
				     .pause = f_pause,
				     .resume = f_resume,
				     .shutdown = f_shutdown,
				     .metrics = f_metrics};
	char *r;

	r = REQ(&ops, "{\"cmd\":\"shutdown\"}");
	CHECK_STR(r, "{\"method\":\"acpi-power-button\",\"ok\":true}");
	free(r);
	r = REQ(&ops, "{\"cmd\":\"shutdown\",\"force\":true}");
	CHECK_CONTAINS(r, "\"method\":\"stop\"");
	free(r);
	CHECK_EQ(f.shutdowns, 2);
	CHECK(f.forced);
	r = REQ(&ops, "{\"cmd\":\"shutdown\",\"force\":\"yes\"}");
	CHECK_CONTAINS(r, "\"ok\":false");
	CHECK_CONTAINS(r, "force: expected boolean");
	free(r);
	r = REQ(&ops, "{\"cmd\":\"metrics\"}");
	CHECK_STR(r, "{\"metrics\":{\"exits_io\":7},\"ok\":true}");
	free(r);
}

TEST(control_bad_requests_get_an_error_reply)
{
	struct fake f = {0};
	struct vm_control_ops ops = {.opaque = &f, .status = f_status};
	char *r;

	r = REQ(&ops, "{\"cmd\":\"hibernate\"}");
	CHECK_STR(r, "{\"ok\":false,\"error\":\"unknown cmd \\\"hibernate\\\"\"}");
	free(r);
	/* a verb the VM does not offer (ops NULL) */
	r = REQ(&ops, "{\"cmd\":\"snapshot\",\"path\":\"/tmp/x\"}");
	CHECK_CONTAINS(r, "snapshot not supported");
	free(r);
	r = REQ(&ops, "{cmd:");
	CHECK_CONTAINS(r, "\"ok\":false");
	CHECK_CONTAINS(r, "invalid JSON");
	free(r);
	r = REQ(&ops, "[1,2]");
	CHECK_CONTAINS(r, "expected a JSON object");
	free(r);
	r = REQ(&ops, "{\"command\":\"status\"}");
	CHECK_CONTAINS(r, "cmd: required field missing");
	free(r);
	r = REQ(&ops, "{\"cmd\":3}");
	CHECK_CONTAINS(r, "cmd: expected string");
	free(r);
	r = REQ(&ops, "{\"cmd\":\"pause\"}");
	CHECK_CONTAINS(r, "pause not supported");
	free(r);
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(sa.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads until n newlines arrived. */
static size_t read_lines(int fd, char *buf, size_t cap, int n)
{
	size_t len = 0;

	while (len < cap - 1) {
		ssize_t r = read(fd, buf + len, cap - 1 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
		buf[len] = 0;
		int lines = 0;
		for (size_t i = 0; i < len; i++)
			lines += buf[i] == '\n';
		if (lines >= n)
			break;
	}
	buf[len] = 0;
	return len;
}

TEST(control_socket_answers_each_line_and_is_removed_on_stop)
{
	struct fake f = {0};
	struct vm_control_ops ops = {.opaque = &f,
				     .status = f_status,
				     .pause = f_pause,
				     .resume = f_resume,
				     .shutdown = f_shutdown,
				     .metrics = f_metrics};
	struct vm_control *c;
	struct vs_err e;
	char path[64], buf[2048];
	struct stat st;

	snprintf(path, sizeof(path), "/tmp/vmctl-test.%d.sock", (int)getpid());
	REQUIRE(vm_control_start(&c, path, &ops, &e) == 0);
	REQUIRE(stat(path, &st) == 0);
	CHECK(S_ISSOCK(st.st_mode));
	CHECK_EQ(st.st_mode & 0777, 0600);

	int fd = connect_to(path);
	REQUIRE(fd >= 0);
	/* two requests in one write, the second split across writes */
	const char *a = "{\"cmd\":\"pause\"}\n{\"cmd\":\"st";
	const char *b = "atus\"}\nnot json\n";
	REQUIRE(write(fd, a, strlen(a)) == (ssize_t)strlen(a));
	REQUIRE(write(fd, b, strlen(b)) == (ssize_t)strlen(b));
	read_lines(fd, buf, sizeof(buf), 3);
	CHECK_CONTAINS(buf, "{\"ok\":true}\n{\"state\":\"paused\"");
	CHECK_CONTAINS(buf, "invalid JSON");
	close(fd);

	vm_control_stop(c);
	CHECK(stat(path, &st) < 0 && errno == ENOENT);
}

TEST(control_socket_start_fails_cleanly_on_bad_path)
{
	struct vm_control *c;
	struct vs_err e;
	struct fake f = {0};
	struct vm_control_ops ops = {.opaque = &f, .status = f_status};

	CHECK_EQ(vm_control_start(&c, "/nonexistent-dir/ctl.sock", &ops, &e), -1);
	CHECK_CONTAINS(e.msg, "/nonexistent-dir/ctl.sock");
	CHECK(c == NULL);
}

static uint64_t balloon_target;

static int f_balloon_set(void *o, uint64_t bytes, struct vs_err *e)
{
	if (bytes > (1ull << 30))
		return vs_fail(e, EINVAL, "balloon target exceeds guest RAM");
	balloon_target = bytes;
	return 0;
}

static int f_balloon_stats(void *o, struct json_object *out, struct vs_err *e)
{
	json_object_object_add(out, "actual_pages", json_object_new_int64(256));
	return 0;
}

static void f_status_pty(void *o, struct vm_control_status *st)
{
	f_status(o, st);
	st->serial_pty = "/dev/pts/7";
	st->console_pty = "";
}

TEST(control_balloon_sets_target_in_bytes_or_mib)
{
	struct fake f = {0};
	struct vm_control_ops ops = {.opaque = &f,
				     .status = f_status,
				     .balloon_set = f_balloon_set,
				     .balloon_stats = f_balloon_stats};
	char *r;

	r = REQ(&ops, "{\"cmd\":\"balloon\",\"target_mib\":64}");
	CHECK_STR(r, "{\"target\":67108864,\"ok\":true}");
	free(r);
	CHECK_EQ(balloon_target, 64ull << 20);
	r = REQ(&ops, "{\"cmd\":\"balloon\",\"target\":4096}");
	CHECK_CONTAINS(r, "\"ok\":true");
	free(r);
	CHECK_EQ(balloon_target, 4096);
	r = REQ(&ops, "{\"cmd\":\"balloon\"}");
	CHECK_CONTAINS(r, "one of target (bytes) or target_mib");
	free(r);
	r = REQ(&ops, "{\"cmd\":\"balloon\",\"target\":1,\"target_mib\":1}");
	CHECK_CONTAINS(r, "\"ok\":false");
	free(r);
	r = REQ(&ops, "{\"cmd\":\"balloon\",\"target\":\"1G\"}");
	CHECK_CONTAINS(r, "target: expected");
	free(r);
	r = REQ(&ops, "{\"cmd\":\"balloon\",\"target_mib\":4096}");
	CHECK_CONTAINS(r, "exceeds guest RAM");
	free(r);
	CHECK_EQ(balloon_target, 4096);
	r = REQ(&ops, "{\"cmd\":\"balloon_stats\"}");
	CHECK_STR(r, "{\"actual_pages\":256,\"ok\":true}");
	free(r);
}

TEST(control_status_names_pty_consoles)
{
	struct fake f = {0};
	struct vm_control_ops ops = {.opaque = &f, .status = f_status_pty};
	char *r = REQ(&ops, "{\"cmd\":\"status\"}");

	CHECK_CONTAINS(r, "\"serial_pty\":\"/dev/pts/7\"");
	CHECK(!strstr(r, "console_pty"));
	free(r);
	r = REQ(&ops, "{\"cmd\":\"balloon\",\"target\":1}");
	CHECK_CONTAINS(r, "balloon not supported");
	free(r);
}
