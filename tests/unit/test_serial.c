/* 16550A UART: registers, interrupts, loopback, console output and input,
 * save/restore; all through the port bus as a vCPU would. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "platform_harness.h"
#include "vessel/cleanup.h"
#include "vessel/fs.h"
#include "vmm/layout.h"

#define COM VM_PORT_COM1
#define THR (COM + 0)
#define IER (COM + 1)
#define IIR (COM + 2)
#define FCR (COM + 2)
#define LCR (COM + 3)
#define MCR (COM + 4)
#define LSR (COM + 5)
#define MSR (COM + 6)
#define SCR (COM + 7)

static char tmpdir[64];

static const char *console_file(void)
{
	static char path[128];

	strcpy(tmpdir, "/tmp/vs-serial-XXXXXX");
	if (!mkdtemp(tmpdir))
		return NULL;
	snprintf(path, sizeof(path), "%s/console.log", tmpdir);
	return path;
}

static void cleanup_tmp(void)
{
	struct vs_err e;

	if (tmpdir[0])
		vs_rm_rf(tmpdir, &e);
	tmpdir[0] = '\0';
}

static int create(void)
{
	struct vs_err e;

	if (vm_serial_device.create(&H.ctx, &e) < 0) {
		fprintf(stderr, "  create: %s\n", e.msg);
		return -1;
	}
	return 0;
}

static char *slurp(const char *path)
{
	char *buf = NULL;
	struct vs_err e;

	if (vs_read_file(path, &buf, NULL, &e) < 0)
		return strdup("");
	return buf;
}

static void send(const char *str)
{
	for (const char *p = str; *p; p++)
		outb(THR, (uint8_t)*p);
}

TEST(serial_scratch_and_divisor_latch_read_back)
{
	REQUIRE(h_init(1 << 20) == 0);
	REQUIRE(create() == 0);
	CHECK_EQ(inb(IIR), 0x01); /* no interrupt after reset */
	CHECK_EQ(inb(LSR), 0x60); /* THR and transmitter empty */
	outb(SCR, 0xa5);
	CHECK_EQ(inb(SCR), 0xa5);
	outb(IER, 0x05);
	outb(LCR, 0x83); /* DLAB */
	outb(THR, 0x01); /* DLL: 115200 baud */
	outb(IER, 0x02); /* DLM */
	CHECK_EQ(inb(THR), 0x01);
	CHECK_EQ(inb(IER), 0x02);
	outb(LCR, 0x03);
	CHECK_EQ(inb(LCR), 0x03);
	CHECK_EQ(inb(IER), 0x05);	 /* IER kept behind the latch */
	CHECK_EQ(inb(MSR) & 0xf0, 0xb0); /* DCD, DSR, CTS: line connected */
	vm_serial_device.destroy();
	h_fini();
}

TEST(serial_output_reaches_file_on_newline_and_destroy)
{
	const char *path = console_file();

	REQUIRE(path && h_init(1 << 20) == 0);
	H.cfg.serial.kind = VM_CONSOLE_FILE;
	H.cfg.serial.path = (char *)path;
	REQUIRE(create() == 0);
	send("hello\n");
	autofree char *a = slurp(path);
	CHECK_STR(a, "hello\n");
	send("tail");
	vm_serial_device.destroy(); /* never lose output at exit */
	autofree char *b = slurp(path);
	CHECK_STR(b, "hello\ntail");
	/* O_APPEND: a second VM run adds to the log */
	REQUIRE(create() == 0);
	send("again\n");
	vm_serial_device.destroy();
	autofree char *c = slurp(path);
	CHECK_STR(c, "hello\ntailagain\n");
	h_fini();
	cleanup_tmp();
}

TEST(serial_file_console_error_names_the_path)
{
	struct vs_err e;

	REQUIRE(h_init(1 << 20) == 0);
	H.cfg.serial.kind = VM_CONSOLE_FILE;
	H.cfg.serial.path = "/nonexistent/dir/console.log";
	CHECK(vm_serial_device.create(&H.ctx, &e) < 0);
	CHECK_CONTAINS(e.msg, "/nonexistent/dir/console.log");
	CHECK_EQ(e.errnum, ENOENT);
	CHECK_EQ(vm_serial_device.count(), 0);
	/* nothing registered: the port reads as an empty bus */
	CHECK_EQ(inb(LSR), 0xff);
	h_fini();
}

TEST(serial_loopback_echoes_and_maps_modem_lines)
{
	const char *path = console_file();

	REQUIRE(path && h_init(1 << 20) == 0);
	H.cfg.serial.kind = VM_CONSOLE_FILE;
	H.cfg.serial.path = (char *)path;
	REQUIRE(create() == 0);
	/* Linux's 8250 probe: loopback with RTS and OUT2 must read CTS and DCD */
	inb(MSR);
	outb(MCR, 0x10 | 0x0a);
	CHECK_EQ(inb(MSR) & 0xf0, 0x90);
	outb(MCR, 0x10 | 0x05); /* DTR, OUT1 -> DSR, RI */
	uint8_t msr = inb(MSR);
	CHECK_EQ(msr & 0xf0, 0x60);
	CHECK_EQ(msr & 0x0b, 0x0b);   /* CTS, DSR and DCD changed */
	CHECK_EQ(inb(MSR) & 0x0f, 0); /* deltas clear on read */

	outb(THR, 'x');
	CHECK(inb(LSR) & 0x01);
	CHECK_EQ(inb(THR), 'x');
	CHECK(!(inb(LSR) & 0x01));
	outb(MCR, 0x0b);
	vm_serial_device.destroy();
	autofree char *out = slurp(path);
	CHECK_STR(out, ""); /* loopback data never reaches the console */
	h_fini();
	cleanup_tmp();
}

TEST(serial_thr_empty_interrupt_follows_8250_rules)
{
	REQUIRE(h_init(1 << 20) == 0);
	REQUIRE(create() == 0);
	CHECK_EQ(H.line[VM_IRQ_COM1], 0);
	outb(IER, 0x02); /* enabling THRI with THR empty raises it */
	CHECK_EQ(H.line[VM_IRQ_COM1], 1);
	CHECK_EQ(inb(IIR), 0x02);
	/* reading IIR while THRI is the source clears it */
	CHECK_EQ(H.line[VM_IRQ_COM1], 0);
	CHECK_EQ(inb(IIR), 0x01);
	/* a write clears it, then THR empties and raises it again: a new edge */
	unsigned edges = H.edges[VM_IRQ_COM1];
	outb(THR, 'a');
	CHECK_EQ(H.line[VM_IRQ_COM1], 1);
	CHECK_EQ(H.edges[VM_IRQ_COM1], edges + 1);
	CHECK_EQ(inb(LSR) & 0x60, 0x60);
	outb(IER, 0x00);
	CHECK_EQ(H.line[VM_IRQ_COM1], 0);
	CHECK_EQ(inb(IIR), 0x01);
	/* re-writing IER with THRI already set does not re-raise a cleared one */
	outb(IER, 0x02);
	CHECK_EQ(inb(IIR), 0x02);
	outb(IER, 0x02);
	CHECK_EQ(inb(IIR), 0x01);
	vm_serial_device.destroy();
	h_fini();
}

TEST(serial_rx_fifo_interrupts_and_overrun)
{
	REQUIRE(h_init(1 << 20) == 0);
	REQUIRE(create() == 0);
	outb(FCR, 0x81); /* FIFO on, trigger level 8 */
	outb(MCR, 0x10); /* loopback feeds the RX FIFO */
	outb(IER, 0x01);
	send("abc");
	CHECK_EQ(inb(IIR), 0xcc); /* below the trigger: character timeout */
	CHECK_EQ(H.line[VM_IRQ_COM1], 1);
	send("defgh");
	CHECK_EQ(inb(IIR), 0xc4); /* trigger level reached */
	char got[9] = {0};
	for (int i = 0; i < 8; i++)
		got[i] = (char)inb(THR);
	CHECK_STR(got, "abcdefgh");
	CHECK_EQ(inb(IIR), 0xc1);
	CHECK_EQ(H.line[VM_IRQ_COM1], 0);

	send("0123456789abcdefX"); /* 17 bytes into 16 */
	outb(IER, 0x05);
	CHECK_EQ(inb(IIR), 0xc6); /* overrun: line status outranks data */
	uint8_t lsr = inb(LSR);
	CHECK_EQ(lsr & 0x03, 0x03);
	CHECK_EQ(inb(LSR) & 0x02, 0); /* OE clears on read */
	CHECK_EQ(inb(IIR), 0xc4);
	outb(FCR, 0x83); /* clear RX */
	CHECK_EQ(inb(LSR) & 0x01, 0);
	CHECK_EQ(inb(IIR), 0xc1);
	outb(FCR, 0x00); /* 16450 mode: a one-byte holding register */
	CHECK_EQ(inb(IIR), 0x01);
	send("pq");
	CHECK_EQ(inb(LSR) & 0x03, 0x03);
	CHECK_EQ(inb(THR), 'p');
	vm_serial_device.destroy();
	h_fini();
}

TEST(serial_state_survives_save_and_restore)
{
	struct vm_state_writer w;
	struct vs_err e;

	REQUIRE(h_init(1 << 20) == 0);
	REQUIRE(create() == 0);
	outb(LCR, 0x80);
	outb(THR, 0x03);
	outb(IER, 0x00);
	outb(LCR, 0x1b);
	outb(FCR, 0x41);
	outb(SCR, 0x77);
	outb(MCR, 0x10 | 0x0b);
	send("xyz");
	outb(IER, 0x03);
	REQUIRE(h_save(&vm_serial_device, &w) == 0);

	vm_serial_device.destroy();
	REQUIRE(create() == 0);
	CHECK_EQ(inb(SCR), 0);
	memset(H.line, 0, sizeof(H.line));
	REQUIRE(h_restore(&vm_serial_device, &w, &e) == 0);
	CHECK_EQ(H.line[VM_IRQ_COM1], 1); /* the restored interrupt is asserted */
	CHECK_EQ(inb(SCR), 0x77);
	CHECK_EQ(inb(LCR), 0x1b);
	CHECK_EQ(inb(MCR), 0x1b);
	CHECK_EQ(inb(IER), 0x03);
	CHECK_EQ(inb(IIR), 0xcc);
	CHECK_EQ((char)inb(THR), 'x');
	CHECK_EQ((char)inb(THR), 'y');
	CHECK_EQ((char)inb(THR), 'z');
	CHECK_EQ(inb(IIR), 0xc2); /* THR empty was pending too */
	outb(LCR, 0x9b);
	CHECK_EQ(inb(THR), 0x03);

	/* corrupt sections are refused with the reason */
	w.buf[0] = 9;
	CHECK(h_restore(&vm_serial_device, &w, &e) < 0);
	CHECK_CONTAINS(e.msg, "version");
	w.buf[0] = 1;
	w.buf[11] = 200; /* FIFO count */
	CHECK(h_restore(&vm_serial_device, &w, &e) < 0);
	CHECK_CONTAINS(e.msg, "FIFO");
	w.buf[11] = 2; /* one byte left over */
	CHECK(h_restore(&vm_serial_device, &w, &e) < 0);
	w.len = 5;
	CHECK(h_restore(&vm_serial_device, &w, &e) < 0);
	vm_sw_free(&w);
	vm_serial_device.destroy();
	h_fini();
}

/* Waits (bounded) for cond; the bound only stops a broken test from hanging. */
#define WAIT_FOR(cond)                                                                             \
	({                                                                                         \
		bool _ok = false;                                                                  \
		for (int _i = 0; _i < 5000 && !(_ok = (cond)); _i++)                               \
			usleep(1000);                                                              \
		_ok;                                                                               \
	})

TEST(serial_pty_carries_output_and_input)
{
	char buf[64] = {0};

	REQUIRE(h_init(1 << 20) == 0);
	REQUIRE(h_start_loop() == 0);
	H.cfg.serial.kind = VM_CONSOLE_PTY;
	REQUIRE(create() == 0);
	const char *pts = vm_serial_pty_path();
	REQUIRE(!strncmp(pts, "/dev/pts/", 9));
	int fd = open(pts, O_RDWR | O_NOCTTY);
	REQUIRE(fd >= 0);

	send("guest says hi\r\n");
	struct pollfd p = {.fd = fd, .events = POLLIN};
	size_t got = 0;
	while (got < 15 && poll(&p, 1, 5000) == 1) {
		ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	CHECK_STR(buf, "guest says hi\r\n");

	outb(IER, 0x01);
	REQUIRE(write(fd, "ls\n", 3) == 3);
	CHECK(WAIT_FOR(inb(LSR) & 0x01));
	CHECK_EQ(H.line[VM_IRQ_COM1], 1);
	CHECK_EQ((char)inb(THR), 'l');
	CHECK(WAIT_FOR(inb(LSR) & 0x01));
	CHECK_EQ((char)inb(THR), 's');
	CHECK(WAIT_FOR(inb(LSR) & 0x01));
	CHECK_EQ((char)inb(THR), '\n');
	close(fd);
	vm_serial_device.destroy();
	CHECK_STR(vm_serial_pty_path(), "");
	h_fini();
}

TEST(serial_pty_input_waits_while_fifo_is_full)
{
	char many[40];

	REQUIRE(h_init(1 << 20) == 0);
	REQUIRE(h_start_loop() == 0);
	H.cfg.serial.kind = VM_CONSOLE_PTY;
	REQUIRE(create() == 0);
	int fd = open(vm_serial_pty_path(), O_RDWR | O_NOCTTY);
	REQUIRE(fd >= 0);
	outb(FCR, 0x01);
	for (int i = 0; i < 40; i++)
		many[i] = (char)('A' + i);
	REQUIRE(write(fd, many, 40) == 40);
	/* all 40 arrive in order, 16 at a time, without an overrun */
	int i = 0;
	for (; i < 40; i++) {
		if (!WAIT_FOR(inb(LSR) & 0x01))
			break;
		if (inb(LSR) & 0x02)
			break;
		if (inb(THR) != (uint8_t)many[i])
			break;
	}
	CHECK_EQ(i, 40);
	close(fd);
	vm_serial_device.destroy();
	h_fini();
}

TEST(serial_prompt_without_newline_is_flushed_when_idle)
{
	const char *path = console_file();

	REQUIRE(path && h_init(1 << 20) == 0);
	REQUIRE(h_start_loop() == 0);
	H.cfg.serial.kind = VM_CONSOLE_FILE;
	H.cfg.serial.path = (char *)path;
	REQUIRE(create() == 0);
	send("login: ");
	CHECK(WAIT_FOR(({
		autofree char *c = slurp(path);
		!strcmp(c, "login: ");
	})));
	vm_serial_device.destroy();
	h_fini();
	cleanup_tmp();
}

struct drain {
	int fd;
	size_t got;
	bool ordered;
};

static void *drain_main(void *arg)
{
	struct drain *d = arg;
	char buf[512]; /* a slower reader than the writer */
	ssize_t n;

	while ((n = read(d->fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != (char)('a' + (d->got + (size_t)i) % 26))
				d->ordered = false;
		d->got += (size_t)n;
	}
	return NULL;
}

TEST(serial_stdout_console_never_drops_output_on_a_full_nonblocking_pipe)
{
	enum { TOTAL = 200000 };
	int p[2];
	struct drain d = {.ordered = true};
	pthread_t th;

	REQUIRE(h_init(1 << 20) == 0);
	H.cfg.serial.kind = VM_CONSOLE_STDOUT;
	REQUIRE(pipe(p) == 0);
	fcntl(p[1], F_SETPIPE_SZ, 4096); /* one flush fills it */
	fflush(stdout);
	int saved = dup(STDOUT_FILENO);
	REQUIRE(saved >= 0);
	REQUIRE(dup2(p[1], STDOUT_FILENO) == STDOUT_FILENO);
	close(p[1]);
	/* what a parent may hand us: a non-blocking stdout */
	fcntl(STDOUT_FILENO, F_SETFL, fcntl(STDOUT_FILENO, F_GETFL) | O_NONBLOCK);
	d.fd = p[0];
	REQUIRE(pthread_create(&th, NULL, drain_main, &d) == 0);
	if (create() == 0) {
		/* no newline: the 4 KiB buffer fills and flushes 49 times */
		for (int i = 0; i < TOTAL; i++)
			outb(THR, (uint8_t)('a' + i % 26));
		vm_serial_device.destroy();
	}
	dup2(saved, STDOUT_FILENO); /* closes the pipe's last write end */
	close(saved);
	pthread_join(th, NULL);
	close(p[0]);
	CHECK_EQ(d.got, TOTAL);
	CHECK(d.ordered);
	h_fini();
}

static void dummy_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
}

TEST(serial_failed_create_leaves_no_console_file_behind)
{
	const char *path = console_file();
	struct vs_err e;
	struct stat st;

	REQUIRE(path && h_init(1 << 20) == 0);
	/* something else already owns COM1's ports */
	REQUIRE(vm_bus_register(&H.pio, VM_PORT_COM1 + 4, 1, dummy_io, NULL, "squatter", &e) == 0);
	H.cfg.serial.kind = VM_CONSOLE_FILE;
	H.cfg.serial.path = (char *)path;
	CHECK(vm_serial_device.create(&H.ctx, &e) < 0);
	CHECK_CONTAINS(e.msg, "squatter");
	CHECK(stat(path, &st) < 0 && errno == ENOENT);
	/* a log that was there before is kept as it was */
	REQUIRE(vs_write_file(path, "old\n", 4, 0644, &e) == 0);
	CHECK(vm_serial_device.create(&H.ctx, &e) < 0);
	autofree char *old = slurp(path);
	CHECK_STR(old, "old\n");
	CHECK_EQ(vm_serial_device.count(), 0);
	h_fini();
	cleanup_tmp();
}

TEST(serial_loopback_keeps_host_input_waiting)
{
	REQUIRE(h_init(1 << 20) == 0);
	REQUIRE(h_start_loop() == 0);
	H.cfg.serial.kind = VM_CONSOLE_PTY;
	REQUIRE(create() == 0);
	int fd = open(vm_serial_pty_path(), O_RDWR | O_NOCTTY);
	REQUIRE(fd >= 0);
	outb(MCR, 0x10); /* loopback, as Linux's probe does */
	REQUIRE(write(fd, "z", 1) == 1);
	/* give a wrong implementation time to take the key (it never may) */
	for (int i = 0; i < 100 && !(inb(LSR) & 0x01); i++)
		usleep(1000);
	CHECK_EQ(inb(LSR) & 0x01, 0);
	outb(THR, 'a');
	CHECK_EQ((char)inb(THR), 'a');
	CHECK_EQ(inb(LSR) & 0x01, 0); /* only the looped-back byte */
	outb(MCR, 0x0b);	      /* back on the line: the key arrives */
	CHECK(WAIT_FOR(inb(LSR) & 0x01));
	CHECK_EQ((char)inb(THR), 'z');
	close(fd);
	vm_serial_device.destroy();
	h_fini();
}
