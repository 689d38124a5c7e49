/* Capabilities: parsing, and applying them for real in forked children
 * (checked through /proc/self/status). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/caps.h"
#include "test.h"
#include "vessel/cleanup.h"
#include "vessel/json.h"

#define BIT(c)		      (1ull << (c))
#define CAP_CHOWN_	      0
#define CAP_KILL_	      5
#define CAP_SETPCAP_	      8
#define CAP_NET_BIND_SERVICE_ 10
#define CAP_SYS_ADMIN_	      21
#define CAP_SYS_RESOURCE_     24

static int parse(const char *json, struct ct_caps *c, struct vs_err *e)
{
	autojson struct json_object *j = NULL;

	if (vs_json_parse("test", json, strlen(json), &j, e) < 0)
		return -2;
	return ct_caps_parse(j, "config.json: process.capabilities", c, e);
}

/* CapEff/CapPrm/... of the calling process. */
static uint64_t status_caps(const char *field)
{
	autofclose FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	size_t n = strlen(field);

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, field, n) && line[n] == ':')
			return strtoull(line + n + 1, NULL, 16);
	return ~0ull;
}

static int run_child(int (*fn)(void))
{
	pid_t pid = fork();
	int st;

	if (pid == 0)
		_exit(fn());
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

TEST(caps_parse_names_to_bits)
{
	struct vs_err e;
	struct ct_caps c;

	REQUIRE(parse("{\"bounding\":[\"CAP_CHOWN\",\"CAP_KILL\"],\"effective\":[\"CAP_KILL\"],"
		      "\"ambient\":[]}",
		      &c, &e) == 0);
	CHECK(c.set);
	CHECK_EQ(c.bounding, BIT(CAP_CHOWN_) | BIT(CAP_KILL_));
	CHECK_EQ(c.effective, BIT(CAP_KILL_));
	CHECK_EQ(c.permitted, 0);
	CHECK_EQ(ct_caps_from_name("CAP_SYS_ADMIN"), CAP_SYS_ADMIN_);
	CHECK_EQ(ct_caps_from_name("sys_admin"), CAP_SYS_ADMIN_);
	CHECK_STR(ct_caps_name(CAP_SYS_RESOURCE_), "CAP_SYS_RESOURCE");
	CHECK_EQ(ct_caps_from_name("CAP_NOPE"), -1);
}

TEST(caps_absent_section_sets_nothing)
{
	struct vs_err e;
	struct ct_caps c;

	CHECK(ct_caps_parse(NULL, "x", &c, &e) == 0);
	CHECK(!c.set);
	CHECK(ct_caps_drop_bounding(&c, &e) == 0);
	CHECK(ct_caps_apply(&c, &e) == 0);
}

TEST(caps_unknown_name_names_field_index)
{
	struct vs_err e;
	struct ct_caps c;

	CHECK(parse("{\"permitted\":[\"CAP_CHOWN\",\"CAP_FLY\"]}", &c, &e) == -1);
	CHECK_STR(e.msg, "config.json: process.capabilities.permitted[1]: unknown capability "
			 "\"CAP_FLY\"");
	CHECK(parse("{\"effective\":\"CAP_CHOWN\"}", &c, &e) == -1);
	CHECK_CONTAINS(e.msg, "process.capabilities.effective");
	CHECK(parse("{\"effective\":[3]}", &c, &e) == -1);
	CHECK_CONTAINS(e.msg, "effective[0]: expected string");
}

static int drop_bounding_child(void)
{
	struct vs_err e;
	struct ct_caps c = {.set = true};
	uint64_t before = status_caps("CapBnd");

	c.bounding = BIT(CAP_CHOWN_) | BIT(CAP_KILL_) | BIT(CAP_SETPCAP_);
	if (ct_caps_drop_bounding(&c, &e) < 0) {
		fprintf(stderr, "  %s\n", e.msg);
		return 1;
	}
	return status_caps("CapBnd") == (before & c.bounding) ? 0 : 2;
}

TEST(caps_drop_bounding_keeps_only_listed)
{
	CHECK_EQ(run_child(drop_bounding_child), 0);
}

/* The container init's sequence: bounding, keepcaps, setresuid, apply. */
static int user_switch_child(void)
{
	struct vs_err e;
	struct ct_caps c = {.set = true};
	uint64_t want = BIT(CAP_CHOWN_) | BIT(CAP_NET_BIND_SERVICE_);

	c.bounding = c.effective = c.permitted = c.inheritable = want;
	c.ambient = BIT(CAP_NET_BIND_SERVICE_);
	if (ct_caps_drop_bounding(&c, &e) < 0 || prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 ||
	    setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0 ||
	    ct_caps_apply(&c, &e) < 0) {
		fprintf(stderr, "  %s\n", e.msg);
		return 1;
	}
	if (status_caps("CapEff") != want || status_caps("CapPrm") != want)
		return 2;
	if (status_caps("CapInh") != want || status_caps("CapAmb") != c.ambient)
		return 3;
	if (status_caps("CapBnd") != want)
		return 4;
	return 0;
}

TEST(caps_apply_after_user_switch_sets_all_sets)
{
	CHECK_EQ(run_child(user_switch_child), 0);
}

static int not_held_child(void)
{
	struct vs_err e;
	struct ct_caps c = {.set = true};
	uint64_t want = BIT(CAP_CHOWN_) | BIT(CAP_SYS_RESOURCE_);

	c.bounding = c.effective = c.permitted = c.inheritable = c.ambient = want;
	if (ct_caps_drop_bounding(&c, &e) < 0 || ct_caps_apply(&c, &e) < 0) {
		fprintf(stderr, "  %s\n", e.msg);
		return 1;
	}
	/* CAP_CHOWN applied, CAP_SYS_RESOURCE left out rather than failing */
	if (status_caps("CapEff") != BIT(CAP_CHOWN_))
		return 2;
	if (status_caps("CapAmb") != BIT(CAP_CHOWN_))
		return 3;
	return 0;
}

TEST(caps_not_held_by_runtime_left_out_not_fatal)
{
	if (status_caps("CapPrm") & BIT(CAP_SYS_RESOURCE_))
		SKIP("this host grants CAP_SYS_RESOURCE, nothing to leave out");
	CHECK_EQ(run_child(not_held_child), 0);
}

static int empty_child(void)
{
	struct vs_err e;
	struct ct_caps c = {.set = true};

	if (ct_caps_drop_bounding(&c, &e) < 0 || ct_caps_apply(&c, &e) < 0)
		return 1;
	return status_caps("CapEff") == 0 && status_caps("CapBnd") == 0 ? 0 : 2;
}

TEST(caps_empty_lists_drop_everything)
{
	CHECK_EQ(run_child(empty_child), 0);
}
