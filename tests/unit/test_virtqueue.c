/* Split virtqueue parsing (virtio 1.2 §2.7) against correct and hostile
 * drivers. Guest memory is a 4 MiB buffer; ASan watches every access. */
#include <errno.h>

#include "test.h"
#include "virtio_harness.h"

#define QBASE 0x10000
#define BUF   0x100000

struct qt {
	struct vh *h;
	struct gq g;
	struct vm_vq q;
	struct vm_vq_elem el;
	struct vs_err e;
};

static struct qt *qt_new(uint16_t size, bool indirect, bool event_idx)
{
	struct qt *t = calloc(1, sizeof(*t));

	t->h = vh_new();
	gq_init(&t->g, QBASE, size);
	vm_vq_reset(&t->q, 0, 256);
	t->q.size = size;
	t->q.desc_gpa = t->g.desc;
	t->q.avail_gpa = t->g.avail;
	t->q.used_gpa = t->g.used;
	t->q.indirect = indirect;
	t->q.event_idx = event_idx;
	if (vm_vq_enable(&t->q, &t->h->mem, &t->e) < 0)
		abort();
	return t;
}

static void qt_free(struct qt *t)
{
	vh_free(t->h);
	free(t);
}

TEST(pop_returns_readable_then_writable_segments)
{
	struct qt *t = qt_new(8, false, false);
	struct gseg s[3] = {{BUF, 16, false}, {BUF + 0x1000, 512, true}, {BUF + 0x2000, 1, true}};

	memcpy(t->h->ram + BUF, "header-bytes-16!", 16);
	uint16_t head = gq_add(t->h, &t->g, s, 3);
	CHECK_EQ(vm_vq_pop(&t->q, &t->el, &t->e), 1);
	CHECK_EQ(t->el.head, head);
	CHECK_EQ(t->el.n_out, 1);
	CHECK_EQ(t->el.n_in, 2);
	CHECK_EQ(t->el.out_len, 16);
	CHECK_EQ(t->el.in_len, 513);
	CHECK(t->el.iov[0].iov_base == t->h->ram + BUF);
	CHECK(t->el.iov[2].iov_base == t->h->ram + BUF + 0x2000);
	CHECK_EQ(vm_vq_pop(&t->q, &t->el, &t->e), 0);
	CHECK_EQ(vm_vq_push(&t->q, head, 513, &t->e), 0);
	uint32_t id, len;
	CHECK_EQ(gq_used(t->h, &t->g, &id, &len), 1);
	CHECK_EQ(id, head);
	CHECK_EQ(len, 513);
	qt_free(t);
}

TEST(empty_ring_pops_nothing)
{
	struct qt *t = qt_new(8, false, false);

	CHECK_EQ(vm_vq_pop(&t->q, &t->el, &t->e), 0);
	CHECK(!vm_vq_has_avail(&t->q));
	qt_free(t);
}

TEST(descriptor_loop_is_a_driver_error)
{
	struct qt *t = qt_new(8, false, false);

	gq_desc(t->h, t->g.desc, 0, BUF, 8, VIRTQ_DESC_F_NEXT, 1);
	gq_desc(t->h, t->g.desc, 1, BUF, 8, VIRTQ_DESC_F_NEXT, 0);
	gq_publish(t->h, &t->g, 0);
	CHECK_EQ(vm_vq_pop(&t->q, &t->el, &t->e), -1);
	CHECK_CONTAINS(t->e.msg, "loop");
	qt_free(t);
}

TEST(self_referencing_descriptor_is_a_loop)
{
	struct qt *t = qt_new(256, false, false);

	gq_desc(t->h, t->g.desc, 7, BUF, 8, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 7);
	gq_publish(t->h, &t->g, 7);
	CHECK_EQ(vm_vq_pop(&t->q, &t->el, &t->e), -1);
	CHECK_EQ(t->e.errnum, ELOOP);
	qt_free(t);
}

TEST(next_index_beyond_queue_size_is_refused)
{
	struct qt *t = qt_new(8, false, false);

	gq_desc(t->h, t->g.desc, 0, BUF, 8, VIRTQ_DESC_F_NEXT, 8);
	gq_publish(t->h, &t->g, 0);
	CHECK_EQ(vm_vq_pop(&t->q, &t->el, &t->e), -1);
	CHECK_CONTAINS(t->e.msg, "next 8 >= queue size 8");
	qt_free(t);
}

TEST(avail_head_beyond_queue_size_is_refused)
{
	struct qt *t = qt_new(8, false, false);

	gq_publish(t->h, &t->g, 200);
	CHECK_EQ(vm_vq_pop(&t->q, &t->el, &t->e), -1);
	CHECK_CONTAINS(t->e.msg, "head 200");
	qt_free(t);
}

TEST(buffer_outside_guest_memory_is_refused)
{
	struct qt *t = qt_new(8, false, false);
	struct gseg s = {0x40000000, 64, false};

	gq_add(t->h, &t->g, &s, 1);
	CHECK_EQ(vm_vq_pop(&t->q, &t->el, &t->e), -1);
	CHECK_CONTAINS(t->e.msg, "outside guest memory");
	qt_free(t);
}

TEST(buffer_address_plus_length_overflowing_is_refused)
{
	struct qt *t = qt_new(8, false, false);
	struct gseg s = {0xfffffffffffff000ull, 0x2000, true};

	gq_add(t->h, &t->g, &s, 1);
	CHECK_EQ(vm_vq_pop(&t->q, &t->el, &t->e), -1);
	CHECK_CONTAINS(t->e.msg, "wraps");
	qt_free(t);
}

TEST(buffer_crossing_the_end_of_ram_is_refused)
{
	struct qt *t = qt_new(8, false, false);
	struct gseg s = {VH_RAM_SIZE - 8, 16, true};

	gq_add(t->h, &t->g, &s, 1);
	CHECK_EQ(vm_vq_pop(&t->q, &t->el, &t->e), -1);
	CHECK_EQ(t->e.errnum, EFAULT);
	qt_free(t);
}

TEST(readable_descriptor_after_writable_is_refused)
{
	struct qt *t = qt_new(8, false, false);
	struct gseg s[2] = {{BUF, 8, true}, {BUF + 8, 8, false}};

	gq_add(t->h, &t->g, s, 2);
	CHECK_EQ(vm_vq_pop(&t->q, &t->el, &t->e), -1);
	CHECK_CONTAINS(t->e.msg, "readable descriptor after a writable");
	qt_free(t);
}

TEST(avail_idx_jumping_more_than_queue_size_is_refused)
{
	struct qt *t = qt_new(8, false, false);

	vh_w16(t->h, t->g.avail + 2, 9);
	CHECK_EQ(vm_vq_pop(&t->q, &t->el, &t->e), -1);
	CHECK_CONTAINS(t->e.msg, "more than 8 ahead");
	qt_free(t);
}

TEST(head_reused_while_in_flight_is_refused)
{
	struct qt *t = qt_new(8, false, false);
	struct gseg s = {BUF, 8, false};

	uint16_t head = gq_add(t->h, &t->g, &s, 1);
	CHECK_EQ(vm_vq_pop(&t->q, &t->el, &t->e), 1);
	gq_publish(t->h, &t->g, head); /* same head again, not yet used */
	CHECK_EQ(vm_vq_pop(&t->q, &t->el, &t->e), -1);
	CHECK_CONTAINS(t->e.msg, "again while in use");
	qt_free(t);
}

TEST(head_may_return_after_it_was_used)
{
	struct qt *t = qt_new(8, false, false);
	struct gseg s = {BUF, 8, false};

	uint16_t head = gq_add(t->h, &t->g, &s, 1);
	CHECK_EQ(vm_vq_pop(&t->q, &t->el, &t->e), 1);
	CHECK_EQ(vm_vq_push(&t->q, head, 0, &t->e), 0);
	gq_publish(t->h, &t->g, head);
	CHECK_EQ(vm_vq_pop(&t->q, &t->el, &t->e), 1);
	CHECK(vm_vq_push(&t->q, 5, 0, &t->e) < 0); /* never popped */
	qt_free(t);
}

TEST(indirect_table_is_walked)
{
	struct qt *t = qt_new(8, true, false);
	uint64_t table = 0x30000;

	gq_desc(t->h, table, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 2);
	gq_desc(t->h, table, 2, BUF + 0x100, 100, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	gq_desc(t->h, table, 1, BUF + 0x200, 1, VIRTQ_DESC_F_WRITE, 0);
	gq_desc(t->h, t->g.desc, 3, table, 48, VIRTQ_DESC_F_INDIRECT, 0);
	gq_publish(t->h, &t->g, 3);
	CHECK_EQ(vm_vq_pop(&t->q, &t->el, &t->e), 1);
	CHECK_EQ(t->el.head, 3);
	CHECK_EQ(t->el.n_out, 1);
	CHECK_EQ(t->el.n_in, 2);
	CHECK_EQ(t->el.in_len, 101);
	qt_free(t);
}

TEST(indirect_without_the_feature_is_refused)
{
	struct qt *t = qt_new(8, false, false);

	gq_desc(t->h, 0x30000, 0, BUF, 16, 0, 0);
	gq_desc(t->h, t->g.desc, 0, 0x30000, 16, VIRTQ_DESC_F_INDIRECT, 0);
	gq_publish(t->h, &t->g, 0);
	CHECK_EQ(vm_vq_pop(&t->q, &t->el, &t->e), -1);
	CHECK_CONTAINS(t->e.msg, "INDIRECT_DESC");
	qt_free(t);
}

TEST(indirect_table_with_bad_length_is_refused)
{
	struct qt *t = qt_new(8, true, false);

	gq_desc(t->h, t->g.desc, 0, 0x30000, 24, VIRTQ_DESC_F_INDIRECT, 0);
	gq_publish(t->h, &t->g, 0);
	CHECK_EQ(vm_vq_pop(&t->q, &t->el, &t->e), -1);
	CHECK_CONTAINS(t->e.msg, "multiple of 16");
	qt_free(t);
}

TEST(indirect_table_larger_than_queue_is_refused)
{
	struct qt *t = qt_new(8, true, false);

	gq_desc(t->h, t->g.desc, 0, 0x30000, 16 * 9, VIRTQ_DESC_F_INDIRECT, 0);
	gq_publish(t->h, &t->g, 0);
	CHECK_EQ(vm_vq_pop(&t->q, &t->el, &t->e), -1);
	CHECK_EQ(t->e.errnum, E2BIG);
	qt_free(t);
}

TEST(nested_indirect_is_refused)
{
	struct qt *t = qt_new(8, true, false);

	gq_desc(t->h, 0x30000, 0, 0x31000, 16, VIRTQ_DESC_F_INDIRECT, 0);
	gq_desc(t->h, t->g.desc, 0, 0x30000, 16, VIRTQ_DESC_F_INDIRECT, 0);
	gq_publish(t->h, &t->g, 0);
	CHECK_EQ(vm_vq_pop(&t->q, &t->el, &t->e), -1);
	CHECK_CONTAINS(t->e.msg, "nested indirect");
	qt_free(t);
}

TEST(indirect_with_next_flag_is_refused)
{
	struct qt *t = qt_new(8, true, false);

	gq_desc(t->h, 0x30000, 0, BUF, 16, 0, 0);
	gq_desc(t->h, t->g.desc, 0, 0x30000, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	gq_publish(t->h, &t->g, 0);
	CHECK_EQ(vm_vq_pop(&t->q, &t->el, &t->e), -1);
	CHECK_CONTAINS(t->e.msg, "INDIRECT together with NEXT");
	qt_free(t);
}

TEST(indirect_loop_is_refused)
{
	struct qt *t = qt_new(8, true, false);

	gq_desc(t->h, 0x30000, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 1);
	gq_desc(t->h, 0x30000, 1, BUF, 16, VIRTQ_DESC_F_NEXT, 0);
	gq_desc(t->h, t->g.desc, 0, 0x30000, 32, VIRTQ_DESC_F_INDIRECT, 0);
	gq_publish(t->h, &t->g, 0);
	CHECK_EQ(vm_vq_pop(&t->q, &t->el, &t->e), -1);
	CHECK_EQ(t->e.errnum, ELOOP);
	qt_free(t);
}

TEST(indirect_table_outside_memory_is_refused)
{
	struct qt *t = qt_new(8, true, false);

	gq_desc(t->h, t->g.desc, 0, VH_RAM_SIZE - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	gq_publish(t->h, &t->g, 0);
	CHECK_EQ(vm_vq_pop(&t->q, &t->el, &t->e), -1);
	CHECK_CONTAINS(t->e.msg, "indirect table");
	qt_free(t);
}

TEST(enable_refuses_rings_outside_memory_bad_size_or_alignment)
{
	struct vh *h = vh_new();
	struct vm_vq q;
	struct vs_err e;

	vm_vq_reset(&q, 1, 256);
	q.size = 256;
	q.desc_gpa = VH_RAM_SIZE - 0x800; /* 4 KiB table does not fit */
	q.avail_gpa = 0x1000;
	q.used_gpa = 0x2000;
	CHECK(vm_vq_enable(&q, &h->mem, &e) < 0);
	CHECK_CONTAINS(e.msg, "queue 1: rings outside guest memory");
	CHECK(!q.enabled);
	q.desc_gpa = 0x3008;
	CHECK(vm_vq_enable(&q, &h->mem, &e) < 0);
	CHECK_CONTAINS(e.msg, "misaligned");
	q.desc_gpa = 0x3000;
	q.size = 100;
	CHECK(vm_vq_enable(&q, &h->mem, &e) < 0);
	CHECK_CONTAINS(e.msg, "power of two");
	q.size = 512;
	CHECK(vm_vq_enable(&q, &h->mem, &e) < 0);
	q.size = 128;
	CHECK_EQ(vm_vq_enable(&q, &h->mem, &e), 0);
	vh_free(h);
}

TEST(no_interrupt_flag_suppresses_notification)
{
	struct qt *t = qt_new(8, false, false);
	struct gseg s = {BUF, 8, true};

	uint16_t head = gq_add(t->h, &t->g, &s, 1);
	REQUIRE(vm_vq_pop(&t->q, &t->el, &t->e) == 1);
	vm_vq_push(&t->q, head, 8, &t->e);
	CHECK(vm_vq_should_notify(&t->q));
	vh_w16(t->h, t->g.avail, VIRTQ_AVAIL_F_NO_INTERRUPT);
	head = gq_add(t->h, &t->g, &s, 1);
	REQUIRE(vm_vq_pop(&t->q, &t->el, &t->e) == 1);
	vm_vq_push(&t->q, head, 8, &t->e);
	CHECK(!vm_vq_should_notify(&t->q));
	qt_free(t);
}

TEST(event_idx_notifies_only_when_used_event_is_crossed)
{
	struct qt *t = qt_new(8, false, true);
	struct gseg s = {BUF, 8, true};
	uint64_t used_event = t->g.avail + 4 + 2 * 8, avail_event = t->g.used + 4 + 8 * 8;

	for (int i = 0; i < 4; i++)
		gq_add(t->h, &t->g, &s, 1);
	vh_w16(t->h, used_event, 2); /* interrupt me once used idx passes 2 */
	for (int i = 0; i < 4; i++) {
		REQUIRE(vm_vq_pop(&t->q, &t->el, &t->e) == 1);
		vm_vq_push(&t->q, t->el.head, 8, &t->e);
		bool n = vm_vq_should_notify(&t->q);
		/* first call always signals; then only the step 2 -> 3 */
		CHECK_EQ(n, i == 0 || i == 2);
	}
	CHECK_EQ(vh_r16(t->h, avail_event), 4); /* we asked for the next kick */
	qt_free(t);
}

TEST(iov_helpers_gather_scatter_and_slice)
{
	uint8_t a[3] = {1, 2, 3}, b[5] = {4, 5, 6, 7, 8}, out[8] = {0};
	struct iovec iov[2] = {{a, 3}, {b, 5}}, sl[2];

	CHECK_EQ(vm_iov_to_buf(iov, 2, 2, out, 4), 4);
	CHECK(out[0] == 3 && out[1] == 4 && out[3] == 6);
	CHECK_EQ(vm_iov_to_buf(iov, 2, 7, out, 4), 1);
	CHECK_EQ(vm_buf_to_iov(iov, 2, 3, "xy", 2), 2);
	CHECK(b[0] == 'x' && b[1] == 'y');
	unsigned n = vm_iov_slice(iov, 2, 1, 1, sl, 2);
	CHECK_EQ(n, 2);
	CHECK(sl[0].iov_base == a + 1 && sl[0].iov_len == 2 && sl[1].iov_len == 4);
	CHECK_EQ(vm_iov_slice(iov, 2, 4, 4, sl, 2), 0);
}
