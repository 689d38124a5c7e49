/* virtio-balloon (virtio 1.2 §5.5): target in config space, inflated pages
 * really returned to the host, PFNs outside RAM ignored, statistics kept. */
#include <unistd.h>

#include "test.h"
#include "virtio_harness.h"

#define PFNS 0x200000

static struct vm_virtio_dev *make_balloon(struct vh *h)
{
	struct vs_err e;

	h->cfg.balloon = true;
	if (vm_virtio_balloon_ops.create(&h->ctx, &e) < 0)
		return NULL;
	return vm_virtio_lookup(VIRTIO_ID_BALLOON, 0);
}

TEST(balloon_target_sets_num_pages_and_config_interrupt)
{
	struct vh *h = vh_new();
	struct vm_virtio_dev *d = make_balloon(h);
	struct gq g[3];

	REQUIRE(d);
	vh_bringup(h, d, 1ull << 1, g, 3, 16);
	uint8_t gen = (uint8_t)vh_cc_r(h, d, 0x15, 1);
	CHECK_EQ(vm_balloon_set_target(64ull << 20), 0);
	CHECK_EQ(vh_mr(h, vh_bar(d) + VM_VIRTIO_DEVICE_OFF, 4), (64 << 20) / 4096);
	CHECK(vh_cc_r(h, d, 0x15, 1) != gen);
	CHECK_EQ(vh_mr(h, vh_bar(d) + VM_VIRTIO_ISR_OFF, 1), 2); /* config change */
	/* the driver can report actual, but not change num_pages */
	vh_mw(h, vh_bar(d) + VM_VIRTIO_DEVICE_OFF + 4, 4, 100);
	vh_mw(h, vh_bar(d) + VM_VIRTIO_DEVICE_OFF, 4, 5);
	CHECK_EQ(vh_mr(h, vh_bar(d) + VM_VIRTIO_DEVICE_OFF, 4), (64 << 20) / 4096);
	uint32_t actual = 0;
	struct vm_balloon_stat st[4];
	CHECK_EQ(vm_balloon_get_stats(st, 4, &actual), 0);
	CHECK_EQ(actual, 100);
	vm_virtio_balloon_ops.destroy();
	CHECK_EQ(vm_balloon_set_target(1), -1); /* no balloon any more */
	vh_free(h);
}

TEST(balloon_inflate_returns_pages_and_ignores_pfns_outside_ram)
{
	struct vh *h = vh_new();
	struct vm_virtio_dev *d = make_balloon(h);
	struct gq g[3];
	uint32_t id, len;

	REQUIRE(d);
	vh_bringup(h, d, 0, g, 3, 16);
	memset(h->ram + 0x300000, 0x77, 2 * 4096);
	uint32_t pfns[4] = {0x300, 0x301, 0xfffffff0u, VH_RAM_SIZE / 4096};
	memcpy(h->ram + PFNS, pfns, sizeof(pfns));
	struct gseg s = {PFNS, sizeof(pfns), false};
	gq_add(h, &g[0], &s, 1);
	vh_notify(h, d, 0);
	CHECK_EQ(gq_used(h, &g[0], &id, &len), 1);
	/* MADV_DONTNEED on private anonymous memory: the page reads zero */
	CHECK_EQ(h->ram[0x300000], 0);
	CHECK_EQ(h->ram[0x301fff], 0);
	CHECK(!(vh_status(h, d) & VIRTIO_STATUS_NEEDS_RESET));
	/* deflate hands them back: nothing to do, buffer returned */
	gq_add(h, &g[1], &s, 1);
	vh_notify(h, d, 1);
	CHECK_EQ(gq_used(h, &g[1], &id, &len), 1);
	vm_virtio_balloon_ops.destroy();
	vh_free(h);
}

TEST(balloon_keeps_the_last_statistics)
{
	struct vh *h = vh_new();
	struct vm_virtio_dev *d = make_balloon(h);
	struct gq g[3];
	uint32_t id, len;
	struct vm_balloon_stat st[8];
	uint8_t buf[20];
	uint16_t tag;
	uint64_t val;

	REQUIRE(d);
	vh_bringup(h, d, 1ull << 1, g, 3, 16);
	tag = 4, val = 123456789; /* VIRTIO_BALLOON_S_MEMFREE */
	memcpy(buf, &tag, 2);
	memcpy(buf + 2, &val, 8);
	tag = 5, val = 987654321; /* VIRTIO_BALLOON_S_MEMTOT */
	memcpy(buf + 10, &tag, 2);
	memcpy(buf + 12, &val, 8);
	memcpy(h->ram + PFNS, buf, 20);
	struct gseg s = {PFNS, 20, false};
	gq_add(h, &g[2], &s, 1);
	vh_notify(h, d, 2);
	CHECK_EQ(gq_used(h, &g[2], &id, &len), 0); /* kept until we ask again */
	CHECK_EQ(vm_balloon_get_stats(st, 8, NULL), 2);
	CHECK(st[0].tag == 4 && st[0].val == 123456789);
	CHECK(st[1].tag == 5 && st[1].val == 987654321);
	CHECK_EQ(vm_balloon_request_stats(), 0);
	CHECK_EQ(gq_used(h, &g[2], &id, &len), 1); /* driver may refill now */
	vm_virtio_balloon_ops.destroy();
	vh_free(h);
}

TEST(balloon_state_survives_save_and_restore)
{
	struct vh *h = vh_new();
	struct vm_virtio_dev *d = make_balloon(h);
	struct vm_state_writer w;
	struct vm_state_reader r;
	struct vs_err e;
	struct gq g[3];

	REQUIRE(d);
	vh_bringup(h, d, 1ull << 1, g, 3, 16);
	vm_balloon_set_target(8ull << 20);
	vm_sw_init(&w);
	REQUIRE(vm_virtio_balloon_ops.save(0, &w) == 0);
	vm_virtio_balloon_ops.destroy();
	struct vh *h2 = vh_new();
	memcpy(h2->ram, h->ram, VH_RAM_SIZE);
	struct vm_virtio_dev *d2 = make_balloon(h2);
	REQUIRE(d2);
	vm_sr_init(&r, "virtio-balloon", w.buf, w.len);
	CHECK_EQ(vm_virtio_balloon_ops.restore(0, &r, &e), 0);
	CHECK_EQ(vh_mr(h2, vh_bar(d2) + VM_VIRTIO_DEVICE_OFF, 4), (8 << 20) / 4096);
	CHECK(vh_status(h2, d2) & VIRTIO_STATUS_DRIVER_OK);
	vm_sw_free(&w);
	vm_virtio_balloon_ops.destroy();
	vh_free(h2);
	vh_free(h);
}

TEST(balloon_stats_head_reused_while_held_sets_needs_reset)
{
	struct vh *h = vh_new();
	struct vm_virtio_dev *d = make_balloon(h);
	struct gq g[3];

	REQUIRE(d);
	vh_bringup(h, d, 1ull << 1, g, 3, 16);
	struct gseg s = {PFNS, 10, false};
	uint16_t head = gq_add(h, &g[2], &s, 1);
	vh_notify(h, d, 2);
	CHECK(!(vh_status(h, d) & VIRTIO_STATUS_NEEDS_RESET));
	gq_publish(h, &g[2], head); /* the device still holds this head */
	vh_notify(h, d, 2);
	CHECK(vh_status(h, d) & VIRTIO_STATUS_NEEDS_RESET);
	CHECK_CONTAINS(d->broken_why, "again while in use");
	vm_virtio_balloon_ops.destroy();
	vh_free(h);
}
