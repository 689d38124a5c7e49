/* Hook runner: state on stdin, args and env, exit status, timeout. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "vessel/cleanup.h"
#include "vessel/fs.h"
#include "runtime/hooks.h"

static char tmpdir[64];

static int make_tmp(void)
{
	strcpy(tmpdir, "/tmp/vessel-hooks-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static void rm_tmp(void)
{
	struct vs_err e;

	vs_rm_rf(tmpdir, &e);
}

TEST(hook_receives_state_on_stdin)
{
	REQUIRE(make_tmp() == 0);
	autofree char *out = vs_path_join(tmpdir, "state");
	autofree char *cmd = vs_strdup_printf("cat > %s", out);
	char *args[] = {"sh", "-c", cmd, NULL};
	struct ct_hook h = {.path = "/bin/sh", .args = args};
	const char *state = "{\"ociVersion\":\"1.2.0\",\"id\":\"c1\",\"status\":\"creating\"}";
	struct vs_err e = {0};
	autofree char *got = NULL;

	CHECK_EQ(ct_hooks_run(&h, 1, "prestart", state, &e), 0);
	CHECK_EQ(vs_read_file(out, &got, NULL, &e), 0);
	CHECK_STR(got, state);
	rm_tmp();
}

TEST(hook_gets_its_args_and_only_its_env)
{
	REQUIRE(make_tmp() == 0);
	autofree char *out = vs_path_join(tmpdir, "env");
	autofree char *cmd =
		vs_strdup_printf("echo \"$0 $1 $HOOKVAR ${VESSEL_TEST_LEAK:-clean}\" > %s", out);
	char *args[] = {"sh", "-c", cmd, "first", "second", NULL};
	char *env[] = {"HOOKVAR=hello", NULL};
	struct ct_hook h = {.path = "/bin/sh", .args = args, .env = env};
	struct vs_err e = {0};
	autofree char *got = NULL;

	setenv("VESSEL_TEST_LEAK", "leaked", 1);
	CHECK_EQ(ct_hooks_run(&h, 1, "createRuntime", "{}", &e), 0);
	CHECK_EQ(vs_read_file(out, &got, NULL, &e), 0);
	CHECK_STR(got, "first second hello clean\n");
	unsetenv("VESSEL_TEST_LEAK");
	rm_tmp();
}

TEST(hook_nonzero_exit_is_reported_with_status)
{
	char *args[] = {"sh", "-c", "exit 3", NULL};
	struct ct_hook h = {.path = "/bin/sh", .args = args};
	struct vs_err e = {0};

	CHECK_EQ(ct_hooks_run(&h, 1, "poststop", "{}", &e), -1);
	CHECK_STR(e.msg, "hooks.poststop[0]: /bin/sh: exited with status 3");
}

TEST(hook_list_stops_at_first_failure_and_names_its_index)
{
	REQUIRE(make_tmp() == 0);
	autofree char *mark = vs_path_join(tmpdir, "third-ran");
	autofree char *cmd = vs_strdup_printf("touch %s", mark);
	char *ok_args[] = {"sh", "-c", "true", NULL};
	char *bad_args[] = {"sh", "-c", "kill -9 $$", NULL};
	char *mark_args[] = {"sh", "-c", cmd, NULL};
	struct ct_hook hs[] = {
		{.path = "/bin/sh", .args = ok_args},
		{.path = "/bin/sh", .args = bad_args},
		{.path = "/bin/sh", .args = mark_args},
	};
	struct vs_err e = {0};

	CHECK_EQ(ct_hooks_run(hs, 3, "createContainer", "{}", &e), -1);
	CHECK_CONTAINS(e.msg, "hooks.createContainer[1]: /bin/sh: killed by signal 9");
	CHECK(access(mark, F_OK) != 0);
	rm_tmp();
}

TEST(hook_timeout_kills_and_reports)
{
	char *args[] = {"sh", "-c", "exec sleep 10", NULL};
	struct ct_hook h = {.path = "/bin/sh", .args = args, .timeout = 1};
	struct vs_err e = {0};

	CHECK_EQ(ct_hooks_run(&h, 1, "prestart", "{}", &e), -1);
	CHECK_STR(e.msg, "hooks.prestart[0]: /bin/sh: timed out after 1 s");
	CHECK_EQ(e.errnum, ETIMEDOUT);
}

TEST(hook_that_cannot_be_executed_is_reported)
{
	struct ct_hook h = {.path = "/nonexistent/hook"};
	struct vs_err e = {0};

	CHECK_EQ(ct_hooks_run(&h, 1, "poststart", "{}", &e), -1);
	CHECK_CONTAINS(e.msg, "hooks.poststart[0]: /nonexistent/hook: cannot execute");
	CHECK_EQ(e.errnum, ENOENT);
}

TEST(hook_ignoring_large_state_on_stdin_still_succeeds)
{
	/* more than a pipe buffer, and the hook never reads it: no SIGPIPE, no hang */
	size_t n = 1 << 20;
	autofree char *big = malloc(n + 1);
	char *args[] = {"sh", "-c", "exec 0<&-; exit 0", NULL};
	struct ct_hook h = {.path = "/bin/sh", .args = args};
	struct vs_err e = {0};

	REQUIRE(big);
	memset(big, 'x', n);
	big[n] = '\0';
	CHECK_EQ(ct_hooks_run(&h, 1, "poststart", big, &e), 0);
}

TEST(hook_reads_large_state_completely)
{
	REQUIRE(make_tmp() == 0);
	autofree char *out = vs_path_join(tmpdir, "big");
	autofree char *cmd = vs_strdup_printf("cat > %s", out);
	size_t n = 300000;
	autofree char *big = malloc(n + 1);
	char *args[] = {"sh", "-c", cmd, NULL};
	struct ct_hook h = {.path = "/bin/sh", .args = args};
	struct vs_err e = {0};
	struct stat st;

	REQUIRE(big);
	memset(big, 'y', n);
	big[n] = '\0';
	CHECK_EQ(ct_hooks_run(&h, 1, "prestart", big, &e), 0);
	CHECK_EQ(stat(out, &st), 0);
	CHECK_EQ(st.st_size, n);
	rm_tmp();
}

TEST(hook_without_args_runs_with_path_as_argv0)
{
	struct ct_hook h = {.path = "/bin/true"};
	struct vs_err e = {0};

	CHECK_EQ(ct_hooks_run(&h, 1, "prestart", NULL, &e), 0);
	CHECK_EQ(ct_hooks_run(NULL, 0, "prestart", "{}", &e), 0);
}

TEST(poststart_and_poststop_lists_run_every_hook_after_a_failure)
{
	const char *kinds[] = {"poststart", "poststop"};

	for (size_t k = 0; k < 2; k++) {
		REQUIRE(make_tmp() == 0);
		autofree char *mark = vs_path_join(tmpdir, "last-ran");
		autofree char *cmd = vs_strdup_printf("echo ran >> %s", mark);
		char *bad_args[] = {"sh", "-c", "exit 4", NULL};
		char *mark_args[] = {"sh", "-c", cmd, NULL};
		struct ct_hook hs[] = {
			{.path = "/bin/sh", .args = bad_args},
			{.path = "/bin/sh", .args = mark_args},
		};
		struct vs_err e = {0};
		autofree char *got = NULL;

		CHECK_EQ(ct_hooks_run(hs, 2, kinds[k], "{}", &e), -1);
		CHECK_CONTAINS(e.msg, "[0]: /bin/sh: exited with status 4");
		CHECK_EQ(vs_read_file(mark, &got, NULL, &e), 0);
		CHECK_STR(got, "ran\n");
		rm_tmp();
	}
}

TEST(several_failing_poststop_hooks_report_the_first_and_the_count)
{
	char *bad1[] = {"sh", "-c", "exit 5", NULL};
	char *bad2[] = {"sh", "-c", "exit 6", NULL};
	char *ok[] = {"sh", "-c", "true", NULL};
	struct ct_hook hs[] = {
		{.path = "/bin/sh", .args = ok},
		{.path = "/bin/sh", .args = bad1},
		{.path = "/bin/sh", .args = bad2},
	};
	struct vs_err e = {0};

	CHECK_EQ(ct_hooks_run(hs, 3, "poststop", "{}", &e), -1);
	CHECK_CONTAINS(e.msg, "2 of 3 poststop hooks failed, the first: ");
	CHECK_CONTAINS(e.msg, "hooks.poststop[1]: /bin/sh: exited with status 5");
}
