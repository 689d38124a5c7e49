/* The guest library: what every Vessel test guest links with. Freestanding
 * (no libc): port I/O, the 16550 console, printf-lite, the exit port, the
 * "ok NAME" / "not ok NAME: why" reporting convention, and what the boot stub
 * learnt about how the guest was started. */
#ifndef GUEST_H
#define GUEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --- port and memory-mapped I/O ------------------------------------------ */
static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}
static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}
static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline uint16_t inw(uint16_t port)
{
	uint16_t v;
	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline uint32_t inl(uint16_t port)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

#define barrier() __asm__ volatile("" ::: "memory")
static inline void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

static inline uint8_t mmio_read8(uint64_t a)
{
	return *(volatile uint8_t *)a;
}
static inline uint16_t mmio_read16(uint64_t a)
{
	return *(volatile uint16_t *)a;
}
static inline uint32_t mmio_read32(uint64_t a)
{
	return *(volatile uint32_t *)a;
}
static inline void mmio_write8(uint64_t a, uint8_t v)
{
	*(volatile uint8_t *)a = v;
}
static inline void mmio_write16(uint64_t a, uint16_t v)
{
	*(volatile uint16_t *)a = v;
}
static inline void mmio_write32(uint64_t a, uint32_t v)
{
	*(volatile uint32_t *)a = v;
}

/* Fixed ports of the machine (the same on vessel-vmm and QEMU -M pc). */
#define PORT_COM1	0x3f8
#define PORT_DEBUG_EXIT 0xf4 /* isa-debug-exit: status becomes (v << 1) | 1 */
#define PORT_FW_CFG	0x510
#define PORT_CMOS	0x70
#define PORT_I8042_CMD	0x64

/* How long polling loops wait for a device before giving up: a hang guard
 * in iterations, so a broken device gives "not ok", never a stuck guest. */
#define POLL_LIMIT 50000000ul

/* --- strings (the compiler may also emit calls to these) ------------------ */
void *memcpy(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
/* First occurrence of needle (len bytes) in hay (hay_len bytes), or NULL. */
const void *memmem_g(const void *hay, size_t hay_len, const void *needle, size_t len);

/* --- console and reporting ------------------------------------------------ */
void serial_init(void);
void serial_putc(char c);
void putstr(const char *s);
int vsnprintf_g(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf_g(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void printf_g(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints "ok NAME" when cond holds, else "not ok NAME: <fmt...>" and counts
 * the failure. Returns cond so callers can stop early. */
bool check(bool cond, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void report_ok(const char *name);
void report_fail(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
extern unsigned guest_failures;

/* Leaves through the exit port: the VMM exits with status (code << 1) | 1. */
__attribute__((noreturn)) void guest_exit(int code);
__attribute__((noreturn)) void halt_forever(void);

/* --- how the guest was started --------------------------------------------- */
enum boot_path {
	BOOT_MULTIBOOT = 1, /* 32-bit entry, EAX = 0x2BADB002, EBX = info */
	BOOT_PVH = 2,	    /* 32-bit entry, EBX = hvm_start_info */
	BOOT_LINUX32 = 3,   /* Linux boot protocol, 32-bit entry, ESI = boot_params */
	BOOT_LINUX64 = 4,   /* Linux boot protocol, 64-bit entry, RSI = boot_params */
};

#define E820_RAM	1
#define BOOT_MAX_RANGES 64

struct mem_range {
	uint64_t addr, size;
	uint32_t type;
};

struct boot_info {
	enum boot_path path;
	uint32_t magic;	     /* register or structure magic seen at entry */
	uint64_t info;	     /* multiboot info / start_info / boot_params address */
	const char *cmdline; /* never NULL */
	struct mem_range map[BOOT_MAX_RANGES];
	unsigned nr_map;
	uint64_t ram_total; /* sum of usable (type 1) ranges */
	uint64_t ram_top;   /* end of the highest usable range */
	const char *error;  /* set when the boot information was unusable */
};

extern struct boot_info boot;
const char *boot_path_name(enum boot_path p);

/* "key=value" words of the command line. cmdline_get copies the value into
 * buf; returns false when the key is absent. */
bool cmdline_get(const char *key, char *buf, size_t size);
/* Value with an optional K/M/G suffix; false when absent or malformed. */
bool cmdline_get_u64(const char *key, uint64_t *v);
bool parse_u64(const char *s, uint64_t *v);

/* Every guest program defines this; its result does not matter, the
 * failures counted by check() decide the exit code. */
void guest_main(void);

/* --- CPU ------------------------------------------------------------------- */
static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}
static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* Page tables built by the boot stub: identity map of the first 4 GiB. */
extern uint64_t boot_pml4[512];

#endif
