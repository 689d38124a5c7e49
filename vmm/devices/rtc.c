/*
 * MC146818 real-time clock and CMOS memory at 0x70 (index) / 0x71 (data).
 *
 * The time registers are computed from the host's clock (UTC) at each read,
 * plus an offset the guest sets by writing them; the offset is part of the
 * saved state, so a restored guest keeps its notion of time relative to the
 * host. While register B's SET bit is on, the clock is frozen: writes fill
 * the fields without normalising them, and clearing SET starts the clock from
 * what was written (the sequence Linux's mc146818_set_time uses).
 *
 * Register A's UIP bit is never set: every read is computed atomically, so
 * there is no update cycle to wait for (a guest reading several registers
 * across a second boundary sees the seconds change, as after any update).
 * Interrupts on IRQ 8: the update-ended flag (UF) every second, the alarm
 * flag (AF) when the seconds/minutes/hours alarm registers match (a value of
 * 0xc0-0xff is "don't care"), the periodic flag (PF) at register A's rate.
 * Timers on the event loop produce them (a timerfd on CLOCK_REALTIME for
 * second boundaries, which are the guest's too since the offset is whole
 * seconds, and one for the periodic rate), armed only while an interrupt is
 * enabled: an idle guest costs no wake-ups, and without an event loop there
 * are no flags. IRQF = PF.PIE + AF.AIE + UF.UIE; reading C returns and
 * clears the flags and lowers the line. Register D always reports valid RAM
 * and time (VRT).
 *
 * The NVRAM also carries the memory size fields PC firmware and some guests
 * read (the QEMU/SeaBIOS conventions): 0x15-0x18, 0x30/0x31, 0x34/0x35,
 * 0x5b-0x5d, and 0x5f (CPUs - 1).
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "vmm/devices/platform.h"
#include "vmm/layout.h"
#include "vmm/x86/acpi.h"

#define RTC_STATE_VERSION 1

#define REG_SEC	    0x00
#define REG_MIN	    0x02
#define REG_HOUR    0x04
#define REG_WDAY    0x06
#define REG_MDAY    0x07
#define REG_MON	    0x08
#define REG_YEAR    0x09
#define REG_A	    0x0a
#define REG_B	    0x0b
#define REG_C	    0x0c
#define REG_D	    0x0d
#define REG_CENTURY VM_ACPI_CMOS_CENTURY

#define A_UIP	    0x80
#define A_RATE	    0x0f
#define B_PIE	    0x40
#define B_AIE	    0x20
#define B_UIE	    0x10
#define B_INTS	    0x70
#define C_IRQF	    0x80
#define C_PF	    0x40
#define C_AF	    0x20
#define C_UF	    0x10
#define IRQ_RTC	    8
#define B_SET	    0x80
#define B_DM_BINARY 0x04
#define B_24H	    0x02
#define D_VRT	    0x80

static struct rtc {
	pthread_mutex_t lock;
	struct vm_ctx *ctx;
	bool created;
	uint8_t index;
	uint8_t cmos[128];
	int64_t offset;		  /* guest seconds - host seconds */
	struct tm frozen;	  /* the fields while B.SET is on */
	int tick_fd, periodic_fd; /* -1: no event loop */
	int irq_level;
} r = {.lock = PTHREAD_MUTEX_INITIALIZER, .tick_fd = -1, .periodic_fd = -1};

static int64_t host_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec;
}

static void guest_tm(struct tm *tm)
{
	if (r.cmos[REG_B] & B_SET) {
		*tm = r.frozen;
		return;
	}
	time_t t = (time_t)(host_now() + r.offset);
	gmtime_r(&t, tm);
}

static bool is_time_reg(uint8_t i)
{
	return i == REG_SEC || i == REG_MIN || i == REG_HOUR || i == REG_WDAY || i == REG_MDAY ||
	       i == REG_MON || i == REG_YEAR || i == REG_CENTURY;
}

static uint8_t to_bcd(unsigned v)
{
	return (uint8_t)(((v / 10) % 10) << 4 | (v % 10));
}

static unsigned from_bcd(uint8_t v)
{
	return (v >> 4) * 10 + (v & 0x0f);
}

static uint8_t encode(unsigned v)
{
	return (r.cmos[REG_B] & B_DM_BINARY) ? (uint8_t)v : to_bcd(v);
}

static unsigned decode(uint8_t v)
{
	return (r.cmos[REG_B] & B_DM_BINARY) ? v : from_bcd(v);
}

static uint8_t read_time(uint8_t i)
{
	struct tm tm;
	unsigned year;

	guest_tm(&tm);
	year = (unsigned)tm.tm_year + 1900;
	switch (i) {
	case REG_SEC: return encode((unsigned)tm.tm_sec);
	case REG_MIN: return encode((unsigned)tm.tm_min);
	case REG_HOUR:
		if (r.cmos[REG_B] & B_24H)
			return encode((unsigned)tm.tm_hour);
		/* 12-hour mode: 1-12, bit 7 set for PM */
		return (uint8_t)(encode(tm.tm_hour % 12 ? (unsigned)tm.tm_hour % 12 : 12) |
				 (tm.tm_hour >= 12 ? 0x80 : 0));
	case REG_WDAY: return encode((unsigned)tm.tm_wday + 1); /* Sunday = 1 */
	case REG_MDAY: return encode((unsigned)tm.tm_mday);
	case REG_MON: return encode((unsigned)tm.tm_mon + 1);
	case REG_YEAR: return encode(year % 100);
	default: return encode(year / 100 % 100); /* century */
	}
}

static void write_time(uint8_t i, uint8_t v)
{
	struct tm tm;
	unsigned d;

	guest_tm(&tm);
	if (i == REG_HOUR && !(r.cmos[REG_B] & B_24H)) {
		d = decode(v & 0x7f) % 12;
		tm.tm_hour = (int)(d + (v & 0x80 ? 12 : 0));
	} else {
		d = decode(v);
		switch (i) {
		case REG_SEC: tm.tm_sec = (int)d; break;
		case REG_MIN: tm.tm_min = (int)d; break;
		case REG_HOUR: tm.tm_hour = (int)d; break;
		case REG_WDAY: tm.tm_wday = (int)d - 1; break;
		case REG_MDAY: tm.tm_mday = (int)d; break;
		case REG_MON: tm.tm_mon = (int)d - 1; break;
		case REG_YEAR:
			tm.tm_year = (tm.tm_year + 1900) / 100 * 100 + (int)(d % 100) - 1900;
			break;
		default:
			tm.tm_year = (int)(d % 100) * 100 + (tm.tm_year + 1900) % 100 - 1900;
			break;
		}
	}
	if (r.cmos[REG_B] & B_SET)
		r.frozen = tm; /* kept as written until SET clears */
	else
		r.offset = (int64_t)timegm(&tm) - host_now();
}

/* Register C as read: the flags (kept in cmos[REG_C]) and IRQF. */
static uint8_t reg_c(void)
{
	uint8_t f = r.cmos[REG_C] & B_INTS;

	return (uint8_t)(f | (f & r.cmos[REG_B] & B_INTS ? C_IRQF : 0));
}

static void update_irq(bool force)
{
	int level = !!(reg_c() & C_IRQF);

	if ((level != r.irq_level || force) && r.ctx)
		vm_irq_line(r.ctx->irq, IRQ_RTC, level);
	r.irq_level = level;
}

/* Period of rate 1-15 on the 32.768 kHz time base (MC146818 table 5):
 * rates 1 and 2 repeat 8 and 9; 0 is off. */
static uint64_t periodic_ns(unsigned rate)
{
	unsigned shift = rate < 3 ? rate + 6 : rate - 1;

	return rate ? ((1000000000ull << shift) >> 15) : 0;
}

/* Timers follow the enables: second ticks while UIE or AIE (and the clock
 * runs), the periodic timer while PIE. */
static void rearm(void)
{
	struct itimerspec its = {0};
	uint8_t b = r.cmos[REG_B];

	if (r.tick_fd >= 0) {
		if ((b & (B_UIE | B_AIE)) && !(b & B_SET)) {
			its.it_value.tv_sec = host_now() + 1;
			its.it_interval.tv_sec = 1;
		}
		timerfd_settime(r.tick_fd, TFD_TIMER_ABSTIME, &its, NULL);
	}
	if (r.periodic_fd >= 0) {
		uint64_t ns = (b & B_PIE) ? periodic_ns(r.cmos[REG_A] & A_RATE) : 0;
		memset(&its, 0, sizeof(its));
		its.it_value.tv_sec = (time_t)(ns / 1000000000);
		its.it_value.tv_nsec = (long)(ns % 1000000000);
		its.it_interval = its.it_value;
		timerfd_settime(r.periodic_fd, 0, &its, NULL);
	}
}

static bool alarm_matches(void)
{
	static const uint8_t pairs[3][2] = {{0x01, REG_SEC}, {0x03, REG_MIN}, {0x05, REG_HOUR}};

	for (unsigned i = 0; i < 3; i++) {
		uint8_t want = r.cmos[pairs[i][0]];
		if (want < 0xc0 && want != read_time(pairs[i][1]))
			return false;
	}
	return true;
}

static void on_tick(void *opaque, uint32_t events)
{
	uint64_t n;

	if (read(r.tick_fd, &n, sizeof(n)) < 0)
		return;
	pthread_mutex_lock(&r.lock);
	if (!(r.cmos[REG_B] & B_SET)) {
		r.cmos[REG_C] |= C_UF;
		if (alarm_matches())
			r.cmos[REG_C] |= C_AF;
		update_irq(false);
	}
	pthread_mutex_unlock(&r.lock);
}

static void on_periodic(void *opaque, uint32_t events)
{
	uint64_t n;

	if (read(r.periodic_fd, &n, sizeof(n)) < 0)
		return;
	pthread_mutex_lock(&r.lock);
	r.cmos[REG_C] |= C_PF;
	update_irq(false);
	pthread_mutex_unlock(&r.lock);
}

static void write_b(uint8_t v)
{
	uint8_t old = r.cmos[REG_B];

	if ((v & B_SET) && !(old & B_SET)) {
		guest_tm(&r.frozen); /* freeze the running clock */
	} else if (!(v & B_SET) && (old & B_SET)) {
		struct tm tm = r.frozen;
		r.offset = (int64_t)timegm(&tm) - host_now();
	}
	r.cmos[REG_B] = v;
	rearm();
	update_irq(false);
}

static uint8_t reg_read(uint8_t i)
{
	if (is_time_reg(i))
		return read_time(i);
	switch (i) {
	case REG_A: return r.cmos[REG_A] & (uint8_t)~A_UIP;
	case REG_C: {
		uint8_t c = reg_c();
		r.cmos[REG_C] = 0; /* reading clears every flag */
		update_irq(false);
		return c;
	}
	case REG_D: return D_VRT;
	default: return r.cmos[i];
	}
}

static void reg_write(uint8_t i, uint8_t v)
{
	if (is_time_reg(i)) {
		write_time(i, v);
		return;
	}
	switch (i) {
	case REG_A:
		r.cmos[REG_A] = v & 0x7f;
		rearm();
		break;
	case REG_B: write_b(v); break;
	case REG_C:
	case REG_D: break; /* read-only */
	default: r.cmos[i] = v; break;
	}
}

static void rtc_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	pthread_mutex_lock(&r.lock);
	for (uint32_t k = 0; k < len; k++) {
		uint64_t port = off + k;
		if (port == 0) {
			/* index; bit 7 disables NMIs on a PC, nothing to do here */
			if (is_write)
				r.index = data[k] & 0x7f;
			else
				data[k] = 0xff; /* write-only */
		} else if (port == 1) {
			if (is_write)
				reg_write(r.index, data[k]);
			else
				data[k] = reg_read(r.index);
		} else if (!is_write) {
			data[k] = 0xff;
		}
	}
	pthread_mutex_unlock(&r.lock);
}

static void put16(uint8_t at, uint64_t v)
{
	if (v > 0xffff)
		v = 0xffff;
	r.cmos[at] = (uint8_t)v;
	r.cmos[at + 1] = (uint8_t)(v >> 8);
}

/* Memory size fields from the machine's RAM: below the 3 GiB hole first, the
 * rest above 4 GiB (vmm/layout.h). */
static void fill_memory_fields(const struct vm_config *cfg)
{
	uint64_t mem = cfg->mem_size;
	uint64_t low = mem < VM_MMIO_HOLE_START ? mem : VM_MMIO_HOLE_START;
	uint64_t high = mem - low;

	put16(0x15, 640); /* base memory, KiB */
	uint64_t ext = low > (1ull << 20) ? (low - (1ull << 20)) >> 10 : 0;
	put16(0x17, ext); /* extended memory above 1 MiB, KiB */
	put16(0x30, ext);
	put16(0x34, low > (16ull << 20) ? (low - (16ull << 20)) >> 16 : 0);
	high >>= 16; /* 64 KiB units, three bytes */
	if (high > 0xffffff)
		high = 0xffffff;
	r.cmos[0x5b] = (uint8_t)high;
	r.cmos[0x5c] = (uint8_t)(high >> 8);
	r.cmos[0x5d] = (uint8_t)(high >> 16);
	r.cmos[0x5f] = (uint8_t)(cfg->cpus ? cfg->cpus - 1 : 0);
}

static void rtc_destroy(void)
{
	pthread_mutex_lock(&r.lock);
	if (r.created && r.ctx)
		vm_bus_unregister(r.ctx->pio, VM_PORT_RTC, NULL);
	int *fds[] = {&r.tick_fd, &r.periodic_fd};
	for (unsigned i = 0; i < 2; i++) {
		if (*fds[i] < 0)
			continue;
		if (r.ctx && r.ctx->loop)
			vm_event_del(r.ctx->loop, *fds[i]);
		close(*fds[i]);
		*fds[i] = -1;
	}
	r.created = false;
	r.ctx = NULL;
	pthread_mutex_unlock(&r.lock);
}

static int rtc_create(struct vm_ctx *ctx, struct vs_err *e)
{
	rtc_destroy();
	pthread_mutex_lock(&r.lock);
	memset(r.cmos, 0, sizeof(r.cmos));
	r.index = 0;
	r.offset = 0;
	memset(&r.frozen, 0, sizeof(r.frozen));
	r.cmos[REG_A] = 0x26;  /* 32.768 kHz time base, 1024 Hz rate */
	r.cmos[REG_B] = B_24H; /* BCD, 24-hour: what PC firmware leaves */
	fill_memory_fields(ctx->cfg);
	r.irq_level = 0;
	pthread_mutex_unlock(&r.lock);
	if (ctx->loop) {
		r.tick_fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
		r.periodic_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (r.tick_fd < 0 || r.periodic_fd < 0) {
			vs_fail_errno(e, "rtc: timerfd");
			goto fail;
		}
		if (vm_event_add(ctx->loop, r.tick_fd, EPOLLIN, on_tick, NULL, e) < 0)
			goto fail;
		if (vm_event_add(ctx->loop, r.periodic_fd, EPOLLIN, on_periodic, NULL, e) < 0) {
			vm_event_del(ctx->loop, r.tick_fd);
			goto fail;
		}
	}
	r.ctx = ctx;
	if (vm_bus_register(ctx->pio, VM_PORT_RTC, 2, rtc_io, NULL, "rtc", e) < 0)
		goto fail;
	r.created = true;
	return 0;
fail:
	r.ctx = ctx;
	rtc_destroy();
	return -1;
}

static unsigned rtc_count(void)
{
	return r.created ? 1 : 0;
}

static void save_tm(struct vm_state_writer *w, const struct tm *tm)
{
	const int f[] = {tm->tm_sec, tm->tm_min,  tm->tm_hour, tm->tm_mday,
			 tm->tm_mon, tm->tm_year, tm->tm_wday};

	for (unsigned i = 0; i < 7; i++)
		vm_sw_u32(w, (uint32_t)f[i]);
}

static int rtc_save(unsigned idx, struct vm_state_writer *w)
{
	pthread_mutex_lock(&r.lock);
	vm_sw_u8(w, RTC_STATE_VERSION);
	vm_sw_u8(w, r.index);
	vm_sw_bytes(w, r.cmos, sizeof(r.cmos));
	vm_sw_u64(w, (uint64_t)r.offset);
	save_tm(w, &r.frozen);
	pthread_mutex_unlock(&r.lock);
	return w->failed ? -1 : 0;
}

static int rtc_restore(unsigned idx, struct vm_state_reader *rd, struct vs_err *e)
{
	uint8_t ver, index, cmos[128];
	uint64_t off;
	uint32_t f[7];

	if (vm_sr_u8(rd, &ver, e) < 0)
		return -1;
	if (ver != RTC_STATE_VERSION)
		return vs_fail(e, EINVAL, "rtc state: version %u, expected %u", ver,
			       RTC_STATE_VERSION);
	if (vm_sr_u8(rd, &index, e) < 0 || vm_sr_bytes(rd, cmos, sizeof(cmos), e) < 0 ||
	    vm_sr_u64(rd, &off, e) < 0)
		return -1;
	for (unsigned i = 0; i < 7; i++)
		if (vm_sr_u32(rd, &f[i], e) < 0)
			return -1;
	if (vm_sr_end(rd, e) < 0)
		return -1;
	if (index > 0x7f)
		return vs_fail(e, EINVAL, "rtc state: index register 0x%02x out of range", index);
	/* timegm() must get sane numbers: a crafted state cannot overflow it */
	const uint32_t max[7] = {60, 59, 23, 31, 11, 8099, 6};
	for (unsigned i = 0; i < 7; i++)
		if ((int32_t)f[i] < 0 || f[i] > max[i])
			return vs_fail(e, EINVAL, "rtc state: frozen time field %u out of range",
				       i);
	if ((int64_t)off > (int64_t)1 << 40 || (int64_t)off < -((int64_t)1 << 40))
		return vs_fail(e, EINVAL, "rtc state: clock offset out of range");

	pthread_mutex_lock(&r.lock);
	r.index = index;
	memcpy(r.cmos, cmos, sizeof(cmos));
	r.offset = (int64_t)off;
	memset(&r.frozen, 0, sizeof(r.frozen));
	r.frozen.tm_sec = (int)f[0];
	r.frozen.tm_min = (int)f[1];
	r.frozen.tm_hour = (int)f[2];
	r.frozen.tm_mday = (int)f[3];
	r.frozen.tm_mon = (int)f[4];
	r.frozen.tm_year = (int)f[5];
	r.frozen.tm_wday = (int)f[6];
	rearm();
	update_irq(true);
	pthread_mutex_unlock(&r.lock);
	return 0;
}

const struct vm_device_ops vm_rtc_device = {
	.name = "rtc",
	.order = 0,
	.create = rtc_create,
	.count = rtc_count,
	.save = rtc_save,
	.restore = rtc_restore,
	.destroy = rtc_destroy,
};
VM_DEVICE(vm_rtc_device);
