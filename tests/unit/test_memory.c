/* vmm/memory.c: bounds-checked guest memory access. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "vmm/memory.h"

static uint8_t low[4096], high[8192];

static void two_regions(struct vm_memory *m)
{
	struct vs_err e;

	memset(m, 0, sizeof(*m));
	memset(low, 0, sizeof(low));
	memset(high, 0, sizeof(high));
	/* a gap between them, as the MMIO hole leaves one */
	vm_mem_add_region(m, 0, sizeof(low), low, -1, 0, &e);
	vm_mem_add_region(m, 0x10000, sizeof(high), high, -1, 0, &e);
}

TEST(mem_ptr_finds_range_inside_one_region)
{
	struct vm_memory m;

	two_regions(&m);
	CHECK(vm_mem_ptr(&m, 0, 4096) == low);
	CHECK(vm_mem_ptr(&m, 0x10010, 16) == high + 0x10);
	CHECK(vm_mem_ptr(&m, 0x10000 + 8191, 1) == high + 8191);
	CHECK_EQ(vm_mem_size(&m), 4096 + 8192);
}

TEST(mem_ptr_refuses_ranges_leaving_guest_memory)
{
	struct vm_memory m;

	two_regions(&m);
	CHECK(vm_mem_ptr(&m, 4095, 2) == NULL);		  /* runs into the gap */
	CHECK(vm_mem_ptr(&m, 4096, 1) == NULL);		  /* in the gap */
	CHECK(vm_mem_ptr(&m, 0x10000 + 8192, 1) == NULL); /* past the end */
	CHECK(vm_mem_ptr(&m, 0, 0) == NULL);
	CHECK(vm_mem_ptr(&m, 0x10000, UINT64_MAX) == NULL); /* would wrap */
	CHECK(vm_mem_ptr(&m, UINT64_MAX, 2) == NULL);
	CHECK(vm_mem_ptr(NULL, 0, 1) == NULL);
}

TEST(mem_read_write_round_trip_and_fail_whole)
{
	struct vm_memory m;
	uint8_t buf[16], pat[16];

	two_regions(&m);
	for (int i = 0; i < 16; i++)
		pat[i] = (uint8_t)(i + 1);
	CHECK_EQ(vm_mem_write(&m, 0x10100, pat, 16), 0);
	CHECK(memcmp(high + 0x100, pat, 16) == 0);
	CHECK_EQ(vm_mem_read(&m, 0x10100, buf, 16), 0);
	CHECK(memcmp(buf, pat, 16) == 0);

	/* a write that runs off the end changes nothing */
	CHECK_EQ(vm_mem_write(&m, 4090, pat, 16), -1);
	CHECK_EQ(low[4090], 0);
	memset(buf, 0xaa, sizeof(buf));
	CHECK_EQ(vm_mem_read(&m, 0x10000 + 8190, buf, 16), -1);
	CHECK_EQ(buf[0], 0xaa);
	CHECK_EQ(vm_mem_read(&m, UINT64_MAX - 4, buf, 16), -1);
	CHECK_EQ(vm_mem_read(&m, 0, buf, 0), 0);
}

TEST(mem_copy_spans_adjacent_regions)
{
	struct vm_memory m = {0};
	struct vs_err e;
	static uint8_t a[64], b[64];
	uint8_t pat[32], back[32];

	REQUIRE(vm_mem_add_region(&m, 0x1000, 64, a, -1, 0, &e) == 0);
	REQUIRE(vm_mem_add_region(&m, 0x1040, 64, b, -1, 0, &e) == 0);
	memset(pat, 0x5a, sizeof(pat));
	CHECK_EQ(vm_mem_write(&m, 0x1030, pat, 32), 0);
	CHECK_EQ(a[63], 0x5a);
	CHECK_EQ(b[15], 0x5a);
	CHECK_EQ(b[16], 0);
	CHECK_EQ(vm_mem_read(&m, 0x1030, back, 32), 0);
	CHECK(memcmp(back, pat, 32) == 0);
	/* but a direct pointer only within one region */
	CHECK(vm_mem_ptr(&m, 0x1030, 32) == NULL);
}

TEST(mem_add_region_rejects_overlap_and_overflow)
{
	struct vm_memory m;
	struct vs_err e;
	static uint8_t x[4096];

	two_regions(&m);
	CHECK_EQ(vm_mem_add_region(&m, 0x800, 4096, x, -1, 0, &e), -1);
	CHECK_CONTAINS(e.msg, "overlaps");
	CHECK_EQ(vm_mem_add_region(&m, UINT64_MAX - 10, 4096, x, -1, 0, &e), -1);
	CHECK_CONTAINS(e.msg, "wraps");
	CHECK_EQ(vm_mem_add_region(&m, 0x100000, 0, x, -1, 0, &e), -1);
	for (unsigned i = m.nr; i < VM_MEM_MAX_REGIONS; i++)
		CHECK_EQ(vm_mem_add_region(&m, 0x100000 * (i + 1), 16, x, -1, 0, &e), 0);
	CHECK_EQ(vm_mem_add_region(&m, 0x10000000, 16, x, -1, 0, &e), -1);
	CHECK_EQ(e.errnum, ENOSPC);
}

TEST(mem_alloc_anon_and_memfd_give_usable_ram)
{
	struct vm_memory m;
	struct vs_err e;
	uint32_t v = 0x12345678, back = 0;

	REQUIRE(vm_mem_alloc(&m, 16ull << 20, false, false, &e) == 0);
	CHECK_EQ(m.nr, 1);
	CHECK_EQ(vm_mem_size(&m), 16ull << 20);
	CHECK_EQ(m.regions[0].fd, -1);
	CHECK_EQ(vm_mem_write(&m, (16ull << 20) - 4, &v, 4), 0);
	CHECK_EQ(vm_mem_read(&m, (16ull << 20) - 4, &back, 4), 0);
	CHECK_EQ(back, v);
	vm_mem_free(&m);
	CHECK_EQ(m.nr, 0);

	REQUIRE(vm_mem_alloc(&m, 8ull << 20, true, false, &e) == 0);
	CHECK(m.regions[0].fd >= 0);
	CHECK_EQ(vm_mem_write(&m, 0x1000, &v, 4), 0);
	/* the memfd holds the same bytes the guest sees */
	CHECK_EQ(pread(m.regions[0].fd, &back, 4, 0x1000), 4);
	CHECK_EQ(back, v);
	vm_mem_free(&m);
}

TEST(mem_alloc_splits_ram_around_the_mmio_hole)
{
	struct vm_memory m;
	struct vs_err e;

	/* 3 GiB + 16 MiB: MAP_NORESERVE, so nothing is touched */
	REQUIRE(vm_mem_alloc(&m, (3ull << 30) + (16ull << 20), true, false, &e) == 0);
	REQUIRE(m.nr == 2);
	CHECK_EQ(m.regions[0].gpa, 0);
	CHECK_EQ(m.regions[0].size, 3ull << 30);
	CHECK_EQ(m.regions[1].gpa, 4ull << 30);
	CHECK_EQ(m.regions[1].size, 16ull << 20);
	CHECK_EQ(m.regions[1].fd_offset, 3ull << 30);
	CHECK(vm_mem_ptr(&m, 0xc0000000ull, 1) == NULL); /* the hole */
	CHECK(vm_mem_ptr(&m, 0x100000000ull, 4096) != NULL);
	vm_mem_free(&m);
}

TEST(mem_alloc_hugepages_with_empty_pool_names_the_pool)
{
	struct vm_memory m;
	struct vs_err e;
	char buf[32] = "";
	FILE *f = fopen("/proc/sys/vm/nr_hugepages", "r");

	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = 0;
		fclose(f);
	}
	if (atoi(buf) != 0)
		SKIP("the 2 MiB hugepage pool is not empty here (%d pages)", atoi(buf));
	CHECK_EQ(vm_mem_alloc(&m, 64ull << 20, false, true, &e), -1);
	CHECK_CONTAINS(e.msg, "nr_hugepages");
	CHECK_EQ(vm_mem_alloc(&m, 64ull << 20, true, true, &e), -1);
	CHECK_CONTAINS(e.msg, "nr_hugepages");
	CHECK_EQ(m.nr, 0);
	CHECK_EQ(vm_mem_alloc(&m, (64ull << 20) + 4096, false, true, &e), -1);
}
