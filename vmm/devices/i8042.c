/*
 * i8042 keyboard controller at 0x60 (data) / 0x64 (status, command), with no
 * keyboard or mouse attached: what a guest needs is a controller that passes
 * Linux's probe (self-test, command byte round trip, interface tests, AUX
 * loopback) and the reset line. Commands follow the IBM PC/AT technical
 * reference and the 8042 command set as PC firmware documents it.
 *
 * Bytes for an absent device (a keyboard command written to 0x60, anything
 * sent to the mouse with 0xD4) are answered as a real controller with
 * nothing plugged in does: 0xFE in the output buffer with the timeout bit set
 * in the status register.
 *
 * Pulsing the reset line (command 0xFE, or 0xD1 clearing output-port bit 0)
 * ends the VM: request_exit(0, "guest reset through i8042"). Vessel has no
 * warm reset; the manager restarts an instance that should reboot.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "vmm/devices/platform.h"
#include "vmm/layout.h"

#define I8042_STATE_VERSION 1
#define QUEUE_LEN	    16
#define IRQ_KBD		    1
#define IRQ_AUX		    12

/* status register */
#define ST_OBF	    0x01
#define ST_SYS	    0x04
#define ST_CMD	    0x08 /* last write went to the command port */
#define ST_UNLOCKED 0x10
#define ST_AUX	    0x20 /* the output byte comes from the mouse port */
#define ST_TIMEOUT  0x40

/* command byte (controller RAM 0) */
#define CTR_KBD_INT	0x01
#define CTR_AUX_INT	0x02
#define CTR_SYS		0x04
#define CTR_KBD_DISABLE 0x10
#define CTR_AUX_DISABLE 0x20
#define CTR_XLATE	0x40

/* output port */
#define OUT_RESET 0x01 /* 0 holds the CPU in reset */
#define OUT_A20	  0x02

/* flags of a queued output byte */
#define Q_AUX	  0x1
#define Q_TIMEOUT 0x2

static struct i8042 {
	pthread_mutex_t lock;
	struct vm_ctx *ctx;
	bool created;
	uint8_t ram[32]; /* ram[0] is the command byte */
	uint8_t status;	 /* ST_CMD | ST_SYS kept here; OBF/AUX/TIMEOUT derived */
	uint8_t outport;
	uint8_t pending; /* command waiting for its data byte, 0: none */
	uint8_t last;	 /* what 0x60 reads when the buffer is empty */
	uint8_t q[QUEUE_LEN], qflags[QUEUE_LEN];
	unsigned qhead, qcount;
	int irq_kbd, irq_aux;
	bool reset_req; /* acted on after the lock is dropped */
} k = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void update_irq(void)
{
	int kbd = 0, aux = 0;

	if (k.qcount) {
		if (k.qflags[k.qhead] & Q_AUX)
			aux = !!(k.ram[0] & CTR_AUX_INT);
		else
			kbd = !!(k.ram[0] & CTR_KBD_INT);
	}
	if (k.ctx && kbd != k.irq_kbd)
		vm_irq_line(k.ctx->irq, IRQ_KBD, kbd);
	if (k.ctx && aux != k.irq_aux)
		vm_irq_line(k.ctx->irq, IRQ_AUX, aux);
	k.irq_kbd = kbd;
	k.irq_aux = aux;
}

static void push(uint8_t v, uint8_t flags)
{
	if (k.qcount == QUEUE_LEN)
		return; /* a guest that never reads loses the newest bytes */
	k.q[(k.qhead + k.qcount) % QUEUE_LEN] = v;
	k.qflags[(k.qhead + k.qcount) % QUEUE_LEN] = flags;
	k.qcount++;
	update_irq();
}

static uint8_t status_now(void)
{
	uint8_t st = (k.status & ST_CMD) | ST_UNLOCKED | (k.ram[0] & CTR_SYS ? ST_SYS : 0);

	if (k.qcount) {
		st |= ST_OBF;
		if (k.qflags[k.qhead] & Q_AUX)
			st |= ST_AUX;
		if (k.qflags[k.qhead] & Q_TIMEOUT)
			st |= ST_TIMEOUT;
	}
	return st;
}

static uint8_t read_data(void)
{
	if (k.qcount) {
		k.last = k.q[k.qhead];
		k.qhead = (k.qhead + 1) % QUEUE_LEN;
		k.qcount--;
		update_irq();
	}
	return k.last;
}

static void reset_line(void)
{
	k.reset_req = true;
}

static void command(uint8_t c)
{
	if (c >= 0x20 && c <= 0x3f) { /* read controller RAM */
		push(k.ram[c & 0x1f], 0);
		return;
	}
	if (c >= 0x60 && c <= 0x7f) { /* write controller RAM: data follows */
		k.pending = c;
		return;
	}
	if (c >= 0xf0) {
		/* pulse output lines for 6 us; bit 0 clear pulses reset */
		if (!(c & 0x01))
			reset_line();
		return;
	}
	switch (c) {
	case 0xa7: k.ram[0] |= CTR_AUX_DISABLE; break;
	case 0xa8: k.ram[0] &= (uint8_t)~CTR_AUX_DISABLE; break;
	case 0xa9: push(0x00, 0); break; /* AUX interface test: no error */
	case 0xaa:			 /* controller self-test */
		k.ram[0] |= CTR_SYS;
		push(0x55, 0);
		break;
	case 0xab: push(0x00, 0); break; /* keyboard interface test: no error */
	case 0xad: k.ram[0] |= CTR_KBD_DISABLE; break;
	case 0xae: k.ram[0] &= (uint8_t)~CTR_KBD_DISABLE; break;
	case 0xc0: push(0x80, 0); break; /* input port: keyboard not inhibited */
	case 0xd0:			 /* read output port */
		push((uint8_t)(k.outport | (k.qcount ? 0x10 : 0)), 0);
		break;
	case 0xd1: /* write output port */
	case 0xd2: /* write keyboard output buffer */
	case 0xd3: /* write AUX output buffer */
	case 0xd4: /* write to the AUX device */ k.pending = c; break;
	case 0xdd: k.outport &= (uint8_t)~OUT_A20; break;
	case 0xdf: k.outport |= OUT_A20; break;
	default: break; /* unknown commands are ignored */
	}
}

static void data(uint8_t v)
{
	uint8_t c = k.pending;

	k.pending = 0;
	if (c >= 0x60 && c <= 0x7f) {
		k.ram[c & 0x1f] = v;
		if (c == 0x60)
			update_irq(); /* interrupt enables may have changed */
		return;
	}
	switch (c) {
	case 0xd1:
		k.outport = v;
		if (!(v & OUT_RESET))
			reset_line();
		return;
	case 0xd2: push(v, 0); return;
	case 0xd3: push(v, Q_AUX); return;
	case 0xd4: push(0xfe, Q_AUX | Q_TIMEOUT); return; /* no mouse */
	default: break;
	}
	/* a byte for the keyboard: nobody answers */
	push(0xfe, Q_TIMEOUT);
}

static void i8042_io(void *opaque, uint64_t off, uint8_t *d, uint32_t len, bool is_write)
{
	/* registered as two 1-byte ranges; opaque tells them apart */
	bool cmd_port = opaque != NULL;

	pthread_mutex_lock(&k.lock);
	for (uint32_t i = 0; i < len; i++) {
		if (off + i != 0) {
			if (!is_write)
				d[i] = 0xff;
			continue;
		}
		if (is_write) {
			if (cmd_port) {
				k.status |= ST_CMD;
				command(d[i]);
			} else {
				k.status &= (uint8_t)~ST_CMD;
				data(d[i]);
			}
		} else {
			d[i] = cmd_port ? status_now() : read_data();
		}
	}
	bool reset = k.reset_req;
	struct vm_ctx *ctx = k.ctx;
	k.reset_req = false;
	pthread_mutex_unlock(&k.lock);
	/* outside the lock: the core may stop vCPUs that wait for it */
	if (reset && ctx && ctx->request_exit)
		ctx->request_exit(ctx, 0, "guest reset through i8042");
}

static void i8042_destroy(void)
{
	pthread_mutex_lock(&k.lock);
	if (k.created && k.ctx) {
		vm_bus_unregister(k.ctx->pio, VM_PORT_I8042, NULL);
		vm_bus_unregister(k.ctx->pio, VM_PORT_I8042 + 4, &k);
	}
	k.created = false;
	k.ctx = NULL;
	pthread_mutex_unlock(&k.lock);
}

static int i8042_create(struct vm_ctx *ctx, struct vs_err *e)
{
	i8042_destroy();
	pthread_mutex_lock(&k.lock);
	memset(k.ram, 0, sizeof(k.ram));
	k.ram[0] = CTR_KBD_INT | CTR_AUX_INT | CTR_SYS | CTR_XLATE;
	k.status = 0;
	k.outport = OUT_RESET | OUT_A20;
	k.pending = k.last = 0;
	k.qhead = k.qcount = 0;
	k.irq_kbd = k.irq_aux = 0;
	pthread_mutex_unlock(&k.lock);
	if (vm_bus_register(ctx->pio, VM_PORT_I8042, 1, i8042_io, NULL, "i8042-data", e) < 0)
		return -1;
	if (vm_bus_register(ctx->pio, VM_PORT_I8042 + 4, 1, i8042_io, &k, "i8042-cmd", e) < 0) {
		vm_bus_unregister(ctx->pio, VM_PORT_I8042, NULL);
		return -1;
	}
	k.ctx = ctx;
	k.created = true;
	return 0;
}

static unsigned i8042_count(void)
{
	return k.created ? 1 : 0;
}

static int i8042_save(unsigned idx, struct vm_state_writer *w)
{
	pthread_mutex_lock(&k.lock);
	vm_sw_u8(w, I8042_STATE_VERSION);
	vm_sw_bytes(w, k.ram, sizeof(k.ram));
	vm_sw_u8(w, k.status & ST_CMD);
	vm_sw_u8(w, k.outport);
	vm_sw_u8(w, k.pending);
	vm_sw_u8(w, k.last);
	vm_sw_u8(w, (uint8_t)k.qcount);
	for (unsigned i = 0; i < k.qcount; i++) {
		vm_sw_u8(w, k.q[(k.qhead + i) % QUEUE_LEN]);
		vm_sw_u8(w, k.qflags[(k.qhead + i) % QUEUE_LEN]);
	}
	pthread_mutex_unlock(&k.lock);
	return w->failed ? -1 : 0;
}

static int i8042_restore(unsigned idx, struct vm_state_reader *r, struct vs_err *e)
{
	uint8_t ver, ram[32], f[5], q[QUEUE_LEN], qf[QUEUE_LEN];

	if (vm_sr_u8(r, &ver, e) < 0)
		return -1;
	if (ver != I8042_STATE_VERSION)
		return vs_fail(e, EINVAL, "i8042 state: version %u, expected %u", ver,
			       I8042_STATE_VERSION);
	if (vm_sr_bytes(r, ram, sizeof(ram), e) < 0)
		return -1;
	for (unsigned i = 0; i < 5; i++)
		if (vm_sr_u8(r, &f[i], e) < 0)
			return -1;
	if (f[4] > QUEUE_LEN)
		return vs_fail(e, EINVAL, "i8042 state: %u queued bytes, at most %u", f[4],
			       QUEUE_LEN);
	for (unsigned i = 0; i < f[4]; i++) {
		if (vm_sr_u8(r, &q[i], e) < 0 || vm_sr_u8(r, &qf[i], e) < 0)
			return -1;
		if (qf[i] & ~(Q_AUX | Q_TIMEOUT))
			return vs_fail(e, EINVAL, "i8042 state: bad flags 0x%x", qf[i]);
	}
	if (vm_sr_end(r, e) < 0)
		return -1;

	pthread_mutex_lock(&k.lock);
	memcpy(k.ram, ram, sizeof(ram));
	k.status = f[0] & ST_CMD;
	k.outport = f[1];
	k.pending = f[2];
	k.last = f[3];
	memcpy(k.q, q, f[4]);
	memcpy(k.qflags, qf, f[4]);
	k.qhead = 0;
	k.qcount = f[4];
	/* re-assert what the restored buffer implies */
	k.irq_kbd = k.irq_aux = -1;
	update_irq();
	pthread_mutex_unlock(&k.lock);
	return 0;
}

const struct vm_device_ops vm_i8042_device = {
	.name = "i8042",
	.order = 0,
	.create = i8042_create,
	.count = i8042_count,
	.save = i8042_save,
	.restore = i8042_restore,
	.destroy = i8042_destroy,
};
VM_DEVICE(vm_i8042_device);
