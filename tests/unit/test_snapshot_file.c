/* The snapshot container file: round trip and refusal of damaged files. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "vessel/cleanup.h"
#include "vessel/crc32c.h"
#include "vessel/fs.h"
#include "vmm/snapshot_file.h"

static char *write_sample(void)
{
	struct vm_snap_writer w;
	struct vs_err e;
	char *path = strdup("/tmp/vs-snap-XXXXXX");
	int fd = mkstemp(path);
	uint8_t big[1000];

	close(fd);
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);
	vm_snap_writer_init(&w);
	if (vm_snap_writer_add(&w, "machine", "cpus=2", 6, &e) < 0 ||
	    vm_snap_writer_add(&w, "vcpu0", big, sizeof(big), &e) < 0 ||
	    vm_snap_writer_add(&w, "empty", NULL, 0, &e) < 0 ||
	    vm_snap_writer_write(&w, path, "vessel-vmm 0.1", &e) < 0) {
		fprintf(stderr, "  %s\n", e.msg);
		free(path);
		path = NULL;
	}
	vm_snap_writer_free(&w);
	return path;
}

TEST(crc32c_matches_known_vector)
{
	/* RFC 3720 B.4: 32 bytes of zeros */
	uint8_t zeros[32] = {0};

	CHECK_EQ(vs_crc32c(0, "123456789", 9), 0xe3069283u);
	CHECK_EQ(vs_crc32c(0, zeros, sizeof(zeros)), 0x8a9136aau);
	/* running CRC over pieces equals one pass */
	CHECK_EQ(vs_crc32c(vs_crc32c(0, "12345", 5), "6789", 4), 0xe3069283u);
}

TEST(snapshot_round_trip_keeps_sections)
{
	autofree char *path = write_sample();
	struct vm_snap s;
	struct vs_err e;
	const struct vm_snap_section *sec;

	REQUIRE(path);
	REQUIRE(vm_snap_open(path, &s, &e) == 0);
	CHECK_STR(s.vmm_version, "vessel-vmm 0.1");
	CHECK_EQ(s.nr, 3);
	sec = vm_snap_find(&s, "machine");
	REQUIRE(sec);
	CHECK(sec->len == 6 && !memcmp(sec->data, "cpus=2", 6));
	sec = vm_snap_find(&s, "vcpu0");
	REQUIRE(sec);
	CHECK(sec->len == 1000 && sec->data[999] == (uint8_t)(999 * 7));
	CHECK(vm_snap_find(&s, "empty") && vm_snap_find(&s, "empty")->len == 0);
	CHECK(vm_snap_need(&s, "irqchip", &sec, &e) < 0);
	CHECK_CONTAINS(e.msg, "section \"irqchip\" missing");
	vm_snap_close(&s);
	unlink(path);
}

TEST(snapshot_refuses_every_truncation)
{
	autofree char *path = write_sample();
	autofree char *buf = NULL;
	size_t len;
	struct vs_err e;
	int refused = 0;

	REQUIRE(path);
	REQUIRE(vs_read_file(path, &buf, &len, &e) == 0);
	for (size_t cut = 0; cut < len; cut++) {
		uint8_t *copy = malloc(cut + 1);
		struct vm_snap s;

		memcpy(copy, buf, cut);
		if (vm_snap_parse("snap", copy, cut, &s, &e) < 0)
			refused++;
		else
			vm_snap_close(&s);
		free(copy);
	}
	CHECK_EQ(refused, (long long)len);
	unlink(path);
}

TEST(snapshot_refuses_flipped_bits_naming_the_damage)
{
	autofree char *path = write_sample();
	autofree char *buf = NULL;
	size_t len;
	struct vs_err e;
	struct vm_snap s;
	int refused = 0;

	REQUIRE(path);
	REQUIRE(vs_read_file(path, &buf, &len, &e) == 0);
	for (size_t i = 0; i < len; i++) {
		/* padding between sections is not covered by any checksum */
		uint8_t *copy = malloc(len);

		memcpy(copy, buf, len);
		copy[i] ^= 0x10;
		if (vm_snap_parse("snap", copy, len, &s, &e) < 0) {
			refused++;
		} else {
			vm_snap_close(&s);
			copy = NULL;
		}
		free(copy);
	}
	/* 3 sections: header 64 + table 144 + data 6 + 1000: only padding bytes may pass */
	CHECK(refused >= 64 + 144 + 6 + 1000);
	/* a flip inside section data names the section */
	{
		uint8_t *copy = malloc(len);

		memcpy(copy, buf, len);
		copy[len - 10] ^= 1; /* inside vcpu0's data, the last non-empty section */
		CHECK(vm_snap_parse("snap", copy, len, &s, &e) < 0);
		CHECK_CONTAINS(e.msg, "section \"vcpu0\": checksum mismatch");
		free(copy);
	}
	unlink(path);
}

TEST(snapshot_refuses_foreign_version_and_magic)
{
	autofree char *path = write_sample();
	autofree char *buf = NULL;
	size_t len;
	struct vs_err e;
	struct vm_snap s;

	REQUIRE(path);
	REQUIRE(vs_read_file(path, &buf, &len, &e) == 0);
	buf[8] = 2;
	CHECK(vm_snap_parse("snap", (uint8_t *)buf, len, &s, &e) < 0);
	CHECK_CONTAINS(e.msg, "format version 2");
	buf[8] = 1;
	buf[0] = 'X';
	CHECK(vm_snap_parse("snap", (uint8_t *)buf, len, &s, &e) < 0);
	CHECK_CONTAINS(e.msg, "not a Vessel snapshot");
	CHECK(vm_snap_open("/nonexistent/snap", &s, &e) < 0);
	CHECK_CONTAINS(e.msg, "/nonexistent/snap");
	unlink(path);
}

TEST(snapshot_writer_refuses_duplicate_section)
{
	struct vm_snap_writer w;
	struct vs_err e;

	vm_snap_writer_init(&w);
	CHECK(vm_snap_writer_add(&w, "rtc", "x", 1, &e) == 0);
	CHECK(vm_snap_writer_add(&w, "rtc", "y", 1, &e) < 0);
	CHECK_CONTAINS(e.msg, "added twice");
	CHECK(vm_snap_writer_add(&w, "a-name-much-longer-than-the-limit", "y", 1, &e) < 0);
	vm_snap_writer_free(&w);
}
