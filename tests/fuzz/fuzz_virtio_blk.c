/*
 * Fuzzes virtio-blk request parsing and execution (vmm/devices/virtio/blk.c)
 * through the real transport against a 64 KiB temporary image. The input is
 * a list of requests; each is
 *   u8 nseg (1..6), u8 write-mask (bit i: segment i device-writable),
 *   le32 type, le64 sector, then per segment le16 length,
 * and becomes one descriptor chain whose buffers lie in guest RAM (header
 * first, so type/sector come from the input). Afterwards the device is
 * reset, so NEEDS_RESET from one input does not hide the next.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/virtio_harness.h"
#include "vessel/log.h"

static struct vh *h;
static struct vm_virtio_dev *d;
static char path[] = "/tmp/vs-fuzz-blk-XXXXXX";

static void cleanup(void)
{
	unlink(path);
}

static void setup(void)
{
	struct vs_err e;
	int fd;

	vs_log_init("fuzz", NULL, VS_LOG_TEXT, VS_LOG_ERROR, &e);
	fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, 64 * 1024) < 0)
		abort();
	close(fd);
	atexit(cleanup);
	h = vh_new();
	h->cfg.disks[0] = (struct vm_disk_cfg){.path = path};
	h->cfg.nr_disks = 1;
	if (vm_virtio_blk_ops.create(&h->ctx, &e) < 0) {
		fprintf(stderr, "fuzz_virtio_blk: %s\n", e.msg);
		abort();
	}
	d = vm_virtio_lookup(VIRTIO_ID_BLOCK, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gq g;
	size_t pos = 0;
	uint64_t buf = 0x100000;

	if (!h)
		setup();
	vh_bringup(h, d, 1ull << VIRTIO_F_INDIRECT_DESC, &g, 1, 64);
	for (int req = 0; req < 32 && pos + 14 <= size; req++) {
		struct gseg s[6];
		unsigned n = data[pos] % 6 + 1;
		uint8_t wmask = data[pos + 1];
		uint8_t hdr[16] = {0};

		memcpy(hdr, data + pos + 2, 4);
		memcpy(hdr + 8, data + pos + 6, 8);
		pos += 14;
		if (pos + 2 * n > size)
			break;
		for (unsigned i = 0; i < n; i++) {
			uint32_t len = (uint32_t)(data[pos] | data[pos + 1] << 8) % 0x5000;

			pos += 2;
			s[i] = (struct gseg){buf, len, (wmask >> i) & 1};
			buf += len;
			if (buf > VH_RAM_SIZE - 0x5000)
				buf = 0x100000;
		}
		memcpy(h->ram + s[0].addr, hdr, s[0].len < 16 ? s[0].len : 16);
		gq_add(h, &g, s, n);
	}
	vh_notify(h, d, 0);
	vh_cc_w(h, d, 0x14, 1, 0); /* reset for the next input */
	return 0;
}
