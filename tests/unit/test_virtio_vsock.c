/* virtio-vsock (virtio 1.2 §5.10) with the host side on real AF_UNIX
 * sockets; the test plays the guest driver and the host program. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "test.h"
#include "virtio_harness.h"

#define GUEST_CID 42
#define TXBUF	  0x200000
#define RXBUF	  0x300000

struct vt {
	struct vh *h;
	struct vm_virtio_dev *d;
	struct gq g[3];
	char dir[64], uds[96];
	int rx_posted;
};

struct pkt {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
	uint8_t data[256];
};

static struct vt *vt_new(void)
{
	struct vt *t = calloc(1, sizeof(*t));
	struct vs_err e;

	t->h = vh_new();
	strcpy(t->dir, "/tmp/vs-vsock-XXXXXX");
	if (!mkdtemp(t->dir))
		abort();
	snprintf(t->uds, sizeof(t->uds), "%s/v.sock", t->dir);
	t->h->cfg.vsock =
		(struct vm_vsock_cfg){.enabled = true, .cid = GUEST_CID, .uds_path = t->uds};
	if (vm_virtio_vsock_ops.create(&t->h->ctx, &e) < 0) {
		fprintf(stderr, "  create: %s\n", e.msg);
		abort();
	}
	t->d = vm_virtio_lookup(VIRTIO_ID_VSOCK, 0);
	vh_bringup(t->h, t->d, 0, t->g, 3, 64);
	return t;
}

static void vt_free(struct vt *t)
{
	vm_virtio_vsock_ops.destroy();
	rmdir(t->dir);
	vh_free(t->h);
	free(t);
}

/* Guest sends one packet on the tx queue. */
static void guest_send(struct vt *t, uint16_t op, uint32_t sport, uint32_t dport, const void *data,
		       uint32_t len, uint32_t buf_alloc, uint32_t fwd_cnt)
{
	uint8_t *p = t->h->ram + TXBUF;
	uint64_t cid = GUEST_CID, host = 2;
	uint16_t type = 1;
	uint32_t flags = 0;

	memcpy(p, &cid, 8);
	memcpy(p + 8, &host, 8);
	memcpy(p + 16, &sport, 4);
	memcpy(p + 20, &dport, 4);
	memcpy(p + 24, &len, 4);
	memcpy(p + 28, &type, 2);
	memcpy(p + 30, &op, 2);
	memcpy(p + 32, &flags, 4);
	memcpy(p + 36, &buf_alloc, 4);
	memcpy(p + 40, &fwd_cnt, 4);
	if (len)
		memcpy(p + 44, data, len);
	struct gseg s = {TXBUF, 44 + len, false};
	gq_add(t->h, &t->g[1], &s, 1);
	vh_notify(t->h, t->d, 1);
	uint32_t id, l;
	gq_used(t->h, &t->g[1], &id, &l);
}

/* Posts an rx buffer and kicks; returns 1 with the packet when the device
 * used one (retrying a bounded number of times for host data in flight). */
static int guest_recv(struct vt *t, struct pkt *pk)
{
	uint32_t id, len;

	if (t->rx_posted == 0) {
		struct gseg s = {RXBUF + 0x1000ull * (t->g[0].next_desc % 64), 44 + 256, true};
		gq_add(t->h, &t->g[0], &s, 1);
		t->rx_posted = 1;
	}
	for (int i = 0; i < 2000; i++) {
		vh_notify(t->h, t->d, 0);
		if (gq_used(t->h, &t->g[0], &id, &len) == 1) {
			uint8_t *p = t->h->ram + RXBUF + 0x1000ull * id;

			memcpy(&pk->src_cid, p, 8);
			memcpy(&pk->dst_cid, p + 8, 8);
			memcpy(&pk->src_port, p + 16, 4);
			memcpy(&pk->dst_port, p + 20, 4);
			memcpy(&pk->len, p + 24, 4);
			memcpy(&pk->type, p + 28, 2);
			memcpy(&pk->op, p + 30, 2);
			memcpy(&pk->flags, p + 32, 4);
			memcpy(&pk->buf_alloc, p + 36, 4);
			memcpy(&pk->fwd_cnt, p + 40, 4);
			memcpy(pk->data, p + 44, pk->len < 256 ? pk->len : 256);
			t->rx_posted = 0;
			return len == 44 + pk->len;
		}
		usleep(500);
	}
	return 0;
}

/* Guest tx without waiting for the used entry (a loop thread owns it). */
static void guest_send_async(struct vt *t, uint16_t op, uint32_t sport, uint32_t dport,
			     const void *data, uint32_t len)
{
	uint8_t *p = t->h->ram + TXBUF + 0x800;
	uint64_t cid = GUEST_CID, host = 2;
	uint16_t type = 1;
	uint32_t zero = 0, ba = 65536;

	memcpy(p, &cid, 8);
	memcpy(p + 8, &host, 8);
	memcpy(p + 16, &sport, 4);
	memcpy(p + 20, &dport, 4);
	memcpy(p + 24, &len, 4);
	memcpy(p + 28, &type, 2);
	memcpy(p + 30, &op, 2);
	memcpy(p + 32, &zero, 4);
	memcpy(p + 36, &ba, 4);
	memcpy(p + 40, &zero, 4);
	if (len)
		memcpy(p + 44, data, len);
	struct gseg s = {TXBUF + 0x800, 44 + len, false};
	gq_add(t->h, &t->g[1], &s, 1);
	vh_notify(t->h, t->d, 1);
}

static int host_listen(struct vt *t, uint32_t port)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", t->uds, port);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0)
		return -1;
	return fd;
}

static void host_unlisten(struct vt *t, int fd, uint32_t port)
{
	char p[128];

	snprintf(p, sizeof(p), "%s_%u", t->uds, port);
	close(fd);
	unlink(p);
}

TEST(vsock_config_reports_guest_cid)
{
	struct vt *t = vt_new();

	CHECK_EQ(vh_mr(t->h, vh_bar(t->d) + VM_VIRTIO_DEVICE_OFF, 8), GUEST_CID);
	vt_free(t);
}

TEST(vsock_guest_connects_to_host_port_and_data_flows_both_ways)
{
	struct vt *t = vt_new();
	struct pkt pk;
	char buf[64] = {0};
	int l = host_listen(t, 1234), a = -1;

	REQUIRE(l >= 0);
	guest_send(t, 1 /* REQUEST */, 5000, 1234, NULL, 0, 65536, 0);
	CHECK(guest_recv(t, &pk));
	CHECK_EQ(pk.op, 2); /* RESPONSE */
	CHECK_EQ(pk.src_port, 1234);
	CHECK_EQ(pk.dst_port, 5000);
	CHECK_EQ(pk.dst_cid, GUEST_CID);
	CHECK_EQ(pk.src_cid, 2);
	a = accept(l, NULL, NULL);
	REQUIRE(a >= 0);
	guest_send(t, 5 /* RW */, 5000, 1234, "hello", 5, 65536, 0);
	CHECK_EQ(read(a, buf, sizeof(buf)), 5);
	CHECK_STR(buf, "hello");
	CHECK_EQ(write(a, "world!", 6), 6);
	CHECK(guest_recv(t, &pk));
	CHECK_EQ(pk.op, 5);
	CHECK_EQ(pk.len, 6);
	CHECK(memcmp(pk.data, "world!", 6) == 0);
	CHECK_EQ(pk.fwd_cnt, 5); /* our counter of guest bytes passed on */
	close(a);
	CHECK(guest_recv(t, &pk));
	CHECK_EQ(pk.op, 4); /* SHUTDOWN after the host closed */
	CHECK_EQ(pk.flags, 3);
	guest_send(t, 3 /* RST */, 5000, 1234, NULL, 0, 65536, 6);
	host_unlisten(t, l, 1234);
	vt_free(t);
}

TEST(vsock_connect_to_missing_host_port_gets_rst)
{
	struct vt *t = vt_new();
	struct pkt pk;

	guest_send(t, 1, 5001, 999, NULL, 0, 65536, 0);
	CHECK(guest_recv(t, &pk));
	CHECK_EQ(pk.op, 3);
	CHECK_EQ(pk.dst_port, 5001);
	vt_free(t);
}

TEST(vsock_data_for_unknown_connection_gets_rst)
{
	struct vt *t = vt_new();
	struct pkt pk;

	guest_send(t, 5, 5002, 77, "x", 1, 65536, 0);
	CHECK(guest_recv(t, &pk));
	CHECK_EQ(pk.op, 3);
	vt_free(t);
}

TEST(vsock_host_initiated_connect_reaches_guest_port)
{
	struct vt *t = vt_new();
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct pkt pk;
	char buf[64] = {0};
	int c = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", t->uds);
	REQUIRE(connect(c, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK_EQ(write(c, "CONNECT 52\n", 11), 11);
	CHECK(guest_recv(t, &pk));
	CHECK_EQ(pk.op, 1); /* REQUEST to the guest */
	CHECK_EQ(pk.dst_port, 52);
	uint32_t hport = pk.src_port;
	guest_send(t, 2 /* RESPONSE */, 52, hport, NULL, 0, 65536, 0);
	ssize_t n = read(c, buf, sizeof(buf) - 1);
	char want[32];
	snprintf(want, sizeof(want), "OK %u\n", hport);
	CHECK(n > 0);
	CHECK_STR(buf, want);
	guest_send(t, 5, 52, hport, "from guest", 10, 65536, 0);
	memset(buf, 0, sizeof(buf));
	CHECK_EQ(read(c, buf, sizeof(buf)), 10);
	CHECK_STR(buf, "from guest");
	close(c);
	vt_free(t);
}

TEST(vsock_garbage_connect_line_is_dropped)
{
	struct vt *t = vt_new();
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char buf[8];
	int c = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", t->uds);
	REQUIRE(connect(c, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK_EQ(write(c, "HELLO 1\n", 8), 8);
	struct pollfd p = {.fd = c, .events = POLLIN};
	ssize_t n = -1;
	for (int i = 0; i < 2000 && n < 0; i++) {
		vh_notify(t->h, t->d, 0); /* the device accepts and reads */
		if (poll(&p, 1, 1) == 1)
			n = read(c, buf, sizeof(buf));
	}
	CHECK_EQ(n, 0); /* closed on us */
	close(c);
	vt_free(t);
}

TEST(vsock_respects_the_guest_credit)
{
	struct vt *t = vt_new();
	struct pkt pk;
	int l = host_listen(t, 1300), a;

	REQUIRE(l >= 0);
	guest_send(t, 1, 6000, 1300, NULL, 0, 4 /* buf_alloc */, 0);
	CHECK(guest_recv(t, &pk));
	a = accept(l, NULL, NULL);
	REQUIRE(a >= 0);
	CHECK_EQ(write(a, "0123456789", 10), 10);
	CHECK(guest_recv(t, &pk));
	CHECK_EQ(pk.len, 4);
	CHECK(memcmp(pk.data, "0123", 4) == 0);
	/* no credit left: nothing more arrives until the guest consumed */
	struct gseg s = {RXBUF + 0x30000, 300, true};
	gq_add(t->h, &t->g[0], &s, 1);
	vh_notify(t->h, t->d, 0);
	uint32_t id, len;
	CHECK_EQ(gq_used(t->h, &t->g[0], &id, &len), 0);
	guest_send(t, 6 /* CREDIT_UPDATE */, 6000, 1300, NULL, 0, 4, 4);
	REQUIRE(gq_used(t->h, &t->g[0], &id, &len) == 1);
	CHECK_EQ(len, 44 + 4);
	CHECK(memcmp(t->h->ram + RXBUF + 0x30000 + 44, "4567", 4) == 0);
	close(a);
	host_unlisten(t, l, 1300);
	vt_free(t);
}

TEST(vsock_restore_sends_transport_reset_event)
{
	struct vt *t = vt_new();
	struct vm_state_writer w;
	struct vm_state_reader r;
	struct vs_err e;
	uint32_t id, len;

	struct gseg ev = {0x380000, 4, true};
	memset(t->h->ram + 0x380000, 0xff, 4);
	gq_add(t->h, &t->g[2], &ev, 1);
	vh_notify(t->h, t->d, 2);
	CHECK_EQ(gq_used(t->h, &t->g[2], &id, &len), 0); /* no event yet */
	vm_sw_init(&w);
	REQUIRE(vm_virtio_vsock_ops.save(0, &w) == 0);
	vm_sr_init(&r, "virtio-vsock", w.buf, w.len);
	CHECK_EQ(vm_virtio_vsock_ops.restore(0, &r, &e), 0);
	CHECK_EQ(gq_used(t->h, &t->g[2], &id, &len), 1);
	CHECK_EQ(len, 4);
	CHECK_EQ(vh_r32(t->h, 0x380000), 0); /* VIRTIO_VSOCK_EVENT_TRANSPORT_RESET */
	vm_sw_free(&w);
	vt_free(t);
}

TEST(vsock_reserved_cid_is_refused)
{
	struct vh *h = vh_new();
	struct vs_err e;

	h->cfg.vsock = (struct vm_vsock_cfg){.enabled = true, .cid = 2, .uds_path = "/tmp/x"};
	CHECK(vm_virtio_vsock_ops.create(&h->ctx, &e) < 0);
	CHECK_CONTAINS(e.msg, "cid 2");
	h->cfg.vsock.cid = 3;
	h->cfg.vsock.uds_path = "/nonexistent/dir/v.sock";
	CHECK(vm_virtio_vsock_ops.create(&h->ctx, &e) < 0);
	CHECK_CONTAINS(e.msg, "/nonexistent/dir/v.sock");
	CHECK_EQ(vm_virtio_vsock_ops.count(), 0);
	vh_free(h);
}

/* With the real event loop: host data reaches the guest without kicks, and
 * a host-initiated connection is accepted by the loop thread. */
TEST(vsock_event_loop_moves_host_data_and_accepts)
{
	struct vt *t = calloc(1, sizeof(*t));
	struct vs_err e;
	uint32_t id, len;

	t->h = vh_new();
	vh_loop_new(t->h);
	strcpy(t->dir, "/tmp/vs-vsock-XXXXXX");
	REQUIRE(mkdtemp(t->dir));
	snprintf(t->uds, sizeof(t->uds), "%s/v.sock", t->dir);
	t->h->cfg.vsock =
		(struct vm_vsock_cfg){.enabled = true, .cid = GUEST_CID, .uds_path = t->uds};
	REQUIRE(vm_virtio_vsock_ops.create(&t->h->ctx, &e) == 0);
	t->d = vm_virtio_lookup(VIRTIO_ID_VSOCK, 0);
	vh_bringup(t->h, t->d, 0, t->g, 3, 64);
	int l = host_listen(t, 1400), a = -1, c = -1;
	REQUIRE(l >= 0);
	vh_loop_start(t->h);

	for (int i = 0; i < 4; i++) {
		struct gseg s = {RXBUF + 0x1000ull * i, 44 + 256, true};
		gq_add(t->h, &t->g[0], &s, 1);
	}
	vh_notify(t->h, t->d, 0);
	guest_send_async(t, 1, 7000, 1400, NULL, 0);
	CHECK(vh_wait_used(t->h, &t->g[0])); /* RESPONSE */
	CHECK_EQ(gq_used(t->h, &t->g[0], &id, &len), 1);
	a = accept(l, NULL, NULL);
	CHECK(a >= 0);
	CHECK_EQ(write(a, "abc", 3), 3);
	CHECK(vh_wait_used(t->h, &t->g[0])); /* data, no kick from us */
	CHECK_EQ(gq_used(t->h, &t->g[0], &id, &len), 1);
	CHECK_EQ(len, 44 + 3);
	CHECK(memcmp(t->h->ram + RXBUF + 0x1000ull * id + 44, "abc", 3) == 0);

	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", t->uds);
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(connect(c, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK_EQ(write(c, "CONNECT 9\n", 10), 10);
	CHECK(vh_wait_used(t->h, &t->g[0])); /* REQUEST to guest port 9 */
	CHECK_EQ(gq_used(t->h, &t->g[0], &id, &len), 1);
	uint16_t op;
	memcpy(&op, t->h->ram + RXBUF + 0x1000ull * id + 30, 2);
	CHECK_EQ(op, 1);

	vh_loop_stop(t->h);
	if (a >= 0)
		close(a);
	if (c >= 0)
		close(c);
	host_unlisten(t, l, 1400);
	vt_free(t);
}
