/* virtio-net (virtio 1.2 §5.1) on a real tap device: the test owns an
 * AF_PACKET socket on the tap's host side and plays the guest driver. The
 * tap is created by the device (non-persistent) and disappears with it. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if_packet.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "test.h"
#include "virtio_harness.h"

/* Like REQUIRE, but falls through to the test's cleanup so the tap goes away. */
#define NREQ(c)                                                                                    \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			CHECK(c);                                                                  \
			goto out;                                                                  \
		}                                                                                  \
	} while (0)

#define ETHERTYPE_TEST 0x88b5 /* IEEE local experimental */
#define MRG	       (1ull << 15)

struct nt {
	struct vh *h;
	struct vm_virtio_dev *d;
	struct gq g[2];
	char ifname[IFNAMSIZ];
	int pkt; /* AF_PACKET socket on the host side */
	int ifindex;
};

static void nt_free(struct nt *t)
{
	if (t->pkt >= 0)
		close(t->pkt);
	vm_virtio_net_ops.destroy();
	vh_free(t->h);
	free(t);
}

static int if_up(const char *name)
{
	char path[128];
	struct ifreq ifr = {0};
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ok;

	/* no IPv6 autoconfiguration chatter on the link */
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", name);
	int fd = open(path, O_WRONLY);
	if (fd >= 0) {
		ok = (int)write(fd, "1", 1);
		(void)ok;
		close(fd);
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ok = s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0;
	ifr.ifr_flags |= IFF_UP;
	ok = ok && ioctl(s, SIOCSIFFLAGS, &ifr) == 0;
	if (s >= 0)
		close(s);
	return ok ? 0 : -1;
}

/* Creates the device on a fresh tap; NULL with reason in skip when the
 * machine cannot. */
static struct nt *nt_new(uint64_t feats, const char **skip)
{
	struct nt *t = calloc(1, sizeof(*t));
	struct vs_err e;
	struct timeval tv = {.tv_sec = 5};

	t->pkt = -1;
	t->h = vh_new();
	snprintf(t->ifname, sizeof(t->ifname), "vs-test-%04x", (unsigned)getpid() & 0xffff);
	if (access("/dev/net/tun", R_OK | W_OK) < 0) {
		*skip = "/dev/net/tun not usable";
		nt_free(t);
		return NULL;
	}
	t->h->cfg.nets[0] = (struct vm_net_cfg){.tap = t->ifname};
	t->h->cfg.nr_nets = 1;
	if (vm_virtio_net_ops.create(&t->h->ctx, &e) < 0) {
		fprintf(stderr, "  create: %s\n", e.msg);
		*skip = "cannot create a tap device";
		nt_free(t);
		return NULL;
	}
	t->d = vm_virtio_lookup(VIRTIO_ID_NET, 0);
	t->ifindex = (int)if_nametoindex(t->ifname);
	t->pkt = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETHERTYPE_TEST));
	struct sockaddr_ll sll = {.sll_family = AF_PACKET,
				  .sll_protocol = htons(ETHERTYPE_TEST),
				  .sll_ifindex = t->ifindex};
	/* up before bind: a packet socket bound to a down link reports
	 * ENETDOWN on its first recv */
	if (!t->ifindex || t->pkt < 0 || if_up(t->ifname) < 0 ||
	    bind(t->pkt, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		*skip = "cannot bring the tap up / open a packet socket";
		nt_free(t);
		return NULL;
	}
	setsockopt(t->pkt, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	vh_bringup(t->h, t->d, feats, t->g, 2, 64);
	return t;
}

static size_t make_frame(uint8_t *f, size_t len, const uint8_t *dst, uint8_t fill)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, "\x02\x00\x00\x00\x00\x01", 6);
	f[12] = ETHERTYPE_TEST >> 8;
	f[13] = ETHERTYPE_TEST & 0xff;
	memset(f + 14, fill, len - 14);
	return len;
}

TEST(net_config_has_mac_and_link_up)
{
	const char *skip = NULL;
	struct nt *t = nt_new(0, &skip);

	if (!t)
		SKIP("%s", skip);
	uint64_t cfg = vh_bar(t->d) + VM_VIRTIO_DEVICE_OFF;
	CHECK_EQ(vh_mr(t->h, cfg, 1) & 0x03, 0x02); /* locally administered unicast */
	CHECK_EQ(vh_mr(t->h, cfg + 6, 2), 1);	    /* VIRTIO_NET_S_LINK_UP */
	uint64_t f = vh_dev_features(t->h, t->d);
	CHECK(f & 1ull << 5 && f & 1ull << 16 && f & MRG);
	nt_free(t);
}

TEST(net_guest_frame_comes_out_of_the_tap)
{
	const char *skip = NULL;
	struct nt *t = nt_new(0, &skip);
	uint8_t got[256];
	uint32_t id, len;

	if (!t)
		SKIP("%s", skip);
	memset(t->h->ram + 0x200000, 0, 12); /* virtio_net_hdr: no offloads */
	make_frame(t->h->ram + 0x200100, 100, (const uint8_t *)"\xff\xff\xff\xff\xff\xff", 0x5c);
	struct gseg s[2] = {{0x200000, 12, false}, {0x200100, 100, false}};
	gq_add(t->h, &t->g[1], s, 2);
	vh_notify(t->h, t->d, 1);
	CHECK_EQ(gq_used(t->h, &t->g[1], &id, &len), 1);
	ssize_t n = recv(t->pkt, got, sizeof(got), 0);
	CHECK_EQ(n, 100);
	CHECK(n == 100 && got[14] == 0x5c && got[99] == 0x5c);
	nt_free(t);
}

/* Sends a frame into the tap from the host side and kicks the rx queue
 * until the device delivered something (bounded). */
static int host_send_and_wait(struct nt *t, size_t flen, int nbufs)
{
	uint8_t frame[2048];
	struct sockaddr_ll to = {
		.sll_family = AF_PACKET, .sll_ifindex = t->ifindex, .sll_halen = 6};
	uint64_t cfg = vh_bar(t->d) + VM_VIRTIO_DEVICE_OFF;
	uint8_t mac[6];

	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)vh_mr(t->h, cfg + (uint64_t)i, 1);
	make_frame(frame, flen, mac, 0x3c);
	if (sendto(t->pkt, frame, flen, 0, (struct sockaddr *)&to, sizeof(to)) != (ssize_t)flen)
		return -1;
	for (int i = 0; i < 20000; i++) {
		vh_notify(t->h, t->d, 0);
		if (vh_r16(t->h, t->g[0].used + 2) != t->g[0].used_seen)
			return 0;
		if (nbufs == 0)
			return 0; /* the caller waits for its own condition */
		usleep(500);
	}
	return -1;
}

TEST(net_host_frame_reaches_the_guest_buffer)
{
	const char *skip = NULL;
	struct nt *t = nt_new(0, &skip);
	uint32_t id, len;

	if (!t)
		SKIP("%s", skip);
	struct gseg rx = {0x300000, 2048, true};
	gq_add(t->h, &t->g[0], &rx, 1);
	NREQ(host_send_and_wait(t, 80, 1) == 0);
	NREQ(gq_used(t->h, &t->g[0], &id, &len) == 1);
	CHECK_EQ(len, 12 + 80);
	CHECK_EQ(vh_r16(t->h, 0x300000 + 10), 1); /* num_buffers */
	CHECK_EQ(t->h->ram[0x300000 + 12 + 12], ETHERTYPE_TEST >> 8);
	CHECK_EQ(t->h->ram[0x300000 + 12 + 79], 0x3c);
out:
	nt_free(t);
}

TEST(net_mergeable_buffers_split_a_frame_and_count_them)
{
	const char *skip = NULL;
	struct nt *t = nt_new(MRG, &skip);
	uint32_t id, len[3];

	if (!t)
		SKIP("%s", skip);
	for (int i = 0; i < 3; i++) {
		struct gseg rx = {0x300000 + 0x1000ull * i, 64, true};
		gq_add(t->h, &t->g[0], &rx, 1);
	}
	NREQ(host_send_and_wait(t, 150, 3) == 0);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(gq_used(t->h, &t->g[0], &id, &len[i]), 1);
	CHECK(len[0] == 64 && len[1] == 64 && len[2] == 162 - 128);
	CHECK_EQ(vh_r16(t->h, 0x300000 + 10), 3);
	CHECK_EQ(t->h->ram[0x302000 + 33], 0x3c); /* last byte of the frame */
out:
	nt_free(t);
}

TEST(net_frame_too_big_for_a_single_buffer_is_dropped)
{
	const char *skip = NULL;
	struct nt *t = nt_new(0, &skip);
	uint32_t id, len;

	if (!t)
		SKIP("%s", skip);
	struct gseg rx = {0x300000, 64, true};
	gq_add(t->h, &t->g[0], &rx, 1);
	NREQ(host_send_and_wait(t, 200, 1) == 0);
	NREQ(gq_used(t->h, &t->g[0], &id, &len) == 1);
	CHECK_EQ(len, 0); /* buffer back empty, frame dropped */
	CHECK(!(vh_status(t->h, t->d) & VIRTIO_STATUS_NEEDS_RESET));
out:
	nt_free(t);
}

TEST(net_rx_chain_outside_memory_sets_needs_reset)
{
	const char *skip = NULL;
	struct nt *t = nt_new(0, &skip);

	if (!t)
		SKIP("%s", skip);
	struct gseg rx = {VH_RAM_SIZE - 16, 2048, true};
	gq_add(t->h, &t->g[0], &rx, 1);
	host_send_and_wait(t, 80, 0);
	/* the frame may still be on its way: kick until the device has seen
	 * it (bounded only so a bug cannot hang the test) */
	for (int i = 0; i < 20000 && !(vh_status(t->h, t->d) & VIRTIO_STATUS_NEEDS_RESET); i++) {
		vh_notify(t->h, t->d, 0);
		usleep(500);
	}
	CHECK(vh_status(t->h, t->d) & VIRTIO_STATUS_NEEDS_RESET);
	CHECK_CONTAINS(t->d->broken_why, "outside guest memory");
	nt_free(t);
}

TEST(net_bad_tap_name_is_named_in_the_error)
{
	struct vh *h = vh_new();
	struct vs_err e;

	h->cfg.nets[0] = (struct vm_net_cfg){.tap = "this-name-is-far-too-long"};
	h->cfg.nr_nets = 1;
	CHECK(vm_virtio_net_ops.create(&h->ctx, &e) < 0);
	CHECK_CONTAINS(e.msg, "this-name-is-far-too-long");
	h->cfg.nets[0].tap = "bad name/x";
	CHECK(vm_virtio_net_ops.create(&h->ctx, &e) < 0);
	CHECK_CONTAINS(e.msg, "tap bad name/x");
	CHECK_EQ(vm_virtio_net_ops.count(), 0);
	CHECK(h->pci.devs[1] == NULL);
	vh_free(h);
}

TEST(net_configured_mac_is_reported)
{
	struct vh *h = vh_new();
	struct vs_err e;
	char name[IFNAMSIZ];

	snprintf(name, sizeof(name), "vs-test-%04x", (unsigned)(getpid() + 1) & 0xffff);
	h->cfg.nets[0] = (struct vm_net_cfg){
		.tap = name, .has_mac = true, .mac = {0x52, 0x54, 0, 0x12, 0x34, 0x56}};
	h->cfg.nr_nets = 1;
	if (vm_virtio_net_ops.create(&h->ctx, &e) < 0) {
		vh_free(h);
		SKIP("cannot create a tap: %.200s", e.msg);
	}
	struct vm_virtio_dev *d = vm_virtio_lookup(VIRTIO_ID_NET, 0);
	CHECK_EQ(vh_mr(h, vh_bar(d) + VM_VIRTIO_DEVICE_OFF, 4), 0x12005452);
	CHECK_EQ(vh_mr(h, vh_bar(d) + VM_VIRTIO_DEVICE_OFF + 4, 2), 0x5634);
	vm_virtio_net_ops.destroy();
	CHECK_EQ(if_nametoindex(name), 0); /* the tap went away with the device */
	vh_free(h);
}

/* With the real event loop: the tap fd wakes the loop thread, which fills
 * the guest buffer by itself; with no buffers the tap is paused, and the
 * guest's rx notify (through the queue eventfd) resumes it. */
TEST(net_event_loop_delivers_and_resumes_after_rx_notify)
{
	const char *skip = NULL;
	struct nt *t = calloc(1, sizeof(*t));
	struct vs_err e;
	uint32_t id, len;
	uint8_t frame[128];

	t->pkt = -1;
	t->h = vh_new();
	vh_loop_new(t->h);
	snprintf(t->ifname, sizeof(t->ifname), "vs-test-%04x", (unsigned)(getpid() + 2) & 0xffff);
	t->h->cfg.nets[0] = (struct vm_net_cfg){.tap = t->ifname};
	t->h->cfg.nr_nets = 1;
	if (vm_virtio_net_ops.create(&t->h->ctx, &e) < 0) {
		nt_free(t);
		SKIP("cannot create a tap device");
	}
	t->d = vm_virtio_lookup(VIRTIO_ID_NET, 0);
	t->ifindex = (int)if_nametoindex(t->ifname);
	t->pkt = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETHERTYPE_TEST));
	struct sockaddr_ll sll = {.sll_family = AF_PACKET,
				  .sll_protocol = htons(ETHERTYPE_TEST),
				  .sll_ifindex = t->ifindex};
	if (t->pkt < 0 || if_up(t->ifname) < 0 ||
	    bind(t->pkt, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		skip = "cannot bring the tap up";
		nt_free(t);
		SKIP("%s", skip);
	}
	vh_bringup(t->h, t->d, 0, t->g, 2, 64);
	vh_loop_start(t->h);
	struct sockaddr_ll to = {
		.sll_family = AF_PACKET, .sll_ifindex = t->ifindex, .sll_halen = 6};
	make_frame(frame, 90, (const uint8_t *)"\xff\xff\xff\xff\xff\xff", 0x42);
	/* no receive buffers yet: the frame waits in the tap */
	NREQ(sendto(t->pkt, frame, 90, 0, (struct sockaddr *)&to, sizeof(to)) == 90);
	struct gseg rx = {0x300000, 2048, true};
	gq_add(t->h, &t->g[0], &rx, 1);
	vh_notify(t->h, t->d, 0); /* eventfd -> loop thread -> resume */
	NREQ(vh_wait_used(t->h, &t->g[0]));
	NREQ(gq_used(t->h, &t->g[0], &id, &len) == 1);
	CHECK_EQ(len, 12 + 90);
	/* buffer already there: the tap event alone delivers the next one */
	gq_add(t->h, &t->g[0], &rx, 1);
	vh_notify(t->h, t->d, 0);
	NREQ(sendto(t->pkt, frame, 90, 0, (struct sockaddr *)&to, sizeof(to)) == 90);
	NREQ(vh_wait_used(t->h, &t->g[0]));
	CHECK_EQ(gq_used(t->h, &t->g[0], &id, &len), 1);
out:
	vh_loop_stop(t->h);
	nt_free(t);
}

static int tap_tso(const char *ifname)
{
	struct ethtool_value ev = {.cmd = ETHTOOL_GTSO};
	struct ifreq ifr = {0};
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (void *)&ev;
	r = s >= 0 && ioctl(s, SIOCETHTOOL, &ifr) == 0 ? (int)ev.data : -1;
	if (s >= 0)
		close(s);
	return r;
}

TEST(net_guest_offloads_follow_negotiation_and_reset)
{
	const char *skip = NULL;
	struct nt *t = nt_new((1ull << 1) | (1ull << 7) | MRG, &skip);

	if (!t)
		SKIP("%s", skip);
	CHECK(vh_dev_features(t->h, t->d) & 1ull << 0); /* CSUM offered */
	CHECK_EQ(tap_tso(t->ifname), 1);		/* GUEST_TSO4 -> tap may send TSO */
	vh_cc_w(t->h, t->d, 0x14, 1, 0);		/* reset */
	CHECK_EQ(tap_tso(t->ifname), 0);
	/* TSO without GUEST_CSUM is not enabled (spec dependency) */
	vh_bringup(t->h, t->d, 1ull << 7, t->g, 2, 64);
	CHECK_EQ(tap_tso(t->ifname), 0);
	nt_free(t);
}

TEST(net_needs_csum_header_from_guest_reaches_the_host_stack)
{
	const char *skip = NULL;
	struct nt *t = nt_new(1ull << 0 /* CSUM */, &skip);
	uint32_t id, len;
	int one = 1;

	if (!t)
		SKIP("%s", skip);
	setsockopt(t->pkt, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one));
	uint8_t hdr[12] = {1 /* NEEDS_CSUM */};
	uint16_t start = 20, off = 6;
	memcpy(hdr + 6, &start, 2);
	memcpy(hdr + 8, &off, 2);
	memcpy(t->h->ram + 0x200000, hdr, 12);
	make_frame(t->h->ram + 0x200100, 100, (const uint8_t *)"\xff\xff\xff\xff\xff\xff", 0x11);
	struct gseg s[2] = {{0x200000, 12, false}, {0x200100, 100, false}};
	gq_add(t->h, &t->g[1], s, 2);
	vh_notify(t->h, t->d, 1);
	CHECK_EQ(gq_used(t->h, &t->g[1], &id, &len), 1);
	uint8_t buf[256], cbuf[256];
	struct iovec iov = {buf, sizeof(buf)};
	struct msghdr m = {.msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = cbuf,
			   .msg_controllen = sizeof(cbuf)};
	ssize_t n = recvmsg(t->pkt, &m, 0);
	CHECK_EQ(n, 100);
	bool partial = false;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA)
			partial = ((struct tpacket_auxdata *)(void *)CMSG_DATA(c))->tp_status &
				  TP_STATUS_CSUMNOTREADY;
	CHECK(partial); /* the kernel got our header: checksum left to it */
	nt_free(t);
}
