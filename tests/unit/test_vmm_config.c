/* vmm/config.c: flags, JSON config file, validation. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "vessel/fs.h"
#include "vmm/config.h"

#define ARGS(...)	 ((char *[]){__VA_ARGS__})
#define NARGS(...)	 ((int)(sizeof((char *[]){__VA_ARGS__}) / sizeof(char *)))
#define PARSE(c, e, ...) vm_config_from_args(c, NARGS(__VA_ARGS__), ARGS(__VA_ARGS__), e)

static char tmpdir[64];

static char *tmpfile_with(const char *name, const char *content)
{
	static char path[128];
	struct vs_err e;

	if (!tmpdir[0]) {
		strcpy(tmpdir, "/tmp/vmcfg.XXXXXX");
		if (!mkdtemp(tmpdir))
			abort();
	}
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	if (vs_write_file(path, content, strlen(content), 0644, &e) < 0)
		abort();
	return path;
}

__attribute__((destructor)) static void cleanup_tmp(void)
{
	struct vs_err e;

	if (tmpdir[0])
		vs_rm_rf(tmpdir, &e);
}

TEST(config_defaults_are_one_cpu_128m_serial_stdout)
{
	struct vm_config c;

	vm_config_init(&c);
	CHECK_EQ(c.cpus, 1);
	CHECK_EQ(c.mem_size, 128ull << 20);
	CHECK_EQ(c.serial.kind, VM_CONSOLE_STDOUT);
	CHECK_EQ(c.console.kind, VM_CONSOLE_NONE);
	CHECK(c.host_profile == NULL);
	vm_config_free(&c);
}

TEST(config_flags_fill_every_field)
{
	struct vm_config c;
	struct vs_err e;

	vm_config_init(&c);
	int r = PARSE(&c, &e, "--kernel", "/k", "--initrd=/i", "--cmdline", "console=ttyS0",
		      "--memory", "1G", "--cpus", "4", "--disk", "/d.img,ro,id=root", "--disk",
		      "/e.img", "--net", "tap=tap0,mac=52:54:00:12:34:56", "--vsock",
		      "cid=3,path=/tmp/v.sock", "--rng", "--balloon", "--console", "pty",
		      "--serial", "file:/tmp/log", "--control-socket", "/tmp/c.sock",
		      "--memory-backend", "memfd", "--hugepages", "--no-seccomp", "--host-profile",
		      "pvm", "--boot-times");
	REQUIRE(r == 0);
	CHECK_STR(c.kernel, "/k");
	CHECK_STR(c.initrd, "/i");
	CHECK_STR(c.cmdline, "console=ttyS0");
	CHECK_EQ(c.mem_size, 1ull << 30);
	CHECK_EQ(c.cpus, 4);
	CHECK_EQ(c.nr_disks, 2);
	CHECK_STR(c.disks[0].path, "/d.img");
	CHECK(c.disks[0].readonly);
	CHECK_STR(c.disks[0].id, "root");
	CHECK(!c.disks[1].readonly);
	CHECK(c.disks[1].id == NULL);
	CHECK_EQ(c.nr_nets, 1);
	CHECK_STR(c.nets[0].tap, "tap0");
	CHECK(c.nets[0].has_mac);
	CHECK_EQ(c.nets[0].mac[5], 0x56);
	CHECK(c.vsock.enabled);
	CHECK_EQ(c.vsock.cid, 3);
	CHECK_STR(c.vsock.uds_path, "/tmp/v.sock");
	CHECK(c.rng && c.balloon && c.mem_hugepages && c.mem_memfd && c.no_seccomp);
	CHECK_EQ(c.console.kind, VM_CONSOLE_PTY);
	CHECK_EQ(c.serial.kind, VM_CONSOLE_FILE);
	CHECK_STR(c.serial.path, "/tmp/log");
	CHECK_STR(c.control_socket, "/tmp/c.sock");
	CHECK_STR(c.host_profile, "pvm");
	CHECK(c.boot_times);
	vm_config_free(&c);
}

TEST(config_bad_flags_name_the_flag)
{
	struct vm_config c;
	struct vs_err e;

	vm_config_init(&c);
	CHECK_EQ(PARSE(&c, &e, "--memory", "3X"), -1);
	CHECK_CONTAINS(e.msg, "--memory");
	CHECK_CONTAINS(e.msg, "3X");
	CHECK_EQ(PARSE(&c, &e, "--cpus", "two"), -1);
	CHECK_CONTAINS(e.msg, "--cpus");
	CHECK_EQ(PARSE(&c, &e, "--frobnicate"), -1);
	CHECK_CONTAINS(e.msg, "unknown option --frobnicate");
	CHECK_EQ(PARSE(&c, &e, "--kernel"), -1);
	CHECK_CONTAINS(e.msg, "--kernel: missing value");
	CHECK_EQ(PARSE(&c, &e, "--rng=yes"), -1);
	CHECK_CONTAINS(e.msg, "--rng takes no value");
	CHECK_EQ(PARSE(&c, &e, "kernel"), -1);
	CHECK_CONTAINS(e.msg, "unexpected argument");
	CHECK_EQ(PARSE(&c, &e, "--net", "tap=t0,mac=01:00:00:00:00:01"), -1);
	CHECK_CONTAINS(e.msg, "multicast");
	CHECK_EQ(PARSE(&c, &e, "--net", "mac=52:54:00:00:00:01"), -1);
	CHECK_CONTAINS(e.msg, "tap=NAME");
	CHECK_EQ(PARSE(&c, &e, "--disk", "/x,id=abcdefghijklmnopqrstuvwxyz"), -1);
	CHECK_CONTAINS(e.msg, "longer than 20");
	CHECK_EQ(PARSE(&c, &e, "--disk", "/x,rw"), -1);
	CHECK_CONTAINS(e.msg, "unknown option \"rw\"");
	CHECK_EQ(PARSE(&c, &e, "--vsock", "cid=3"), -1);
	CHECK_CONTAINS(e.msg, "--vsock");
	CHECK_EQ(PARSE(&c, &e, "--serial", "tcp:1234"), -1);
	CHECK_CONTAINS(e.msg, "--serial");
	CHECK_EQ(PARSE(&c, &e, "--memory-backend", "shm"), -1);
	CHECK_EQ(PARSE(&c, &e, "--host-profile", "xen"), -1);
	CHECK_CONTAINS(e.msg, "auto, none or pvm");
	vm_config_free(&c);
}

TEST(config_bare_memory_number_is_mib)
{
	struct vm_config c;
	struct vs_err e;

	vm_config_init(&c);
	CHECK_EQ(PARSE(&c, &e, "--memory", "256"), 0);
	CHECK_EQ(c.mem_size, 256ull << 20);
	CHECK_EQ(PARSE(&c, &e, "--memory", "64K"), 0);
	CHECK_EQ(c.mem_size, 64ull << 10);
	vm_config_free(&c);
}

TEST(config_validate_checks_ranges_and_files)
{
	struct vm_config c;
	struct vs_err e;
	char *k = tmpfile_with("kernel", "x");

	vm_config_init(&c);
	CHECK_EQ(vm_config_validate(&c, &e), -1);
	CHECK_CONTAINS(e.msg, "no kernel");
	REQUIRE(PARSE(&c, &e, "--kernel", k) == 0);
	CHECK_EQ(vm_config_validate(&c, &e), 0);

	c.mem_size = 0;
	CHECK_EQ(vm_config_validate(&c, &e), -1);
	CHECK_CONTAINS(e.msg, "memory");
	c.mem_size = 2ull << 40;
	CHECK_EQ(vm_config_validate(&c, &e), -1);
	c.mem_size = (1ull << 20) + 1;
	CHECK_EQ(vm_config_validate(&c, &e), -1);
	CHECK_CONTAINS(e.msg, "multiple of 4K");
	c.mem_size = 128ull << 20;
	c.cpus = 0;
	CHECK_EQ(vm_config_validate(&c, &e), -1);
	CHECK_CONTAINS(e.msg, "cpus");
	c.cpus = 33;
	CHECK_EQ(vm_config_validate(&c, &e), -1);
	c.cpus = 32;
	CHECK_EQ(vm_config_validate(&c, &e), 0);

	REQUIRE(PARSE(&c, &e, "--initrd", "/nonexistent/initrd") == 0);
	CHECK_EQ(vm_config_validate(&c, &e), -1);
	CHECK_CONTAINS(e.msg, "initrd /nonexistent/initrd");
	CHECK_EQ(e.errnum, ENOENT);
	free(c.initrd);
	c.initrd = NULL;

	REQUIRE(PARSE(&c, &e, "--vsock", "cid=2,path=/tmp/x") == 0);
	CHECK_EQ(vm_config_validate(&c, &e), -1);
	CHECK_CONTAINS(e.msg, "cid 2");
	c.vsock.cid = 3;
	CHECK_EQ(vm_config_validate(&c, &e), 0);

	REQUIRE(PARSE(&c, &e, "--control-socket", k) == 0);
	CHECK_EQ(vm_config_validate(&c, &e), -1);
	CHECK_CONTAINS(e.msg, "already exists");
	vm_config_free(&c);
}

TEST(config_file_fills_fields_and_flags_override)
{
	struct vm_config c;
	struct vs_err e;
	char *p = tmpfile_with(
		"good.json",
		"{ \"vcpus\": 2, \"memory\": \"512M\", \"kernel\": \"/k\", \"cmdline\": "
		"\"quiet\",\n"
		"  \"disks\": [ { \"path\": \"/a.img\", \"readonly\": true, \"id\": \"a\" } ],\n"
		"  \"nets\": [ { \"tap\": \"tap1\" } ],\n"
		"  \"vsock\": { \"cid\": 7, \"uds_path\": \"/tmp/vs\" },\n"
		"  \"console\": { \"serial\": \"none\", \"virtio\": \"stdout\" },\n"
		"  \"rng\": true, \"balloon\": false, \"control_socket\": \"/tmp/ctl\",\n"
		"  \"memory_backend\": \"memfd\", \"seccomp\": false, \"host_profile\": \"none\", "
		"\"boot_times\": true "
		"}\n");

	vm_config_init(&c);
	REQUIRE(PARSE(&c, &e, "--config", p, "--cpus", "3") == 0);
	CHECK_EQ(c.cpus, 3);
	CHECK_EQ(c.mem_size, 512ull << 20);
	CHECK_STR(c.kernel, "/k");
	CHECK_STR(c.cmdline, "quiet");
	CHECK_EQ(c.nr_disks, 1);
	CHECK(c.disks[0].readonly);
	CHECK_STR(c.disks[0].id, "a");
	CHECK_EQ(c.nr_nets, 1);
	CHECK(!c.nets[0].has_mac);
	CHECK_EQ(c.vsock.cid, 7);
	CHECK_EQ(c.serial.kind, VM_CONSOLE_NONE);
	CHECK_EQ(c.console.kind, VM_CONSOLE_STDOUT);
	CHECK(c.rng && !c.balloon && c.mem_memfd && c.no_seccomp);
	CHECK_STR(c.control_socket, "/tmp/ctl");
	CHECK_STR(c.host_profile, "none");
	CHECK(c.boot_times);
	vm_config_free(&c);
}

TEST(config_file_errors_name_line_and_field)
{
	struct vm_config c;
	struct vs_err e;

	vm_config_init(&c);
	char *p = tmpfile_with("bad.json", "{\n  \"vcpus\": 2,\n  \"memory\": ,\n}\n");
	CHECK_EQ(vm_config_from_file(&c, p, &e), -1);
	CHECK_CONTAINS(e.msg, "bad.json: line 3");

	p = tmpfile_with("type.json", "{ \"vcpus\": \"two\" }");
	CHECK_EQ(vm_config_from_file(&c, p, &e), -1);
	CHECK_CONTAINS(e.msg, "type.json: vcpus: expected int, got string");

	p = tmpfile_with("disk.json", "{ \"disks\": [ { \"path\": \"/a\", \"readonly\": 1 } ] }");
	CHECK_EQ(vm_config_from_file(&c, p, &e), -1);
	CHECK_CONTAINS(e.msg, "disks[0].readonly: expected boolean, got int");

	p = tmpfile_with("unk.json", "{ \"vcpu\": 2 }");
	CHECK_EQ(vm_config_from_file(&c, p, &e), -1);
	CHECK_CONTAINS(e.msg, "unknown field \"vcpu\"");

	p = tmpfile_with("mem.json", "{ \"memory\": true }");
	CHECK_EQ(vm_config_from_file(&c, p, &e), -1);
	CHECK_CONTAINS(e.msg, "memory: expected string");

	p = tmpfile_with("neg.json", "{ \"vcpus\": -1 }");
	CHECK_EQ(vm_config_from_file(&c, p, &e), -1);
	CHECK_CONTAINS(e.msg, "vcpus: -1 out of range");

	p = tmpfile_with("vs.json", "{ \"vsock\": { \"uds_path\": \"/x\" } }");
	CHECK_EQ(vm_config_from_file(&c, p, &e), -1);
	CHECK_CONTAINS(e.msg, "vsock.cid: required");

	p = tmpfile_with("arr.json", "[1]");
	CHECK_EQ(vm_config_from_file(&c, p, &e), -1);
	CHECK_CONTAINS(e.msg, "JSON object");

	CHECK_EQ(vm_config_from_file(&c, "/nonexistent/vm.json", &e), -1);
	CHECK_CONTAINS(e.msg, "/nonexistent/vm.json");
	vm_config_free(&c);
}
