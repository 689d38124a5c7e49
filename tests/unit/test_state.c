/* vmm/state.c: device state sections. */
#include <stdint.h>
#include <string.h>

#include "test.h"
#include "vmm/state.h"

TEST(state_round_trips_fields_little_endian)
{
	struct vm_state_writer w;
	struct vm_state_reader r;
	struct vs_err e;
	uint8_t a;
	uint16_t b;
	uint32_t c;
	uint64_t d;
	char s[5];

	vm_sw_init(&w);
	vm_sw_u8(&w, 0x12);
	vm_sw_u16(&w, 0x3456);
	vm_sw_u32(&w, 0x789abcde);
	vm_sw_u64(&w, 0x0123456789abcdefull);
	vm_sw_bytes(&w, "abcd", 5);
	REQUIRE(!w.failed);
	CHECK_EQ(w.len, 1 + 2 + 4 + 8 + 5);
	CHECK_EQ(w.buf[1], 0x56); /* low byte first */
	CHECK_EQ(w.buf[2], 0x34);
	CHECK_EQ(w.buf[7], 0xef);

	vm_sr_init(&r, "serial", w.buf, w.len);
	CHECK_EQ(vm_sr_u8(&r, &a, &e), 0);
	CHECK_EQ(vm_sr_u16(&r, &b, &e), 0);
	CHECK_EQ(vm_sr_u32(&r, &c, &e), 0);
	CHECK_EQ(vm_sr_u64(&r, &d, &e), 0);
	CHECK_EQ(vm_sr_bytes(&r, s, 5, &e), 0);
	CHECK_EQ(a, 0x12);
	CHECK_EQ(b, 0x3456);
	CHECK_EQ(c, 0x789abcde);
	CHECK(d == 0x0123456789abcdefull);
	CHECK_STR(s, "abcd");
	CHECK_EQ(vm_sr_end(&r, &e), 0);
	vm_sw_free(&w);
}

TEST(state_truncated_section_names_section_and_offset)
{
	struct vm_state_reader r;
	struct vs_err e;
	uint8_t buf[6] = {0};
	uint32_t v;
	uint64_t q;

	vm_sr_init(&r, "virtio-blk0", buf, sizeof(buf));
	CHECK_EQ(vm_sr_u32(&r, &v, &e), 0);
	v = 0x55;
	CHECK_EQ(vm_sr_u64(&r, &q, &e), -1);
	CHECK_CONTAINS(e.msg, "virtio-blk0");
	CHECK_CONTAINS(e.msg, "offset 4");
	CHECK_EQ(r.pos, 4); /* nothing consumed by the failed read */
	CHECK_EQ(vm_sr_u32(&r, &v, &e), -1);
	CHECK_EQ(v, 0x55);
}

TEST(state_leftover_bytes_are_refused)
{
	struct vm_state_reader r;
	struct vs_err e;
	uint8_t buf[3] = {1, 2, 3};
	uint16_t v;

	vm_sr_init(&r, "rtc", buf, sizeof(buf));
	CHECK_EQ(vm_sr_u16(&r, &v, &e), 0);
	CHECK_EQ(vm_sr_end(&r, &e), -1);
	CHECK_CONTAINS(e.msg, "rtc: 1 unexpected bytes");
}

TEST(state_writer_grows_for_large_sections)
{
	struct vm_state_writer w;
	static uint8_t big[100000];

	memset(big, 0x77, sizeof(big));
	vm_sw_init(&w);
	for (int i = 0; i < 3; i++)
		vm_sw_bytes(&w, big, sizeof(big));
	CHECK(!w.failed);
	CHECK_EQ(w.len, 300000);
	CHECK(w.cap >= w.len);
	CHECK_EQ(w.buf[299999], 0x77);
	vm_sw_free(&w);
	CHECK(w.buf == NULL);
}
