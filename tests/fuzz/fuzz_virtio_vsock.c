/*
 * Fuzzes virtio-vsock packet handling (vmm/devices/virtio/vsock.c) through
 * the real transport. The input is a list of guest packets, each
 *   u8 op, u8 flags, le16 src port, u8 dst port (mod 4: port 1 has a host
 *   listener), le16 buf_alloc, le16 fwd_cnt, u8 payload length, payload,
 * sent one by one on the tx queue, with receive buffers of input-chosen
 * sizes posted in between so replies and host data flow back. The device is
 * reset after each input (closing every connection).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/unit/virtio_harness.h"
#include "vessel/log.h"

static struct vh *h;
static struct vm_virtio_dev *d;
static char dir[] = "/tmp/vs-fuzz-vsock-XXXXXX";
static char uds[128], port1[160];
static int listener = -1;

static void cleanup(void)
{
	vm_virtio_vsock_ops.destroy();
	if (listener >= 0)
		close(listener);
	unlink(port1);
	rmdir(dir);
}

static void setup(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct vs_err e;

	vs_log_init("fuzz", NULL, VS_LOG_TEXT, VS_LOG_ERROR, &e);
	if (!mkdtemp(dir))
		abort();
	snprintf(uds, sizeof(uds), "%s/v.sock", dir);
	snprintf(port1, sizeof(port1), "%s_1", uds);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", port1);
	listener = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (listener < 0 || bind(listener, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(listener, 64) < 0)
		abort();
	h = vh_new();
	h->cfg.vsock = (struct vm_vsock_cfg){.enabled = true, .cid = 3, .uds_path = uds};
	if (vm_virtio_vsock_ops.create(&h->ctx, &e) < 0) {
		fprintf(stderr, "fuzz_virtio_vsock: %s\n", e.msg);
		abort();
	}
	d = vm_virtio_lookup(VIRTIO_ID_VSOCK, 0);
	atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gq g[3];
	size_t pos = 0;
	uint64_t tx = 0x200000, rx = 0x300000;

	if (!h)
		setup();
	vh_bringup(h, d, 0, g, 3, 64);
	for (int n = 0; n < 48 && pos + 10 <= size; n++) {
		uint8_t *p = h->ram + tx;
		uint64_t src = 3, dst = 2;
		uint16_t type = 1, op = data[pos] % 9,
			 sport = (uint16_t)(data[pos + 2] | data[pos + 3] << 8);
		uint32_t flags = data[pos + 1] & 3, dport = data[pos + 4] % 4;
		uint32_t ba = (uint32_t)(data[pos + 5] | data[pos + 6] << 8);
		uint32_t fc = (uint32_t)(data[pos + 7] | data[pos + 8] << 8);
		uint32_t len = data[pos + 9];

		pos += 10;
		if (len > size - pos)
			len = (uint32_t)(size - pos);
		memcpy(p, &src, 8);
		memcpy(p + 8, &dst, 8);
		memcpy(p + 16, &sport, 2);
		memset(p + 18, 0, 2);
		memcpy(p + 20, &dport, 4);
		memcpy(p + 24, &len, 4);
		memcpy(p + 28, &type, 2);
		memcpy(p + 30, &op, 2);
		memcpy(p + 32, &flags, 4);
		memcpy(p + 36, &ba, 4);
		memcpy(p + 40, &fc, 4);
		memcpy(p + 44, data + pos, len);
		pos += len;
		struct gseg s = {tx, 44 + len, false};
		gq_add(h, &g[1], &s, 1);
		vh_notify(h, d, 1);
		tx += 0x200;
		/* a receive buffer sized by the op byte's high bits */
		struct gseg r = {rx, 44u + (uint32_t)(data[pos - len - 10] >> 3) * 8, true};
		gq_add(h, &g[0], &r, 1);
		vh_notify(h, d, 0);
		rx += 0x200;
	}
	vh_cc_w(h, d, 0x14, 1, 0); /* reset: closes every connection */
	for (int fd; (fd = accept(listener, NULL, NULL)) >= 0;)
		close(fd);
	return 0;
}
