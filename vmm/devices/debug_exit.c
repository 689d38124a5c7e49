/*
 * isa-debug-exit compatible port at 0xf4, four ports wide (QEMU's
 * "-device isa-debug-exit,iobase=0xf4,iosize=4", as kvm-unit-tests use it):
 * a write of V, 1, 2 or 4 bytes wide, ends the VM with exit status
 * (V << 1) | 1, so a test guest's status can never be mistaken for the VMM's
 * own 0. Reads return 0, as QEMU's device does (its read handler returns 0;
 * a guest can tell the port is there because an unclaimed port reads
 * all-ones). No state to save beyond a version byte.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmm/devices/platform.h"
#include "vmm/layout.h"

#define DEBUG_EXIT_STATE_VERSION 1
#define DEBUG_EXIT_PORTS	 4

static struct vm_ctx *dctx;

static void debug_exit_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	char why[80];
	uint32_t v = 0;

	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	for (uint32_t i = 0; i < len && i < 4; i++)
		v |= (uint32_t)data[i] << (8 * i);
	snprintf(why, sizeof(why), "guest wrote 0x%x to the debug exit port", v);
	if (dctx && dctx->request_exit)
		dctx->request_exit(dctx, (int)((v << 1) | 1), why);
}

static void debug_exit_destroy(void)
{
	if (dctx)
		vm_bus_unregister(dctx->pio, VM_PORT_DEBUG_EXIT, NULL);
	dctx = NULL;
}

static int debug_exit_create(struct vm_ctx *ctx, struct vs_err *e)
{
	debug_exit_destroy();
	if (vm_bus_register(ctx->pio, VM_PORT_DEBUG_EXIT, DEBUG_EXIT_PORTS, debug_exit_io, NULL,
			    "debug-exit", e) < 0)
		return -1;
	dctx = ctx;
	return 0;
}

static unsigned debug_exit_count(void)
{
	return dctx ? 1 : 0;
}

static int debug_exit_save(unsigned idx, struct vm_state_writer *w)
{
	vm_sw_u8(w, DEBUG_EXIT_STATE_VERSION);
	return w->failed ? -1 : 0;
}

static int debug_exit_restore(unsigned idx, struct vm_state_reader *r, struct vs_err *e)
{
	uint8_t ver;

	if (vm_sr_u8(r, &ver, e) < 0)
		return -1;
	if (ver != DEBUG_EXIT_STATE_VERSION)
		return vs_fail(e, EINVAL, "debug-exit state: version %u, expected %u", ver,
			       DEBUG_EXIT_STATE_VERSION);
	return vm_sr_end(r, e);
}

const struct vm_device_ops vm_debug_exit_device = {
	.name = "debug-exit",
	.order = 0,
	.create = debug_exit_create,
	.count = debug_exit_count,
	.save = debug_exit_save,
	.restore = debug_exit_restore,
	.destroy = debug_exit_destroy,
};
VM_DEVICE(vm_debug_exit_device);
