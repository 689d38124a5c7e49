/* virtio-rng (virtio 1.2 §5.4): one request queue; every device-writable
 * buffer the driver offers is filled with bytes from getrandom(). */
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#include "vmm/devices/virtio/virtio.h"

struct rng {
	struct vm_virtio_dev vdev;
	struct vm_vq_elem el;
};

static struct rng *rng_dev;

static void rng_queue(struct vm_virtio_dev *d, unsigned qi)
{
	struct rng *r = d->priv;
	struct vm_vq *q = &d->vq[0];
	struct vs_err e;
	int got;

	while ((got = vm_vq_pop(q, &r->el, &e)) == 1) {
		uint32_t filled = 0;

		for (unsigned i = r->el.n_out; i < r->el.n_out + r->el.n_in; i++) {
			uint8_t *p = r->el.iov[i].iov_base;
			size_t left = r->el.iov[i].iov_len;

			while (left) {
				ssize_t n = getrandom(p, left, 0);

				if (n < 0) {
					if (errno == EINTR)
						continue;
					goto done; /* report what we filled */
				}
				p += n;
				left -= (size_t)n;
				filled += (uint32_t)n;
			}
		}
	done:
		if (vm_vq_push(q, r->el.head, filled, &e) < 0)
			break;
	}
	if (got < 0)
		vm_virtio_set_broken(d, "%s", e.msg);
	vm_virtio_notify_used(d, 0);
}

static const struct vm_virtio_ops rng_vops = {
	.name = "virtio-rng",
	.type = VIRTIO_ID_RNG,
	.pci_class = 0x00ff00,
	.nr_queues = 1,
	.queue_size = 256,
	.config_size = 0,
	.queue_notify = rng_queue,
};

static int rng_create(struct vm_ctx *ctx, struct vs_err *e)
{
	struct rng *r;

	if (!ctx->cfg->rng || rng_dev)
		return 0;
	r = calloc(1, sizeof(*r));
	if (!r)
		return vs_fail(e, ENOMEM, "virtio-rng");
	if (vm_virtio_init(&r->vdev, ctx, &rng_vops, 0, r, e) < 0) {
		free(r);
		return -1;
	}
	rng_dev = r;
	return 0;
}

static unsigned rng_count(void)
{
	return rng_dev ? 1 : 0;
}

static int rng_save(unsigned idx, struct vm_state_writer *w)
{
	vm_virtio_save(&rng_dev->vdev, w);
	return w->failed ? -1 : 0;
}

static int rng_restore(unsigned idx, struct vm_state_reader *r, struct vs_err *e)
{
	if (vm_virtio_restore(&rng_dev->vdev, r, e) < 0)
		return -1;
	return vm_sr_end(r, e);
}

static void rng_destroy(void)
{
	if (!rng_dev)
		return;
	vm_virtio_destroy(&rng_dev->vdev);
	free(rng_dev);
	rng_dev = NULL;
}

const struct vm_device_ops vm_virtio_rng_ops = {
	.name = "virtio-rng",
	.order = 20,
	.create = rng_create,
	.count = rng_count,
	.save = rng_save,
	.restore = rng_restore,
	.destroy = rng_destroy,
};
VM_DEVICE(vm_virtio_rng_ops);
