/* seccomp: profile parsing errors, and filters loaded for real in forked
 * children (the syscall must fail with the profile's errno). */
#include <errno.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/seccomp.h"
#include "test.h"
#include "vessel/cleanup.h"
#include "vessel/fs.h"
#include "vessel/json.h"

static int parse(const char *json, struct ct_seccomp **s, struct vs_err *e)
{
	autojson struct json_object *j = NULL;

	if (vs_json_parse("test", json, strlen(json), &j, e) < 0)
		return -2;
	return ct_seccomp_parse(j, "config.json: linux.seccomp", s, e);
}

static const char *expect_err(const char *json)
{
	static struct vs_err e;
	struct ct_seccomp *s = NULL;

	if (parse(json, &s, &e) != -1) {
		ct_seccomp_free(s);
		return "(parsed)";
	}
	return e.msg;
}

TEST(seccomp_absent_is_no_filter)
{
	struct vs_err e;
	struct ct_seccomp *s = (struct ct_seccomp *)1;

	CHECK(ct_seccomp_parse(NULL, "x", &s, &e) == 0);
	CHECK(s == NULL);
	CHECK(ct_seccomp_apply(NULL, &e) == 0);
}

TEST(seccomp_bad_fields_are_named)
{
	CHECK_CONTAINS(expect_err("{}"), "linux.seccomp.defaultAction");
	CHECK_STR(expect_err("{\"defaultAction\":\"SCMP_ACT_MAYBE\"}"),
		  "config.json: linux.seccomp.defaultAction: unknown action \"SCMP_ACT_MAYBE\"");
	CHECK_STR(expect_err("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":"
			     "[\"getpid\"],\"action\":\"SCMP_ACT_ERRNO\"},{\"names\":[\"read\"],"
			     "\"action\":\"SCMP_ACT_NOPE\"}]}"),
		  "config.json: linux.seccomp.syscalls[1].action: unknown action "
		  "\"SCMP_ACT_NOPE\"");
	CHECK_STR(expect_err("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":"
			     "[\"kill\"],\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":1,"
			     "\"value\":0,\"op\":\"SCMP_CMP_ALMOST\"}]}]}"),
		  "config.json: linux.seccomp.syscalls[0].args[0].op: unknown operator "
		  "\"SCMP_CMP_ALMOST\"");
	CHECK_CONTAINS(expect_err("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":"
				  "[\"kill\"],\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":6,"
				  "\"value\":0,\"op\":\"SCMP_CMP_EQ\"}]}]}"),
		       "syscalls[0].args[0].index");
	CHECK_STR(expect_err("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":"
			     "[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_Z80\"]}"),
		  "config.json: linux.seccomp.architectures[1]: unknown architecture "
		  "\"SCMP_ARCH_Z80\"");
	CHECK_CONTAINS(expect_err("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":"
				  "[\"SECCOMP_FILTER_FLAG_FAST\"]}"),
		       "linux.seccomp.flags[0]: unknown or unsupported flag");
	CHECK_CONTAINS(expect_err("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":"
				  "[\"mkdir\"],\"action\":\"SCMP_ACT_NOTIFY\"}]}"),
		       "SCMP_ACT_NOTIFY needs listenerPath");
	CHECK_CONTAINS(expect_err("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":"
				  "[],\"action\":\"SCMP_ACT_ERRNO\"}]}"),
		       "syscalls[0].names: empty");
	CHECK_CONTAINS(expect_err("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":"
				  "[\"mkdir\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":-1}]}"),
		       "syscalls[0].errnoRet");
}

TEST(seccomp_same_argument_twice_refused_as_libseccomp_does)
{
	CHECK_STR(expect_err("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":"
			     "[\"kill\"],\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":1,"
			     "\"value\":5,\"op\":\"SCMP_CMP_GE\"},{\"index\":1,\"value\":10,"
			     "\"op\":\"SCMP_CMP_LE\"}]}]}"),
		  "config.json: linux.seccomp.syscalls[0].args[1].index: argument 1 is already "
		  "compared by config.json: linux.seccomp.syscalls[0].args[0]; libseccomp allows "
		  "one comparison per argument in a rule (use two rules)");
}

TEST(seccomp_unknown_syscall_names_skipped)
{
	struct vs_err e;
	struct ct_seccomp *s = NULL;

	CHECK(parse("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_X86_64\","
		    "\"SCMP_ARCH_X86\",\"SCMP_ARCH_X32\"],\"flags\":[\"SECCOMP_FILTER_FLAG_LOG\"],"
		    "\"syscalls\":[{\"names\":[\"no_such_syscall_2099\",\"mkdir\"],"
		    "\"action\":\"SCMP_ACT_ERRNO\"}]}",
		    &s, &e) == 0);
	CHECK(s != NULL);
	ct_seccomp_free(s);
}

/* Child: parse + NNP + apply, then run probe; exit code says what happened. */
static const char *child_profile;
static int (*child_probe)(void);

static int run_child(const char *profile, int (*probe)(void), bool nnp)
{
	pid_t pid;
	int st;

	child_profile = profile;
	child_probe = probe;
	pid = fork();
	if (pid == 0) {
		struct vs_err e;
		struct ct_seccomp *s = NULL;

		if (parse(child_profile, &s, &e) < 0) {
			fprintf(stderr, "  parse: %s\n", e.msg);
			_exit(90);
		}
		if (nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			_exit(91);
		if (ct_seccomp_apply(s, &e) < 0) {
			fprintf(stderr, "  apply: %s\n", e.msg);
			_exit(92);
		}
		_exit(child_probe());
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static char probe_dir[64];

static int probe_mkdir(void)
{
	if (mkdir(probe_dir, 0700) == 0) {
		rmdir(probe_dir);
		return 1;
	}
	return errno == EPERM ? 0 : 2;
}

TEST(seccomp_errno_rule_blocks_mkdir)
{
	snprintf(probe_dir, sizeof(probe_dir), "/tmp/vs-seccomp-%d", (int)getpid());
	CHECK_EQ(run_child("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":"
			   "[\"mkdir\",\"mkdirat\"],\"action\":\"SCMP_ACT_ERRNO\"}]}",
			   probe_mkdir, true),
		 0);
	CHECK(access(probe_dir, F_OK) < 0);
}

static int probe_kill_args(void)
{
	/* signal 0 hits the rule (EACCES from errnoRet), SIGCONT does not */
	if (kill(getpid(), 0) == 0 || errno != EACCES)
		return 1;
	if (kill(getpid(), SIGCONT) != 0)
		return 2;
	return 0;
}

TEST(seccomp_arg_comparison_and_errno_ret)
{
	CHECK_EQ(run_child("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":"
			   "[\"kill\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":13,\"args\":"
			   "[{\"index\":1,\"value\":0,\"op\":\"SCMP_CMP_EQ\"}]}]}",
			   probe_kill_args, true),
		 0);
}

static int probe_umask(void)
{
	umask(022);
	return 0;
}

TEST(seccomp_kill_process_action_kills_with_sigsys)
{
	CHECK_EQ(run_child("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":"
			   "[\"umask\"],\"action\":\"SCMP_ACT_KILL_PROCESS\"}]}",
			   probe_umask, true),
		 128 + SIGSYS);
}

static int probe_getppid(void)
{
	long r = syscall(SYS_getppid);
	int ok = r == -1 && errno == ENOSYS;

	/* straight to exit_group: the sanitizer's exit path makes syscalls a
	 * deny-by-default filter refuses */
	syscall(SYS_exit_group, ok ? 0 : 1);
	return 2;
}

TEST(seccomp_rule_errno_ret_reaches_caller)
{
	CHECK_EQ(run_child("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":"
			   "[\"getppid\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":38}]}",
			   probe_getppid, true),
		 0);
}

TEST(seccomp_default_errno_ret_used)
{
	/* deny by default: after the load the child makes only raw getppid
	 * and exit_group calls, so only exit_group needs allowing */
	CHECK_EQ(run_child("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":38,"
			   "\"syscalls\":[{\"names\":[\"exit_group\"],"
			   "\"action\":\"SCMP_ACT_ALLOW\"}]}",
			   probe_getppid, true),
		 0);
}

static int probe_nothing(void)
{
	return 0;
}

static int no_admin_child(void)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	struct vs_err e;
	struct ct_seccomp *s = NULL;

	if (parse("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\"],"
		  "\"action\":\"SCMP_ACT_ERRNO\"}]}",
		  &s, &e) < 0)
		return 90;
	if (syscall(SYS_capget, &h, d) < 0)
		return 91;
	d[0].effective &= ~(1u << CAP_SYS_ADMIN);
	if (syscall(SYS_capset, &h, d) < 0)
		return 92;
	if (ct_seccomp_apply(s, &e) == 0)
		return 1;
	return strstr(e.msg, "no_new_privs") ? 0 : 2;
}

TEST(seccomp_without_nnp_or_sys_admin_explains)
{
	pid_t pid = fork();
	int st;

	if (pid == 0)
		_exit(no_admin_child());
	REQUIRE(pid > 0 && waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st));
	CHECK_EQ(WEXITSTATUS(st), 0);
	/* with CAP_SYS_ADMIN and no NNP it loads */
	CHECK_EQ(run_child("{\"defaultAction\":\"SCMP_ACT_ALLOW\"}", probe_nothing, false), 0);
}

TEST(seccomp_notify_sends_listener_fd)
{
	char dir[] = "/tmp/vs-seccomp-XXXXXX";
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char buf[4096], cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {buf, sizeof(buf) - 1};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf)};
	autofree char *profile = NULL;
	autoclose int ls = -1, conn = -1;
	int st, fd = -1;
	ssize_t n;
	pid_t pid;

	REQUIRE(mkdtemp(dir));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/l.sock", dir);
	ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	REQUIRE(ls >= 0 && bind(ls, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(ls, 1) == 0);
	profile = vs_strdup_printf("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerPath\":\"%s\","
				   "\"listenerMetadata\":\"meta-42\",\"syscalls\":[{\"names\":"
				   "[\"getppid\"],\"action\":\"SCMP_ACT_NOTIFY\"}]}",
				   sa.sun_path);
	pid = fork();
	if (pid == 0) {
		struct vs_err e;
		struct ct_seccomp *s = NULL;

		if (parse(profile, &s, &e) < 0 || !ct_seccomp_uses_notify(s))
			_exit(90);
		ct_seccomp_set_container(s, "ctr-7", "/b/7");
		prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
		if (ct_seccomp_apply(s, &e) < 0) {
			fprintf(stderr, "  %s\n", e.msg);
			_exit(91);
		}
		/* the supervisor answers this one with EROFS */
		_exit(syscall(SYS_getppid) == -1 && errno == EROFS ? 0 : 1);
	}
	REQUIRE(pid > 0);
	conn = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	REQUIRE(conn >= 0);
	n = recvmsg(conn, &mh, 0);
	REQUIRE(n > 0);
	buf[n] = '\0';
	CHECK_CONTAINS(buf, "\"seccompFd\"");
	CHECK_CONTAINS(buf, "\"metadata\":\"meta-42\"");
	CHECK_CONTAINS(buf, "\"id\":\"ctr-7\"");
	CHECK_CONTAINS(buf, "\"bundle\":\"\\/b\\/7\"");
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	REQUIRE(cm && cm->cmsg_type == SCM_RIGHTS);
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	{
		struct seccomp_notif *req = NULL;
		struct seccomp_notif_resp *resp = NULL;

		REQUIRE(seccomp_notify_alloc(&req, &resp) == 0);
		CHECK(seccomp_notify_receive(fd, req) == 0);
		CHECK_EQ(req->pid, pid);
		resp->id = req->id;
		resp->error = -EROFS;
		resp->val = 0;
		resp->flags = 0;
		CHECK(seccomp_notify_respond(fd, resp) == 0);
		seccomp_notify_free(req, resp);
	}
	close(fd);
	REQUIRE(waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st));
	CHECK_EQ(WEXITSTATUS(st), 0);
	unlink(sa.sun_path);
	rmdir(dir);
}
