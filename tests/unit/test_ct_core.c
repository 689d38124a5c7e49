/* runtime/state.c, ns.c, process.c, container.c (helpers), console.c. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "vessel/cleanup.h"
#include "vessel/fs.h"
#include "runtime/console.h"
#include "runtime/container.h"
#include "runtime/ns.h"
#include "runtime/process.h"
#include "runtime/state.h"

static char *tmpdir(void)
{
	char tmpl[] = "/tmp/vessel-ut-ct.XXXXXX";
	char *d = mkdtemp(tmpl);

	return d ? strdup(d) : NULL;
}

TEST(state_id_rules_follow_runc)
{
	struct vs_err e = {0};

	CHECK_EQ(ct_state_check_id("abc-DEF_1.2+3", &e), 0);
	CHECK_EQ(ct_state_check_id("", &e), -1);
	CHECK_EQ(ct_state_check_id(".", &e), -1);
	CHECK_EQ(ct_state_check_id("..", &e), -1);
	CHECK_EQ(ct_state_check_id("a/b", &e), -1);
	CHECK_CONTAINS(e.msg, "invalid container id \"a/b\"");
	CHECK_EQ(ct_state_check_id("a b", &e), -1);
}

TEST(state_save_load_roundtrip_and_duplicate_refused)
{
	autofree char *root = tmpdir();
	struct vs_err e = {0};
	struct ct_state s = {0}, *l = NULL;

	REQUIRE(root);
	CHECK_EQ(ct_state_dir_create(root, "c1", &e), 0);
	CHECK_EQ(ct_state_dir_create(root, "c1", &e), -1);
	CHECK_CONTAINS(e.msg, "container c1 already exists");
	s.id = "c1";
	s.dir = vs_path_join(root, "c1");
	s.bundle = "/b";
	s.rootfs = "/b/rootfs";
	s.pid = getpid();
	REQUIRE(ct_pid_start_time(getpid(), &s.start_time) == 0);
	s.created = "2026-01-01T00:00:00.000000000Z";
	s.owner = "root";
	s.cgroup_path = "/vessel/c1";
	s.annotations = json_object_new_object();
	json_object_object_add(s.annotations, "k", json_object_new_string("v"));
	REQUIRE(ct_state_save(&s, &e) == 0);
	REQUIRE(ct_state_load(root, "c1", &l, &e) == 0);
	CHECK_STR(l->bundle, "/b");
	CHECK_STR(l->rootfs, "/b/rootfs");
	CHECK_EQ(l->pid, getpid());
	CHECK_EQ(l->start_time, s.start_time);
	CHECK_STR(l->cgroup_path, "/vessel/c1");
	/* we are alive and there is no exec.fifo: running */
	CHECK_EQ(ct_state_status(l), CT_RUNNING);

	autofree char *json = ct_state_json_string(l, CT_RUNNING, false);

	CHECK_CONTAINS(json, "\"status\":\"running\"");
	CHECK_CONTAINS(json, "\"annotations\":{\"k\":\"v\"}");
	CHECK_CONTAINS(json, "\"ociVersion\":\"1.");
	ct_state_free(l);
	json_object_put(s.annotations);
	free(s.dir);
	CHECK_EQ(ct_state_load(root, "nope", &l, &e), -1);
	CHECK_CONTAINS(e.msg, "container nope does not exist");
	vs_rm_rf(root, NULL);
}

TEST(state_unknown_version_refused)
{
	autofree char *root = tmpdir();
	autofree char *dir = NULL, *path = NULL;
	struct vs_err e = {0};
	struct ct_state *l = NULL;
	const char *doc = "{\"vessel_state_version\": 99, \"id\": \"c\"}";

	REQUIRE(root);
	dir = vs_path_join(root, "c");
	path = vs_path_join(dir, "state.json");
	REQUIRE(mkdir(dir, 0700) == 0);
	REQUIRE(vs_write_file(path, doc, strlen(doc), 0600, &e) == 0);
	CHECK_EQ(ct_state_load(root, "c", &l, &e), -1);
	CHECK_CONTAINS(e.msg, "state version 99 is not supported");
	vs_rm_rf(root, NULL);
}

TEST(state_dead_or_reused_pid_is_stopped)
{
	struct ct_state s = {0};
	pid_t child = fork();

	REQUIRE(child >= 0);
	if (child == 0)
		_exit(0);
	REQUIRE(ct_pid_start_time(getpid(), &s.start_time) == 0);
	waitpid(child, NULL, 0);
	s.dir = "/nonexistent";
	s.pid = child; /* gone */
	CHECK_EQ(ct_state_status(&s), CT_STOPPED);
	s.pid = getpid();
	s.start_time += 1; /* same pid, another process */
	CHECK_EQ(ct_state_status(&s), CT_STOPPED);
	CHECK(!ct_pid_alive(0, 0));
}

TEST(state_zombie_counts_as_gone)
{
	unsigned long long t;
	pid_t child = fork();

	REQUIRE(child >= 0);
	if (child == 0)
		_exit(0);
	/* not reaped yet: a zombie once it has exited */
	for (int i = 0; i < 1000; i++) {
		if (ct_pid_start_time(child, &t) < 0)
			break;
		usleep(1000);
	}
	CHECK_EQ(ct_pid_start_time(child, &t), -1);
	waitpid(child, NULL, 0);
}

TEST(state_list_ids_sorted_and_missing_root_empty)
{
	autofree char *root = tmpdir();
	autostrv char **ids = NULL;
	size_t n = 9;
	struct vs_err e = {0};

	REQUIRE(root);
	CHECK_EQ(ct_state_list_ids("/nonexistent/root", &ids, &n, &e), 0);
	CHECK_EQ(n, 0);
	REQUIRE(ct_state_dir_create(root, "b", &e) == 0);
	REQUIRE(ct_state_dir_create(root, "a", &e) == 0);
	REQUIRE(ct_state_list_ids(root, &ids, &n, &e) == 0);
	REQUIRE(n == 2);
	CHECK_STR(ids[0], "a");
	CHECK_STR(ids[1], "b");
	vs_rm_rf(root, NULL);
}

TEST(ns_map_format_and_lookup)
{
	struct ct_id_map m[2] = {{0, 100000, 1000}, {1000, 5000, 1}};
	autofree char *s = ct_ns_format_map(m, 2);

	CHECK_STR(s, "0 100000 1000\n1000 5000 1\n");
	CHECK(ct_ns_id_mapped(m, 2, 0));
	CHECK(ct_ns_id_mapped(m, 2, 999));
	CHECK(ct_ns_id_mapped(m, 2, 1000));
	CHECK(!ct_ns_id_mapped(m, 2, 1001));
	CHECK(ct_ns_id_mapped(NULL, 0, 12345));
}

TEST(signal_names_numbers_and_prefix)
{
	CHECK_EQ(ct_signal_parse("KILL"), SIGKILL);
	CHECK_EQ(ct_signal_parse("SIGKILL"), SIGKILL);
	CHECK_EQ(ct_signal_parse("sigterm"), SIGTERM);
	CHECK_EQ(ct_signal_parse("9"), 9);
	CHECK_EQ(ct_signal_parse("RTMIN+2"), SIGRTMIN + 2);
	CHECK_EQ(ct_signal_parse("SIGRTMAX-1"), SIGRTMAX - 1);
	CHECK_EQ(ct_signal_parse("0"), -1);
	CHECK_EQ(ct_signal_parse("999"), -1);
	CHECK_EQ(ct_signal_parse("FOO"), -1);
	CHECK_EQ(ct_signal_parse("9x"), -1);
	CHECK_EQ(ct_signal_parse(""), -1);
}

TEST(cpu_list_parse)
{
	cpu_set_t set;

	CHECK_EQ(ct_parse_cpu_list("0-2,5", &set, sizeof(set)), 0);
	CHECK(CPU_ISSET(0, &set) && CPU_ISSET(1, &set) && CPU_ISSET(2, &set));
	CHECK(!CPU_ISSET(3, &set) && CPU_ISSET(5, &set));
	CHECK_EQ(ct_parse_cpu_list("3-1", &set, sizeof(set)), -1);
	CHECK_EQ(ct_parse_cpu_list("1,,2", &set, sizeof(set)), -1);
	CHECK_EQ(ct_parse_cpu_list("a", &set, sizeof(set)), -1);
	CHECK_EQ(ct_parse_cpu_list("99999", &set, sizeof(set)), -1);
}

TEST(find_exec_uses_process_path)
{
	char *args[] = {"sh", NULL};
	char *env_ok[] = {"PATH=/nonexistent:/bin", NULL};
	char *env_bad[] = {"PATH=/nonexistent", NULL};
	char *missing[] = {"/no/such/prog", NULL};
	struct ct_process p = {.args = args, .env = env_ok};
	struct vs_err e = {0};
	char *out = NULL;

	REQUIRE(ct_process_find_exec(&p, &out, &e) == 0);
	CHECK_STR(out, "/bin/sh");
	free(out);
	p.env = env_bad;
	CHECK_EQ(ct_process_find_exec(&p, &out, &e), -1);
	CHECK_CONTAINS(e.msg, "exec: \"sh\": executable file not found in $PATH");
	p.args = missing;
	CHECK_EQ(ct_process_find_exec(&p, &out, &e), -1);
	CHECK_CONTAINS(e.msg, "/no/such/prog");
}

TEST(process_env_adds_home_once)
{
	char *env[] = {"A=1", NULL};
	char *env_home[] = {"HOME=/h", NULL};
	char *extra[] = {"LISTEN_FDS=2", NULL};
	struct ct_process p = {.env = env, .uid = 0};
	char **v = ct_process_env(&p, extra);

	CHECK_STR(v[0], "A=1");
	CHECK_STR(v[1], "LISTEN_FDS=2");
	CHECK(!strncmp(v[2], "HOME=", 5));
	CHECK(v[3] == NULL);
	vs_strvfreep(&v);
	p.env = env_home;
	v = ct_process_env(&p, NULL);
	CHECK_STR(v[0], "HOME=/h");
	CHECK(v[1] == NULL);
	vs_strvfreep(&v);
}

TEST(sync_error_message_travels)
{
	int sv[2];
	struct vs_err sent = {0}, got = {0};
	struct ct_sync_msg m;

	REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	vs_fail(&sent, ENOENT, "mounts[3].source: /x");
	CHECK_EQ(ct_sync_send(sv[1], CT_SYNC_PID, 42, NULL), 0);
	CHECK_EQ(ct_sync_recv(sv[0], &m, "init", &got), 0);
	CHECK_EQ(m.type, CT_SYNC_PID);
	CHECK_EQ(m.val, 42);
	CHECK_EQ(ct_sync_send(sv[1], CT_SYNC_ERROR, 0, &sent), 0);
	CHECK_EQ(ct_sync_recv(sv[0], &m, "init", &got), -1);
	CHECK_STR(got.msg, "mounts[3].source: /x");
	CHECK_EQ(got.errnum, ENOENT);
	close(sv[1]);
	CHECK_EQ(ct_sync_recv(sv[0], &m, "container init", &got), -1);
	CHECK_CONTAINS(got.msg, "container init exited unexpectedly");
	close(sv[0]);
}

TEST(console_pty_fd_passes_over_socket)
{
	int sv[2], master = -1, slave = -1, got = -1;
	struct vs_err e = {0};
	char buf[16] = {0};

	if (access("/dev/ptmx", R_OK | W_OK) < 0)
		SKIP("no /dev/ptmx");
	REQUIRE(ct_console_open("/dev/ptmx", 24, 80, &master, &slave, &e) == 0);
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	CHECK_EQ(ct_console_send(sv[0], master, "/dev/console", &e), 0);
	REQUIRE(ct_console_recv(sv[1], &got, &e) == 0);
	/* the received fd is the same master: what the slave writes arrives */
	CHECK_EQ(write(slave, "hi\n", 3), 3);
	CHECK(read(got, buf, sizeof(buf) - 1) > 0);
	CHECK_CONTAINS(buf, "hi");
	close(got);
	close(master);
	close(slave);
	close(sv[0]);
	close(sv[1]);
}

TEST(prepare_fds_rejects_closed_preserved_fd)
{
	struct vs_err e = {0};
	pid_t child = fork();
	int st = 0;

	REQUIRE(child >= 0);
	if (child == 0) {
		/* fd 200 is closed: asking to preserve up to it must fail */
		int r = ct_prepare_fds(198, &e);

		_exit(r == -1 && strstr(e.msg, "--preserve-fds") ? 0 : 1);
	}
	waitpid(child, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

TEST(state_id_must_match_directory)
{
	autofree char *root = tmpdir();
	autofree char *dir = NULL, *path = NULL;
	struct vs_err e = {0};
	struct ct_state *l = NULL;
	const char *doc = "{\"vessel_state_version\": 1, \"id\": \"other\", \"bundle\": \"/b\","
			  " \"rootfs\": \"/b/r\", \"pid\": 1, \"start_time\": 1}";

	REQUIRE(root);
	dir = vs_path_join(root, "c");
	path = vs_path_join(dir, "state.json");
	REQUIRE(mkdir(dir, 0700) == 0);
	REQUIRE(vs_write_file(path, doc, strlen(doc), 0600, &e) == 0);
	CHECK_EQ(ct_state_load(root, "c", &l, &e), -1);
	CHECK_CONTAINS(e.msg, "id \"other\" does not match the directory");
	CHECK(l == NULL);
	vs_rm_rf(root, NULL);
}

TEST(state_parse_names_bad_field)
{
	struct vs_err e = {0};
	struct ct_state *l = NULL;
	const char *doc = "{\"vessel_state_version\": 1, \"id\": \"c\", \"bundle\": 3}";

	CHECK_EQ(ct_state_parse("state.json", doc, strlen(doc), "/d", &l, &e), -1);
	CHECK_CONTAINS(e.msg, "bundle");
	CHECK_EQ(ct_state_parse("state.json", "[]", 2, "/d", &l, &e), -1);
	CHECK_CONTAINS(e.msg, "expected an object");
}
