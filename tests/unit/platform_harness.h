/* A machine without KVM for platform-device unit tests: guest RAM is a plain
 * buffer, the buses are the real ones, interrupts and exit requests are
 * recorded. Tests drive devices through vm_bus_dispatch() exactly as a vCPU
 * exit would. Included by one test file per binary (state is static). */
#ifndef TESTS_PLATFORM_HARNESS_H
#define TESTS_PLATFORM_HARNESS_H

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/device.h"
#include "vmm/devices/platform.h"

struct harness {
	struct vm_ctx ctx;
	struct vm_config cfg;
	struct vm_memory mem;
	struct vm_bus pio, mmio;
	struct vm_irq irq;
	uint8_t *ram;
	uint64_t ram_size;
	int line[32];	    /* current level per GSI */
	unsigned edges[32]; /* 0 -> 1 transitions per GSI */
	int exits, exit_status;
	char exit_why[256];
	uint64_t now_ns; /* what uptime_ns() returns */
	pthread_t loop_thread;
	bool loop_running;
};

static struct harness H;

static inline void h_set_line(void *opaque, uint32_t gsi, int level)
{
	if (gsi >= 32)
		return;
	if (level && !H.line[gsi])
		H.edges[gsi]++;
	H.line[gsi] = level;
}

static inline void h_request_exit(struct vm_ctx *ctx, int status, const char *why)
{
	H.exits++;
	H.exit_status = status;
	snprintf(H.exit_why, sizeof(H.exit_why), "%s", why);
}

static inline uint64_t h_uptime(struct vm_ctx *ctx)
{
	return H.now_ns;
}

/* RAM from guest address 0; the config is vm_config_init()'s defaults with
 * the serial console off. */
static inline int h_init(uint64_t ram_size)
{
	struct vs_err e;

	memset(&H, 0, sizeof(H));
	vm_config_init(&H.cfg);
	H.cfg.serial.kind = VM_CONSOLE_NONE;
	H.cfg.mem_size = ram_size;
	H.ram_size = ram_size;
	H.ram = calloc(1, ram_size);
	if (!H.ram || vm_mem_add_region(&H.mem, 0, ram_size, H.ram, -1, 0, &e) < 0)
		return -1;
	vm_bus_init(&H.pio, "pio");
	vm_bus_init(&H.mmio, "mmio");
	H.irq.set_line = h_set_line;
	H.ctx.cfg = &H.cfg;
	H.ctx.mem = &H.mem;
	H.ctx.pio = &H.pio;
	H.ctx.mmio = &H.mmio;
	H.ctx.irq = &H.irq;
	H.ctx.request_exit = h_request_exit;
	H.ctx.uptime_ns = h_uptime;
	return 0;
}

static inline void *h_loop_main(void *arg)
{
	vm_event_loop_run(H.ctx.loop, NULL);
	return NULL;
}

/* An event loop on its own thread, as in the VMM (for console I/O). */
static inline int h_start_loop(void)
{
	H.ctx.loop = vm_event_loop_new(NULL);
	if (!H.ctx.loop)
		return -1;
	if (pthread_create(&H.loop_thread, NULL, h_loop_main, NULL) != 0)
		return -1;
	H.loop_running = true;
	return 0;
}

static inline void h_fini(void)
{
	if (H.loop_running) {
		vm_event_loop_stop(H.ctx.loop);
		pthread_join(H.loop_thread, NULL);
	}
	if (H.ctx.loop)
		vm_event_loop_free(H.ctx.loop);
	free(H.ram);
	memset(&H, 0, sizeof(H));
}

static inline uint32_t h_in(uint16_t port, uint32_t len)
{
	uint8_t d[4] = {0};

	vm_bus_dispatch(&H.pio, port, d, len, false);
	return d[0] | d[1] << 8 | d[2] << 16 | (uint32_t)d[3] << 24;
}

static inline void h_out(uint16_t port, uint32_t len, uint32_t v)
{
	uint8_t d[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};

	vm_bus_dispatch(&H.pio, port, d, len, true);
}

static inline uint8_t inb(uint16_t port)
{
	return (uint8_t)h_in(port, 1);
}

static inline void outb(uint16_t port, uint8_t v)
{
	h_out(port, 1, v);
}

/* save -> buffer; restore <- buffer (instance 0) */
static inline int h_save(const struct vm_device_ops *ops, struct vm_state_writer *w)
{
	vm_sw_init(w);
	return ops->save(0, w);
}

static inline int h_restore(const struct vm_device_ops *ops, const struct vm_state_writer *w,
			    struct vs_err *e)
{
	struct vm_state_reader r;

	vm_sr_init(&r, ops->name, w->buf, w->len);
	return ops->restore(0, &r, e);
}

#endif
