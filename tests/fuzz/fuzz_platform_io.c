/* Fuzzes the platform devices as a hostile guest and a corrupt snapshot see
 * them: the input is either one device's saved state (which must be refused
 * cleanly or restored), or guest RAM contents plus a script of port accesses
 * (fw_cfg DMA structures then come from that RAM). Nothing may crash, leak or
 * touch memory outside the 64 KiB of guest RAM. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/device.h"
#include "vmm/devices/platform.h"
#include "vmm/layout.h"

#define RAM_SIZE 0x10000

static const struct vm_device_ops *const devs[] = {
	&vm_serial_device, &vm_rtc_device,	   &vm_i8042_device,   &vm_debug_exit_device,
	&vm_fw_cfg_device, &vm_boot_marker_device, &vm_acpi_pm_device,
};
#define NDEVS (sizeof(devs) / sizeof(devs[0]))

/* the ports a guest can reach, per device */
static const uint16_t ports[] = {
	0x3f8, 0x3f9, 0x3fa, 0x3fb, 0x3fc, 0x3fd, 0x3fe, 0x3ff, 0x70,  0x71,  0x60,  0x64,
	0xf4,  0xf5,  0x510, 0x511, 0x514, 0x518, 0x440, 0x600, 0x602, 0x604, 0xcf9,
};

static void on_exit_request(struct vm_ctx *ctx, int status, const char *why)
{
}

static void on_line(void *opaque, uint32_t gsi, int level)
{
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t ram[RAM_SIZE];
	struct vm_config cfg;
	struct vm_memory mem = {0};
	struct vm_bus pio, mmio;
	struct vm_irq irq = {.set_line = on_line};
	struct vm_ctx ctx = {0};
	struct vs_err e;

	if (size < 1)
		return 0;
	vm_config_init(&cfg);
	cfg.serial.kind = VM_CONSOLE_NONE;
	cfg.mem_size = RAM_SIZE;
	cfg.cmdline = "console=ttyS0";
	memset(ram, 0, sizeof(ram));
	vm_mem_add_region(&mem, 0, RAM_SIZE, ram, -1, 0, &e);
	vm_bus_init(&pio, "pio");
	vm_bus_init(&mmio, "mmio");
	ctx.cfg = &cfg;
	ctx.mem = &mem;
	ctx.pio = &pio;
	ctx.mmio = &mmio;
	ctx.irq = &irq;
	ctx.request_exit = on_exit_request;
	for (unsigned i = 0; i < NDEVS; i++)
		if (devs[i]->create(&ctx, &e) < 0)
			abort();

	uint8_t mode = data[0];
	data++;
	size--;
	if (mode & 0x80) {
		/* a saved state section for one device */
		struct vm_state_reader r;
		const struct vm_device_ops *d = devs[(mode & 0x7f) % NDEVS];

		vm_sr_init(&r, d->name, data, size);
		d->restore(0, &r, &e);
	} else {
		/* first part: guest RAM; the rest: 4-byte port operations */
		size_t ramlen = size < 256 ? size : 256;
		memcpy(ram + 0x1000, data, ramlen);
		data += ramlen;
		size -= ramlen;
		for (; size >= 4; data += 4, size -= 4) {
			uint16_t port = ports[data[0] % (sizeof(ports) / sizeof(ports[0]))];
			uint32_t len = 1u << (data[1] & 3);
			uint8_t buf[8];

			if (len > 4)
				len = 4;
			/* DMA addresses point into the RAM image most of the time */
			uint32_t v = data[1] & 4 ? (uint32_t)__builtin_bswap32(0x1000u + data[2])
						 : (uint32_t)(data[2] | data[3] << 8);
			memcpy(buf, &v, 4);
			vm_bus_dispatch(&pio, port, buf, len, data[1] & 8);
		}
	}
	for (unsigned i = 0; i < NDEVS; i++)
		devs[i]->destroy();
	return 0;
}
