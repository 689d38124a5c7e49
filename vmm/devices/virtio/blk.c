/*
 * virtio-blk (virtio 1.2 §5.2) over a raw image file or block device. Data
 * moves with preadv/pwritev straight between the file and guest memory (the
 * iovecs the queue layer resolved), so there is no bounce buffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vessel/cleanup.h"
#include "vessel/le.h"
#include "vmm/devices/virtio/virtio.h"

/* Feature bits (§5.2.3). */
#define BLK_F_SEG_MAX	   2
#define BLK_F_RO	   5
#define BLK_F_BLK_SIZE	   6
#define BLK_F_FLUSH	   9
#define BLK_F_DISCARD	   13
#define BLK_F_WRITE_ZEROES 14

/* Request types and status (§5.2.6). */
#define BLK_T_IN	   0
#define BLK_T_OUT	   1
#define BLK_T_FLUSH	   4
#define BLK_T_GET_ID	   8
#define BLK_T_DISCARD	   11
#define BLK_T_WRITE_ZEROES 13
#define BLK_S_OK	   0
#define BLK_S_IOERR	   1
#define BLK_S_UNSUPP	   2

#define BLK_ID_BYTES	 20
#define SECTOR		 512ull
#define QUEUE_SIZE	 256
#define MAX_DISCARD_SECT 0x400000u /* 2 GiB per segment */
#define MAX_DISCARD_SEG	 16

/* Config layout offsets (§5.2.4). */
#define CFG_CAPACITY	    0
#define CFG_SEG_MAX	    12
#define CFG_BLK_SIZE	    20
#define CFG_NUM_QUEUES	    34
#define CFG_MAX_DISCARD	    36
#define CFG_MAX_DISCARD_SEG 40
#define CFG_DISCARD_ALIGN   44
#define CFG_MAX_WZ	    48
#define CFG_MAX_WZ_SEG	    52
#define CFG_WZ_MAY_UNMAP    56
#define CFG_SIZE	    60

struct blk {
	struct vm_virtio_dev vdev;
	int fd;
	bool readonly;
	uint64_t capacity; /* in 512-byte sectors */
	char id[BLK_ID_BYTES];
	char *path;
	struct vm_vq_elem el;
};

static struct blk *blks[VM_MAX_DISKS];
static unsigned nr_blks;

static uint64_t get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Sector range check without overflow: [sector, sector + n) within capacity. */
static bool in_range(const struct blk *b, uint64_t sector, uint64_t n)
{
	return sector <= b->capacity && n <= b->capacity - sector;
}

/* Full preadv/pwritev over a scatter list, resuming after short transfers. */
static int rw_full(struct blk *b, struct iovec *iov, unsigned n, uint64_t off, bool write)
{
	while (n) {
		ssize_t r = write ? pwritev(b->fd, iov, (int)n, (off_t)off)
				  : preadv(b->fd, iov, (int)n, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1; /* error, or the file shrank under us */
		off += (uint64_t)r;
		while (n && (size_t)r >= iov->iov_len) {
			r -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n) {
			iov->iov_base = (uint8_t *)iov->iov_base + r;
			iov->iov_len -= (size_t)r;
		}
	}
	return 0;
}

/* DISCARD and WRITE_ZEROES: an array of {le64 sector, le32 num_sectors,
 * le32 flags} after the header (§5.2.6). */
static uint8_t do_ranges(struct blk *b, const struct vm_vq_elem *el, uint32_t type)
{
	uint64_t bytes = el->out_len - 16;
	uint8_t seg[16];

	if (bytes == 0 || bytes % 16 || bytes / 16 > MAX_DISCARD_SEG)
		return BLK_S_IOERR;
	if (b->readonly)
		return BLK_S_IOERR;
	for (uint64_t i = 0; i < bytes / 16; i++) {
		vm_iov_to_buf(el->iov, el->n_out, 16 + 16 * i, seg, 16);
		uint64_t sector = get_le(seg, 8);
		uint32_t num = (uint32_t)get_le(seg + 8, 4), flags = (uint32_t)get_le(seg + 12, 4);
		int mode;

		if (num > MAX_DISCARD_SECT || !in_range(b, sector, num))
			return BLK_S_IOERR;
		/* §5.2.6.2: unmap is only defined for WRITE_ZEROES; other flag
		 * bits are reserved. */
		if (flags & ~1u || (type == BLK_T_DISCARD && flags))
			return BLK_S_UNSUPP;
		if (type == BLK_T_DISCARD || flags)
			mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
		else
			mode = FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
		if (!num)
			continue;
		if (fallocate(b->fd, mode, (off_t)(sector * SECTOR), (off_t)(num * SECTOR)) < 0) {
			if (type == BLK_T_DISCARD && errno == EOPNOTSUPP)
				continue; /* discard is a hint */
			return BLK_S_IOERR;
		}
	}
	return BLK_S_OK;
}

/* Executes one request; returns the bytes written into the chain (status
 * included), or -1 when the chain has nowhere to put a status byte. */
static int64_t do_request(struct blk *b, struct vm_vq_elem *el)
{
	struct iovec data[VM_VQ_MAX_SIZE];
	uint8_t hdr[16], status = BLK_S_OK;
	uint64_t written = 0, sector;
	uint32_t type;
	unsigned n;

	/* §5.2.6: the status byte is the last device-writable byte. */
	if (el->in_len == 0)
		return -1;
	if (el->out_len < 16) {
		status = BLK_S_IOERR;
		goto out;
	}
	vm_iov_to_buf(el->iov, el->n_out, 0, hdr, 16);
	type = (uint32_t)get_le(hdr, 4);
	sector = get_le(hdr + 8, 8);

	switch (type) {
	case BLK_T_IN: {
		uint64_t len = el->in_len - 1;

		if (el->out_len != 16 || len % SECTOR || !in_range(b, sector, len / SECTOR)) {
			status = BLK_S_IOERR;
			break;
		}
		n = vm_iov_slice(el->iov + el->n_out, el->n_in, 0, 1, data, VM_VQ_MAX_SIZE);
		if (len && rw_full(b, data, n, sector * SECTOR, false) < 0) {
			status = BLK_S_IOERR;
			break;
		}
		written = len;
		break;
	}
	case BLK_T_OUT: {
		uint64_t len = el->out_len - 16;

		if (b->readonly || len % SECTOR || el->in_len != 1 ||
		    !in_range(b, sector, len / SECTOR)) {
			status = BLK_S_IOERR;
			break;
		}
		n = vm_iov_slice(el->iov, el->n_out, 16, 0, data, VM_VQ_MAX_SIZE);
		if (len && rw_full(b, data, n, sector * SECTOR, true) < 0)
			status = BLK_S_IOERR;
		break;
	}
	case BLK_T_FLUSH:
		if (!b->readonly && fdatasync(b->fd) < 0)
			status = BLK_S_IOERR;
		break;
	case BLK_T_GET_ID: {
		uint64_t len = el->in_len - 1;

		if (len > BLK_ID_BYTES)
			len = BLK_ID_BYTES;
		written = vm_buf_to_iov(el->iov + el->n_out, el->n_in, 0, b->id, len);
		break;
	}
	case BLK_T_DISCARD:
	case BLK_T_WRITE_ZEROES: status = do_ranges(b, el, type); break;
	default: status = BLK_S_UNSUPP;
	}
out:
	vm_buf_to_iov(el->iov + el->n_out, el->n_in, el->in_len - 1, &status, 1);
	return (int64_t)written + 1;
}

static void blk_queue(struct vm_virtio_dev *d, unsigned qi)
{
	struct blk *b = d->priv;
	struct vm_vq *q = &d->vq[0];
	struct vs_err e;
	int got;

	while ((got = vm_vq_pop(q, &b->el, &e)) == 1) {
		int64_t used = do_request(b, &b->el);

		if (used < 0) {
			vm_virtio_set_broken(
				d, "queue 0: head %u: request without a writable status byte",
				b->el.head);
			break;
		}
		if (vm_vq_push(q, b->el.head, (uint32_t)used, &e) < 0) {
			got = -1;
			break;
		}
	}
	if (got < 0)
		vm_virtio_set_broken(d, "%s", e.msg);
	vm_virtio_notify_used(d, 0);
}

static const struct vm_virtio_ops blk_vops = {
	.name = "virtio-blk",
	.type = VIRTIO_ID_BLOCK,
	.pci_class = 0x018000, /* mass storage, other */
	.nr_queues = 1,
	.queue_size = QUEUE_SIZE,
	.config_size = CFG_SIZE,
	.queue_notify = blk_queue,
};

/* Opens the image with an error that names it and says what to do. */
static int open_disk(struct blk *b, const struct vm_disk_cfg *dc, unsigned i, struct vs_err *e)
{
	struct stat st;
	uint64_t size;

	b->fd = open(dc->path, (dc->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (b->fd < 0) {
		if (errno == EISDIR)
			return vs_fail(e, EISDIR,
				       "disk %u (%s): not a regular file or block device", i,
				       dc->path);
		if (!dc->readonly && (errno == EACCES || errno == EROFS || errno == EPERM) &&
		    access(dc->path, R_OK) == 0)
			return vs_fail_errno(
				e,
				"disk %u (%s): cannot open for writing; add readonly to use it read-only",
				i, dc->path);
		return vs_fail_errno(e, "disk %u (%s): cannot open", i, dc->path);
	}
	if (fstat(b->fd, &st) < 0)
		return vs_fail_errno(e, "disk %u (%s): stat", i, dc->path);
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(b->fd, BLKGETSIZE64, &size) < 0)
			return vs_fail_errno(e, "disk %u (%s): BLKGETSIZE64", i, dc->path);
	} else if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
	} else {
		return vs_fail(e, EINVAL, "disk %u (%s): not a regular file or block device", i,
			       dc->path);
	}
	if (size < SECTOR)
		return vs_fail(e, EINVAL, "disk %u (%s): smaller than one 512-byte sector", i,
			       dc->path);
	b->capacity = size / SECTOR;
	/* The serial the guest sees (/sys/block/vdX/serial): the configured
	 * id, or one derived from the file's identity so it is stable. */
	if (dc->id && dc->id[0]) {
		if (strlen(dc->id) > BLK_ID_BYTES)
			return vs_fail(e, EINVAL, "disk %u (%s): id \"%s\" is longer than %d bytes",
				       i, dc->path, dc->id, BLK_ID_BYTES);
		strncpy(b->id, dc->id, BLK_ID_BYTES);
	} else {
		char tmp[64];

		snprintf(tmp, sizeof(tmp), "vs%llx-%llx", (unsigned long long)st.st_dev,
			 (unsigned long long)st.st_ino);
		memcpy(b->id, tmp, strnlen(tmp, BLK_ID_BYTES));
	}
	return 0;
}

static void fill_config(struct blk *b)
{
	uint8_t *c = b->vdev.config;

	for (int i = 0; i < 8; i++)
		c[CFG_CAPACITY + i] = (uint8_t)(b->capacity >> (8 * i));
	vs_le_put32(c + CFG_SEG_MAX, QUEUE_SIZE - 2); /* header and status take two */
	vs_le_put32(c + CFG_BLK_SIZE, SECTOR);
	c[CFG_NUM_QUEUES] = 1;
	vs_le_put32(c + CFG_MAX_DISCARD, MAX_DISCARD_SECT);
	vs_le_put32(c + CFG_MAX_DISCARD_SEG, MAX_DISCARD_SEG);
	vs_le_put32(c + CFG_DISCARD_ALIGN, 1);
	vs_le_put32(c + CFG_MAX_WZ, MAX_DISCARD_SECT);
	vs_le_put32(c + CFG_MAX_WZ_SEG, MAX_DISCARD_SEG);
	c[CFG_WZ_MAY_UNMAP] = 1;
}

static void free_blk(struct blk *b)
{
	if (b->fd >= 0)
		close(b->fd);
	free(b->path);
	free(b);
}

static void blk_destroy(void)
{
	for (unsigned i = 0; i < nr_blks; i++) {
		vm_virtio_destroy(&blks[i]->vdev);
		free_blk(blks[i]);
		blks[i] = NULL;
	}
	nr_blks = 0;
}

static int blk_create(struct vm_ctx *ctx, struct vs_err *e)
{
	for (unsigned i = 0; i < ctx->cfg->nr_disks && i < VM_MAX_DISKS; i++) {
		const struct vm_disk_cfg *dc = &ctx->cfg->disks[i];
		struct blk *b = calloc(1, sizeof(*b));
		uint64_t feat;

		if (!b) {
			vs_fail(e, ENOMEM, "virtio-blk: disk %u", i);
			goto fail;
		}
		b->fd = -1;
		b->readonly = dc->readonly;
		b->path = dc->path ? strdup(dc->path) : NULL;
		if (!b->path) {
			vs_fail(e, EINVAL, "virtio-blk: disk %u has no path", i);
			free_blk(b);
			goto fail;
		}
		if (open_disk(b, dc, i, e) < 0) {
			free_blk(b);
			goto fail;
		}
		feat = 1ull << BLK_F_SEG_MAX | 1ull << BLK_F_BLK_SIZE | 1ull << BLK_F_FLUSH;
		if (b->readonly)
			feat |= 1ull << BLK_F_RO;
		else
			feat |= 1ull << BLK_F_DISCARD | 1ull << BLK_F_WRITE_ZEROES;
		if (vm_virtio_init(&b->vdev, ctx, &blk_vops, feat, b, e) < 0) {
			vs_err_prefix(e, "disk %u (%s)", i, dc->path);
			free_blk(b);
			goto fail;
		}
		fill_config(b);
		blks[nr_blks++] = b;
	}
	return 0;
fail:
	blk_destroy(); /* nothing half-created stays behind */
	return -1;
}

static unsigned blk_count(void)
{
	return nr_blks;
}

#define BLK_STATE_VERSION 1

static int blk_save(unsigned idx, struct vm_state_writer *w)
{
	struct blk *b = blks[idx];

	vm_virtio_save(&b->vdev, w);
	vm_sw_u32(w, BLK_STATE_VERSION);
	vm_sw_u64(w, b->capacity);
	return w->failed ? -1 : 0;
}

static int blk_restore(unsigned idx, struct vm_state_reader *r, struct vs_err *e)
{
	struct blk *b = blks[idx];
	uint32_t ver;
	uint64_t cap;

	if (vm_virtio_restore(&b->vdev, r, e) < 0 || vm_sr_u32(r, &ver, e) < 0 ||
	    vm_sr_u64(r, &cap, e) < 0)
		return -1;
	if (ver != BLK_STATE_VERSION)
		return vs_fail(e, EINVAL, "virtio-blk %s: unknown state version %u", b->path, ver);
	/* The guest's view of the disk must not change under it. */
	if (cap != b->capacity)
		return vs_fail(e, EINVAL,
			       "virtio-blk %s: disk has %llu sectors, snapshot expects %llu",
			       b->path, (unsigned long long)b->capacity, (unsigned long long)cap);
	fill_config(b);
	return vm_sr_end(r, e);
}

const struct vm_device_ops vm_virtio_blk_ops = {
	.name = "virtio-blk",
	.order = 20,
	.create = blk_create,
	.count = blk_count,
	.save = blk_save,
	.restore = blk_restore,
	.destroy = blk_destroy,
};
VM_DEVICE(vm_virtio_blk_ops);
