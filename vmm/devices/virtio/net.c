/*
 * virtio-net (virtio 1.2 §5.1) on a tap device. The tap is opened with
 * IFF_VNET_HDR and a 12-byte header, which is exactly struct virtio_net_hdr
 * with num_buffers (the VERSION_1 layout, §5.1.6), so headers pass through
 * unchanged in both directions. Frames go guest -> tap with writev straight
 * from guest memory; tap -> guest is read into a bounce buffer first because
 * with mergeable buffers the packet may span several chains.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmm/devices/virtio/virtio.h"

/* Feature bits (§5.1.3). */
#define NET_F_CSUM	 0
#define NET_F_GUEST_CSUM 1
#define NET_F_MAC	 5
#define NET_F_GUEST_TSO4 7
#define NET_F_GUEST_TSO6 8
#define NET_F_HOST_TSO4	 11
#define NET_F_HOST_TSO6	 12
#define NET_F_MRG_RXBUF	 15
#define NET_F_STATUS	 16
/* Offloads: the header passes through the tap unchanged, so the kernel
 * completes checksums and segments what the guest sends (CSUM, HOST_TSO*),
 * and with TUNSETOFFLOAD hands the guest partial-checksum and GSO frames
 * (GUEST_CSUM, GUEST_TSO*). */
#define NET_OFFLOADS                                                                               \
	(1ull << NET_F_CSUM | 1ull << NET_F_GUEST_CSUM | 1ull << NET_F_GUEST_TSO4 |                \
	 1ull << NET_F_GUEST_TSO6 | 1ull << NET_F_HOST_TSO4 | 1ull << NET_F_HOST_TSO6)
#define NET_S_LINK_UP 1

#define NET_HDR_LEN   12 /* struct virtio_net_hdr incl. num_buffers */
#define NET_MAX_FRAME (65535 + 14 + 4)
#define RXQ	      0
#define TXQ	      1
#define CFG_MAC	      0
#define CFG_STATUS    6
#define CFG_MAX_PAIRS 8
#define CFG_SIZE      10

struct net {
	struct vm_virtio_dev vdev;
	unsigned idx;
	int tap;
	char ifname[IFNAMSIZ];
	uint8_t mac[6];
	bool polled, paused;
	size_t pending; /* bytes of a packet read but not delivered */
	uint8_t rxbuf[NET_HDR_LEN + NET_MAX_FRAME];
	uint16_t heads[VM_VQ_MAX_SIZE];
	uint32_t lens[VM_VQ_MAX_SIZE];
	struct vm_vq_elem el0, el;
};

static struct net *nets[VM_MAX_NETS];
static unsigned nr_nets;

static void set_polling(struct net *n, bool on)
{
	if (!n->polled || n->paused == !on)
		return;
	n->paused = !on;
	vm_event_mod(n->vdev.ctx->loop, n->tap, on ? EPOLLIN : 0, NULL);
}

/*
 * Copies the pending packet into the guest's receive buffers. Returns 1 when
 * delivered (or dropped for good), 0 when the guest has not given enough
 * buffers yet (nothing consumed), -1 on a driver error.
 */
static int deliver(struct net *n, struct vs_err *e)
{
	struct vm_virtio_dev *d = &n->vdev;
	struct vm_vq *q = &d->vq[RXQ];
	bool mrg = vm_virtio_has_feature(d, NET_F_MRG_RXBUF);
	size_t off = 0;
	unsigned cnt = 0;
	uint16_t nb;

	/* Without GUEST_CSUM the tap has no offloads and the header carries
	 * nothing the driver may see (§5.1.6.4); with it, it goes as is. */
	if (!vm_virtio_has_feature(d, NET_F_GUEST_CSUM))
		memset(n->rxbuf, 0, 10);
	while (off < n->pending) {
		struct vm_vq_elem *el = cnt ? &n->el : &n->el0;
		int got;
		size_t c;

		if (cnt >= q->size)
			goto drop; /* a whole ring of tiny buffers is not enough */
		got = vm_vq_pop(q, el, e);
		if (got < 0)
			return -1;
		if (got == 0) {
			vm_vq_rewind(q, n->heads, cnt);
			return 0;
		}
		n->heads[cnt++] = el->head;
		/* §5.1.6.3.1: without MRG_RXBUF one chain takes the whole
		 * packet; a chain that cannot (or the header alone) drops it. */
		if ((!mrg && el->in_len < n->pending) || (cnt == 1 && el->in_len < NET_HDR_LEN))
			goto drop;
		c = vm_buf_to_iov(el->iov + el->n_out, el->n_in, 0, n->rxbuf + off,
				  n->pending - off);
		n->lens[cnt - 1] = (uint32_t)c;
		off += c;
	}
	nb = (uint16_t)cnt;
	vm_buf_to_iov(n->el0.iov + n->el0.n_out, n->el0.n_in, 10, &nb, 2);
	for (unsigned i = 0; i < cnt; i++)
		if (vm_vq_fill(q, i, n->heads[i], n->lens[i], e) < 0)
			return -1;
	vm_vq_flush(q, cnt);
	return 1;

drop:
	/* The buffers go back empty; the packet is lost, as on a NIC. */
	for (unsigned i = 0; i < cnt; i++)
		if (vm_vq_fill(q, i, n->heads[i], 0, e) < 0)
			return -1;
	vm_vq_flush(q, cnt);
	return 1;
}

static void net_rx(struct net *n)
{
	struct vm_virtio_dev *d = &n->vdev;
	struct vs_err e;
	bool any = false;

	if (!vm_virtio_running(d) || !d->vq[RXQ].enabled)
		return;
	for (;;) {
		if (!n->pending) {
			ssize_t r = read(n->tap, n->rxbuf, sizeof(n->rxbuf));

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= NET_HDR_LEN)
				break; /* EAGAIN: drained (a runt is dropped too) */
			n->pending = (size_t)r;
		}
		int ret = deliver(n, &e);

		if (ret < 0) {
			vm_virtio_set_broken(d, "%s", e.msg);
			return;
		}
		if (ret == 0) {
			set_polling(n, false); /* the next rx notify resumes */
			break;
		}
		n->pending = 0;
		any = true;
	}
	if (any)
		vm_virtio_notify_used(d, RXQ);
}

static void net_tx(struct net *n)
{
	struct vm_virtio_dev *d = &n->vdev;
	struct vm_vq *q = &d->vq[TXQ];
	struct vs_err e;
	int got;

	while ((got = vm_vq_pop(q, &n->el, &e)) == 1) {
		/* §5.1.6.2: header then frame, all device-readable. A tap
		 * refusing a malformed frame only loses that frame. */
		if (n->el.out_len > NET_HDR_LEN && n->el.out_len <= NET_HDR_LEN + NET_MAX_FRAME) {
			ssize_t w;

			do {
				w = writev(n->tap, n->el.iov, (int)n->el.n_out);
			} while (w < 0 && errno == EINTR);
		}
		if (vm_vq_push(q, n->el.head, 0, &e) < 0) {
			got = -1;
			break;
		}
	}
	if (got < 0)
		vm_virtio_set_broken(d, "%s", e.msg);
	vm_virtio_notify_used(d, TXQ);
}

static void net_queue(struct vm_virtio_dev *d, unsigned q)
{
	struct net *n = d->priv;

	if (q == TXQ) {
		net_tx(n);
		return;
	}
	set_polling(n, true);
	net_rx(n);
}

static void tap_event(void *opaque, uint32_t events)
{
	struct net *n = opaque;

	pthread_mutex_lock(&n->vdev.lock);
	if (vm_virtio_running(&n->vdev) && n->vdev.vq[RXQ].enabled)
		net_rx(n);
	else
		set_polling(n, false); /* no receive buffers yet */
	pthread_mutex_unlock(&n->vdev.lock);
}

/* What the tap may hand us, from what the driver accepted (§5.1.3.1: TSO
 * needs GUEST_CSUM). */
static unsigned tun_offloads(const struct vm_virtio_dev *d)
{
	unsigned f = 0;

	if (!vm_virtio_has_feature(d, NET_F_GUEST_CSUM))
		return 0;
	f |= TUN_F_CSUM;
	if (vm_virtio_has_feature(d, NET_F_GUEST_TSO4))
		f |= TUN_F_TSO4;
	if (vm_virtio_has_feature(d, NET_F_GUEST_TSO6))
		f |= TUN_F_TSO6;
	return f;
}

static int net_activate(struct vm_virtio_dev *d, struct vs_err *e)
{
	struct net *n = d->priv;

	if (ioctl(n->tap, TUNSETOFFLOAD, tun_offloads(d)) < 0)
		return vs_fail_errno(e, "tap %s: TUNSETOFFLOAD", n->ifname);
	return 0;
}

static void net_reset(struct vm_virtio_dev *d)
{
	struct net *n = d->priv;

	if (!n)
		return;
	n->pending = 0; /* an undelivered packet dies with the rings */
	if (n->tap >= 0)
		ioctl(n->tap, TUNSETOFFLOAD, 0); /* the next driver may want none */
}

static const struct vm_virtio_ops net_vops = {
	.name = "virtio-net",
	.type = VIRTIO_ID_NET,
	.pci_class = 0x020000, /* ethernet */
	.nr_queues = 2,
	.queue_size = 256,
	.config_size = CFG_SIZE,
	.queue_notify = net_queue,
	.activate = net_activate,
	.reset = net_reset,
};

static int open_tap(struct net *n, const char *name, struct vs_err *e)
{
	struct ifreq ifr = {0};
	int hdr = NET_HDR_LEN;

	if (!name || !name[0] || strlen(name) >= IFNAMSIZ)
		return vs_fail(e, EINVAL, "net %u: tap name \"%s\" must be 1-%d characters", n->idx,
			       name ? name : "", IFNAMSIZ - 1);
	n->tap = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (n->tap < 0)
		return vs_fail_errno(e, "net %u: tap %s: open /dev/net/tun", n->idx, name);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(n->tap, TUNSETIFF, &ifr) < 0)
		return vs_fail_errno(e, "net %u: tap %s: TUNSETIFF", n->idx, name);
	snprintf(n->ifname, sizeof(n->ifname), "%s", ifr.ifr_name);
	if (ioctl(n->tap, TUNSETVNETHDRSZ, &hdr) < 0)
		return vs_fail_errno(e, "net %u: tap %s: TUNSETVNETHDRSZ", n->idx, name);
	/* No offloads: the kernel hands us complete, checksummed frames. */
	if (ioctl(n->tap, TUNSETOFFLOAD, 0) < 0)
		return vs_fail_errno(e, "net %u: tap %s: TUNSETOFFLOAD", n->idx, name);
	return 0;
}

/* A stable, locally administered unicast MAC derived from the tap name. */
static void derive_mac(uint8_t mac[6], const char *name)
{
	uint32_t h = 2166136261u;

	for (const char *p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	mac[0] = 0x02;
	mac[1] = 0x76;
	mac[2] = 0x73;
	mac[3] = (uint8_t)(h >> 16);
	mac[4] = (uint8_t)(h >> 8);
	mac[5] = (uint8_t)h;
}

static void free_net(struct net *n)
{
	if (n->polled)
		vm_event_del(n->vdev.ctx->loop, n->tap);
	if (n->tap >= 0)
		close(n->tap);
	free(n);
}

static void net_destroy(void)
{
	for (unsigned i = 0; i < nr_nets; i++) {
		vm_virtio_destroy(&nets[i]->vdev);
		free_net(nets[i]);
		nets[i] = NULL;
	}
	nr_nets = 0;
}

static int net_create(struct vm_ctx *ctx, struct vs_err *e)
{
	for (unsigned i = 0; i < ctx->cfg->nr_nets && i < VM_MAX_NETS; i++) {
		const struct vm_net_cfg *nc = &ctx->cfg->nets[i];
		struct net *n = calloc(1, sizeof(*n));

		if (!n) {
			vs_fail(e, ENOMEM, "virtio-net %u", i);
			goto fail;
		}
		n->idx = i;
		n->tap = -1;
		n->vdev.ctx = ctx;
		if (open_tap(n, nc->tap, e) < 0) {
			free_net(n);
			goto fail;
		}
		if (nc->has_mac)
			memcpy(n->mac, nc->mac, 6);
		else
			derive_mac(n->mac, n->ifname);
		if (vm_virtio_init(&n->vdev, ctx, &net_vops,
				   1ull << NET_F_MAC | 1ull << NET_F_STATUS |
					   1ull << NET_F_MRG_RXBUF | NET_OFFLOADS,
				   n, e) < 0) {
			n->vdev.ctx = ctx;
			vs_err_prefix(e, "tap %s", n->ifname);
			free_net(n);
			goto fail;
		}
		memcpy(&n->vdev.config[CFG_MAC], n->mac, 6);
		n->vdev.config[CFG_STATUS] = NET_S_LINK_UP;
		n->vdev.config[CFG_MAX_PAIRS] = 1;
		if (ctx->loop) {
			if (vm_event_add(ctx->loop, n->tap, EPOLLIN, tap_event, n, e) < 0) {
				vm_virtio_destroy(&n->vdev);
				free_net(n);
				goto fail;
			}
			n->polled = true;
		}
		nets[nr_nets++] = n;
	}
	return 0;
fail:
	net_destroy();
	return -1;
}

static unsigned net_count(void)
{
	return nr_nets;
}

#define NET_STATE_VERSION 1

static int net_save(unsigned idx, struct vm_state_writer *w)
{
	struct net *n = nets[idx];

	vm_virtio_save(&n->vdev, w);
	vm_sw_u32(w, NET_STATE_VERSION);
	vm_sw_bytes(w, n->mac, 6);
	return w->failed ? -1 : 0;
}

static int net_restore(unsigned idx, struct vm_state_reader *r, struct vs_err *e)
{
	struct net *n = nets[idx];
	uint32_t ver;

	if (vm_virtio_restore(&n->vdev, r, e) < 0 || vm_sr_u32(r, &ver, e) < 0 ||
	    vm_sr_bytes(r, n->mac, 6, e) < 0)
		return -1;
	if (ver != NET_STATE_VERSION)
		return vs_fail(e, EINVAL, "virtio-net %s: unknown state version %u", n->ifname,
			       ver);
	/* The guest keeps the MAC it had; the link is up on the new tap. */
	memcpy(&n->vdev.config[CFG_MAC], n->mac, 6);
	n->vdev.config[CFG_STATUS] = NET_S_LINK_UP;
	n->pending = 0;
	set_polling(n, true);
	return vm_sr_end(r, e);
}

const struct vm_device_ops vm_virtio_net_ops = {
	.name = "virtio-net",
	.order = 20,
	.create = net_create,
	.count = net_count,
	.save = net_save,
	.restore = net_restore,
	.destroy = net_destroy,
};
VM_DEVICE(vm_virtio_net_ops);
