/*
 * Boot-time marker port at 0x440 (VM_PORT_BOOT_MARKER): a guest writes a
 * value (1, 2 or 4 bytes) at points of interest in its boot; each write is
 * recorded with the VMM's uptime. Benchmarks read the first marker (time to
 * the guest's first instruction of interest) through the control socket's
 * metrics; --boot-times or VESSEL_VMM_BOOT_TIMES=1 print them all at exit.
 * Not port 0x80: Linux writes there for I/O delays.
 *
 * Reads see all-ones. The markers are host-side measurements of this
 * process, not guest-visible state: save/restore carries only a version.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>

#include "vmm/devices/platform.h"
#include "vmm/layout.h"

#define BOOT_MARKER_STATE_VERSION 1
#define BOOT_MARKER_PORTS	  4
#define MAX_MARKERS		  64

static struct boot_marker {
	pthread_mutex_t lock;
	struct vm_ctx *ctx;
	struct {
		uint32_t value;
		uint64_t ns;
	} m[MAX_MARKERS];
	unsigned n;
	uint64_t dropped;
} bm = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void boot_marker_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	uint32_t v = 0;

	if (!is_write) {
		for (uint32_t i = 0; i < len; i++)
			data[i] = 0xff;
		return;
	}
	for (uint32_t i = 0; i < len && i < 4; i++)
		v |= (uint32_t)data[i] << (8 * i);
	pthread_mutex_lock(&bm.lock);
	if (bm.n < MAX_MARKERS) {
		bm.m[bm.n].value = v;
		bm.m[bm.n].ns = bm.ctx && bm.ctx->uptime_ns ? bm.ctx->uptime_ns(bm.ctx) : 0;
		bm.n++;
	} else {
		bm.dropped++;
	}
	pthread_mutex_unlock(&bm.lock);
}

void vm_boot_marker_report(FILE *f)
{
	pthread_mutex_lock(&bm.lock);
	for (unsigned i = 0; i < bm.n; i++)
		fprintf(f, "boot-marker 0x%" PRIx32 " at %" PRIu64 ".%03" PRIu64 " ms\n",
			bm.m[i].value, bm.m[i].ns / 1000000, bm.m[i].ns / 1000 % 1000);
	if (bm.dropped)
		fprintf(f, "boot-marker: %" PRIu64 " more not recorded (table full)\n", bm.dropped);
	pthread_mutex_unlock(&bm.lock);
}

bool vm_boot_marker_first(uint32_t *value, uint64_t *uptime_ns)
{
	bool have;

	pthread_mutex_lock(&bm.lock);
	have = bm.n > 0;
	if (have) {
		*value = bm.m[0].value;
		*uptime_ns = bm.m[0].ns;
	}
	pthread_mutex_unlock(&bm.lock);
	return have;
}

static void boot_marker_destroy(void)
{
	pthread_mutex_lock(&bm.lock);
	if (bm.ctx)
		vm_bus_unregister(bm.ctx->pio, VM_PORT_BOOT_MARKER, NULL);
	bm.ctx = NULL;
	pthread_mutex_unlock(&bm.lock);
}

static int boot_marker_create(struct vm_ctx *ctx, struct vs_err *e)
{
	boot_marker_destroy();
	pthread_mutex_lock(&bm.lock);
	bm.n = 0;
	bm.dropped = 0;
	pthread_mutex_unlock(&bm.lock);
	if (vm_bus_register(ctx->pio, VM_PORT_BOOT_MARKER, BOOT_MARKER_PORTS, boot_marker_io, NULL,
			    "boot-marker", e) < 0)
		return -1;
	bm.ctx = ctx;
	return 0;
}

static unsigned boot_marker_count(void)
{
	return bm.ctx ? 1 : 0;
}

static int boot_marker_save(unsigned idx, struct vm_state_writer *w)
{
	vm_sw_u8(w, BOOT_MARKER_STATE_VERSION);
	return w->failed ? -1 : 0;
}

static int boot_marker_restore(unsigned idx, struct vm_state_reader *r, struct vs_err *e)
{
	uint8_t ver;

	if (vm_sr_u8(r, &ver, e) < 0)
		return -1;
	if (ver != BOOT_MARKER_STATE_VERSION)
		return vs_fail(e, EINVAL, "boot-marker state: version %u, expected %u", ver,
			       BOOT_MARKER_STATE_VERSION);
	return vm_sr_end(r, e);
}

const struct vm_device_ops vm_boot_marker_device = {
	.name = "boot-marker",
	.order = 0,
	.create = boot_marker_create,
	.count = boot_marker_count,
	.save = boot_marker_save,
	.restore = boot_marker_restore,
	.destroy = boot_marker_destroy,
};
VM_DEVICE(vm_boot_marker_device);
