/* virtio-blk (virtio 1.2 §5.2) against a real raw image file, driven by a
 * hand-written guest driver; hostile requests must end in IOERR/UNSUPP or
 * DEVICE_NEEDS_RESET, never in a bad access. */
#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "virtio_harness.h"

#define DISK_SECTORS 2048
#define HDR	     0x200000
#define DATA	     0x210000
#define STAT	     0x220000

struct bt {
	struct vh *h;
	struct vm_virtio_dev *d;
	struct gq g;
	char path[64];
};

static uint8_t pattern(uint64_t off)
{
	return (uint8_t)(off * 7 + (off >> 9));
}

static int make_image(char *path, size_t size)
{
	strcpy(path, "/tmp/vs-blk-XXXXXX");
	int fd = mkstemp(path);
	uint8_t *buf = malloc(size);

	if (fd < 0 || !buf)
		return -1;
	for (size_t i = 0; i < size; i++)
		buf[i] = pattern(i);
	if (write(fd, buf, size) != (ssize_t)size)
		size = 0;
	free(buf);
	close(fd);
	return size ? 0 : -1;
}

static struct bt *bt_new(bool readonly, const char *id)
{
	struct bt *t = calloc(1, sizeof(*t));
	struct vs_err e;

	t->h = vh_new();
	if (make_image(t->path, DISK_SECTORS * 512) < 0)
		abort();
	t->h->cfg.disks[0] =
		(struct vm_disk_cfg){.path = t->path, .readonly = readonly, .id = (char *)id};
	t->h->cfg.nr_disks = 1;
	if (vm_virtio_blk_ops.create(&t->h->ctx, &e) < 0) {
		fprintf(stderr, "  create: %s\n", e.msg);
		abort();
	}
	t->d = vm_virtio_lookup(VIRTIO_ID_BLOCK, 0);
	vh_bringup(t->h, t->d, 1ull << VIRTIO_F_INDIRECT_DESC, &t->g, 1, 128);
	return t;
}

static void bt_free(struct bt *t)
{
	vm_virtio_blk_ops.destroy();
	unlink(t->path);
	vh_free(t->h);
	free(t);
}

static void put_hdr(struct bt *t, uint32_t type, uint64_t sector)
{
	memcpy(t->h->ram + HDR, &type, 4);
	memset(t->h->ram + HDR + 4, 0, 4);
	memcpy(t->h->ram + HDR + 8, &sector, 8);
	t->h->ram[STAT] = 0xee;
}

/* Submits a chain and returns the used length (-1: nothing came back). */
static int64_t submit(struct bt *t, const struct gseg *s, unsigned n)
{
	uint32_t id, len;

	gq_add(t->h, &t->g, s, n);
	vh_notify(t->h, t->d, 0);
	if (gq_used(t->h, &t->g, &id, &len) != 1)
		return -1;
	return len;
}

static int64_t rw(struct bt *t, uint32_t type, uint64_t sector, uint32_t len)
{
	struct gseg s[3] = {{HDR, 16, false}, {DATA, len, type == 0 || type == 8}, {STAT, 1, true}};

	put_hdr(t, type, sector);
	return submit(t, s, 3);
}

TEST(blk_config_reports_capacity_and_features)
{
	struct bt *t = bt_new(false, NULL);
	uint64_t bar = vh_bar(t->d) + VM_VIRTIO_DEVICE_OFF;

	CHECK_EQ(vh_mr(t->h, bar, 8), DISK_SECTORS);
	CHECK_EQ(vh_mr(t->h, bar + 20, 4), 512);
	CHECK_EQ(vh_mr(t->h, bar + 12, 4), 254);
	uint64_t f = vh_dev_features(t->h, t->d);
	CHECK(f & 1ull << 9);	 /* FLUSH */
	CHECK(f & 1ull << 13);	 /* DISCARD */
	CHECK(!(f & 1ull << 5)); /* not RO */
	bt_free(t);
}

TEST(blk_read_lands_in_guest_memory)
{
	struct bt *t = bt_new(false, NULL);
	/* data split over two descriptors */
	struct gseg s[4] = {
		{HDR, 16, false}, {DATA, 700, true}, {DATA + 0x1000, 324, true}, {STAT, 1, true}};
	bool same = true;

	put_hdr(t, 0, 3);
	CHECK_EQ(submit(t, s, 4), 1025);
	CHECK_EQ(t->h->ram[STAT], 0);
	for (int i = 0; i < 1024; i++) {
		uint8_t got = i < 700 ? t->h->ram[DATA + i] : t->h->ram[DATA + 0x1000 + i - 700];
		if (got != pattern(3 * 512 + (uint64_t)i))
			same = false;
	}
	CHECK(same);
	bt_free(t);
}

TEST(blk_write_reaches_the_file_and_flush_succeeds)
{
	struct bt *t = bt_new(false, NULL);
	uint8_t back[512];

	memset(t->h->ram + DATA, 0xab, 512);
	CHECK_EQ(rw(t, 1, 10, 512), 1);
	CHECK_EQ(t->h->ram[STAT], 0);
	int fd = open(t->path, O_RDONLY);
	REQUIRE(fd >= 0);
	CHECK_EQ(pread(fd, back, 512, 10 * 512), 512);
	CHECK(back[0] == 0xab && back[511] == 0xab);
	CHECK_EQ(pread(fd, back, 1, 11 * 512), 1);
	CHECK_EQ(back[0], pattern(11 * 512)); /* neighbour untouched */
	close(fd);
	struct gseg s[2] = {{HDR, 16, false}, {STAT, 1, true}};
	put_hdr(t, 4, 0);
	CHECK_EQ(submit(t, s, 2), 1);
	CHECK_EQ(t->h->ram[STAT], 0);
	bt_free(t);
}

TEST(blk_get_id_returns_configured_serial)
{
	struct bt *t = bt_new(false, "disk-serial-1");

	CHECK_EQ(rw(t, 8, 0, 20), 21);
	CHECK_EQ(t->h->ram[STAT], 0);
	CHECK(memcmp(t->h->ram + DATA, "disk-serial-1\0", 14) == 0);
	bt_free(t);
}

TEST(blk_get_id_is_derived_from_the_file_without_config)
{
	struct bt *t = bt_new(false, NULL);

	CHECK_EQ(rw(t, 8, 0, 20), 21);
	CHECK(memcmp(t->h->ram + DATA, "vs", 2) == 0);
	bt_free(t);
}

TEST(blk_sector_beyond_capacity_is_ioerr)
{
	struct bt *t = bt_new(false, NULL);

	CHECK_EQ(rw(t, 0, DISK_SECTORS - 1, 1024), 1); /* only the status written */
	CHECK_EQ(t->h->ram[STAT], 1);
	CHECK_EQ(rw(t, 1, DISK_SECTORS, 512), 1);
	CHECK_EQ(t->h->ram[STAT], 1);
	/* sector * 512 would overflow 64 bits */
	CHECK_EQ(rw(t, 0, 0xffffffffffffffffull, 512), 1);
	CHECK_EQ(t->h->ram[STAT], 1);
	CHECK(!(vh_status(t->h, t->d) & VIRTIO_STATUS_NEEDS_RESET));
	bt_free(t);
}

TEST(blk_length_not_multiple_of_512_is_ioerr)
{
	struct bt *t = bt_new(false, NULL);

	CHECK_EQ(rw(t, 0, 0, 100), 1);
	CHECK_EQ(t->h->ram[STAT], 1);
	CHECK_EQ(rw(t, 1, 0, 513), 1);
	CHECK_EQ(t->h->ram[STAT], 1);
	bt_free(t);
}

TEST(blk_read_only_disk_refuses_writes_with_ioerr)
{
	struct bt *t = bt_new(true, NULL);
	uint8_t back;

	CHECK(vh_dev_features(t->h, t->d) & 1ull << 5);
	memset(t->h->ram + DATA, 0x11, 512);
	CHECK_EQ(rw(t, 1, 0, 512), 1);
	CHECK_EQ(t->h->ram[STAT], 1);
	int fd = open(t->path, O_RDONLY);
	CHECK_EQ(pread(fd, &back, 1, 0), 1);
	CHECK_EQ(back, pattern(0));
	close(fd);
	CHECK_EQ(rw(t, 0, 0, 512), 513); /* reads still work */
	CHECK_EQ(t->h->ram[STAT], 0);
	bt_free(t);
}

TEST(blk_unknown_request_type_is_unsupp)
{
	struct bt *t = bt_new(false, NULL);

	CHECK_EQ(rw(t, 99, 0, 512), 1);
	CHECK_EQ(t->h->ram[STAT], 2);
	bt_free(t);
}

static int64_t range_op(struct bt *t, uint32_t type, uint64_t sector, uint32_t num, uint32_t flags)
{
	uint8_t seg[16];

	memcpy(seg, &sector, 8);
	memcpy(seg + 8, &num, 4);
	memcpy(seg + 12, &flags, 4);
	memcpy(t->h->ram + DATA, seg, 16);
	struct gseg s[3] = {{HDR, 16, false}, {DATA, 16, false}, {STAT, 1, true}};
	put_hdr(t, type, 0);
	return submit(t, s, 3);
}

TEST(blk_write_zeroes_and_discard_clear_the_range)
{
	struct bt *t = bt_new(false, NULL);
	uint8_t back[1024], zero[1024] = {0};

	CHECK_EQ(range_op(t, 13, 4, 2, 0), 1);
	CHECK_EQ(t->h->ram[STAT], 0);
	int fd = open(t->path, O_RDONLY);
	CHECK_EQ(pread(fd, back, 1024, 4 * 512), 1024);
	CHECK(memcmp(back, zero, 1024) == 0);
	CHECK_EQ(pread(fd, back, 1, 6 * 512), 1);
	CHECK_EQ(back[0], pattern(6 * 512));
	CHECK_EQ(range_op(t, 11, 16, 8, 0), 1);
	CHECK_EQ(t->h->ram[STAT], 0);
	CHECK_EQ(pread(fd, back, 1024, 16 * 512), 1024);
	CHECK(memcmp(back, zero, 1024) == 0); /* punched hole reads zero */
	close(fd);
	CHECK_EQ(range_op(t, 11, 0, 1, 1), 1); /* unmap flag on discard */
	CHECK_EQ(t->h->ram[STAT], 2);
	CHECK_EQ(range_op(t, 13, DISK_SECTORS - 1, 2, 0), 1);
	CHECK_EQ(t->h->ram[STAT], 1);
	bt_free(t);
}

TEST(blk_status_descriptor_read_only_sets_needs_reset)
{
	struct bt *t = bt_new(false, NULL);
	struct gseg s[2] = {{HDR, 16, false}, {STAT, 1, false}};

	put_hdr(t, 0, 0);
	CHECK_EQ(submit(t, s, 2), -1);
	CHECK(vh_status(t->h, t->d) & VIRTIO_STATUS_NEEDS_RESET);
	CHECK_CONTAINS(t->d->broken_why, "status");
	CHECK_EQ(t->h->ram[STAT], 0xee);
	bt_free(t);
}

TEST(blk_writable_data_before_header_sets_needs_reset)
{
	struct bt *t = bt_new(false, NULL);
	struct gseg s[3] = {{DATA, 512, true}, {HDR, 16, false}, {STAT, 1, true}};

	put_hdr(t, 0, 0);
	CHECK_EQ(submit(t, s, 3), -1);
	CHECK(vh_status(t->h, t->d) & VIRTIO_STATUS_NEEDS_RESET);
	bt_free(t);
}

TEST(blk_short_header_is_ioerr)
{
	struct bt *t = bt_new(false, NULL);
	struct gseg s[2] = {{HDR, 8, false}, {STAT, 1, true}};

	put_hdr(t, 0, 0);
	CHECK_EQ(submit(t, s, 2), 1);
	CHECK_EQ(t->h->ram[STAT], 1);
	bt_free(t);
}

TEST(blk_missing_image_is_named_and_nothing_is_left)
{
	struct vh *h = vh_new();
	struct vs_err e;
	char good[64];

	REQUIRE(make_image(good, 4096) == 0);
	h->cfg.disks[0] = (struct vm_disk_cfg){.path = good};
	h->cfg.disks[1] = (struct vm_disk_cfg){.path = "/nonexistent/disk.img"};
	h->cfg.nr_disks = 2;
	CHECK(vm_virtio_blk_ops.create(&h->ctx, &e) < 0);
	CHECK_CONTAINS(e.msg, "/nonexistent/disk.img");
	CHECK_EQ(e.errnum, ENOENT);
	CHECK_EQ(vm_virtio_blk_ops.count(), 0);
	CHECK(h->pci.devs[1] == NULL); /* the good disk was taken down too */
	CHECK(vm_virtio_lookup(VIRTIO_ID_BLOCK, 0) == NULL);
	unlink(good);
	vh_free(h);
}

TEST(blk_directory_or_tiny_file_is_refused)
{
	struct vh *h = vh_new();
	struct vs_err e;
	char tiny[64];

	h->cfg.disks[0] = (struct vm_disk_cfg){.path = "/tmp"};
	h->cfg.nr_disks = 1;
	CHECK(vm_virtio_blk_ops.create(&h->ctx, &e) < 0);
	CHECK_CONTAINS(e.msg, "not a regular file");
	REQUIRE(make_image(tiny, 100) == 0);
	h->cfg.disks[0].path = tiny;
	CHECK(vm_virtio_blk_ops.create(&h->ctx, &e) < 0);
	CHECK_CONTAINS(e.msg, "smaller than one 512-byte sector");
	unlink(tiny);
	vh_free(h);
}

TEST(blk_read_only_file_without_readonly_flag_says_so)
{
	struct vh *h = vh_new();
	struct vs_err e;
	char img[64];

	REQUIRE(make_image(img, 4096) == 0);
	/* root ignores mode bits: a read-only bind mount makes it EROFS */
	if (mount(img, img, NULL, MS_BIND, NULL) < 0) {
		unlink(img);
		vh_free(h);
		SKIP("cannot bind-mount: %s", strerror(errno));
	}
	if (mount(NULL, img, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0) {
		umount2(img, MNT_DETACH);
		unlink(img);
		vh_free(h);
		SKIP("cannot remount read-only: %s", strerror(errno));
	}
	h->cfg.disks[0] = (struct vm_disk_cfg){.path = img};
	h->cfg.nr_disks = 1;
	CHECK(vm_virtio_blk_ops.create(&h->ctx, &e) < 0);
	CHECK_CONTAINS(e.msg, img);
	CHECK_CONTAINS(e.msg, "readonly");
	h->cfg.disks[0].readonly = true;
	CHECK_EQ(vm_virtio_blk_ops.create(&h->ctx, &e), 0);
	vm_virtio_blk_ops.destroy();
	umount2(img, MNT_DETACH);
	unlink(img);
	vh_free(h);
}

TEST(blk_restore_refuses_a_disk_of_another_size)
{
	struct bt *t = bt_new(false, NULL);
	struct vm_state_writer w;
	struct vm_state_reader r;
	struct vs_err e;

	vm_sw_init(&w);
	REQUIRE(vm_virtio_blk_ops.save(0, &w) == 0);
	vm_sr_init(&r, "virtio-blk", w.buf, w.len);
	CHECK_EQ(vm_virtio_blk_ops.restore(0, &r, &e), 0);
	REQUIRE(truncate(t->path, 4096) == 0);
	vm_virtio_blk_ops.destroy();
	struct vh *h2 = vh_new();
	h2->cfg = t->h->cfg;
	REQUIRE(vm_virtio_blk_ops.create(&h2->ctx, &e) == 0);
	vm_sr_init(&r, "virtio-blk", w.buf, w.len);
	CHECK(vm_virtio_blk_ops.restore(0, &r, &e) < 0);
	CHECK_CONTAINS(e.msg, "snapshot expects 2048");
	vm_sw_free(&w);
	vm_virtio_blk_ops.destroy();
	vh_free(h2);
	unlink(t->path);
	vh_free(t->h);
	free(t);
}

/* Each hostile chain, sent to a live virtio-blk through the transport, must
 * end in DEVICE_NEEDS_RESET with a config interrupt, touch nothing outside
 * guest RAM (ASan), and leave the device usable after a reset. */
struct hostile {
	const char *name;
	void (*build)(struct bt *t);
	const char *why;
};

static void h_loop(struct bt *t)
{
	gq_desc(t->h, t->g.desc, 0, HDR, 16, VIRTQ_DESC_F_NEXT, 1);
	gq_desc(t->h, t->g.desc, 1, DATA, 512, VIRTQ_DESC_F_NEXT, 0);
	gq_publish(t->h, &t->g, 0);
}

static void h_outside(struct bt *t)
{
	gq_desc(t->h, t->g.desc, 0, HDR, 16, VIRTQ_DESC_F_NEXT, 1);
	gq_desc(t->h, t->g.desc, 1, 0x7fff0000, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
	gq_desc(t->h, t->g.desc, 2, STAT, 1, VIRTQ_DESC_F_WRITE, 0);
	gq_publish(t->h, &t->g, 0);
}

static void h_wrap(struct bt *t)
{
	gq_desc(t->h, t->g.desc, 0, 0xfffffffffffffff0ull, 0x20, 0, 0);
	gq_publish(t->h, &t->g, 0);
}

static void h_cross_end(struct bt *t)
{
	gq_desc(t->h, t->g.desc, 0, HDR, 16, VIRTQ_DESC_F_NEXT, 1);
	gq_desc(t->h, t->g.desc, 1, VH_RAM_SIZE - 256, 512, VIRTQ_DESC_F_WRITE, 0);
	gq_publish(t->h, &t->g, 0);
}

static void h_ind_len(struct bt *t)
{
	gq_desc(t->h, t->g.desc, 0, 0x230000, 40, VIRTQ_DESC_F_INDIRECT, 0);
	gq_publish(t->h, &t->g, 0);
}

static void h_ind_nested(struct bt *t)
{
	gq_desc(t->h, 0x230000, 0, 0x231000, 32, VIRTQ_DESC_F_INDIRECT, 0);
	gq_desc(t->h, t->g.desc, 0, 0x230000, 16, VIRTQ_DESC_F_INDIRECT, 0);
	gq_publish(t->h, &t->g, 0);
}

static void h_avail_jump(struct bt *t)
{
	vh_w16(t->h, t->g.avail + 2, (uint16_t)(t->g.size + 1));
}

static void h_revisit(struct bt *t)
{
	/* a chain that comes back to its own head after two hops */
	gq_desc(t->h, t->g.desc, 5, DATA, 16, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 6);
	gq_desc(t->h, t->g.desc, 6, STAT, 1, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 5);
	gq_publish(t->h, &t->g, 5);
}

static void h_order(struct bt *t)
{
	struct gseg s[3] = {{HDR, 16, false}, {STAT, 1, true}, {DATA, 512, false}};

	gq_add(t->h, &t->g, s, 3);
}

static void h_status_ro(struct bt *t)
{
	struct gseg s[3] = {{HDR, 16, false}, {DATA, 512, false}, {STAT, 1, false}};

	put_hdr(t, 1, 0);
	gq_add(t->h, &t->g, s, 3);
}

static void h_next_oob(struct bt *t)
{
	gq_desc(t->h, t->g.desc, 0, HDR, 16, VIRTQ_DESC_F_NEXT, 999);
	gq_publish(t->h, &t->g, 0);
}

TEST(blk_hostile_chains_set_needs_reset_and_vmm_survives)
{
	static const struct hostile cases[] = {
		{"descriptor loop", h_loop, "loop"},
		{"buffer outside RAM", h_outside, "outside guest memory"},
		{"address+len wraps", h_wrap, "wraps"},
		{"buffer crosses end of RAM", h_cross_end, "outside guest memory"},
		{"indirect length", h_ind_len, "multiple of 16"},
		{"nested indirect", h_ind_nested, "nested indirect"},
		{"avail idx jump", h_avail_jump, "ahead"},
		{"chain revisits head", h_revisit, "loop"},
		{"readable after writable", h_order, "readable descriptor after a writable"},
		{"status read-only", h_status_ro, "status"},
		{"next out of range", h_next_oob, "next 999"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bt *t = bt_new(false, NULL);
		uint32_t id, len;

		cases[i].build(t);
		vh_notify(t->h, t->d, 0);
		uint8_t st = vh_status(t->h, t->d);
		if (!(st & VIRTIO_STATUS_NEEDS_RESET) || !strstr(t->d->broken_why, cases[i].why)) {
			fprintf(stderr, "  case \"%s\": status %#x, why \"%s\"\n", cases[i].name,
				st, t->d->broken_why);
			CHECK(0);
		}
		CHECK(t->h->line[VM_PCI_INTX_GSI(t->d->pci.slot)]); /* config interrupt */
		/* a reset brings the device back */
		vh_bringup(t->h, t->d, 1ull << VIRTIO_F_INDIRECT_DESC, &t->g, 1, 128);
		CHECK_EQ(rw(t, 0, 0, 512), 513);
		CHECK_EQ(t->h->ram[STAT], 0);
		(void)id;
		(void)len;
		bt_free(t);
	}
}
