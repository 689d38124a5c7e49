/* MC146818 RTC/CMOS through ports 0x70/0x71. */
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "platform_harness.h"
#include "vmm/layout.h"

static uint8_t cmos_read(uint8_t i)
{
	outb(0x70, i);
	return inb(0x71);
}

static void cmos_write(uint8_t i, uint8_t v)
{
	outb(0x70, i);
	outb(0x71, v);
}

static int create(void)
{
	struct vs_err e;

	if (vm_rtc_device.create(&H.ctx, &e) < 0) {
		fprintf(stderr, "  create: %s\n", e.msg);
		return -1;
	}
	return 0;
}

static unsigned bcd(uint8_t v)
{
	return (v >> 4) * 10 + (v & 15);
}

TEST(rtc_reads_host_utc_time_in_bcd_24h)
{
	REQUIRE(h_init(1 << 20) == 0);
	REQUIRE(create() == 0);
	bool matched = false;
	/* retry when a second boundary falls between host and guest reads */
	for (int tries = 0; tries < 5 && !matched; tries++) {
		time_t before = time(NULL);
		uint8_t sec = cmos_read(0), min = cmos_read(2), hour = cmos_read(4);
		uint8_t wday = cmos_read(6), mday = cmos_read(7), mon = cmos_read(8);
		uint8_t year = cmos_read(9), cent = cmos_read(0x32);
		time_t after = time(NULL);
		if (before != after)
			continue;
		struct tm tm;
		gmtime_r(&before, &tm);
		matched = bcd(sec) == (unsigned)tm.tm_sec && bcd(min) == (unsigned)tm.tm_min &&
			  bcd(hour) == (unsigned)tm.tm_hour &&
			  bcd(wday) == (unsigned)tm.tm_wday + 1 &&
			  bcd(mday) == (unsigned)tm.tm_mday &&
			  bcd(mon) == (unsigned)tm.tm_mon + 1 &&
			  bcd(year) == (unsigned)(tm.tm_year % 100) &&
			  bcd(cent) == (unsigned)(tm.tm_year + 1900) / 100;
	}
	CHECK(matched);
	vm_rtc_device.destroy();
	h_fini();
}

TEST(rtc_set_mode_freezes_and_formats_binary_and_12h)
{
	REQUIRE(h_init(1 << 20) == 0);
	REQUIRE(create() == 0);
	CHECK_EQ(cmos_read(0x0b), 0x02);
	cmos_write(0x0b, 0x82); /* SET, BCD, 24 h */
	cmos_write(0x00, 0x45);
	cmos_write(0x02, 0x30);
	cmos_write(0x04, 0x15);
	cmos_write(0x07, 0x31); /* the 31st before the month: not normalised */
	cmos_write(0x08, 0x01);
	cmos_write(0x09, 0x31);
	cmos_write(0x32, 0x20);
	CHECK_EQ(cmos_read(0x00), 0x45);
	CHECK_EQ(cmos_read(0x02), 0x30);
	CHECK_EQ(cmos_read(0x04), 0x15);
	CHECK_EQ(cmos_read(0x07), 0x31);
	CHECK_EQ(cmos_read(0x08), 0x01);
	CHECK_EQ(cmos_read(0x09), 0x31);
	CHECK_EQ(cmos_read(0x32), 0x20);

	cmos_write(0x0b, 0x86); /* binary */
	CHECK_EQ(cmos_read(0x04), 15);
	CHECK_EQ(cmos_read(0x00), 45);
	cmos_write(0x0b, 0x84); /* binary, 12-hour: 3 PM */
	CHECK_EQ(cmos_read(0x04), 0x83);
	cmos_write(0x04, 0x80 | 12); /* 12 PM is noon */
	cmos_write(0x0b, 0x86);
	CHECK_EQ(cmos_read(0x04), 12);
	cmos_write(0x0b, 0x84);
	cmos_write(0x04, 12); /* 12 AM is midnight */
	cmos_write(0x0b, 0x86);
	CHECK_EQ(cmos_read(0x04), 0);
	vm_rtc_device.destroy();
	h_fini();
}

TEST(rtc_guest_time_offset_survives_save_and_restore)
{
	struct vm_state_writer w;
	struct vs_err e;

	REQUIRE(h_init(1 << 20) == 0);
	REQUIRE(create() == 0);
	cmos_write(0x0b, 0x82);
	cmos_write(0x09, 0x31); /* 2031-06-15 12:00:00 */
	cmos_write(0x08, 0x06);
	cmos_write(0x07, 0x15);
	cmos_write(0x04, 0x12);
	cmos_write(0x02, 0x00);
	cmos_write(0x00, 0x00);
	cmos_write(0x0b, 0x02); /* the clock runs from there */
	CHECK_EQ(cmos_read(0x09), 0x31);
	CHECK_EQ(cmos_read(0x08), 0x06);
	CHECK_EQ(cmos_read(0x07), 0x15);
	CHECK_EQ(cmos_read(0x06), 0x01); /* a Sunday */
	cmos_write(0x50, 0xab);
	REQUIRE(h_save(&vm_rtc_device, &w) == 0);

	vm_rtc_device.destroy();
	REQUIRE(create() == 0);
	CHECK(cmos_read(0x09) != 0x31); /* a new machine runs on host time */
	CHECK_EQ(cmos_read(0x50), 0);
	REQUIRE(h_restore(&vm_rtc_device, &w, &e) == 0);
	CHECK_EQ(cmos_read(0x09), 0x31);
	CHECK_EQ(cmos_read(0x08), 0x06);
	CHECK_EQ(cmos_read(0x07), 0x15);
	CHECK_EQ(cmos_read(0x50), 0xab);

	w.buf[0] = 7;
	CHECK(h_restore(&vm_rtc_device, &w, &e) < 0);
	CHECK_CONTAINS(e.msg, "version");
	w.buf[0] = 1;
	w.buf[1] = 0x80;
	CHECK(h_restore(&vm_rtc_device, &w, &e) < 0);
	CHECK_CONTAINS(e.msg, "index");
	w.buf[1] = 0;
	w.len--;
	CHECK(h_restore(&vm_rtc_device, &w, &e) < 0);
	vm_sw_free(&w);
	vm_rtc_device.destroy();
	h_fini();
}

TEST(rtc_cmos_reports_memory_sizes_and_cpus)
{
	REQUIRE(h_init(1 << 20) == 0);
	H.cfg.mem_size = 6ull << 30;
	H.cfg.cpus = 3;
	REQUIRE(create() == 0);
	CHECK_EQ(cmos_read(0x15) | cmos_read(0x16) << 8, 640);
	CHECK_EQ(cmos_read(0x17) | cmos_read(0x18) << 8, 0xffff); /* capped */
	CHECK_EQ(cmos_read(0x30) | cmos_read(0x31) << 8, 0xffff);
	/* 3 GiB below the hole: (3 GiB - 16 MiB) / 64 KiB */
	CHECK_EQ(cmos_read(0x34) | cmos_read(0x35) << 8, 0xbf00);
	/* 3 GiB above 4 GiB in 64 KiB units */
	CHECK_EQ(cmos_read(0x5b) | cmos_read(0x5c) << 8 | cmos_read(0x5d) << 16, 0xc000);
	CHECK_EQ(cmos_read(0x5f), 2);
	vm_rtc_device.destroy();

	H.cfg.mem_size = 32ull << 20;
	REQUIRE(create() == 0);
	CHECK_EQ(cmos_read(0x17) | cmos_read(0x18) << 8, 31 * 1024);
	CHECK_EQ(cmos_read(0x34) | cmos_read(0x35) << 8, 256);
	CHECK_EQ(cmos_read(0x5b) | cmos_read(0x5c) | cmos_read(0x5d), 0);
	vm_rtc_device.destroy();
	h_fini();
}

TEST(rtc_status_registers_and_nvram)
{
	REQUIRE(h_init(1 << 20) == 0);
	REQUIRE(create() == 0);
	CHECK_EQ(cmos_read(0x0d), 0x80); /* VRT */
	CHECK_EQ(cmos_read(0x0c), 0);
	CHECK_EQ(cmos_read(0x0a), 0x26);
	cmos_write(0x0a, 0xa6); /* UIP is read-only */
	CHECK_EQ(cmos_read(0x0a), 0x26);
	cmos_write(0x0d, 0x00);
	CHECK_EQ(cmos_read(0x0d), 0x80);
	/* NMI-disable bit of the index is ignored */
	outb(0x70, 0x80 | 0x40);
	outb(0x71, 0x5a);
	CHECK_EQ(cmos_read(0x40), 0x5a);
	cmos_write(0x7f, 0x11);
	CHECK_EQ(cmos_read(0x7f), 0x11);
	CHECK_EQ(inb(0x70), 0xff); /* the index port is write-only */
	/* one 16-bit access: index then data */
	h_out(0x70, 2, 0x3341);
	CHECK_EQ(cmos_read(0x41), 0x33);
	vm_rtc_device.destroy();
	h_fini();
}

/* Waits (bounded) for cond; the bound only stops a broken test from hanging:
 * every interrupt awaited here is due within one second. */
#define WAIT_FOR(cond)                                                                             \
	({                                                                                         \
		bool _ok = false;                                                                  \
		for (int _i = 0; _i < 5000 && !(_ok = (cond)); _i++)                               \
			usleep(1000);                                                              \
		_ok;                                                                               \
	})

TEST(rtc_update_interrupt_fires_each_second)
{
	REQUIRE(h_init(1 << 20) == 0);
	REQUIRE(h_start_loop() == 0);
	REQUIRE(create() == 0);
	cmos_write(0x0b, 0x12); /* UIE, 24 h */
	CHECK(WAIT_FOR(H.line[8] == 1));
	CHECK_EQ(cmos_read(0x0c), 0x90); /* IRQF | UF */
	CHECK_EQ(H.line[8], 0);
	CHECK_EQ(cmos_read(0x0c), 0); /* cleared by the read */
	unsigned edges = H.edges[8];
	CHECK(WAIT_FOR(H.edges[8] > edges)); /* and again the next second */
	CHECK_EQ(cmos_read(0x0c) & 0x90, 0x90);
	cmos_write(0x0b, 0x02);
	vm_rtc_device.destroy();
	h_fini();
}

TEST(rtc_periodic_interrupt_follows_register_a_and_pie)
{
	REQUIRE(h_init(1 << 20) == 0);
	REQUIRE(h_start_loop() == 0);
	REQUIRE(create() == 0);
	cmos_write(0x0a, 0x2f); /* rate 15: every 500 ms */
	cmos_write(0x0b, 0x42); /* PIE */
	CHECK(WAIT_FOR(H.line[8] == 1));
	/* disabling PIE drops IRQF and the line; the flag itself stays */
	cmos_write(0x0b, 0x02);
	CHECK_EQ(H.line[8], 0);
	CHECK_EQ(cmos_read(0x0c) & 0xc0, 0x40);
	vm_rtc_device.destroy();
	h_fini();
}

TEST(rtc_alarm_with_dont_care_fields_fires)
{
	REQUIRE(h_init(1 << 20) == 0);
	REQUIRE(h_start_loop() == 0);
	REQUIRE(create() == 0);
	cmos_write(0x01, 0xff); /* any second, minute, hour */
	cmos_write(0x03, 0xc0);
	cmos_write(0x05, 0xff);
	cmos_write(0x0b, 0x22); /* AIE */
	CHECK(WAIT_FOR(H.line[8] == 1));
	CHECK_EQ(cmos_read(0x0c) & 0xb0, 0xb0); /* IRQF | AF | UF */
	/* an alarm hour that is never now: UF keeps coming, AF never */
	unsigned away = (bcd(cmos_read(0x04)) + 12) % 24;
	cmos_write(0x05, (uint8_t)((away / 10) << 4 | away % 10));
	cmos_write(0x0b, 0x32); /* AIE and UIE */
	unsigned edges = H.edges[8];
	CHECK(WAIT_FOR(H.edges[8] > edges));
	CHECK_EQ(cmos_read(0x0c) & 0xb0, 0x90);
	vm_rtc_device.destroy();
	h_fini();
}
