/* Console output on the 16550 UART at 0x3f8 (polled, no interrupts), a
 * printf subset, the reporting convention and the exit port. */
#include "guest.h"

/* 16550 registers (offsets from the base port) */
#define UART_THR 0
#define UART_IER 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_DLL 0
#define UART_DLM 1
#define LSR_THRE 0x20

unsigned guest_failures;

void serial_init(void)
{
	outb(PORT_COM1 + UART_IER, 0);	  /* polled: no interrupts */
	outb(PORT_COM1 + UART_LCR, 0x80); /* DLAB: divisor follows */
	outb(PORT_COM1 + UART_DLL, 1);	  /* 115200 baud */
	outb(PORT_COM1 + UART_DLM, 0);
	outb(PORT_COM1 + UART_LCR, 0x03); /* 8N1 */
	outb(PORT_COM1 + UART_FCR, 0x07); /* FIFOs on and cleared */
	outb(PORT_COM1 + UART_MCR, 0x03); /* DTR, RTS */
}

void serial_putc(char c)
{
	/* bounded: a UART that never reports THRE must not hang the guest */
	for (unsigned i = 0; i < 100000 && !(inb(PORT_COM1 + UART_LSR) & LSR_THRE); i++)
		cpu_relax();
	outb(PORT_COM1 + UART_THR, (uint8_t)c);
}

void putstr(const char *s)
{
	while (*s)
		serial_putc(*s++);
}

struct outbuf {
	char *buf;
	size_t size, len;
};

static void out_c(struct outbuf *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void out_num(struct outbuf *o, uint64_t v, unsigned base, bool neg, int width, char pad)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (neg)
		tmp[n++] = '-';
	for (int i = n; i < width; i++)
		out_c(o, pad);
	while (n)
		out_c(o, tmp[--n]);
}

/* Supports %s %c %d %i %u %x %p %% with an optional 0 flag, width and the
 * l/ll/z length modifiers: enough for test reports. */
int vsnprintf_g(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct outbuf o = {buf, size, 0};

	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			out_c(&o, *fmt);
			continue;
		}
		fmt++;
		char pad = ' ';
		int width = 0, lng = 0;
		if (*fmt == '0') {
			pad = '0';
			fmt++;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l' || *fmt == 'z') {
			lng++;
			fmt++;
		}
		switch (*fmt) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			int len = (int)strlen(s);
			for (int i = len; i < width; i++)
				out_c(&o, ' ');
			while (*s)
				out_c(&o, *s++);
			break;
		}
		case 'c': out_c(&o, (char)va_arg(ap, int)); break;
		case 'd':
		case 'i': {
			int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
			out_num(&o, v < 0 ? -(uint64_t)v : (uint64_t)v, 10, v < 0, width, pad);
			break;
		}
		case 'u':
			out_num(&o, lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10, false,
				width, pad);
			break;
		case 'x':
			out_num(&o, lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16, false,
				width, pad);
			break;
		case 'p':
			out_c(&o, '0');
			out_c(&o, 'x');
			out_num(&o, (uint64_t)va_arg(ap, void *), 16, false, width, pad);
			break;
		case '%': out_c(&o, '%'); break;
		case '\0': fmt--; break;
		default: out_c(&o, '%'); out_c(&o, *fmt);
		}
	}
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return (int)o.len;
}

int snprintf_g(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf_g(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

static void vprint(const char *fmt, va_list ap)
{
	char buf[512];

	vsnprintf_g(buf, sizeof(buf), fmt, ap);
	putstr(buf);
}

void printf_g(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprint(fmt, ap);
	va_end(ap);
}

void report_ok(const char *name)
{
	printf_g("ok %s\n", name);
}

static void vreport_fail(const char *name, const char *fmt, va_list ap)
{
	guest_failures++;
	printf_g("not ok %s: ", name);
	vprint(fmt, ap);
	putstr("\n");
}

void report_fail(const char *name, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport_fail(name, fmt, ap);
	va_end(ap);
}

bool check(bool cond, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (cond) {
		report_ok(name);
		return true;
	}
	va_start(ap, fmt);
	vreport_fail(name, fmt, ap);
	va_end(ap);
	return false;
}

void halt_forever(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

void guest_exit(int code)
{
	outb(PORT_DEBUG_EXIT, (uint8_t)code);
	/* no exit device: nothing else to do but stop */
	putstr("guest_exit: exit port did not stop the machine\n");
	halt_forever();
}
