/* virtio_vsock: one stream connection from the guest to the host (CID 2)
 * over virtio-vsock (virtio 1.2 §5.10). Command line:
 *   expect_cid=N     the guest CID in config space
 *   vsock_port=P     host port to connect to
 *   vsock_token=T    sent as "hello from vsock T\n"; the host answers "ack ..."
 * Steps: REQUEST -> RESPONSE, RW out, RW back, SHUTDOWN -> RST (§5.10.6.5:
 * a clean disconnect ends with the peer's RST). */
#include "virtio.h"

#define VSOCK_HOST_CID	  2
#define VSOCK_TYPE_STREAM 1
#define OP_REQUEST	  1
#define OP_RESPONSE	  2
#define OP_RST		  3
#define OP_SHUTDOWN	  4
#define OP_RW		  5
#define OP_CREDIT_UPDATE  6
#define OP_CREDIT_REQUEST 7
#define RX_BUFS		  4
#define RX_SIZE		  4096
#define LOCAL_PORT	  49152

struct vsock_hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
} __attribute__((packed));

static struct virtio_dev dev;
static uint8_t rx[RX_BUFS][sizeof(struct vsock_hdr) + RX_SIZE];
static uint8_t event_buf[8];
static struct vsock_hdr tx_hdr;
static char tx_data[128];
static uint64_t cid;
static uint32_t port, fwd_cnt;

static void post_rx(unsigned i)
{
	struct vbuf b = {rx[i], sizeof(rx[i]), true};

	virtq_submit(&dev, 0, &b, 1);
}

static bool send(uint16_t op, uint32_t flags, const void *data, uint32_t len)
{
	struct vbuf b[2] = {{&tx_hdr, sizeof(tx_hdr), false}, {data, len, false}};
	uint16_t id;
	uint32_t ulen;

	tx_hdr = (struct vsock_hdr){
		cid, VSOCK_HOST_CID, LOCAL_PORT,	port,	len, VSOCK_TYPE_STREAM,
		op,  flags,	     RX_BUFS * RX_SIZE, fwd_cnt};
	uint16_t head = virtq_submit(&dev, 1, b, len ? 2 : 1);
	return virtq_wait(&dev, 1, &id, &ulen) && id == head;
}

/* Next packet for our connection; credit requests are answered on the way.
 * Copies the header (and up to cap payload bytes) out, reposts the buffer. */
static bool receive(struct vsock_hdr *h, char *payload, uint32_t cap)
{
	uint16_t id;
	uint32_t len;

	for (int n = 0; n < 64; n++) {
		if (!virtq_wait(&dev, 0, &id, &len) || id >= RX_BUFS)
			return false;
		memcpy(h, rx[id], sizeof(*h));
		uint32_t plen = h->len < cap ? h->len : cap;
		if (payload && plen)
			memcpy(payload, rx[id] + sizeof(*h), plen);
		virtq_publish(&dev, 0, id); /* descriptor id still holds rx[id] */
		if (h->dst_port != LOCAL_PORT || h->src_port != port)
			continue;
		if (h->op == OP_CREDIT_REQUEST) {
			send(OP_CREDIT_UPDATE, 0, NULL, 0);
			continue;
		}
		if (h->op == OP_CREDIT_UPDATE)
			continue;
		return true;
	}
	return false;
}

void guest_main(void)
{
	char token[48] = "none", reply[128];
	uint64_t want = 0, p = 0;
	struct vsock_hdr h;

	cmdline_get("vsock_token", token, sizeof(token));
	if (!cmdline_get_u64("vsock_port", &p) || !p) {
		report_fail("virtio_vsock_port", "need vsock_port= on the command line");
		return;
	}
	port = (uint32_t)p;
	if (!virtio_setup(&dev, VIRTIO_ID_VSOCK, 0, 3, "virtio_vsock"))
		return;
	cid = virtio_cfg64(&dev, 0);
	if (cmdline_get_u64("expect_cid", &want))
		check(cid == want, "virtio_vsock_guest_cid", "guest_cid %lu, expected %lu", cid,
		      want);
	/* a fresh queue hands out descriptors from 0: buffer i is descriptor i,
	 * which is how used entries are mapped back and reposted */
	for (unsigned i = 0; i < RX_BUFS; i++)
		post_rx(i);
	struct vbuf ev = {event_buf, sizeof(event_buf), true};
	virtq_submit(&dev, 2, &ev, 1);

	check(send(OP_REQUEST, 0, NULL, 0), "virtio_vsock_request_sent", "tx never returned");
	bool got = receive(&h, NULL, 0);
	if (!check(got && h.op == OP_RESPONSE, "virtio_vsock_connected",
		   got ? "answer op %u instead of RESPONSE" : "no answer to REQUEST",
		   got ? h.op : 0))
		return;

	int n = snprintf_g(tx_data, sizeof(tx_data), "hello from vsock %s\n", token);
	check((uint32_t)n <= h.buf_alloc, "virtio_vsock_peer_credit", "peer buf_alloc %u",
	      h.buf_alloc);
	check(send(OP_RW, 0, tx_data, (uint32_t)n), "virtio_vsock_send", "tx never returned");

	/* the host answers with "ack hello from vsock <token>\n", maybe in pieces */
	uint32_t have = 0;
	memset(reply, 0, sizeof(reply));
	while (have < sizeof(reply) - 1 && !memmem_g(reply, have, "\n", 1)) {
		if (!receive(&h, reply + have, (uint32_t)(sizeof(reply) - 1 - have)) ||
		    h.op != OP_RW)
			break;
		have += h.len < sizeof(reply) - 1 - have ? h.len
							 : (uint32_t)(sizeof(reply) - 1 - have);
		fwd_cnt += h.len;
	}
	char expect[128];
	snprintf_g(expect, sizeof(expect), "ack hello from vsock %s\n", token);
	check(strcmp(reply, expect) == 0, "virtio_vsock_reply", "got \"%s\"", reply);

	check(send(OP_SHUTDOWN, 3, NULL, 0), "virtio_vsock_shutdown_sent", "tx never returned");
	bool rst = false;
	for (int i = 0; i < 8 && !rst; i++) {
		if (!receive(&h, NULL, 0))
			break;
		rst = h.op == OP_RST;
	}
	check(rst, "virtio_vsock_closed", "no RST after SHUTDOWN");
}
