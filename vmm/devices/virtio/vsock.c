/*
 * virtio-vsock (virtio 1.2 §5.10), stream sockets only, with the host side on
 * AF_UNIX sockets:
 *  - a guest connecting to host port P gets a connection to "<uds_path>_P";
 *  - a host program connects to <uds_path>, writes "CONNECT P\n" and, once
 *    the guest accepted (OP_RESPONSE), reads "OK <host port>\n" and then
 *    talks to guest port P.
 * Flow control is the spec's credit scheme (§5.10.6.3): we never send the
 * guest more than its buf_alloc minus what it has not yet consumed, and we
 * buffer up to our own buf_alloc of guest data a host socket could not take.
 * Connections live in host sockets, so they are not saved: a restore sends
 * the guest VIRTIO_VSOCK_EVENT_TRANSPORT_RESET (§5.10.6.5).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/devices/virtio/virtio.h"

#define RXQ 0
#define TXQ 1
#define EVQ 2

#define HOST_CID	      2
#define HDR_LEN		      44
#define TYPE_STREAM	      1
#define OP_REQUEST	      1
#define OP_RESPONSE	      2
#define OP_RST		      3
#define OP_SHUTDOWN	      4
#define OP_RW		      5
#define OP_CREDIT_UPDATE      6
#define OP_CREDIT_REQUEST     7
#define SHUT_RCV_F	      1
#define SHUT_SEND_F	      2
#define EVENT_TRANSPORT_RESET 0

#define BUF_ALLOC (64 * 1024) /* what each connection buffers for the guest */
#define MAX_CONNS 64
#define EPHEMERAL 0x40000000u /* first host-side port we hand out */

enum conn_state { C_FREE, C_HANDSHAKE, C_CONNECTING, C_OPEN, C_CLOSING };

struct conn {
	enum conn_state state;
	int fd;
	uint32_t host_port, guest_port;
	/* guest's credit (§5.10.6.3) and what we sent against it */
	uint32_t peer_buf_alloc, peer_fwd_cnt, tx_cnt;
	/* our side: guest bytes received / written on to the host socket */
	uint32_t rx_cnt, fwd_cnt, fwd_cnt_sent;
	uint8_t *backlog; /* guest data the socket could not take yet */
	uint32_t backlog_len;
	/* control packets owed to the guest */
	bool need_response, need_rst, need_credit, need_request, need_shutdown;
	bool eof;      /* host side closed: SHUTDOWN sent */
	char line[32]; /* "CONNECT P\n" being read */
	unsigned line_len;
	uint32_t events; /* what the loop polls for */
	bool polled;
};

struct vsock {
	struct vm_virtio_dev vdev;
	uint64_t cid;
	char *uds_path;
	int listen_fd;
	bool listen_polled;
	uint32_t next_port;
	bool reset_event_pending;
	struct conn conns[MAX_CONNS];
	struct vm_vq_elem el;
};

static struct vsock *vs;

struct hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
};

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void hdr_encode(const struct hdr *h, uint8_t *b)
{
	put_le(b, h->src_cid, 8);
	put_le(b + 8, h->dst_cid, 8);
	put_le(b + 16, h->src_port, 4);
	put_le(b + 20, h->dst_port, 4);
	put_le(b + 24, h->len, 4);
	put_le(b + 28, h->type, 2);
	put_le(b + 30, h->op, 2);
	put_le(b + 32, h->flags, 4);
	put_le(b + 36, h->buf_alloc, 4);
	put_le(b + 40, h->fwd_cnt, 4);
}

static void hdr_decode(const uint8_t *b, struct hdr *h)
{
	h->src_cid = get_le(b, 8);
	h->dst_cid = get_le(b + 8, 8);
	h->src_port = (uint32_t)get_le(b + 16, 4);
	h->dst_port = (uint32_t)get_le(b + 20, 4);
	h->len = (uint32_t)get_le(b + 24, 4);
	h->type = (uint16_t)get_le(b + 28, 2);
	h->op = (uint16_t)get_le(b + 30, 2);
	h->flags = (uint32_t)get_le(b + 32, 4);
	h->buf_alloc = (uint32_t)get_le(b + 36, 4);
	h->fwd_cnt = (uint32_t)get_le(b + 40, 4);
}

static struct conn *find_conn(struct vsock *v, uint32_t host_port, uint32_t guest_port)
{
	for (int i = 0; i < MAX_CONNS; i++) {
		struct conn *c = &v->conns[i];

		if (c->state != C_FREE && c->state != C_HANDSHAKE && c->host_port == host_port &&
		    c->guest_port == guest_port)
			return c;
	}
	return NULL;
}

static struct conn *new_conn(struct vsock *v, int fd)
{
	for (int i = 0; i < MAX_CONNS; i++) {
		struct conn *c = &v->conns[i];

		if (c->state == C_FREE) {
			memset(c, 0, sizeof(*c));
			c->fd = fd;
			return c;
		}
	}
	return NULL;
}

static void conn_close(struct vsock *v, struct conn *c)
{
	if (c->polled)
		vm_event_del(v->vdev.ctx->loop, c->fd);
	if (c->fd >= 0)
		close(c->fd);
	free(c->backlog);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->state = C_FREE;
}

/* A connection the guest no longer knows about, or that we give up on: the
 * guest gets RST unless it sent one; the host socket is closed right away. */
static void conn_reset(struct vsock *v, struct conn *c, bool tell_guest)
{
	if (c->polled)
		vm_event_del(v->vdev.ctx->loop, c->fd);
	c->polled = false;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->backlog);
	c->backlog = NULL;
	c->backlog_len = 0;
	if (tell_guest) {
		c->state = C_CLOSING;
		c->need_rst = true;
	} else {
		conn_close(v, c);
	}
}

static void vsock_event(void *opaque, uint32_t events);

static uint32_t peer_credit(const struct conn *c)
{
	uint32_t inflight = c->tx_cnt - c->peer_fwd_cnt;

	return inflight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - inflight;
}

/* ---- host -> guest ---------------------------------------------------- */

static void fill_hdr(struct vsock *v, struct conn *c, struct hdr *h, uint16_t op)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = HOST_CID;
	h->dst_cid = v->cid;
	h->src_port = c->host_port;
	h->dst_port = c->guest_port;
	h->type = TYPE_STREAM;
	h->op = op;
	h->buf_alloc = BUF_ALLOC;
	h->fwd_cnt = c->fwd_cnt;
}

/* Puts one control packet (no payload) into the next rx chain; false when
 * the guest has no buffer for it. */
static bool send_ctrl(struct vsock *v, struct conn *c, uint16_t op, uint32_t flags, bool *err)
{
	struct vm_vq *q = &v->vdev.vq[RXQ];
	struct vs_err e;
	uint8_t b[HDR_LEN];
	struct hdr h;
	int got = vm_vq_pop(q, &v->el, &e);

	if (got < 0) {
		vm_virtio_set_broken(&v->vdev, "%s", e.msg);
		*err = true;
		return false;
	}
	if (got == 0)
		return false;
	if (v->el.in_len < HDR_LEN) {
		vm_virtio_set_broken(&v->vdev, "rx buffer of %llu bytes cannot hold a header",
				     (unsigned long long)v->el.in_len);
		*err = true;
		return false;
	}
	fill_hdr(v, c, &h, op);
	h.flags = flags;
	hdr_encode(&h, b);
	vm_buf_to_iov(v->el.iov + v->el.n_out, v->el.n_in, 0, b, HDR_LEN);
	c->fwd_cnt_sent = c->fwd_cnt;
	vm_vq_push(q, v->el.head, HDR_LEN, &e);
	return true;
}

/* Reads host socket data straight into the next rx chain. Returns 1 sent,
 * 0 nothing to do now, -1 device broken. */
static int send_data(struct vsock *v, struct conn *c)
{
	struct vm_vq *q = &v->vdev.vq[RXQ];
	struct iovec iov[VM_VQ_MAX_SIZE];
	struct vs_err e;
	uint8_t b[HDR_LEN];
	struct hdr h;
	uint32_t credit = peer_credit(c);
	ssize_t n;
	unsigned cnt;

	if (c->state != C_OPEN || c->eof || !credit)
		return 0;
	int got = vm_vq_pop(q, &v->el, &e);

	if (got <= 0) {
		if (got < 0)
			vm_virtio_set_broken(&v->vdev, "%s", e.msg);
		return got;
	}
	if (v->el.in_len <= HDR_LEN) {
		vm_virtio_set_broken(&v->vdev, "rx buffer of %llu bytes cannot hold a packet",
				     (unsigned long long)v->el.in_len);
		return -1;
	}
	uint64_t space = v->el.in_len - HDR_LEN;
	uint64_t want = space < credit ? space : credit;

	cnt = vm_iov_slice(v->el.iov + v->el.n_out, v->el.n_in, HDR_LEN, space - want, iov,
			   VM_VQ_MAX_SIZE);
	do {
		struct msghdr m = {.msg_iov = iov, .msg_iovlen = cnt};

		n = recvmsg(c->fd, &m, MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		vm_vq_rewind(q, &v->el.head, 1);
		return 0;
	}
	if (n <= 0) {
		/* host closed (or failed): tell the guest both directions are
		 * done; it answers with RST, which frees the connection. */
		fill_hdr(v, c, &h, OP_SHUTDOWN);
		h.flags = SHUT_RCV_F | SHUT_SEND_F;
		c->eof = true;
		c->state = C_CLOSING;
		n = 0;
	} else {
		fill_hdr(v, c, &h, OP_RW);
		h.len = (uint32_t)n;
		c->tx_cnt += (uint32_t)n;
	}
	hdr_encode(&h, b);
	vm_buf_to_iov(v->el.iov + v->el.n_out, v->el.n_in, 0, b, HDR_LEN);
	c->fwd_cnt_sent = c->fwd_cnt;
	vm_vq_push(q, v->el.head, HDR_LEN + (uint32_t)n, &e);
	return 1;
}

static void update_polling(struct vsock *v, struct conn *c)
{
	struct vm_event_loop *l = v->vdev.ctx->loop;
	uint32_t want = 0;

	if (c->fd < 0 || !l)
		return;
	if ((c->state == C_OPEN && !c->eof && peer_credit(c) &&
	     vm_vq_has_avail(&v->vdev.vq[RXQ])) ||
	    c->state == C_HANDSHAKE)
		want |= EPOLLIN;
	if (c->backlog_len)
		want |= EPOLLOUT;
	/* Nothing wanted: out of the loop entirely, since epoll reports a
	 * hung-up socket even with no events asked for. */
	if (!want) {
		if (c->polled)
			vm_event_del(l, c->fd);
		c->polled = false;
	} else if (!c->polled) {
		c->polled = vm_event_add(l, c->fd, want, vsock_event, v, NULL) == 0;
	} else if (want != c->events) {
		vm_event_mod(l, c->fd, want, NULL);
	}
	c->events = want;
}

/* ---- host side handshake ----------------------------------------------- */

static void handshake_read(struct vsock *v, struct conn *c)
{
	while (c->line_len < sizeof(c->line) - 1) {
		ssize_t n = recv(c->fd, &c->line[c->line_len], 1, MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			conn_close(v, c);
			return;
		}
		if (c->line[c->line_len++] == '\n') {
			unsigned long port;
			char *end;

			c->line[c->line_len] = '\0';
			if (strncmp(c->line, "CONNECT ", 8) ||
			    (port = strtoul(c->line + 8, &end, 10), *end != '\n') ||
			    end == c->line + 8 || port > 0xffffffffu) {
				conn_close(v, c); /* not our protocol */
				return;
			}
			c->guest_port = (uint32_t)port;
			c->host_port = v->next_port++;
			c->state = C_CONNECTING;
			c->need_request = true;
			c->peer_buf_alloc = 0;
			return;
		}
	}
	conn_close(v, c); /* line too long */
}

static void accept_all(struct vsock *v)
{
	for (;;) {
		int fd = accept4(v->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		struct conn *c;

		if (fd < 0)
			return;
		c = new_conn(v, fd);
		if (!c) {
			close(fd); /* table full: the host program sees EOF */
			continue;
		}
		c->state = C_HANDSHAKE;
	}
}

/* Does everything that can be done now, in both directions: accepts host
 * connections, sends owed control packets and host data to the guest, and
 * flushes backlogs to host sockets. Lock held. */
static void pump(struct vsock *v)
{
	struct vm_virtio_dev *d = &v->vdev;
	bool err = false, any = false;

	if (v->listen_fd >= 0)
		accept_all(v);
	for (int i = 0; i < MAX_CONNS; i++) {
		struct conn *c = &v->conns[i];

		if (c->state == C_HANDSHAKE)
			handshake_read(v, c);
		if (c->backlog_len && c->fd >= 0) {
			ssize_t n = send(c->fd, c->backlog, c->backlog_len,
					 MSG_DONTWAIT | MSG_NOSIGNAL);

			if (n > 0) {
				memmove(c->backlog, c->backlog + n, c->backlog_len - (size_t)n);
				c->backlog_len -= (uint32_t)n;
				c->fwd_cnt += (uint32_t)n;
			} else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
				conn_reset(v, c, true);
			}
		}
	}
	if (!vm_virtio_running(d) || !d->vq[RXQ].enabled)
		return;
	for (int i = 0; i < MAX_CONNS && !err; i++) {
		struct conn *c = &v->conns[i];

		if (c->state == C_FREE || c->state == C_HANDSHAKE)
			continue;
		if (c->need_request) {
			if (!send_ctrl(v, c, OP_REQUEST, 0, &err))
				break;
			c->need_request = false;
			any = true;
		}
		if (c->need_response) {
			if (!send_ctrl(v, c, OP_RESPONSE, 0, &err))
				break;
			c->need_response = false;
			any = true;
		}
		if (c->need_rst) {
			if (!send_ctrl(v, c, OP_RST, 0, &err))
				break;
			any = true;
			conn_close(v, c);
			continue;
		}
		/* our fwd_cnt moved a lot since the guest last heard: tell it */
		if (c->need_credit || (c->fwd_cnt - c->fwd_cnt_sent >= BUF_ALLOC / 2)) {
			if (!send_ctrl(v, c, OP_CREDIT_UPDATE, 0, &err))
				break;
			c->need_credit = false;
			any = true;
		}
		for (int k = 0; k < 64; k++) {
			int r = send_data(v, c);

			if (r < 0)
				err = true;
			if (r <= 0)
				break;
			any = true;
		}
	}
	if (any)
		vm_virtio_notify_used(d, RXQ);
	for (int i = 0; i < MAX_CONNS; i++)
		if (v->conns[i].state != C_FREE)
			update_polling(v, &v->conns[i]);
}

/* ---- guest -> host ----------------------------------------------------- */

static int uds_connect(struct vsock *v, uint32_t port)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", v->uds_path, port) >=
	    (int)sizeof(sa.sun_path))
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

/* Sends RST for a packet that belongs to no connection (§5.10.6.4: a
 * device answers unknown connections with RST). */
static void rst_unknown(struct vsock *v, const struct hdr *h)
{
	struct conn *c;

	if (h->op == OP_RST)
		return;
	c = new_conn(v, -1);
	if (!c)
		return;
	c->host_port = h->dst_port;
	c->guest_port = h->src_port;
	c->state = C_CLOSING;
	c->need_rst = true;
}

/* Guest payload [0, len) of the element, after the header, to the host. */
static void deliver_rw(struct vsock *v, struct conn *c, const struct vm_vq_elem *el, uint32_t len)
{
	uint32_t room;

	c->rx_cnt += len;
	if (!c->backlog_len) {
		struct iovec iov[VM_VQ_MAX_SIZE];
		unsigned cnt = vm_iov_slice(el->iov, el->n_out, HDR_LEN,
					    el->out_len - HDR_LEN - len, iov, VM_VQ_MAX_SIZE);
		struct msghdr m = {.msg_iov = iov, .msg_iovlen = cnt};
		ssize_t n = len ? sendmsg(c->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL) : 0;

		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			conn_reset(v, c, true);
			return;
		}
		if (n > 0) {
			c->fwd_cnt += (uint32_t)n;
			len -= (uint32_t)n;
		}
		if (!len)
			return;
		/* keep the rest: skip what went out */
		uint32_t skip = (uint32_t)(n > 0 ? n : 0);

		room = BUF_ALLOC;
		if (!c->backlog && !(c->backlog = malloc(BUF_ALLOC))) {
			conn_reset(v, c, true);
			return;
		}
		if (len > room) {
			conn_reset(v, c, true); /* guest ignored our credit */
			return;
		}
		vm_iov_to_buf(el->iov, el->n_out, HDR_LEN + skip, c->backlog, len);
		c->backlog_len = len;
		return;
	}
	room = BUF_ALLOC - c->backlog_len;
	if (len > room) {
		conn_reset(v, c, true);
		return;
	}
	vm_iov_to_buf(el->iov, el->n_out, HDR_LEN, c->backlog + c->backlog_len, len);
	c->backlog_len += len;
}

static void handle_tx(struct vsock *v, const struct vm_vq_elem *el)
{
	uint8_t b[HDR_LEN];
	struct hdr h;
	struct conn *c;

	if (el->out_len < HDR_LEN)
		return; /* not even a header: nothing to answer to */
	vm_iov_to_buf(el->iov, el->n_out, 0, b, HDR_LEN);
	hdr_decode(b, &h);
	if (h.src_cid != v->cid || h.dst_cid != HOST_CID || h.type != TYPE_STREAM ||
	    h.len > el->out_len - HDR_LEN) {
		rst_unknown(v, &h);
		return;
	}
	c = find_conn(v, h.dst_port, h.src_port);
	if (c) {
		/* every packet carries the sender's credit (§5.10.6.3) */
		c->peer_buf_alloc = h.buf_alloc;
		c->peer_fwd_cnt = h.fwd_cnt;
	}
	switch (h.op) {
	case OP_REQUEST: {
		int fd;

		if (c) {
			conn_reset(v, c, true); /* duplicate: reset both */
			return;
		}
		fd = uds_connect(v, h.dst_port);
		c = fd >= 0 ? new_conn(v, fd) : NULL;
		if (!c) {
			if (fd >= 0)
				close(fd);
			rst_unknown(v, &h);
			return;
		}
		c->host_port = h.dst_port;
		c->guest_port = h.src_port;
		c->peer_buf_alloc = h.buf_alloc;
		c->peer_fwd_cnt = h.fwd_cnt;
		c->state = C_OPEN;
		c->need_response = true;
		return;
	}
	case OP_RESPONSE:
		if (!c || c->state != C_CONNECTING) {
			if (c)
				conn_reset(v, c, true);
			else
				rst_unknown(v, &h);
			return;
		}
		c->state = C_OPEN;
		{
			char ok[32];
			int n = snprintf(ok, sizeof(ok), "OK %u\n", c->host_port);

			if (send(c->fd, ok, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) != n)
				conn_reset(v, c, true);
		}
		return;
	case OP_RST:
		if (c)
			conn_close(v, c);
		return;
	case OP_SHUTDOWN:
		if (!c)
			return;
		if ((h.flags & (SHUT_RCV_F | SHUT_SEND_F)) == (SHUT_RCV_F | SHUT_SEND_F)) {
			conn_reset(v, c, true); /* we confirm with RST */
		} else if (h.flags & SHUT_SEND_F && c->fd >= 0) {
			shutdown(c->fd, SHUT_WR);
		}
		return;
	case OP_RW:
		if (!c || c->state != C_OPEN) {
			if (!c)
				rst_unknown(v, &h);
			return;
		}
		deliver_rw(v, c, el, h.len);
		return;
	case OP_CREDIT_UPDATE:
		if (!c)
			rst_unknown(v, &h);
		return;
	case OP_CREDIT_REQUEST:
		if (c)
			c->need_credit = true;
		else
			rst_unknown(v, &h);
		return;
	default:
		if (c)
			conn_reset(v, c, true);
		else
			rst_unknown(v, &h);
	}
}

static void send_reset_event(struct vsock *v)
{
	struct vm_vq *q = &v->vdev.vq[EVQ];
	struct vs_err e;
	uint8_t ev[4] = {EVENT_TRANSPORT_RESET};
	int got;

	if (!v->reset_event_pending || !vm_virtio_running(&v->vdev))
		return;
	got = vm_vq_pop(q, &v->el, &e);
	if (got < 0) {
		vm_virtio_set_broken(&v->vdev, "%s", e.msg);
		return;
	}
	if (got == 0)
		return; /* sent when the driver adds an event buffer */
	size_t n = vm_buf_to_iov(v->el.iov + v->el.n_out, v->el.n_in, 0, ev, 4);
	vm_vq_push(q, v->el.head, (uint32_t)n, &e);
	v->reset_event_pending = false;
	vm_virtio_notify_used(&v->vdev, EVQ);
}

static void vsock_queue(struct vm_virtio_dev *d, unsigned qi)
{
	struct vsock *v = d->priv;
	struct vs_err e;
	int got;

	if (qi == TXQ) {
		struct vm_vq *q = &d->vq[TXQ];

		while ((got = vm_vq_pop(q, &v->el, &e)) == 1) {
			handle_tx(v, &v->el);
			if (vm_vq_push(q, v->el.head, 0, &e) < 0) {
				got = -1;
				break;
			}
		}
		if (got < 0) {
			vm_virtio_set_broken(d, "%s", e.msg);
			return;
		}
		vm_virtio_notify_used(d, TXQ);
	} else if (qi == EVQ) {
		send_reset_event(v);
	}
	pump(v);
}

static void vsock_event(void *opaque, uint32_t events)
{
	struct vsock *v = opaque;

	pthread_mutex_lock(&v->vdev.lock);
	pump(v);
	pthread_mutex_unlock(&v->vdev.lock);
}

static void close_all(struct vsock *v)
{
	for (int i = 0; i < MAX_CONNS; i++)
		if (v->conns[i].state != C_FREE)
			conn_close(v, &v->conns[i]);
}

static void vsock_reset(struct vm_virtio_dev *d)
{
	struct vsock *v = d->priv;

	if (v)
		close_all(v); /* the guest forgot every connection */
}

static const struct vm_virtio_ops vsock_vops = {
	.name = "virtio-vsock",
	.type = VIRTIO_ID_VSOCK,
	.pci_class = 0x00ff00,
	.nr_queues = 3,
	.queue_size = 256,
	.config_size = 8,
	.queue_notify = vsock_queue,
	.reset = vsock_reset,
};

static int open_listener(struct vsock *v, struct vs_err *e)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", v->uds_path) >=
	    (int)sizeof(sa.sun_path) - 11) /* room for "_<port>" */
		return vs_fail(e, ENAMETOOLONG, "vsock: uds path %s is too long", v->uds_path);
	v->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (v->listen_fd < 0)
		return vs_fail_errno(e, "vsock: socket");
	unlink(v->uds_path); /* a stale socket from an earlier run */
	if (bind(v->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return vs_fail_errno(e, "vsock: bind %s", v->uds_path);
	if (listen(v->listen_fd, 16) < 0)
		return vs_fail_errno(e, "vsock: listen %s", v->uds_path);
	return 0;
}

static void vsock_free(struct vsock *v)
{
	close_all(v);
	if (v->listen_polled)
		vm_event_del(v->vdev.ctx->loop, v->listen_fd);
	if (v->listen_fd >= 0) {
		close(v->listen_fd);
		unlink(v->uds_path);
	}
	free(v->uds_path);
	free(v);
}

static void vsock_destroy(void)
{
	if (!vs)
		return;
	vm_virtio_destroy(&vs->vdev);
	vsock_free(vs);
	vs = NULL;
}

static int vsock_create(struct vm_ctx *ctx, struct vs_err *e)
{
	const struct vm_vsock_cfg *vc = &ctx->cfg->vsock;
	struct vsock *v;

	if (!vc->enabled || vs)
		return 0;
	/* §5.10.4: CIDs 0-2 are reserved (hypervisor, local, host). */
	if (vc->cid < 3 || vc->cid > 0xffffffffull)
		return vs_fail(e, EINVAL, "vsock: guest cid %llu must be between 3 and 2^32-1",
			       (unsigned long long)vc->cid);
	if (!vc->uds_path || !vc->uds_path[0])
		return vs_fail(e, EINVAL, "vsock: no uds path for the host side");
	v = calloc(1, sizeof(*v));
	if (!v)
		return vs_fail(e, ENOMEM, "vsock");
	v->vdev.ctx = ctx;
	v->listen_fd = -1;
	v->cid = vc->cid;
	v->next_port = EPHEMERAL;
	for (int i = 0; i < MAX_CONNS; i++)
		v->conns[i].fd = -1;
	v->uds_path = strdup(vc->uds_path);
	if (!v->uds_path || open_listener(v, e) < 0) {
		vsock_free(v);
		return -1;
	}
	if (vm_virtio_init(&v->vdev, ctx, &vsock_vops, 0, v, e) < 0) {
		v->vdev.ctx = ctx;
		vsock_free(v);
		return -1;
	}
	put_le(v->vdev.config, v->cid, 8);
	if (ctx->loop) {
		if (vm_event_add(ctx->loop, v->listen_fd, EPOLLIN, vsock_event, v, e) < 0) {
			vm_virtio_destroy(&v->vdev);
			vsock_free(v);
			return -1;
		}
		v->listen_polled = true;
	}
	vs = v;
	return 0;
}

static unsigned vsock_count(void)
{
	return vs ? 1 : 0;
}

#define VSOCK_STATE_VERSION 1

static int vsock_save(unsigned idx, struct vm_state_writer *w)
{
	vm_virtio_save(&vs->vdev, w);
	vm_sw_u32(w, VSOCK_STATE_VERSION);
	vm_sw_u64(w, vs->cid);
	return w->failed ? -1 : 0;
}

static int vsock_restore(unsigned idx, struct vm_state_reader *r, struct vs_err *e)
{
	uint32_t ver;
	uint64_t cid;

	if (vm_virtio_restore(&vs->vdev, r, e) < 0 || vm_sr_u32(r, &ver, e) < 0 ||
	    vm_sr_u64(r, &cid, e) < 0)
		return -1;
	if (ver != VSOCK_STATE_VERSION)
		return vs_fail(e, EINVAL, "vsock: unknown state version %u", ver);
	if (vm_sr_end(r, e) < 0)
		return -1;
	/* Host connections did not survive: the guest must drop its own and
	 * re-read its CID, which may differ on this host (§5.10.6.5). */
	pthread_mutex_lock(&vs->vdev.lock);
	close_all(vs);
	put_le(vs->vdev.config, vs->cid, 8);
	vs->reset_event_pending = true;
	send_reset_event(vs);
	pthread_mutex_unlock(&vs->vdev.lock);
	return 0;
}

const struct vm_device_ops vm_virtio_vsock_ops = {
	.name = "virtio-vsock",
	.order = 20,
	.create = vsock_create,
	.count = vsock_count,
	.save = vsock_save,
	.restore = vsock_restore,
	.destroy = vsock_destroy,
};
VM_DEVICE(vm_virtio_vsock_ops);
