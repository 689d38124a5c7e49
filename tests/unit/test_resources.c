/* linux.resources parsing into struct vs_cgroup_resources. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/resources.h"
#include "test.h"
#include "vessel/cleanup.h"
#include "vessel/fs.h"
#include "vessel/json.h"

static int parse(const char *json, struct vs_cgroup_resources *r, struct vs_err *e)
{
	autojson struct json_object *j = NULL;

	if (vs_json_parse("test", json, strlen(json), &j, e) < 0)
		return -2;
	return ct_resources_parse(j, "config.json: linux.resources", r, e);
}

static const char *expect_err(const char *json)
{
	static struct vs_err e;
	struct vs_cgroup_resources r;
	int rc = parse(json, &r, &e);

	vs_cgroup_resources_free(&r);
	return rc == -1 ? e.msg : "(parsed)";
}

TEST(resources_full_spec_parsed)
{
	struct vs_err e;
	struct vs_cgroup_resources r;

	REQUIRE(parse("{"
		      "\"devices\":[{\"allow\":false,\"access\":\"rwm\"},"
		      "  {\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":3,\"access\":\"rw\"}],"
		      "\"memory\":{\"limit\":67108864,\"reservation\":33554432,\"swap\":134217728,"
		      "  \"swappiness\":10,\"disableOOMKiller\":true},"
		      "\"cpu\":{\"shares\":512,\"quota\":50000,\"period\":100000,\"cpus\":\"0-1\","
		      "  \"mems\":\"0\"},"
		      "\"pids\":{\"limit\":32},"
		      "\"blockIO\":{\"weight\":300,\"weightDevice\":[{\"major\":8,\"minor\":0,"
		      "  \"weight\":500,\"leafWeight\":20}],\"throttleReadBpsDevice\":[{\"major\":8,"
		      "  \"minor\":0,\"rate\":1048576}]},"
		      "\"hugepageLimits\":[{\"pageSize\":\"2MB\",\"limit\":8388608}],"
		      "\"network\":{\"classID\":1048577,\"priorities\":[{\"name\":\"eth0\","
		      "  \"priority\":5}]},"
		      "\"unified\":{\"memory.high\":\"50000000\"}"
		      "}",
		      &r, &e) == 0);
	CHECK(r.has_devices);
	CHECK_EQ(r.n_devices, 2);
	CHECK(!r.devices[0].allow && r.devices[0].type == 'a' && r.devices[0].major == -1);
	CHECK(r.devices[1].allow && r.devices[1].type == 'c' && r.devices[1].minor == 3);
	CHECK_STR(r.devices[1].access, "rw");
	CHECK(r.has_memory_limit && r.memory_limit == 64 << 20);
	CHECK(r.has_memory_reservation && r.memory_reservation == 32 << 20);
	CHECK(r.has_memory_swap && r.memory_swap == 128 << 20);
	CHECK(r.has_memory_swappiness && r.memory_swappiness == 10);
	CHECK(r.has_disable_oom_killer && r.disable_oom_killer);
	CHECK(r.has_cpu_shares && r.cpu_shares == 512);
	CHECK(r.has_cpu_quota && r.cpu_quota == 50000);
	CHECK(r.has_cpu_period && r.cpu_period == 100000);
	CHECK_STR(r.cpuset_cpus, "0-1");
	CHECK_STR(r.cpuset_mems, "0");
	CHECK(r.has_pids_limit && r.pids_limit == 32);
	CHECK(r.has_blkio_weight && r.blkio_weight == 300);
	CHECK_EQ(r.n_blkio_weight_dev, 1);
	CHECK(r.n_blkio_weight_dev == 1 && r.blkio_weight_dev[0].value == 500 &&
	      r.blkio_weight_dev[0].has_leaf_weight && r.blkio_weight_dev[0].leaf_weight == 20);
	CHECK(r.n_throttle_read_bps == 1 && r.throttle_read_bps[0].value == 1048576);
	CHECK(r.n_hugetlb == 1 && !strcmp(r.hugetlb[0].page_size, "2MB") &&
	      r.hugetlb[0].limit == 8388608);
	CHECK(r.has_net_class_id && r.net_class_id == 1048577);
	CHECK(r.n_net_prio == 1 && !strcmp(r.net_prio[0].key, "eth0") &&
	      !strcmp(r.net_prio[0].value, "5"));
	CHECK(r.n_unified == 1 && !strcmp(r.unified[0].key, "memory.high"));
	vs_cgroup_resources_free(&r);
	CHECK(r.devices == NULL && r.n_devices == 0);
}

TEST(resources_zero_means_unset_like_runc)
{
	struct vs_err e;
	struct vs_cgroup_resources r;

	REQUIRE(parse("{\"memory\":{\"limit\":0,\"swap\":0},\"cpu\":{\"shares\":0,\"quota\":0},"
		      "\"pids\":{\"limit\":0}}",
		      &r, &e) == 0);
	CHECK(!r.has_memory_limit && !r.has_memory_swap && !r.has_cpu_shares && !r.has_cpu_quota &&
	      !r.has_pids_limit);
	CHECK(!r.has_devices);
	vs_cgroup_resources_free(&r);
	REQUIRE(parse("{\"memory\":{\"limit\":-1},\"pids\":{\"limit\":-1}}", &r, &e) == 0);
	CHECK(r.has_memory_limit && r.memory_limit == -1);
	CHECK(r.has_pids_limit && r.pids_limit == -1);
	vs_cgroup_resources_free(&r);
}

TEST(resources_bad_values_name_the_field)
{
	CHECK_STR(expect_err("{\"memory\":{\"swappiness\":200}}"),
		  "config.json: linux.resources.memory.swappiness: 200 is not in 0..100");
	CHECK_CONTAINS(expect_err("{\"memory\":{\"limit\":\"lots\"}}"),
		       "config.json: linux.resources.memory.limit");
	CHECK_CONTAINS(expect_err("{\"memory\":{\"limit\":-5}}"),
		       "linux.resources.memory.limit: -5 is not a byte count or -1");
	CHECK_CONTAINS(expect_err("{\"memory\":{\"limit\":100000,\"swap\":5000}}"),
		       "linux.resources.memory.swap: 5000 is below limit 100000");
	CHECK_STR(expect_err("{\"devices\":[{\"allow\":true},{\"allow\":true,\"type\":\"x\"}]}"),
		  "config.json: linux.resources.devices[1].type: \"x\" is not a, b or c");
	CHECK_CONTAINS(expect_err("{\"devices\":[{\"allow\":true,\"access\":\"rwx\"}]}"),
		       "devices[0].access: \"rwx\" is not a subset of \"rwm\"");
	CHECK_CONTAINS(expect_err("{\"devices\":[{\"type\":\"c\"}]}"), "devices[0].allow");
	CHECK_CONTAINS(expect_err("{\"cpu\":{\"cpus\":\"0-1; rm -rf\"}}"),
		       "linux.resources.cpu.cpus");
	CHECK_CONTAINS(expect_err("{\"hugepageLimits\":[{\"pageSize\":\"2XB\",\"limit\":1}]}"),
		       "hugepageLimits[0].pageSize: \"2XB\"");
	CHECK_CONTAINS(expect_err("{\"hugepageLimits\":[{\"pageSize\":\"../2MB\",\"limit\":1}]}"),
		       "hugepageLimits[0].pageSize");
	CHECK_CONTAINS(expect_err("{\"blockIO\":{\"weight\":5}}"),
		       "linux.resources.blockIO.weight: 5 is not in 10..1000");
	CHECK_CONTAINS(expect_err("{\"blockIO\":{\"throttleReadBpsDevice\":[{\"major\":8}]}}"),
		       "blockIO.throttleReadBpsDevice[0].minor");
	CHECK_CONTAINS(expect_err("{\"unified\":{\"../../tasks\":\"1\"}}"),
		       "\"../../tasks\" is not a cgroup file name");
	CHECK_CONTAINS(expect_err("{\"unified\":{\"memory.high\":5}}"),
		       "linux.resources.unified.memory.high: expected string");
	CHECK_CONTAINS(expect_err("{\"rdma\":{\"mlx5_1\":{\"hcaHandles\":3}}}"), "rdma");
	CHECK_CONTAINS(expect_err("{\"memory\":[]}"), "linux.resources.memory");
	CHECK_CONTAINS(expect_err("[]"), "linux.resources: expected object");
}

TEST(resources_load_file_for_update)
{
	char path[] = "/tmp/vs-res-XXXXXX";
	int fd = mkstemp(path);
	struct vs_err e;
	struct vs_cgroup_resources r;
	const char *body = "{\"memory\":{\"limit\":1048576},\"pids\":{\"limit\":7}}";

	REQUIRE(fd >= 0);
	REQUIRE(write(fd, body, strlen(body)) == (ssize_t)strlen(body));
	close(fd);
	CHECK(ct_resources_load_file(path, &r, &e) == 0);
	CHECK(r.has_memory_limit && r.memory_limit == 1048576);
	CHECK(r.has_pids_limit && r.pids_limit == 7);
	CHECK(!r.has_cpu_shares);
	vs_cgroup_resources_free(&r);
	unlink(path);
	CHECK(ct_resources_load_file(path, &r, &e) < 0);
	CHECK_CONTAINS(e.msg, path);
	vs_cgroup_resources_free(&r);
}

TEST(resources_default_devices_follow_user_rules)
{
	struct vs_err e;
	struct vs_cgroup_resources r;

	REQUIRE(parse("{\"devices\":[{\"allow\":false,\"access\":\"rwm\"}]}", &r, &e) == 0);
	ct_resources_add_default_devices(&r);
	REQUIRE(r.n_devices > 5);
	CHECK(!r.devices[0].allow);
	bool null = false, pts = false;
	for (size_t i = 1; i < r.n_devices; i++) {
		CHECK(r.devices[i].allow);
		null |= r.devices[i].major == 1 && r.devices[i].minor == 3;
		pts |= r.devices[i].major == 136 && r.devices[i].minor == -1;
	}
	CHECK(null && pts);
	vs_cgroup_resources_free(&r);
}
