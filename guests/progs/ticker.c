/* ticker: runs until the VMM stops it, for snapshot, clone and migration
 * tests. Every 100 ms it prints "tick N"; it checks that a memory pattern it
 * wrote at the previous tick is intact (memory continuity across a restore
 * or a migration) and that the RTC never goes backwards (time continuity);
 * whenever the fw_cfg file opt/vessel/id appears or changes (a clone's
 * identity) it prints "id=VALUE". */
#include "hw.h"

#define PATTERN_WORDS (256 * 1024 / 8) /* 256 KiB of guest RAM */

static uint64_t pattern[PATTERN_WORDS];

static void fill(uint64_t seed)
{
	for (size_t i = 0; i < PATTERN_WORDS; i++)
		pattern[i] = seed * 0x9e3779b97f4a7c15ull ^ i;
}

static bool intact(uint64_t seed)
{
	for (size_t i = 0; i < PATTERN_WORDS; i++)
		if (pattern[i] != (seed * 0x9e3779b97f4a7c15ull ^ i))
			return false;
	return true;
}

static uint8_t bcd(uint8_t v)
{
	return (cmos_read(0x0b) & 0x04) ? v : (uint8_t)((v >> 4) * 10 + (v & 0x0f));
}

/* seconds since midnight from the CMOS clock */
static uint32_t rtc_seconds(void)
{
	while (cmos_read(0x0a) & 0x80) /* update in progress */
		cpu_relax();
	return bcd(cmos_read(0x04)) * 3600u + bcd(cmos_read(0x02)) * 60u + bcd(cmos_read(0x00));
}

/* TSC ticks per second, measured over one RTC second edge to the next */
static uint64_t tsc_hz(void)
{
	uint32_t s = rtc_seconds();
	while (rtc_seconds() == s)
		cpu_relax();
	uint64_t t0 = rdtsc();
	s = rtc_seconds();
	while (rtc_seconds() == s)
		cpu_relax();
	return rdtsc() - t0;
}

struct fw_cfg_file {
	uint32_t size;	 /* big-endian */
	uint16_t select; /* big-endian */
	uint16_t reserved;
	char name[56];
} __attribute__((packed));

/* Reads opt/vessel/id into buf (NUL-terminated); false when absent. */
static bool read_identity(char *buf, size_t len)
{
	static struct {
		uint32_t count;
		struct fw_cfg_file f[64];
	} __attribute__((packed)) dir;

	fwcfg_read(FW_CFG_FILE_DIR, &dir, sizeof(dir));
	uint32_t n = __builtin_bswap32(dir.count);
	for (uint32_t i = 0; i < n && i < 64; i++) {
		if (strcmp(dir.f[i].name, "opt/vessel/id"))
			continue;
		uint32_t size = __builtin_bswap32(dir.f[i].size);
		if (size >= len)
			size = len - 1;
		fwcfg_read(__builtin_bswap16(dir.f[i].select), buf, size);
		buf[size] = '\0';
		return true;
	}
	return false;
}

void guest_main(void)
{
	char id[64] = "", now[64];
	uint64_t hz = tsc_hz(), next = rdtsc();
	uint32_t last_rtc = rtc_seconds();

	printf_g("ticker: %llu TSC ticks per second\n", (unsigned long long)hz);
	fill(0);
	for (uint64_t n = 1;; n++) {
		while ((int64_t)(rdtsc() - next) < 0)
			cpu_relax();
		next += hz / 10;
		if (!intact(n - 1))
			report_fail("ticker_memory", "pattern of tick %llu damaged",
				    (unsigned long long)(n - 1));
		fill(n);
		uint32_t r = rtc_seconds();
		/* a day wraps at midnight; anything else backwards is a jump */
		if (r < last_rtc && last_rtc - r < 23 * 3600)
			report_fail("ticker_time", "RTC went back from %u to %u s", last_rtc, r);
		last_rtc = r;
		if (read_identity(now, sizeof(now)) && strcmp(now, id)) {
			memcpy(id, now, sizeof(id));
			printf_g("id=%s\n", id);
		}
		printf_g("tick %llu\n", (unsigned long long)n);
	}
}
