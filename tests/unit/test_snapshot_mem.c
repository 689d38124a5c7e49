/* Memory files: sparse full files mapped copy-on-write, diff layers and
 * chains, checked byte for byte on real mappings. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "vessel/fs.h"
#include "vmm/snapshot_mem.h"

#define PG VM_PAGE_SIZE

/* Two regions (like RAM below and above the MMIO hole), 64 + 36 pages. */
static int make_mem(struct vm_memory *m)
{
	struct vs_err e;
	void *a = mmap(NULL, 64 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *b = mmap(NULL, 36 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	memset(m, 0, sizeof(*m));
	if (a == MAP_FAILED || b == MAP_FAILED)
		return -1;
	if (vm_mem_add_region(m, 0, 64 * PG, a, -1, 0, &e) < 0 ||
	    vm_mem_add_region(m, 0x100000000ull, 36 * PG, b, -1, 0, &e) < 0)
		return -1;
	return 0;
}

static void scribble(struct vm_memory *m, uint64_t page, uint8_t v)
{
	uint8_t *p = vm_snapmem_page(m, page);

	for (unsigned i = 0; i < PG; i++)
		p[i] = (uint8_t)(v ^ i ^ (page << 3));
}

static int same(const struct vm_memory *a, const struct vm_memory *b)
{
	for (uint64_t i = 0; i < 100; i++)
		if (memcmp(vm_snapmem_page(a, i), vm_snapmem_page(b, i), PG))
			return 0;
	return 1;
}

static char *tmpdir(void)
{
	char t[] = "/tmp/vessel-snapmem.XXXXXX";

	return strdup(mkdtemp(t));
}

static void set_bit(uint64_t *bm, uint64_t i)
{
	bm[i / 64] |= 1ull << (i % 64);
}

TEST(memory_file_restores_every_byte_and_leaves_zero_pages_as_holes)
{
	struct vm_memory m, r;
	struct vm_snapmem_layout l;
	struct vm_snapmem_info info;
	struct vs_err e = {0};
	char *d = tmpdir();
	char *path = vs_path_join(d, "mem");
	struct stat st;

	REQUIRE(make_mem(&m) == 0);
	scribble(&m, 0, 1);
	scribble(&m, 5, 2);
	scribble(&m, 63, 3);
	scribble(&m, 64, 4); /* first page of the high region */
	scribble(&m, 99, 5);
	REQUIRE(vm_snapmem_write_full(&m, path, 0x1234, &e) == 0);
	REQUIRE(stat(path, &st) == 0);
	CHECK_EQ(st.st_size, VM_SNAPMEM_HDR + 100 * PG);
	/* 5 data pages and a header: far below the 100 pages of the file */
	CHECK(st.st_blocks * 512 < 20 * PG);
	REQUIRE(vm_snapmem_info(path, &info, &e) == 0);
	CHECK_EQ(info.id, 0x1234);
	CHECK_EQ(info.pages, 100);
	CHECK(!info.is_diff);

	vm_snapmem_layout_of(&m, &l);
	REQUIRE(vm_snapmem_map(&r, &l, path, 0x1234, &e) == 0);
	CHECK_EQ(r.nr, 2);
	CHECK_EQ(r.regions[1].gpa, 0x100000000ull);
	CHECK(same(&m, &r));
	vm_mem_free(&r);
	vm_mem_free(&m);
	vs_rm_rf(d, &e);
	free(path);
	free(d);
}

TEST(clones_of_one_memory_file_do_not_see_each_others_writes)
{
	struct vm_memory m, c1, c2, c3;
	struct vm_snapmem_layout l;
	struct vs_err e = {0};
	char *d = tmpdir();
	char *path = vs_path_join(d, "mem");

	REQUIRE(make_mem(&m) == 0);
	scribble(&m, 7, 9);
	REQUIRE(vm_snapmem_write_full(&m, path, 77, &e) == 0);
	vm_snapmem_layout_of(&m, &l);
	REQUIRE(vm_snapmem_map(&c1, &l, path, 77, &e) == 0);
	REQUIRE(vm_snapmem_map(&c2, &l, path, 77, &e) == 0);
	memset(vm_snapmem_page(&c1, 7), 0xee, PG);
	memset(vm_snapmem_page(&c1, 8), 0xdd, PG);
	CHECK(same(&m, &c2));
	CHECK(!same(&m, &c1));
	/* and the file itself is untouched */
	REQUIRE(vm_snapmem_map(&c3, &l, path, 77, &e) == 0);
	CHECK(same(&m, &c3));
	vm_mem_free(&c1);
	vm_mem_free(&c2);
	vm_mem_free(&c3);
	vm_mem_free(&m);
	vs_rm_rf(d, &e);
	free(path);
	free(d);
}

TEST(diff_chain_restores_the_latest_memory)
{
	struct vm_memory m, r;
	struct vm_snapmem_layout l;
	struct vs_err e = {0};
	uint64_t bm[2] = {0, 0}, n = 0, id = 0;
	char *d = tmpdir();
	char *base = vs_path_join(d, "base"), *d1 = vs_path_join(d, "d1"),
	     *d2 = vs_path_join(d, "d2");
	struct stat st;

	REQUIRE(make_mem(&m) == 0);
	for (uint64_t i = 0; i < 100; i += 3)
		scribble(&m, i, 1);
	REQUIRE(vm_snapmem_write_full(&m, base, 100, &e) == 0);

	scribble(&m, 3, 2);
	scribble(&m, 70, 2);
	set_bit(bm, 3);
	set_bit(bm, 70);
	REQUIRE(vm_snapmem_write_diff(&m, bm, d1, 101, 100, &n, &e) == 0);
	CHECK_EQ(n, 2);
	REQUIRE(stat(d1, &st) == 0);
	CHECK(st.st_size < 4 * PG); /* two pages, a bitmap and a header */

	memset(bm, 0, sizeof(bm));
	scribble(&m, 70, 3);
	scribble(&m, 99, 3);
	set_bit(bm, 70);
	set_bit(bm, 99);
	REQUIRE(vm_snapmem_write_diff(&m, bm, d2, 102, 101, &n, &e) == 0);

	vm_snapmem_layout_of(&m, &l);
	REQUIRE(vm_snapmem_map(&r, &l, base, 100, &e) == 0);
	CHECK(!same(&m, &r));
	REQUIRE(vm_snapmem_apply_diff(&r, d1, 100, &id, &e) == 0);
	CHECK_EQ(id, 101);
	REQUIRE(vm_snapmem_apply_diff(&r, d2, 101, &id, &e) == 0);
	CHECK_EQ(id, 102);
	CHECK(same(&m, &r));
	vm_mem_free(&r);

	/* out of order: d2 on the base is another chain */
	REQUIRE(vm_snapmem_map(&r, &l, base, 100, &e) == 0);
	CHECK(vm_snapmem_apply_diff(&r, d2, 100, &id, &e) < 0);
	CHECK_CONTAINS(e.msg, "not the same chain");
	vm_mem_free(&r);
	vm_mem_free(&m);
	vs_rm_rf(d, &e);
	free(base);
	free(d1);
	free(d2);
	free(d);
}

static void flip(const char *path, off_t off)
{
	int fd = open(path, O_RDWR);
	uint8_t b;

	if (fd < 0)
		return;
	if (pread(fd, &b, 1, off) == 1) {
		b ^= 0x40;
		if (pwrite(fd, &b, 1, off) != 1)
			b = 0;
	}
	close(fd);
}

TEST(damaged_memory_files_are_refused_with_the_reason)
{
	struct vm_memory m, r;
	struct vm_snapmem_layout l, small;
	struct vs_err e = {0};
	uint64_t bm[2] = {1, 0}, n;
	char *d = tmpdir();
	char *base = vs_path_join(d, "base"), *d1 = vs_path_join(d, "d1");

	REQUIRE(make_mem(&m) == 0);
	scribble(&m, 0, 1);
	vm_snapmem_layout_of(&m, &l);
	REQUIRE(vm_snapmem_write_full(&m, base, 5, &e) == 0);
	REQUIRE(vm_snapmem_write_diff(&m, bm, d1, 6, 5, &n, &e) == 0);

	CHECK(vm_snapmem_map(&r, &l, base, 999, &e) < 0);
	CHECK_CONTAINS(e.msg, "belongs to another snapshot");
	small = l;
	small.r[1].size -= PG;
	CHECK(vm_snapmem_map(&r, &small, base, 5, &e) < 0);
	CHECK_CONTAINS(e.msg, "the machine has 99");
	CHECK(vm_snapmem_map(&r, &l, d1, 0, &e) < 0);
	CHECK_CONTAINS(e.msg, "a diff layer");

	REQUIRE(vm_snapmem_map(&r, &l, base, 5, &e) == 0);
	flip(d1, 56 + 16 + 100); /* inside the page data */
	CHECK(vm_snapmem_apply_diff(&r, d1, 5, NULL, &e) < 0);
	CHECK_CONTAINS(e.msg, "page data checksum mismatch");
	flip(d1, 56); /* the bitmap */
	CHECK(vm_snapmem_apply_diff(&r, d1, 5, NULL, &e) < 0);
	CHECK_CONTAINS(e.msg, "header checksum mismatch");
	vm_mem_free(&r);

	REQUIRE(truncate(base, VM_SNAPMEM_HDR + 50 * PG) == 0);
	CHECK(vm_snapmem_map(&r, &l, base, 5, &e) < 0);
	CHECK_CONTAINS(e.msg, "truncated or extended");
	flip(base, 20);
	CHECK(vm_snapmem_map(&r, &l, base, 5, &e) < 0);
	flip(base, 0);
	CHECK(vm_snapmem_map(&r, &l, base, 5, &e) < 0);
	CHECK_CONTAINS(e.msg, "bad magic");
	CHECK(vm_snapmem_map(&r, &l, "/nonexistent/mem", 5, &e) < 0);
	CHECK_CONTAINS(e.msg, "/nonexistent/mem");
	CHECK_EQ(r.nr, 0);
	vm_mem_free(&m);
	vs_rm_rf(d, &e);
	free(base);
	free(d1);
	free(d);
}

TEST(failed_memory_write_leaves_no_file_behind)
{
	struct vm_memory m;
	struct vs_err e = {0};
	char *d = tmpdir();
	char *path = vs_path_join(d, "missing-dir/mem");

	REQUIRE(make_mem(&m) == 0);
	CHECK(vm_snapmem_write_full(&m, path, 1, &e) < 0);
	CHECK_CONTAINS(e.msg, "missing-dir/mem");
	CHECK(rmdir(d) == 0); /* empty: nothing was left */
	vm_mem_free(&m);
	free(path);
	free(d);
}

TEST(memory_layout_check_refuses_overlap_and_misalignment)
{
	struct vm_snapmem_layout l = {.nr = 2, .r = {{0, 8192}, {4096, 8192}}};
	struct vs_err e = {0};

	CHECK(vm_snapmem_layout_check(&l, &e) < 0);
	CHECK_CONTAINS(e.msg, "overlap");
	l.r[1].gpa = 0x10000;
	CHECK(vm_snapmem_layout_check(&l, &e) == 0);
	l.r[1].size = 100;
	CHECK(vm_snapmem_layout_check(&l, &e) < 0);
	l.nr = 0;
	CHECK(vm_snapmem_layout_check(&l, &e) < 0);
}

TEST(softdirty_sees_exactly_the_pages_written_after_a_reset)
{
	struct vm_memory m;
	struct vs_err e = {0};
	uint64_t bm[2] = {0, 0}, want[2] = {0, 0};

	if (vm_snapmem_softdirty_probe(&e) < 0)
		SKIP("%.200s", e.msg);
	REQUIRE(make_mem(&m) == 0);
	for (uint64_t i = 0; i < 100; i++) /* all present and dirty before the reset */
		scribble(&m, i, 1);
	REQUIRE(vm_snapmem_softdirty_reset(&e) == 0);
	REQUIRE(vm_snapmem_softdirty_collect(&m, bm, &e) == 0);
	CHECK_EQ(bm[0], 0);
	CHECK_EQ(bm[1], 0);
	scribble(&m, 3, 2);
	scribble(&m, 64, 2); /* first page of the second region */
	vm_snapmem_page(&m, 99)[17] = 5;
	set_bit(want, 3);
	set_bit(want, 64);
	set_bit(want, 99);
	REQUIRE(vm_snapmem_softdirty_collect(&m, bm, &e) == 0);
	CHECK_EQ(bm[0], want[0]);
	CHECK_EQ(bm[1], want[1]);
	vm_mem_free(&m);
}

TEST(page_digests_find_every_page_changed_since_they_were_taken)
{
	struct vm_memory m;
	uint64_t bm[2] = {0, 0};

	REQUIRE(make_mem(&m) == 0);
	scribble(&m, 10, 1);
	uint64_t *d = vm_snapmem_digests(&m);
	REQUIRE(d != NULL);
	vm_snapmem_digest_changes(&m, d, bm);
	CHECK_EQ(bm[0] | bm[1], 0);
	vm_snapmem_page(&m, 10)[4095] ^= 1; /* one bit of a written page */
	vm_snapmem_page(&m, 77)[0] = 1;	    /* a zero page */
	vm_snapmem_digest_changes(&m, d, bm);
	CHECK_EQ(bm[0], 1ull << 10);
	CHECK_EQ(bm[1], 1ull << (77 - 64));
	/* the digests were updated: no change, no bits */
	bm[0] = bm[1] = 0;
	vm_snapmem_digest_changes(&m, d, bm);
	CHECK_EQ(bm[0] | bm[1], 0);
	free(d);
	vm_mem_free(&m);
}
