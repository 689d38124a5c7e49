/* rtc: the MC146818 CMOS clock. Fields must be valid BCD (or binary, per
 * register B bit 2) and in range, two reads a moment apart must agree (the
 * later not before the earlier), the date is the host's (host_day=YYYYMMDD
 * on the command line, UTC, one day either way for a run across midnight
 * or a VMM keeping local time), and register D reports valid RAM and time
 * (VRT, bit 7). Reads follow the data sheet's rule: wait for UIP (register A
 * bit 7) to clear, then read, and repeat until two reads match. */
#include "hw.h"

struct rtc_time {
	unsigned sec, min, hour, day, mon, year;
};

static bool bcd_ok(uint8_t v)
{
	return (v & 0x0f) <= 9 && (v >> 4) <= 9;
}

static unsigned from_bcd(uint8_t v)
{
	return (v >> 4) * 10 + (v & 0x0f);
}

static bool read_raw(uint8_t r[6])
{
	static const uint8_t regs[6] = {0, 2, 4, 7, 8, 9};

	for (unsigned long i = 0; i < POLL_LIMIT / 10; i++)
		if (!(cmos_read(0x0a) & 0x80))
			break;
	for (int i = 0; i < 6; i++)
		r[i] = cmos_read(regs[i]);
	return true;
}

static bool read_time(struct rtc_time *t, const char **why)
{
	uint8_t a[6], b[6];
	int tries = 0;

	read_raw(a);
	for (;;) {
		read_raw(b);
		if (memcmp(a, b, 6) == 0)
			break;
		memcpy(a, b, 6);
		if (++tries > 10) {
			*why = "time kept changing between reads";
			return false;
		}
	}
	uint8_t regb = cmos_read(0x0b);
	bool bcd = !(regb & 0x04), h24 = regb & 0x02;
	bool pm = !h24 && (a[2] & 0x80);
	if (!h24)
		a[2] &= 0x7f;
	if (bcd) {
		for (int i = 0; i < 6; i++)
			if (!bcd_ok(a[i])) {
				*why = "field is not valid BCD";
				return false;
			}
		for (int i = 0; i < 6; i++)
			a[i] = (uint8_t)from_bcd(a[i]);
	}
	t->sec = a[0];
	t->min = a[1];
	t->hour = a[2];
	if (!h24)
		t->hour = t->hour % 12 + (pm ? 12 : 0);
	t->day = a[3];
	t->mon = a[4];
	t->year = a[5];
	if (t->sec > 59 || t->min > 59 || t->hour > 23 || t->day < 1 || t->day > 31 || t->mon < 1 ||
	    t->mon > 12 || t->year > 99) {
		*why = "field out of range";
		return false;
	}
	return true;
}

/* days since 2000-01-01 (proleptic Gregorian, years 2000-2099) */
static long day_number(unsigned y, unsigned m, unsigned d)
{
	static const unsigned before[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
	long days = (long)y * 365 + (long)(y + 3) / 4 + before[m - 1] + (long)d - 1;

	if (m > 2 && y % 4 == 0)
		days++;
	return days;
}

void guest_main(void)
{
	struct rtc_time t1, t2;
	const char *why = "";

	uint8_t regd = cmos_read(0x0d);
	check(regd & 0x80, "rtc_register_d_vrt", "register D 0x%x", regd);
	uint8_t regb = cmos_read(0x0b);
	printf_g("rtc: register B 0x%x (%s, %s)\n", regb, regb & 4 ? "binary" : "BCD",
		 regb & 2 ? "24h" : "12h");

	bool ok1 = read_time(&t1, &why);
	if (!check(ok1, "rtc_fields_valid", "%s", why))
		return;
	printf_g("rtc: 20%02u-%02u-%02u %02u:%02u:%02u\n", t1.year, t1.mon, t1.day, t1.hour, t1.min,
		 t1.sec);
	check(t1.year >= 20, "rtc_year_plausible", "year 20%02u", t1.year);
	uint64_t host;
	if (cmdline_get_u64("host_day", &host) && host / 10000 >= 2000 && host / 10000 < 2100) {
		long h = day_number((unsigned)(host / 10000 - 2000), (unsigned)(host / 100 % 100),
				    (unsigned)(host % 100));
		long g = day_number(t1.year, t1.mon, t1.day);
		check(g - h >= -1 && g - h <= 1, "rtc_matches_host_date",
		      "RTC day 20%02u-%02u-%02u, host %lu", t1.year, t1.mon, t1.day, host);
	}

	/* a second read, some work later: same day, not earlier in the day
	 * (a midnight roll-over restarts the day count, accepted) */
	for (volatile unsigned i = 0; i < 100000; i++)
		;
	bool ok2 = read_time(&t2, &why);
	if (!check(ok2, "rtc_second_read_valid", "%s", why))
		return;
	unsigned s1 = t1.hour * 3600 + t1.min * 60 + t1.sec;
	unsigned s2 = t2.hour * 3600 + t2.min * 60 + t2.sec;
	bool same_day = t1.day == t2.day && t1.mon == t2.mon && t1.year == t2.year;
	check((same_day && s2 >= s1) || (!same_day && s2 < s1), "rtc_consistent",
	      "first %u s, second %u s into the day", s1, s2);
}
