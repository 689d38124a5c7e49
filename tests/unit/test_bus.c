/* vmm/bus.c: port-I/O and MMIO dispatch. */
#include <stdint.h>
#include <string.h>

#include "test.h"
#include "vmm/bus.h"

struct rec {
	uint64_t off;
	uint32_t len;
	bool write;
	uint8_t last[8];
	int calls;
};

static void rec_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct rec *r = opaque;

	r->off = offset;
	r->len = len;
	r->write = is_write;
	r->calls++;
	if (is_write)
		memcpy(r->last, data, len);
	else
		memset(data, 0x42, len);
}

TEST(bus_dispatch_passes_offset_from_range_start)
{
	struct vm_bus b;
	struct vs_err e;
	struct rec r = {0};
	uint8_t d[4] = {1, 2, 3, 4};

	vm_bus_init(&b, "pio");
	REQUIRE(vm_bus_register(&b, 0x3f8, 8, rec_io, &r, "serial", &e) == 0);
	CHECK(vm_bus_dispatch(&b, 0x3fd, d, 1, true));
	CHECK_EQ(r.off, 5);
	CHECK_EQ(r.last[0], 1);
	CHECK(vm_bus_dispatch(&b, 0x3f8, d, 4, false));
	CHECK_EQ(r.off, 0);
	CHECK_EQ(d[3], 0x42);
	CHECK_EQ(r.calls, 2);
}

TEST(bus_unclaimed_read_is_all_ones_and_write_dropped)
{
	struct vm_bus b;
	struct vs_err e;
	struct rec r = {0};
	uint8_t d[4] = {0};

	vm_bus_init(&b, "mmio");
	REQUIRE(vm_bus_register(&b, 0x1000, 0x100, rec_io, &r, "dev", &e) == 0);
	CHECK(!vm_bus_dispatch(&b, 0x1100, d, 4, false));
	CHECK_EQ(d[0], 0xff);
	CHECK_EQ(d[3], 0xff);
	CHECK(!vm_bus_dispatch(&b, 0xfff, d, 1, true));
	CHECK_EQ(r.calls, 0);
}

TEST(bus_register_overlap_names_both_devices)
{
	struct vm_bus b;
	struct vs_err e;
	struct rec r = {0};

	vm_bus_init(&b, "pio");
	REQUIRE(vm_bus_register(&b, 0x60, 1, rec_io, &r, "i8042", &e) == 0);
	CHECK_EQ(vm_bus_register(&b, 0x5f, 2, rec_io, &r, "other", &e), -1);
	CHECK_CONTAINS(e.msg, "other");
	CHECK_CONTAINS(e.msg, "i8042");
	CHECK_CONTAINS(e.msg, "pio");
	/* touching ranges do not overlap */
	CHECK_EQ(vm_bus_register(&b, 0x61, 1, rec_io, &r, "next", &e), 0);
	CHECK_EQ(vm_bus_register(&b, 0x5f, 1, rec_io, &r, "prev", &e), 0);
	CHECK_EQ(vm_bus_register(&b, 0x10, 0, rec_io, &r, "empty", &e), -1);
	CHECK_EQ(vm_bus_register(&b, UINT64_MAX, 2, rec_io, &r, "wrap", &e), -1);
}

TEST(bus_unregister_frees_the_range_for_another_device)
{
	struct vm_bus b;
	struct vs_err e;
	struct rec r1 = {0}, r2 = {0};
	uint8_t d[1] = {7};

	vm_bus_init(&b, "mmio");
	REQUIRE(vm_bus_register(&b, 0xc0000000, 0x1000, rec_io, &r1, "bar0", &e) == 0);
	vm_bus_unregister(&b, 0xc0000000, &r2); /* wrong owner: no effect */
	CHECK(vm_bus_dispatch(&b, 0xc0000010, d, 1, true));
	CHECK_EQ(r1.calls, 1);
	vm_bus_unregister(&b, 0xc0000000, &r1);
	CHECK(!vm_bus_dispatch(&b, 0xc0000010, d, 1, true));
	REQUIRE(vm_bus_register(&b, 0xc0000800, 0x1000, rec_io, &r2, "bar0b", &e) == 0);
	CHECK(vm_bus_dispatch(&b, 0xc0000810, d, 1, true));
	CHECK_EQ(r2.off, 0x10);
}

/* A handler that moves its own range, as a PCI BAR write does. */
struct mover {
	struct vm_bus *bus;
	uint64_t base;
	int calls;
};

static void mover_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct mover *mv = opaque;
	struct vs_err e;

	mv->calls++;
	vm_bus_unregister(mv->bus, mv->base, mv);
	mv->base += 0x100;
	vm_bus_register(mv->bus, mv->base, 0x10, mover_io, mv, "mover", &e);
}

TEST(bus_handler_may_reregister_on_its_own_bus)
{
	struct vm_bus b;
	struct vs_err e;
	struct mover mv = {&b, 0x100, 0};
	uint8_t d[1] = {0};

	vm_bus_init(&b, "pio");
	REQUIRE(vm_bus_register(&b, 0x100, 0x10, mover_io, &mv, "mover", &e) == 0);
	CHECK(vm_bus_dispatch(&b, 0x104, d, 1, true)); /* would deadlock under the lock */
	CHECK(!vm_bus_dispatch(&b, 0x104, d, 1, true));
	CHECK(vm_bus_dispatch(&b, 0x204, d, 1, true));
	CHECK_EQ(mv.calls, 2);
}
