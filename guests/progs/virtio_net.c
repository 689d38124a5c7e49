/* virtio_net: the MAC in config space (VIRTIO_NET_F_MAC, virtio 1.2
 * §5.1.4) against expect_mac=xx:xx:xx:xx:xx:xx, one Ethernet frame sent on
 * transmitq1 (each packet preceded by the 12-byte virtio_net_hdr, §5.1.6),
 * and, with net_rx=1, one frame received from the host on receiveq1.
 * Frames use the local experimental EtherType 0x88b5 and carry
 *   guest -> host: "vessel-guest-frame <token>"
 *   host -> guest: "vessel-host-frame <token>"
 * with token from net_token=... */
#include "virtio.h"

#define VIRTIO_NET_F_MAC (1ull << 5)
#define ETHERTYPE_TEST	 0x88b5
#define RX_BUFS		 4
#define NET_HDR		 12

static struct virtio_dev dev;
static uint8_t tx_hdr[NET_HDR];
static uint8_t tx_frame[64];
static uint8_t rx_buf[RX_BUFS][NET_HDR + 1514];

static bool parse_mac(const char *s, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++) {
		unsigned v = 0;
		for (int k = 0; k < 2; k++, s++) {
			char c = *s;
			if (c >= '0' && c <= '9')
				v = v * 16 + (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v = v * 16 + (unsigned)(c - 'a' + 10);
			else if (c >= 'A' && c <= 'F')
				v = v * 16 + (unsigned)(c - 'A' + 10);
			else
				return false;
		}
		mac[i] = (uint8_t)v;
		if (i < 5 && *s++ != ':')
			return false;
	}
	return *s == '\0';
}

static void post_rx(unsigned i)
{
	struct vbuf b = {rx_buf[i], sizeof(rx_buf[i]), true};

	virtq_submit(&dev, 0, &b, 1);
}

void guest_main(void)
{
	char token[48] = "none", macs[32];
	uint8_t mac[6], want[6];
	uint64_t rx = 0;

	cmdline_get("net_token", token, sizeof(token));
	cmdline_get_u64("net_rx", &rx);
	if (!virtio_setup(&dev, VIRTIO_ID_NET, VIRTIO_NET_F_MAC, 2, "virtio_net"))
		return;
	for (int i = 0; i < 6; i++)
		mac[i] = virtio_cfg8(&dev, (uint32_t)i);
	printf_g("net: mac %02x:%02x:%02x:%02x:%02x:%02x\n", mac[0], mac[1], mac[2], mac[3], mac[4],
		 mac[5]);
	if (cmdline_get("expect_mac", macs, sizeof(macs)) && parse_mac(macs, want))
		check((dev.features & VIRTIO_NET_F_MAC) && memcmp(mac, want, 6) == 0,
		      "virtio_net_mac", "config MAC differs from %s (F_MAC %s)", macs,
		      dev.features & VIRTIO_NET_F_MAC ? "offered" : "not offered");
	else
		report_fail("virtio_net_mac", "no valid expect_mac= on the command line");

	/* receive buffers: one descriptor each, the header lands first */
	/* a fresh queue hands out descriptors from 0: buffer i is descriptor i,
	 * which is how used entries are mapped back and reposted */
	for (unsigned i = 0; i < RX_BUFS; i++)
		post_rx(i);

	/* broadcast frame from our MAC; header all zero: no offloads */
	memset(tx_frame, 0, sizeof(tx_frame));
	memset(tx_frame, 0xff, 6);
	memcpy(tx_frame + 6, mac, 6);
	tx_frame[12] = ETHERTYPE_TEST >> 8;
	tx_frame[13] = ETHERTYPE_TEST & 0xff;
	snprintf_g((char *)tx_frame + 14, sizeof(tx_frame) - 14, "vessel-guest-frame %s", token);
	struct vbuf b[2] = {{tx_hdr, NET_HDR, false}, {tx_frame, 60, false}};
	uint16_t id, head = virtq_submit(&dev, 1, b, 2);
	uint32_t len;
	bool sent = virtq_wait(&dev, 1, &id, &len);
	check(sent && id == head, "virtio_net_tx", "transmit buffer %s",
	      sent ? "returned with the wrong id" : "never returned");

	if (rx) {
		char expect[80];
		int n = snprintf_g(expect, sizeof(expect), "vessel-host-frame %s", token);
		bool got = false;
		int skipped = 0;
		/* other traffic (the helper's noise frames, IPv6 chatter) is
		 * skipped and its buffer reposted */
		for (int frames = 0; frames < 64 && !got; frames++) {
			if (!virtq_wait(&dev, 0, &id, &len))
				break;
			if (id >= RX_BUFS)
				break;
			const uint8_t *f = rx_buf[id] + NET_HDR;
			got = len >= NET_HDR + 14 + (uint32_t)n && f[12] == (ETHERTYPE_TEST >> 8) &&
			      f[13] == (ETHERTYPE_TEST & 0xff) &&
			      memcmp(f + 14, expect, (size_t)n) == 0;
			virtq_publish(&dev, 0, id); /* descriptor id still holds rx_buf[id] */
			skipped += !got;
		}
		printf_g("net: %d other frames skipped\n", skipped);
		check(got, "virtio_net_rx", "no frame \"%s\" from the host", expect);
	}
	uint8_t s = virtio_status(&dev);
	check(!(s & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED)), "virtio_net_status_clean",
	      "device status 0x%x", s);
}
