/* Memory files of snapshots: sparse full files mapped copy-on-write, and
 * dirty-page diff layers (format: docs/snapshots.md "Memory files"). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vessel/cleanup.h"
#include "vessel/le.h"
#include "vessel/crc32c.h"
#include "vessel/fs.h"
#include "vmm/snapshot_mem.h"

#define FULL_MAGIC    "VESSELMM"
#define DIFF_MAGIC    "VESSELMD"
#define FULL_HDR_USED 44u
#define DIFF_HDR_LEN  56u
#define MAX_PAGES     (1ull << 28) /* 1 TiB of guest RAM */

void vm_snapmem_layout_of(const struct vm_memory *m, struct vm_snapmem_layout *l)
{
	memset(l, 0, sizeof(*l));
	l->nr = m->nr;
	for (unsigned i = 0; i < m->nr; i++) {
		l->r[i].gpa = m->regions[i].gpa;
		l->r[i].size = m->regions[i].size;
	}
}

int vm_snapmem_layout_check(const struct vm_snapmem_layout *l, struct vs_err *e)
{
	uint64_t total = 0;

	if (l->nr == 0 || l->nr > VM_MEM_MAX_REGIONS)
		return vs_fail(e, EINVAL, "memory layout: %u regions (1..%d)", l->nr,
			       VM_MEM_MAX_REGIONS);
	for (unsigned i = 0; i < l->nr; i++) {
		uint64_t g = l->r[i].gpa, s = l->r[i].size;

		if (!s || (g | s) % VM_PAGE_SIZE || g + s < g || s > MAX_PAGES * VM_PAGE_SIZE)
			return vs_fail(e, EINVAL,
				       "memory layout: region %u (0x%llx+0x%llx) is "
				       "empty, unaligned or too large",
				       i, (unsigned long long)g, (unsigned long long)s);
		for (unsigned j = 0; j < i; j++)
			if (g < l->r[j].gpa + l->r[j].size && l->r[j].gpa < g + s)
				return vs_fail(e, EINVAL,
					       "memory layout: regions %u and %u overlap", j, i);
		total += s / VM_PAGE_SIZE;
	}
	if (total > MAX_PAGES)
		return vs_fail(e, EINVAL, "memory layout: %llu pages, at most %llu",
			       (unsigned long long)total, MAX_PAGES);
	return 0;
}

uint64_t vm_snapmem_pages(const struct vm_snapmem_layout *l)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < l->nr; i++)
		n += l->r[i].size / VM_PAGE_SIZE;
	return n;
}

uint8_t *vm_snapmem_page(const struct vm_memory *m, uint64_t idx)
{
	for (unsigned i = 0; i < m->nr; i++) {
		uint64_t n = m->regions[i].size / VM_PAGE_SIZE;

		if (idx < n)
			return m->regions[i].host + idx * VM_PAGE_SIZE;
		idx -= n;
	}
	return NULL;
}

uint64_t vm_snapmem_new_id(void)
{
	uint64_t id = 0;

	while (id == 0)
		if (getrandom(&id, sizeof(id), 0) != sizeof(id))
			id = (uint64_t)getpid() << 32 ^
			     (uint64_t)(uintptr_t)&id; /* never fails in practice */
	return id;
}

static uint64_t mem_pages(const struct vm_memory *m)
{
	struct vm_snapmem_layout l;

	vm_snapmem_layout_of(m, &l);
	return vm_snapmem_pages(&l);
}

static bool page_is_zero(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)p;

	for (unsigned i = 0; i < VM_PAGE_SIZE / 8; i++)
		if (w[i])
			return false;
	return true;
}

/* A temporary file beside path, removed again unless renamed. */
struct tmpfile {
	char *tmp;
	const char *path;
	int fd;
};

static int tmp_open(struct tmpfile *t, const char *path, struct vs_err *e)
{
	t->path = path;
	t->tmp = vs_strdup_printf("%s.tmp.%d", path, (int)getpid());
	t->fd = open(t->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (t->fd < 0) {
		vs_fail_errno(e, "memory file %s", t->tmp);
		free(t->tmp);
		t->tmp = NULL;
		return -1;
	}
	return 0;
}

static int tmp_commit(struct tmpfile *t, struct vs_err *e)
{
	if (fdatasync(t->fd) < 0)
		return vs_fail_errno(e, "memory file %s: fdatasync", t->tmp);
	if (rename(t->tmp, t->path) < 0)
		return vs_fail_errno(e, "memory file %s: rename to %s", t->tmp, t->path);
	free(t->tmp);
	t->tmp = NULL;
	return 0;
}

static void tmp_drop(struct tmpfile *t)
{
	if (t->fd >= 0)
		close(t->fd);
	if (t->tmp) {
		unlink(t->tmp);
		free(t->tmp);
	}
	t->fd = -1;
	t->tmp = NULL;
}

static int pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int vm_snapmem_write_full(const struct vm_memory *m, const char *path, uint64_t id,
			  struct vs_err *e)
{
	uint64_t pages = mem_pages(m), run_start = 0, run_len = 0;
	uint8_t hdr[VM_SNAPMEM_HDR] = {0};
	struct tmpfile t;

	if (tmp_open(&t, path, e) < 0)
		return -1;
	memcpy(hdr, FULL_MAGIC, 8);
	vs_le_put32(hdr + 8, VM_SNAPMEM_VERSION);
	vs_le_put32(hdr + 12, VM_PAGE_SIZE);
	vs_le_put64(hdr + 16, pages);
	vs_le_put64(hdr + 24, id);
	vs_le_put64(hdr + 32, 0);
	vs_le_put32(hdr + 40, vs_crc32c(0, hdr, 40));
	if (pwrite_all(t.fd, hdr, sizeof(hdr), 0) < 0)
		goto fail_io;
	/* runs of non-zero pages in one write; zero pages stay holes */
	for (uint64_t i = 0; i <= pages; i++) {
		const uint8_t *p = i < pages ? vm_snapmem_page(m, i) : NULL;
		bool contiguous =
			run_len && p == vm_snapmem_page(m, run_start) + run_len * VM_PAGE_SIZE;

		if (p && !page_is_zero(p) && (contiguous || !run_len) && run_len < 4096) {
			if (!run_len)
				run_start = i;
			run_len++;
			continue;
		}
		if (run_len &&
		    pwrite_all(t.fd, vm_snapmem_page(m, run_start), run_len * VM_PAGE_SIZE,
			       VM_SNAPMEM_HDR + run_start * VM_PAGE_SIZE) < 0)
			goto fail_io;
		run_len = 0;
		if (p && !page_is_zero(p)) {
			run_start = i;
			run_len = 1;
		}
	}
	if (ftruncate(t.fd, (off_t)(VM_SNAPMEM_HDR + pages * VM_PAGE_SIZE)) < 0)
		goto fail_io;
	if (tmp_commit(&t, e) < 0)
		goto fail;
	tmp_drop(&t);
	return 0;
fail_io:
	vs_fail_errno(e, "memory file %s: write", path);
fail:
	tmp_drop(&t);
	return -1;
}

int vm_snapmem_write_diff(const struct vm_memory *m, const uint64_t *bitmap, const char *path,
			  uint64_t id, uint64_t parent, uint64_t *written, struct vs_err *e)
{
	uint64_t pages = mem_pages(m), words = (pages + 63) / 64, dirty = 0, off;
	uint32_t dcrc = 0;
	autofree uint8_t *bm = NULL;
	uint8_t hdr[DIFF_HDR_LEN] = {0};
	struct tmpfile t;

	bm = calloc(words ? words : 1, 8);
	if (!bm)
		return vs_fail(e, ENOMEM, "memory diff %s: out of memory", path);
	for (uint64_t w = 0; w < words; w++) {
		uint64_t v = bitmap[w];
		if (w == words - 1 && pages % 64)
			v &= (1ull << (pages % 64)) - 1; /* no bits past the end */
		vs_le_put64(bm + w * 8, v);
		dirty += (uint64_t)__builtin_popcountll(v);
	}
	if (tmp_open(&t, path, e) < 0)
		return -1;
	off = DIFF_HDR_LEN + words * 8;
	for (uint64_t i = 0; i < pages; i++) {
		if (!(vs_le_get64(bm + (i / 64) * 8) >> (i % 64) & 1))
			continue;
		const uint8_t *p = vm_snapmem_page(m, i);
		dcrc = vs_crc32c(dcrc, p, VM_PAGE_SIZE);
		if (pwrite_all(t.fd, p, VM_PAGE_SIZE, off) < 0)
			goto fail_io;
		off += VM_PAGE_SIZE;
	}
	memcpy(hdr, DIFF_MAGIC, 8);
	vs_le_put32(hdr + 8, VM_SNAPMEM_VERSION);
	vs_le_put32(hdr + 12, VM_PAGE_SIZE);
	vs_le_put64(hdr + 16, pages);
	vs_le_put64(hdr + 24, id);
	vs_le_put64(hdr + 32, parent);
	vs_le_put64(hdr + 40, dirty);
	vs_le_put32(hdr + 48, dcrc);
	vs_le_put32(hdr + 52, vs_crc32c(vs_crc32c(0, hdr, 52), bm, words * 8));
	if (pwrite_all(t.fd, hdr, sizeof(hdr), 0) < 0 ||
	    pwrite_all(t.fd, bm, words * 8, DIFF_HDR_LEN) < 0)
		goto fail_io;
	if (tmp_commit(&t, e) < 0) {
		tmp_drop(&t);
		return -1;
	}
	tmp_drop(&t);
	if (written)
		*written = dirty;
	return 0;
fail_io:
	vs_fail_errno(e, "memory diff %s: write", path);
	tmp_drop(&t);
	return -1;
}

/* Reads and checks the header; for a diff also the bitmap (returned in
 * *bm_out when not NULL). fd stays open in *fd_out when not NULL. */
static int read_header(const char *path, struct vm_snapmem_info *info, uint8_t **bm_out,
		       uint32_t *dcrc, int *fd_out, struct vs_err *e)
{
	autoclose int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint8_t hdr[DIFF_HDR_LEN];
	struct stat st;

	memset(info, 0, sizeof(*info));
	if (fd < 0)
		return vs_fail_errno(e, "memory file %s", path);
	if (fstat(fd, &st) < 0)
		return vs_fail_errno(e, "memory file %s: stat", path);
	info->file_len = (uint64_t)st.st_size;
	if (vs_read_all(fd, hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr))
		return vs_fail(e, EINVAL, "memory file %s: truncated header", path);
	if (!memcmp(hdr, FULL_MAGIC, 8)) {
		info->is_diff = 0;
	} else if (!memcmp(hdr, DIFF_MAGIC, 8)) {
		info->is_diff = 1;
	} else {
		return vs_fail(e, EINVAL, "memory file %s: not a Vessel memory file (bad magic)",
			       path);
	}
	if (vs_le_get32(hdr + 8) != VM_SNAPMEM_VERSION)
		return vs_fail(e, EINVAL, "memory file %s: version %u, this vessel-vmm reads %u",
			       path, vs_le_get32(hdr + 8), VM_SNAPMEM_VERSION);
	if (vs_le_get32(hdr + 12) != VM_PAGE_SIZE)
		return vs_fail(e, EINVAL, "memory file %s: page size %u, expected %u", path,
			       vs_le_get32(hdr + 12), VM_PAGE_SIZE);
	info->pages = vs_le_get64(hdr + 16);
	info->id = vs_le_get64(hdr + 24);
	info->parent = vs_le_get64(hdr + 32);
	if (info->pages == 0 || info->pages > MAX_PAGES)
		return vs_fail(e, EINVAL, "memory file %s: %llu pages is out of range", path,
			       (unsigned long long)info->pages);
	if (!info->is_diff) {
		if (vs_crc32c(0, hdr, 40) != vs_le_get32(hdr + 40))
			return vs_fail(e, EINVAL, "memory file %s: header checksum mismatch", path);
		if (info->file_len != VM_SNAPMEM_HDR + info->pages * VM_PAGE_SIZE)
			return vs_fail(e, EINVAL,
				       "memory file %s: %llu bytes, header says %llu pages: "
				       "truncated or extended",
				       path, (unsigned long long)info->file_len,
				       (unsigned long long)info->pages);
	} else {
		uint64_t words = (info->pages + 63) / 64, n = 0;
		autofree uint8_t *bm = malloc(words * 8);

		info->dirty = vs_le_get64(hdr + 40);
		if (!bm)
			return vs_fail(e, ENOMEM, "memory file %s: out of memory", path);
		if (vs_read_all(fd, bm, words * 8) != (ssize_t)(words * 8))
			return vs_fail(e, EINVAL, "memory diff %s: truncated bitmap", path);
		if (vs_crc32c(vs_crc32c(0, hdr, 52), bm, words * 8) != vs_le_get32(hdr + 52))
			return vs_fail(e, EINVAL, "memory diff %s: header checksum mismatch", path);
		for (uint64_t w = 0; w < words; w++)
			n += (uint64_t)__builtin_popcountll(vs_le_get64(bm + w * 8));
		if (n != info->dirty ||
		    (info->pages % 64 && vs_le_get64(bm + (words - 1) * 8) >> (info->pages % 64)))
			return vs_fail(e, EINVAL,
				       "memory diff %s: bitmap disagrees with its header", path);
		if (info->file_len != DIFF_HDR_LEN + words * 8 + n * VM_PAGE_SIZE)
			return vs_fail(
				e, EINVAL,
				"memory diff %s: %llu bytes, expected %llu: "
				"truncated or extended",
				path, (unsigned long long)info->file_len,
				(unsigned long long)(DIFF_HDR_LEN + words * 8 + n * VM_PAGE_SIZE));
		if (dcrc)
			*dcrc = vs_le_get32(hdr + 48);
		if (bm_out)
			*bm_out = vs_steal_ptr(bm);
	}
	if (fd_out)
		*fd_out = vs_steal_fd(fd);
	return 0;
}

int vm_snapmem_info(const char *path, struct vm_snapmem_info *info, struct vs_err *e)
{
	return read_header(path, info, NULL, NULL, NULL, e);
}

int vm_snapmem_map(struct vm_memory *m, const struct vm_snapmem_layout *l, const char *path,
		   uint64_t expect_id, struct vs_err *e)
{
	struct vm_snapmem_info info;
	autoclose int fd = -1;
	uint64_t off = VM_SNAPMEM_HDR;

	memset(m, 0, sizeof(*m));
	if (vm_snapmem_layout_check(l, e) < 0)
		return -1;
	if (read_header(path, &info, NULL, NULL, &fd, e) < 0)
		return -1;
	if (info.is_diff)
		return vs_fail(e, EINVAL, "memory file %s: a diff layer, not a full memory file",
			       path);
	if (expect_id && info.id != expect_id)
		return vs_fail(e, EINVAL,
			       "memory file %s: belongs to another snapshot (id %016llx,"
			       " expected %016llx)",
			       path, (unsigned long long)info.id, (unsigned long long)expect_id);
	if (info.pages != vm_snapmem_pages(l))
		return vs_fail(e, EINVAL, "memory file %s: %llu pages, the machine has %llu", path,
			       (unsigned long long)info.pages,
			       (unsigned long long)vm_snapmem_pages(l));
	for (unsigned i = 0; i < l->nr; i++) {
		/* private: the guest's writes stay in this process; unwritten
		 * pages stay shared page cache across clones */
		void *p = mmap(NULL, l->r[i].size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_NORESERVE, fd, (off_t)off);
		if (p == MAP_FAILED) {
			vs_fail_errno(e, "memory file %s: mmap region %u", path, i);
			vm_mem_free(m);
			return -1;
		}
		madvise(p, l->r[i].size, MADV_DONTDUMP);
		if (vm_mem_add_region(m, l->r[i].gpa, l->r[i].size, p, -1, 0, e) < 0) {
			munmap(p, l->r[i].size);
			vm_mem_free(m);
			return -1;
		}
		off += l->r[i].size;
	}
	return 0;
}

int vm_snapmem_apply_diff(const struct vm_memory *m, const char *path, uint64_t expect_parent,
			  uint64_t *id_out, struct vs_err *e)
{
	struct vm_snapmem_info info;
	autofree uint8_t *bm = NULL;
	autoclose int fd = -1;
	uint32_t want_crc = 0, crc = 0;

	if (read_header(path, &info, &bm, &want_crc, &fd, e) < 0)
		return -1;
	if (!info.is_diff)
		return vs_fail(e, EINVAL, "memory file %s: a full memory file, not a diff layer",
			       path);
	if (info.parent != expect_parent)
		return vs_fail(e, EINVAL,
			       "memory diff %s: its parent is %016llx, the layer below "
			       "is %016llx: not the same chain",
			       path, (unsigned long long)info.parent,
			       (unsigned long long)expect_parent);
	if (info.pages != mem_pages(m))
		return vs_fail(e, EINVAL, "memory diff %s: %llu pages, the machine has %llu", path,
			       (unsigned long long)info.pages, (unsigned long long)mem_pages(m));
	uint64_t words = (info.pages + 63) / 64;
	uint64_t off = DIFF_HDR_LEN + words * 8;
	for (uint64_t i = 0; i < info.pages; i++) {
		if (!(vs_le_get64(bm + (i / 64) * 8) >> (i % 64) & 1))
			continue;
		uint8_t *p = vm_snapmem_page(m, i);
		if (pread(fd, p, VM_PAGE_SIZE, (off_t)off) != VM_PAGE_SIZE)
			return vs_fail_errno(e, "memory diff %s: read page %llu", path,
					     (unsigned long long)i);
		crc = vs_crc32c(crc, p, VM_PAGE_SIZE);
		off += VM_PAGE_SIZE;
	}
	if (crc != want_crc)
		return vs_fail(e, EINVAL,
			       "memory diff %s: page data checksum mismatch: file is "
			       "corrupt",
			       path);
	if (id_out)
		*id_out = info.id;
	return 0;
}

/* --- soft-dirty tracking (Documentation/admin-guide/mm/soft-dirty.rst) ---- */

#define PM_SOFT_DIRTY (1ull << 55)

int vm_snapmem_softdirty_reset(struct vs_err *e)
{
	if (vs_write_str("/proc/self/clear_refs", "4", e) < 0)
		return vs_err_prefix(e, "soft-dirty reset");
	return 0;
}

/* Reads the pagemap entries of [addr, addr + n pages) and sets bit
 * first + i for each soft-dirty page i. */
static int collect_range(int pm, const uint8_t *addr, uint64_t n, uint64_t first, uint64_t *bm,
			 struct vs_err *e)
{
	uint64_t ent[512];
	uint64_t vpn = (uint64_t)(uintptr_t)addr / VM_PAGE_SIZE;

	for (uint64_t i = 0; i < n;) {
		uint64_t k = n - i < 512 ? n - i : 512;
		ssize_t r = pread(pm, ent, k * 8, (off_t)((vpn + i) * 8));
		if (r != (ssize_t)(k * 8))
			return vs_fail_errno(e, "soft-dirty: reading /proc/self/pagemap");
		for (uint64_t j = 0; j < k; j++)
			if (ent[j] & PM_SOFT_DIRTY)
				bm[(first + i + j) / 64] |= 1ull << ((first + i + j) % 64);
		i += k;
	}
	return 0;
}

int vm_snapmem_softdirty_collect(const struct vm_memory *m, uint64_t *bitmap, struct vs_err *e)
{
	autoclose int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	uint64_t first = 0;

	if (pm < 0)
		return vs_fail_errno(e, "soft-dirty: /proc/self/pagemap");
	for (unsigned i = 0; i < m->nr; i++) {
		uint64_t n = m->regions[i].size / VM_PAGE_SIZE;
		if (collect_range(pm, m->regions[i].host, n, first, bitmap, e) < 0)
			return -1;
		first += n;
	}
	return 0;
}

int vm_snapmem_softdirty_probe(struct vs_err *e)
{
	autoclose int pm = -1;
	uint64_t bm = 0;
	volatile uint8_t *p = mmap(NULL, VM_PAGE_SIZE, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return vs_fail_errno(e, "soft-dirty probe: mmap");
	p[0] = 1;
	int rc = vm_snapmem_softdirty_reset(e);
	if (rc == 0) {
		p[0] = 2;
		pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
		if (pm < 0)
			rc = vs_fail_errno(e, "soft-dirty: /proc/self/pagemap");
		else
			rc = collect_range(pm, (const uint8_t *)p, 1, 0, &bm, e);
	}
	munmap((void *)p, VM_PAGE_SIZE);
	if (rc == 0 && !(bm & 1))
		rc = vs_fail(e, ENOTSUP,
			     "soft-dirty page tracking does not work on this kernel "
			     "(CONFIG_MEM_SOFT_DIRTY): diff snapshots cannot see the VMM's own "
			     "writes to guest memory");
	return rc;
}

/* --- page digests --------------------------------------------------------- */

static uint64_t page_digest(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)p;
	uint64_t h = 0x9e3779b97f4a7c15ull;

	for (unsigned i = 0; i < VM_PAGE_SIZE / 8; i++) {
		h ^= w[i] + i;
		h *= 0xff51afd7ed558ccdull;
		h ^= h >> 29;
	}
	return h;
}

uint64_t *vm_snapmem_digests(const struct vm_memory *m)
{
	uint64_t n = mem_pages(m);
	uint64_t *d = malloc((n ? n : 1) * sizeof(*d));

	if (!d)
		return NULL;
	for (uint64_t i = 0; i < n; i++)
		d[i] = page_digest(vm_snapmem_page(m, i));
	return d;
}

void vm_snapmem_digest_changes(const struct vm_memory *m, uint64_t *digests, uint64_t *bitmap)
{
	uint64_t n = mem_pages(m);

	for (uint64_t i = 0; i < n; i++) {
		uint64_t h = page_digest(vm_snapmem_page(m, i));
		if (h != digests[i]) {
			digests[i] = h;
			bitmap[i / 64] |= 1ull << (i % 64);
		}
	}
}
