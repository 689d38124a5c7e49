/*
 * virtio-console (virtio 1.2 §5.3) with a single port (no MULTIPORT):
 * receiveq 0 carries host input to the guest, transmitq 1 guest output to
 * the host. The host side is cfg->console: stdout (input from stdin when it
 * can be polled), a file (output only) or a pseudo-terminal.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <termios.h>
#include <unistd.h>

#include "vessel/log.h"
#include "vmm/devices/virtio/virtio.h"

#define CONSOLE_F_EMERG_WRITE 2 /* §5.3.3 */
#define CFG_COLS	      0
#define CFG_ROWS	      2
#define CFG_MAX_PORTS	      4
#define CFG_EMERG_WR	      8
#define CFG_SIZE	      12
#define RXQ		      0
#define TXQ		      1

struct console {
	struct vm_virtio_dev vdev;
	int out_fd, in_fd;
	bool own_out;  /* out_fd is ours to close */
	int pty_slave; /* kept open so the master never sees HUP */
	char pty_path[64];
	bool in_polled; /* in_fd is registered in the loop */
	bool in_paused; /* no guest buffers: input left in the fd */
	struct vm_vq_elem el;
};

static struct console *con;

/* Writes all of buf to the host side; a full pty (nobody reading) drops the
 * rest rather than stalling the device loop. */
static void out_write(struct console *c, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(c->out_fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

static void console_tx(struct vm_virtio_dev *d)
{
	struct console *c = d->priv;
	struct vm_vq *q = &d->vq[TXQ];
	struct vs_err e;
	int got;

	while ((got = vm_vq_pop(q, &c->el, &e)) == 1) {
		for (unsigned i = 0; i < c->el.n_out; i++)
			out_write(c, c->el.iov[i].iov_base, c->el.iov[i].iov_len);
		if (vm_vq_push(q, c->el.head, 0, &e) < 0) {
			got = -1;
			break;
		}
	}
	if (got < 0)
		vm_virtio_set_broken(d, "%s", e.msg);
	vm_virtio_notify_used(d, TXQ);
}

static bool input_ready(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 0) == 1 && (p.revents & (POLLIN | POLLHUP));
}

static void set_polling(struct console *c, bool on)
{
	if (!c->in_polled || c->in_paused == !on)
		return;
	c->in_paused = !on;
	vm_event_mod(c->vdev.ctx->loop, c->in_fd, on ? EPOLLIN : 0, NULL);
}

/* Moves pending host input into the guest's receive buffers. */
static void console_rx(struct vm_virtio_dev *d)
{
	struct console *c = d->priv;
	struct vm_vq *q = &d->vq[RXQ];
	struct vs_err e;
	bool pushed = false;

	if (c->in_fd < 0 || !vm_virtio_running(d))
		return;
	while (input_ready(c->in_fd)) {
		int got = vm_vq_pop(q, &c->el, &e);
		ssize_t n;

		if (got < 0) {
			vm_virtio_set_broken(d, "%s", e.msg);
			return;
		}
		if (got == 0) {
			set_polling(c, false); /* resumed by the next rx notify */
			break;
		}
		do {
			n = c->el.n_in ? readv(c->in_fd, c->el.iov + c->el.n_out, (int)c->el.n_in)
				       : 0;
		} while (n < 0 && errno == EINTR);
		if (n <= 0 && c->el.n_in) {
			/* EOF or error: stop listening, give the buffer back */
			if (c->in_polled)
				vm_event_del(d->ctx->loop, c->in_fd);
			c->in_polled = false;
			c->in_fd = -1;
			n = 0;
		}
		if (vm_vq_push(q, c->el.head, (uint32_t)n, &e) < 0)
			return;
		pushed = true;
		if (c->in_fd < 0)
			break;
	}
	if (pushed)
		vm_virtio_notify_used(d, RXQ);
}

static void console_queue(struct vm_virtio_dev *d, unsigned q)
{
	struct console *c = d->priv;

	if (q == TXQ) {
		console_tx(d);
		return;
	}
	set_polling(c, true);
	console_rx(d);
}

static void input_event(void *opaque, uint32_t events)
{
	struct console *c = opaque;

	pthread_mutex_lock(&c->vdev.lock);
	if (vm_virtio_running(&c->vdev))
		console_rx(&c->vdev);
	else
		set_polling(c, false); /* DRIVER_OK's first rx notify resumes */
	pthread_mutex_unlock(&c->vdev.lock);
}

/* §5.3.4: a write to emerg_wr outputs one character, before or without
 * any queue. */
static void console_config_write(struct vm_virtio_dev *d, uint32_t off, uint32_t len)
{
	struct console *c = d->priv;

	if (off == CFG_EMERG_WR && len == 4 && vm_virtio_has_feature(d, CONSOLE_F_EMERG_WRITE))
		out_write(c, &d->config[CFG_EMERG_WR], 1);
	memset(&d->config[CFG_EMERG_WR], 0, 4);
}

static const struct vm_virtio_ops console_vops = {
	.name = "virtio-console",
	.type = VIRTIO_ID_CONSOLE,
	.pci_class = 0x078000, /* simple communication controller, other */
	.nr_queues = 2,
	.queue_size = 256,
	.config_size = CFG_SIZE,
	.config_write = console_config_write,
	.queue_notify = console_queue,
};

static int open_pty(struct console *c, struct vs_err *e)
{
	struct termios t;
	const char *name;
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (m < 0)
		return vs_fail_errno(e, "virtio-console: posix_openpt");
	if (grantpt(m) < 0 || unlockpt(m) < 0 || !(name = ptsname(m))) {
		close(m);
		return vs_fail_errno(e, "virtio-console: pty setup");
	}
	snprintf(c->pty_path, sizeof(c->pty_path), "%s", name);
	c->pty_slave = open(c->pty_path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (c->pty_slave < 0) {
		close(m);
		return vs_fail_errno(e, "virtio-console: open %s", c->pty_path);
	}
	/* raw: the guest's own line discipline does the editing */
	if (tcgetattr(c->pty_slave, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(c->pty_slave, TCSANOW, &t);
	}
	fcntl(m, F_SETFL, fcntl(m, F_GETFL) | O_NONBLOCK);
	c->out_fd = c->in_fd = m;
	c->own_out = true;
	vs_info("virtio-console: pty %s", c->pty_path);
	return 0;
}

static void console_free(struct console *c)
{
	if (c->in_polled)
		vm_event_del(c->vdev.ctx->loop, c->in_fd);
	if (c->own_out && c->out_fd >= 0)
		close(c->out_fd);
	if (c->pty_slave >= 0)
		close(c->pty_slave);
	free(c);
}

static void console_destroy(void)
{
	if (!con)
		return;
	vm_virtio_destroy(&con->vdev);
	console_free(con);
	con = NULL;
}

static int console_create(struct vm_ctx *ctx, struct vs_err *e)
{
	const struct vm_console_cfg *cc = &ctx->cfg->console;
	struct console *c;

	if (cc->kind == VM_CONSOLE_NONE || con)
		return 0;
	c = calloc(1, sizeof(*c));
	if (!c)
		return vs_fail(e, ENOMEM, "virtio-console");
	c->out_fd = c->in_fd = c->pty_slave = -1;
	c->vdev.ctx = ctx;
	switch (cc->kind) {
	case VM_CONSOLE_STDOUT:
		c->out_fd = STDOUT_FILENO;
		c->in_fd = STDIN_FILENO;
		break;
	case VM_CONSOLE_FILE:
		if (!cc->path) {
			free(c);
			return vs_fail(e, EINVAL, "virtio-console: file console without a path");
		}
		c->out_fd = open(cc->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (c->out_fd < 0) {
			vs_fail_errno(e, "virtio-console: open %s", cc->path);
			free(c);
			return -1;
		}
		c->own_out = true;
		break;
	case VM_CONSOLE_PTY:
		if (open_pty(c, e) < 0) {
			console_free(c);
			return -1;
		}
		break;
	default: free(c); return 0;
	}
	if (vm_virtio_init(&c->vdev, ctx, &console_vops, 1ull << CONSOLE_F_EMERG_WRITE, c, e) < 0) {
		c->vdev.ctx = ctx;
		console_free(c);
		return -1;
	}
	c->vdev.config[CFG_MAX_PORTS] = 1;
	/* Input through the loop; a regular file or /dev/null on stdin cannot
	 * be polled and simply gives no input. */
	if (c->in_fd >= 0 && ctx->loop &&
	    vm_event_add(ctx->loop, c->in_fd, EPOLLIN, input_event, c, NULL) == 0)
		c->in_polled = true;
	else if (!ctx->loop && c->in_fd >= 0 && cc->kind == VM_CONSOLE_STDOUT)
		c->in_fd = -1; /* no loop (tests): do not read the test's stdin */
	con = c;
	return 0;
}

const char *vm_virtio_console_pty(void)
{
	return con && con->pty_path[0] ? con->pty_path : NULL;
}

static unsigned console_count(void)
{
	return con ? 1 : 0;
}

static int console_save(unsigned idx, struct vm_state_writer *w)
{
	vm_virtio_save(&con->vdev, w);
	return w->failed ? -1 : 0;
}

static int console_restore(unsigned idx, struct vm_state_reader *r, struct vs_err *e)
{
	if (vm_virtio_restore(&con->vdev, r, e) < 0)
		return -1;
	return vm_sr_end(r, e);
}

const struct vm_device_ops vm_virtio_console_ops = {
	.name = "virtio-console",
	.order = 20,
	.create = console_create,
	.count = console_count,
	.save = console_save,
	.restore = console_restore,
	.destroy = console_destroy,
};
VM_DEVICE(vm_virtio_console_ops);
