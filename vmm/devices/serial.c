/*
 * 16550A UART at 0x3f8 (COM1), IRQ 4. Register behaviour follows the TI/NS
 * PC16550D data sheet: divisor latch behind LCR.DLAB, 16-byte FIFOs, the IIR
 * priority scheme, loopback (MCR bit 4) and modem status deltas.
 *
 * Transmission is instantaneous: THR is empty again right after a write,
 * which re-arms the THR-empty interrupt as the real chip does when the byte
 * moves to the shift register. Output is buffered and flushed on newline, on
 * a full buffer, after 10 ms of silence (a timerfd on the event loop) and in
 * destroy(), so nothing is lost at exit. Input comes from the console when
 * it is a terminal or a pty: the fd is watched only while the RX FIFO has
 * room, so host input is never dropped (no overrun).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <termios.h>
#include <unistd.h>

#include "vmm/devices/platform.h"
#include "vmm/layout.h"

#define SERIAL_STATE_VERSION 1
#define FIFO_LEN	     16
#define OUT_BUF		     4096

/* register offsets */
enum {
	R_RBR_THR = 0,
	R_IER = 1,
	R_IIR_FCR = 2,
	R_LCR = 3,
	R_MCR = 4,
	R_LSR = 5,
	R_MSR = 6,
	R_SCR = 7
};

#define IER_RDI	 0x01 /* received data available */
#define IER_THRI 0x02 /* THR empty */
#define IER_RLSI 0x04 /* receiver line status */
#define IER_MSI	 0x08 /* modem status */

#define IIR_NONE 0x01
#define IIR_MSI	 0x00
#define IIR_THRI 0x02
#define IIR_RDI	 0x04
#define IIR_RLSI 0x06
#define IIR_CTI	 0x0c /* character timeout: data below the trigger level */
#define IIR_FIFO 0xc0

#define FCR_ENABLE   0x01
#define FCR_CLEAR_RX 0x02
#define FCR_CLEAR_TX 0x04

#define LCR_DLAB 0x80

#define MCR_DTR	 0x01
#define MCR_RTS	 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10

#define LSR_DR	   0x01
#define LSR_OE	   0x02
#define LSR_BI	   0x10
#define LSR_THRE   0x20
#define LSR_TEMT   0x40
#define LSR_ERRORS 0x1e /* OE, PE, FE, BI: cleared by reading LSR */

#define MSR_DCTS   0x01
#define MSR_DDSR   0x02
#define MSR_TERI   0x04
#define MSR_DDCD   0x08
#define MSR_CTS	   0x10
#define MSR_DSR	   0x20
#define MSR_RI	   0x40
#define MSR_DCD	   0x80
#define MSR_DELTAS 0x0f

static struct serial {
	pthread_mutex_t lock;
	struct vm_ctx *ctx;
	bool created;

	/* guest-visible registers */
	uint8_t dll, dlm, ier, fcr, lcr, mcr, lsr, msr, scr;
	bool thr_ipending; /* THR-empty interrupt pending (cleared by IIR read) */
	uint8_t rx[FIFO_LEN];
	unsigned rx_head, rx_count;
	int irq_level;

	/* host side */
	int out_fd, in_fd; /* -1: none */
	bool close_out, close_in;
	int pty_slave; /* held open so the master never sees a hang-up */
	char pty_path[64];
	int timer_fd;
	bool timer_armed, in_watched;
	bool tty_saved;
	struct termios saved_tio;
	uint8_t out[OUT_BUF];
	size_t out_len;
} s = {.lock = PTHREAD_MUTEX_INITIALIZER,
       .out_fd = -1,
       .in_fd = -1,
       .pty_slave = -1,
       .timer_fd = -1};

static unsigned fifo_cap(void)
{
	return (s.fcr & FCR_ENABLE) ? FIFO_LEN : 1;
}

static unsigned rx_trigger(void)
{
	static const unsigned level[4] = {1, 4, 8, 14};

	return (s.fcr & FCR_ENABLE) ? level[s.fcr >> 6] : 1;
}

/* IIR value by priority (PC16550D table 4): line status, received data,
 * THR empty, modem status. */
static uint8_t iir_now(void)
{
	uint8_t fifo = (s.fcr & FCR_ENABLE) ? IIR_FIFO : 0;

	if ((s.ier & IER_RLSI) && (s.lsr & LSR_ERRORS))
		return fifo | IIR_RLSI;
	if ((s.ier & IER_RDI) && s.rx_count)
		return fifo | (s.rx_count >= rx_trigger() ? IIR_RDI : IIR_CTI);
	if ((s.ier & IER_THRI) && s.thr_ipending)
		return fifo | IIR_THRI;
	if ((s.ier & IER_MSI) && (s.msr & MSR_DELTAS))
		return fifo | IIR_MSI;
	return fifo | IIR_NONE;
}

static void update_irq(bool force)
{
	int level = !(iir_now() & IIR_NONE);

	if (level != s.irq_level || force) {
		s.irq_level = level;
		if (s.ctx)
			vm_irq_line(s.ctx->irq, VM_IRQ_COM1, level);
	}
}

/* --- host side ------------------------------------------------------------ */

static void flush_locked(void)
{
	size_t done = 0;

	while (done < s.out_len && s.out_fd >= 0) {
		ssize_t n = write(s.out_fd, s.out + done, s.out_len - done);
		if (n > 0) {
			done += (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && errno == EAGAIN && !s.pty_path[0]) {
			/* a non-blocking stdout we inherited: wait as a
			 * blocking write would, output is never dropped */
			struct pollfd p = {.fd = s.out_fd, .events = POLLOUT};
			if (poll(&p, 1, -1) < 0 && errno != EINTR)
				break;
		} else {
			/* a pty nobody reads (EAGAIN) or a closed stdout: the
			 * bytes have nowhere to go */
			break;
		}
	}
	s.out_len = 0;
}

static void arm_idle_timer(void)
{
	/* 10 ms without output flushes a prompt that has no newline */
	struct itimerspec its = {.it_value = {.tv_nsec = 10 * 1000 * 1000}};

	if (s.timer_fd < 0 || s.timer_armed)
		return;
	if (timerfd_settime(s.timer_fd, 0, &its, NULL) == 0)
		s.timer_armed = true;
}

static void emit(uint8_t c)
{
	if (s.out_fd < 0)
		return;
	s.out[s.out_len++] = c;
	if (c == '\n' || s.out_len == OUT_BUF)
		flush_locked();
	else
		arm_idle_timer();
}

static void on_idle_timer(void *opaque, uint32_t events)
{
	uint64_t ticks;

	if (read(s.timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&s.lock);
	s.timer_armed = false;
	flush_locked();
	pthread_mutex_unlock(&s.lock);
}

static void watch_input(bool on)
{
	if (on && (s.mcr & MCR_LOOP))
		return;
	if (s.in_fd < 0 || !s.ctx || !s.ctx->loop || on == s.in_watched)
		return;
	if (vm_event_mod(s.ctx->loop, s.in_fd, on ? EPOLLIN : 0, NULL) == 0)
		s.in_watched = on;
}

static void rx_push(uint8_t c)
{
	if (s.rx_count == fifo_cap()) {
		s.lsr |= LSR_OE;
		return;
	}
	s.rx[(s.rx_head + s.rx_count) % FIFO_LEN] = c;
	s.rx_count++;
	s.lsr |= LSR_DR;
}

static void on_input(void *opaque, uint32_t events)
{
	uint8_t buf[FIFO_LEN];

	pthread_mutex_lock(&s.lock);
	unsigned room = fifo_cap() - s.rx_count;
	if (s.mcr & MCR_LOOP) {
		/* loopback disconnects the receiver from the line (PC16550D
		 * §8.6.4): host input waits, Linux's probe sees only its own */
		watch_input(false);
	} else if (room) {
		ssize_t n = read(s.in_fd, buf, room);
		for (ssize_t i = 0; i < n; i++)
			rx_push(buf[i]);
		if (n > 0)
			update_irq(false);
		else if (n == 0 || (errno != EAGAIN && errno != EINTR))
			watch_input(false); /* end of input: stop polling it */
	}
	if (s.rx_count == fifo_cap())
		watch_input(false); /* resumed when the guest reads RBR */
	pthread_mutex_unlock(&s.lock);
}

/* --- registers ------------------------------------------------------------ */

/* MSR status bits: in loopback they follow MCR (PC16550D §8.6.4); otherwise a
 * connected line (carrier, data set ready, clear to send). */
static void update_msr(void)
{
	uint8_t old = s.msr, st;

	if (s.mcr & MCR_LOOP) {
		st = (s.mcr & MCR_RTS ? MSR_CTS : 0) | (s.mcr & MCR_DTR ? MSR_DSR : 0) |
		     (s.mcr & MCR_OUT1 ? MSR_RI : 0) | (s.mcr & MCR_OUT2 ? MSR_DCD : 0);
	} else {
		st = MSR_DCD | MSR_DSR | MSR_CTS;
	}
	uint8_t changed = (old ^ st) & 0xf0;
	uint8_t delta = (changed & MSR_CTS ? MSR_DCTS : 0) | (changed & MSR_DSR ? MSR_DDSR : 0) |
			(changed & MSR_DCD ? MSR_DDCD : 0) |
			((old & MSR_RI) && !(st & MSR_RI) ? MSR_TERI : 0);
	s.msr = st | (old & MSR_DELTAS) | delta;
}

static uint8_t reg_read(unsigned reg)
{
	uint8_t v;

	switch (reg) {
	case R_RBR_THR:
		if (s.lcr & LCR_DLAB)
			return s.dll;
		if (!s.rx_count)
			return 0;
		v = s.rx[s.rx_head];
		s.rx_head = (s.rx_head + 1) % FIFO_LEN;
		s.rx_count--;
		if (!s.rx_count)
			s.lsr &= (uint8_t)~LSR_DR;
		watch_input(true);
		update_irq(false);
		return v;
	case R_IER: return (s.lcr & LCR_DLAB) ? s.dlm : s.ier;
	case R_IIR_FCR:
		v = iir_now();
		/* reading IIR clears a THR-empty interrupt that it reports */
		if ((v & 0x0f) == IIR_THRI) {
			s.thr_ipending = false;
			update_irq(false);
		}
		return v;
	case R_LCR: return s.lcr;
	case R_MCR: return s.mcr;
	case R_LSR:
		v = s.lsr;
		s.lsr &= (uint8_t)~LSR_ERRORS;
		if (v & LSR_ERRORS)
			update_irq(false);
		return v;
	case R_MSR:
		v = s.msr;
		s.msr &= (uint8_t)~MSR_DELTAS;
		if (v & MSR_DELTAS)
			update_irq(false);
		return v;
	default: return s.scr;
	}
}

static void transmit(uint8_t c)
{
	/* the write empties the interrupt, then the byte leaves THR at once */
	s.thr_ipending = false;
	s.lsr &= (uint8_t) ~(LSR_THRE | LSR_TEMT);
	update_irq(false);
	if (s.mcr & MCR_LOOP)
		rx_push(c);
	else
		emit(c);
	s.lsr |= LSR_THRE | LSR_TEMT;
	s.thr_ipending = true;
	update_irq(false);
}

static void reg_write(unsigned reg, uint8_t v)
{
	uint8_t changed;

	switch (reg) {
	case R_RBR_THR:
		if (s.lcr & LCR_DLAB)
			s.dll = v;
		else
			transmit(v);
		return;
	case R_IER:
		if (s.lcr & LCR_DLAB) {
			s.dlm = v;
			return;
		}
		changed = (s.ier ^ v) & IER_THRI;
		s.ier = v & 0x0f;
		/* enabling the THR-empty interrupt with THR empty raises it */
		if (changed)
			s.thr_ipending = (s.ier & IER_THRI) && (s.lsr & LSR_THRE);
		update_irq(false);
		return;
	case R_IIR_FCR:
		if ((v ^ s.fcr) & FCR_ENABLE) {
			/* switching the FIFO mode resets both FIFOs */
			v |= FCR_CLEAR_RX | FCR_CLEAR_TX;
		}
		if (v & FCR_CLEAR_RX) {
			s.rx_head = s.rx_count = 0;
			s.lsr &= (uint8_t)~LSR_DR;
			watch_input(true);
		}
		s.fcr = v & 0xc9; /* enable, DMA mode, trigger level */
		update_irq(false);
		return;
	case R_LCR: s.lcr = v; return;
	case R_MCR:
		s.mcr = v & 0x1f;
		update_msr();
		watch_input(s.rx_count < fifo_cap());
		update_irq(false);
		return;
	case R_LSR:
	case R_MSR: return; /* read-only (factory test writes are ignored) */
	default: s.scr = v; return;
	}
}

static void serial_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	pthread_mutex_lock(&s.lock);
	/* byte registers: a wider access touches consecutive registers */
	for (uint32_t i = 0; i < len; i++) {
		uint64_t reg = off + i;
		if (reg >= 8) {
			if (!is_write)
				data[i] = 0xff;
			continue;
		}
		if (is_write)
			reg_write((unsigned)reg, data[i]);
		else
			data[i] = reg_read((unsigned)reg);
	}
	pthread_mutex_unlock(&s.lock);
}

static void reset_regs(void)
{
	s.dll = 0x0c; /* 9600 baud */
	s.dlm = 0;
	s.ier = s.fcr = s.mcr = s.scr = 0;
	s.lcr = 0x03; /* 8N1 */
	s.lsr = LSR_THRE | LSR_TEMT;
	s.msr = 0;
	s.thr_ipending = false;
	s.rx_head = s.rx_count = 0;
	s.irq_level = 0;
	update_msr();
	s.msr &= (uint8_t)~MSR_DELTAS;
}

/* --- console setup ------------------------------------------------------- */

static int open_pty(struct vs_err *e)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	struct termios tio;
	const char *name;

	if (m < 0)
		return vs_fail_errno(e, "serial: posix_openpt");
	if (grantpt(m) < 0 || unlockpt(m) < 0 || !(name = ptsname(m))) {
		vs_fail_errno(e, "serial: pty setup");
		close(m);
		return -1;
	}
	s.pty_slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s.pty_slave < 0) {
		vs_fail_errno(e, "serial: open %s", name);
		close(m);
		return -1;
	}
	/* raw: the guest does its own line discipline */
	if (tcgetattr(s.pty_slave, &tio) == 0) {
		cfmakeraw(&tio);
		tcsetattr(s.pty_slave, TCSANOW, &tio);
	}
	snprintf(s.pty_path, sizeof(s.pty_path), "%s", name);
	fprintf(stderr, "vessel-vmm: serial console on %s\n", name);
	s.out_fd = s.in_fd = m;
	s.close_out = true;
	return 0;
}

/* stdin on a terminal: characters go to the guest as typed; Ctrl-C still
 * signals the VMM. Restored in destroy(). */
static void stdin_raw(void)
{
	struct termios tio;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &s.saved_tio) < 0)
		return;
	tio = s.saved_tio;
	tio.c_lflag &= (tcflag_t) ~(ICANON | ECHO | ECHONL | IEXTEN);
	tio.c_iflag &= (tcflag_t) ~(ICRNL | IXON);
	tio.c_cc[VMIN] = 1;
	tio.c_cc[VTIME] = 0;
	if (tcsetattr(STDIN_FILENO, TCSANOW, &tio) == 0)
		s.tty_saved = true;
	s.in_fd = STDIN_FILENO;
}

static void serial_destroy(void);

static int serial_create(struct vm_ctx *ctx, struct vs_err *e)
{
	const struct vm_console_cfg *c = &ctx->cfg->serial;
	const char *made_file = NULL;

	serial_destroy();
	pthread_mutex_lock(&s.lock);
	s.ctx = ctx;
	reset_regs();
	pthread_mutex_unlock(&s.lock);

	switch (c->kind) {
	case VM_CONSOLE_STDOUT:
		s.out_fd = STDOUT_FILENO;
		if (ctx->loop)
			stdin_raw();
		break;
	case VM_CONSOLE_FILE:
		if (!c->path)
			return vs_fail(e, EINVAL, "serial: console file: no path");
		/* O_EXCL first: a file we create is removed again if the
		 * device cannot be set up, so a failed start leaves nothing */
		s.out_fd = open(c->path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (s.out_fd >= 0)
			made_file = c->path;
		else if (errno == EEXIST)
			s.out_fd = open(c->path, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (s.out_fd < 0)
			return vs_fail_errno(e, "serial: console file %s", c->path);
		s.close_out = true;
		break;
	case VM_CONSOLE_PTY:
		if (open_pty(e) < 0)
			return -1;
		break;
	case VM_CONSOLE_NONE: break;
	}

	if (ctx->loop && s.out_fd >= 0) {
		s.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (s.timer_fd < 0) {
			vs_fail_errno(e, "serial: timerfd");
			goto fail;
		}
		if (vm_event_add(ctx->loop, s.timer_fd, EPOLLIN, on_idle_timer, NULL, e) < 0)
			goto fail;
	}
	if (ctx->loop && s.in_fd >= 0) {
		/* stdin stays blocking: it often shares its open file with
		 * stdout, and a read after EPOLLIN finds data anyway */
		if (vm_event_add(ctx->loop, s.in_fd, EPOLLIN, on_input, NULL, e) < 0)
			goto fail;
		s.in_watched = true;
	} else {
		s.in_fd = -1; /* nobody would read it */
	}
	if (vm_bus_register(ctx->pio, VM_PORT_COM1, 8, serial_io, NULL, "serial", e) < 0)
		goto fail;
	s.created = true;
	return 0;
fail:
	serial_destroy();
	if (made_file)
		unlink(made_file);
	return -1;
}

static void serial_destroy(void)
{
	pthread_mutex_lock(&s.lock);
	flush_locked();
	if (s.ctx && s.ctx->loop) {
		if (s.timer_fd >= 0)
			vm_event_del(s.ctx->loop, s.timer_fd);
		if (s.in_fd >= 0)
			vm_event_del(s.ctx->loop, s.in_fd);
	}
	if (s.created && s.ctx)
		vm_bus_unregister(s.ctx->pio, VM_PORT_COM1, NULL);
	if (s.tty_saved)
		tcsetattr(STDIN_FILENO, TCSANOW, &s.saved_tio);
	if (s.close_out && s.out_fd >= 0)
		close(s.out_fd);
	if (s.timer_fd >= 0)
		close(s.timer_fd);
	if (s.pty_slave >= 0)
		close(s.pty_slave);
	s.out_fd = s.in_fd = s.timer_fd = s.pty_slave = -1;
	s.pty_path[0] = '\0';
	s.close_out = s.close_in = s.tty_saved = s.timer_armed = s.in_watched = false;
	s.created = false;
	s.ctx = NULL;
	pthread_mutex_unlock(&s.lock);
}

void vm_serial_flush(void)
{
	pthread_mutex_lock(&s.lock);
	flush_locked();
	pthread_mutex_unlock(&s.lock);
}

const char *vm_serial_pty_path(void)
{
	return s.pty_path;
}

static unsigned serial_count(void)
{
	return s.created ? 1 : 0;
}

static int serial_save(unsigned idx, struct vm_state_writer *w)
{
	pthread_mutex_lock(&s.lock);
	flush_locked();
	vm_sw_u8(w, SERIAL_STATE_VERSION);
	vm_sw_u8(w, s.dll);
	vm_sw_u8(w, s.dlm);
	vm_sw_u8(w, s.ier);
	vm_sw_u8(w, s.fcr);
	vm_sw_u8(w, s.lcr);
	vm_sw_u8(w, s.mcr);
	vm_sw_u8(w, s.lsr);
	vm_sw_u8(w, s.msr);
	vm_sw_u8(w, s.scr);
	vm_sw_u8(w, s.thr_ipending);
	vm_sw_u8(w, (uint8_t)s.rx_count);
	for (unsigned i = 0; i < s.rx_count; i++)
		vm_sw_u8(w, s.rx[(s.rx_head + i) % FIFO_LEN]);
	pthread_mutex_unlock(&s.lock);
	return w->failed ? -1 : 0;
}

static int serial_restore(unsigned idx, struct vm_state_reader *r, struct vs_err *e)
{
	uint8_t ver, f[11], rx[FIFO_LEN];

	if (vm_sr_u8(r, &ver, e) < 0)
		return -1;
	if (ver != SERIAL_STATE_VERSION)
		return vs_fail(e, EINVAL, "serial state: version %u, expected %u", ver,
			       SERIAL_STATE_VERSION);
	for (unsigned i = 0; i < sizeof(f); i++)
		if (vm_sr_u8(r, &f[i], e) < 0)
			return -1;
	if (f[10] > FIFO_LEN)
		return vs_fail(e, EINVAL, "serial state: %u bytes in a %u-byte FIFO", f[10],
			       FIFO_LEN);
	if (vm_sr_bytes(r, rx, f[10], e) < 0 || vm_sr_end(r, e) < 0)
		return -1;

	pthread_mutex_lock(&s.lock);
	s.dll = f[0];
	s.dlm = f[1];
	s.ier = f[2] & 0x0f;
	s.fcr = f[3] & 0xc9;
	s.lcr = f[4];
	s.mcr = f[5] & 0x1f;
	s.lsr = f[6];
	s.msr = f[7];
	s.scr = f[8];
	s.thr_ipending = f[9] != 0;
	memcpy(s.rx, rx, f[10]);
	s.rx_head = 0;
	s.rx_count = f[10];
	if (s.rx_count > fifo_cap())
		s.rx_count = fifo_cap();
	s.lsr = (uint8_t)((s.lsr & ~LSR_DR) | (s.rx_count ? LSR_DR : 0));
	watch_input(s.rx_count < fifo_cap());
	update_irq(true);
	pthread_mutex_unlock(&s.lock);
	return 0;
}

const struct vm_device_ops vm_serial_device = {
	.name = "serial",
	.order = 0,
	.create = serial_create,
	.count = serial_count,
	.save = serial_save,
	.restore = serial_restore,
	.destroy = serial_destroy,
};
VM_DEVICE(vm_serial_device);
