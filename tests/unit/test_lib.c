/* libvessel: errors, files, JSON field access. */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "vessel/cleanup.h"
#include "vessel/fs.h"
#include "vessel/json.h"

TEST(err_prefix_keeps_cause)
{
	struct vs_err e;
	char buf[600];

	vs_fail(&e, ENOENT, "open %s", "config.json");
	vs_err_prefix(&e, "bundle %s", "/b");
	CHECK_STR(e.msg, "bundle /b: open config.json");
	CHECK_EQ(e.errnum, ENOENT);
	CHECK_CONTAINS(vs_err_str(&e, buf, sizeof(buf)), "No such file or directory");
}

TEST(parse_size_accepts_binary_suffixes)
{
	unsigned long long v = 0;

	CHECK(vs_parse_size("128M", &v) == 0 && v == 128ull << 20);
	CHECK(vs_parse_size("1G", &v) == 0 && v == 1ull << 30);
	CHECK(vs_parse_size("64k", &v) == 0 && v == 64ull << 10);
	CHECK(vs_parse_size("4096", &v) == 0 && v == 4096);
	CHECK(vs_parse_size("2GiB", &v) == 0 && v == 2ull << 30);
	CHECK(vs_parse_size("12X", &v) < 0);
	CHECK(vs_parse_size("", &v) < 0);
	CHECK(vs_parse_size("-1M", &v) < 0);
	CHECK(vs_parse_size("99999999999999999999G", &v) < 0);
}

TEST(mkdir_p_and_rm_rf_round_trip)
{
	char tmpl[] = "/tmp/vs-fs-XXXXXX";
	struct vs_err e;
	struct stat st;
	REQUIRE(mkdtemp(tmpl));
	autofree char *deep = vs_path_join(tmpl, "a/b/c");
	autofree char *file = vs_path_join(deep, "f");

	CHECK(vs_mkdir_p(deep, 0755, &e) == 0);
	CHECK(vs_write_file(file, "hi", 2, 0644, &e) == 0);
	CHECK(vs_rm_rf(tmpl, &e) == 0);
	CHECK(stat(tmpl, &st) < 0 && errno == ENOENT);
	CHECK(vs_rm_rf(tmpl, &e) == 0); /* missing is fine */
}

TEST(read_missing_file_names_it)
{
	struct vs_err e;
	char *buf = NULL;

	CHECK(vs_read_file("/nonexistent/vessel", &buf, NULL, &e) < 0);
	CHECK_CONTAINS(e.msg, "/nonexistent/vessel");
	CHECK_EQ(e.errnum, ENOENT);
}

TEST(json_syntax_error_names_line)
{
	struct vs_err e;
	struct json_object *j = NULL;
	const char doc[] = "{\n \"a\": 1,\n \"b\": ]\n}";

	CHECK(vs_json_parse("config.json", doc, sizeof(doc) - 1, &j, &e) < 0);
	CHECK_CONTAINS(e.msg, "config.json: line 3");
	CHECK(vs_json_parse("x", "{} junk", 7, &j, &e) < 0);
	CHECK_CONTAINS(e.msg, "trailing data");
	CHECK(vs_json_parse("x", "{\"a\":", 5, &j, &e) < 0);
	CHECK_CONTAINS(e.msg, "unexpected end");
}

TEST(json_typed_getters_name_field)
{
	struct vs_err e;
	autojson struct json_object *j = NULL;
	const char doc[] = "{\"uid\": \"0\", \"gid\": 5, \"big\": 18446744073709551615,"
			   " \"neg\": -3, \"args\": [\"a\", 1]}";
	int64_t i = 0;
	uint64_t u = 0;
	char **v = NULL;

	REQUIRE(vs_json_parse("c", doc, sizeof(doc) - 1, &j, &e) == 0);
	CHECK(vs_json_get_i64(j, "process.user", "uid", false, &i, &e) < 0);
	CHECK_STR(e.msg, "process.user.uid: expected integer, got string");
	CHECK(vs_json_get_i64(j, "p", "gid", true, &i, &e) == 0 && i == 5);
	CHECK(vs_json_get_u64(j, "p", "big", true, &u, &e) == 0 && u == UINT64_MAX);
	CHECK(vs_json_get_i64(j, "p", "big", true, &i, &e) < 0);
	CHECK(vs_json_get_u64(j, "p", "neg", true, &u, &e) < 0);
	CHECK(vs_json_get_range(j, "p", "gid", true, 0, 4, &i, &e) < 0);
	CHECK_CONTAINS(e.msg, "out of range");
	CHECK(vs_json_get_i64(j, "p", "missing", true, &i, &e) < 0);
	CHECK_CONTAINS(e.msg, "p.missing: required field missing");
	CHECK(vs_json_get_strv(j, "process", "args", true, &v, &e) < 0);
	CHECK_STR(e.msg, "process.args[1]: expected string, got integer");
	CHECK(v == NULL);
}
