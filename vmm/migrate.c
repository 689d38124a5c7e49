/* Migration stream: frames of (u32 type, u32 length, u32 CRC-32C of the
 * payload, u32 CRC-32C of the first 12 header bytes) and a payload; the
 * order of frames is fixed (docs/snapshots.md "Migration protocol"). */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "vessel/cleanup.h"
#include "vessel/le.h"
#include "vessel/crc32c.h"
#include "vessel/fs.h"
#include "vmm/migrate.h"
#include "vmm/snapshot_mem.h"
#include "vmm/uffd.h"

enum frame_type {
	F_HELLO = 1,
	F_HELLO_OK,
	F_MACHINE,
	F_READY,
	F_PAGES,
	F_ROUND_END,
	F_STATE,
	F_END,
	F_ACK,
	F_COMMIT,
	F_DONE,
	F_POSTCOPY,	/* u64 pages still to come, then their bitmap */
	F_PAGE_REQ,	/* u64 page index the destination faulted on */
	F_POSTCOPY_END, /* u64 pages sent after the commit */
	F_ERROR = 15,
};

#define PC_ROUND 0xffffffffu /* the round number of pages sent after the commit */

#define HELLO_LEN	56u /* magic 8, version 4, page size 4, pages 8, vmm version 32 */
#define PAGES_PER_FRAME 256u
#define ZERO_FLAG	(1ull << 63)

static const char *frame_name(uint32_t t)
{
	static const char *const n[] = {"?",	    "hello",	"hello-ok",    "machine",
					"ready",    "pages",	"round-end",   "state",
					"end",	    "ack",	"commit",      "done",
					"postcopy", "page-req", "postcopy-end"};
	if (t == F_ERROR)
		return "error";
	return t < sizeof(n) / sizeof(n[0]) ? n[t] : "?";
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* --- frames ---------------------------------------------------------------- */

/* send(MSG_NOSIGNAL): a peer that went away must fail the migration with
 * EPIPE, not kill the source VMM with SIGPIPE. Non-sockets (pipes in
 * tests) fall back to write. */
static int write_full(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == ENOTSOCK)
			n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int send_frame2(int fd, uint32_t type, const void *a, size_t alen, const void *b,
		       size_t blen, struct vs_err *e)
{
	uint8_t h[16];

	vs_le_put32(h, type);
	vs_le_put32(h + 4, (uint32_t)(alen + blen));
	vs_le_put32(h + 8, vs_crc32c(vs_crc32c(0, a, alen), b, blen));
	vs_le_put32(h + 12, vs_crc32c(0, h, 12));
	if (write_full(fd, h, sizeof(h)) < 0 || write_full(fd, a, alen) < 0 ||
	    write_full(fd, b, blen) < 0)
		return vs_fail_errno(e, "migration: sending the %s frame", frame_name(type));
	return 0;
}

static int send_frame(int fd, uint32_t type, const void *p, size_t len, struct vs_err *e)
{
	return send_frame2(fd, type, p, len, NULL, 0, e);
}

struct frame {
	uint32_t type;
	uint32_t len;
	uint8_t *data; /* malloc'ed, NUL after len */
};

static int recv_frame(int fd, struct frame *f, struct vs_err *e)
{
	uint8_t h[16];
	ssize_t n;

	f->data = NULL;
	n = vs_read_all(fd, h, sizeof(h));
	if (n < 0)
		return vs_fail_errno(e, "migration: reading a frame header");
	if (n != (ssize_t)sizeof(h))
		return vs_fail(e, EPIPE, "migration: stream ended %s",
			       n ? "inside a frame header (truncated)"
				 : "early (connection closed)");
	if (vs_crc32c(0, h, 12) != vs_le_get32(h + 12))
		return vs_fail(e, EINVAL,
			       "migration: frame header checksum mismatch: corrupt stream");
	f->type = vs_le_get32(h);
	f->len = vs_le_get32(h + 4);
	if (f->len > VM_MIGRATE_MAX_FRAME)
		return vs_fail(e, EINVAL, "migration: %s frame of %u bytes, at most %u",
			       frame_name(f->type), f->len, VM_MIGRATE_MAX_FRAME);
	f->data = malloc((size_t)f->len + 1);
	if (!f->data)
		return vs_fail(e, ENOMEM, "migration: out of memory for a %u-byte frame", f->len);
	n = vs_read_all(fd, f->data, f->len);
	if (n != (ssize_t)f->len) {
		free(f->data);
		f->data = NULL;
		if (n < 0)
			return vs_fail_errno(e, "migration: reading a %s frame",
					     frame_name(f->type));
		return vs_fail(e, EPIPE, "migration: stream ended inside a %s frame (truncated)",
			       frame_name(f->type));
	}
	f->data[f->len] = 0;
	if (vs_crc32c(0, f->data, f->len) != vs_le_get32(h + 8)) {
		free(f->data);
		f->data = NULL;
		return vs_fail(e, EINVAL, "migration: %s frame checksum mismatch: corrupt stream",
			       frame_name(f->type));
	}
	return 0;
}

/* Receives a frame of the given type; an error frame from the peer becomes
 * this side's error. */
static int expect(int fd, uint32_t type, struct frame *f, const char *peer, struct vs_err *e)
{
	if (recv_frame(fd, f, e) < 0)
		return -1;
	if (f->type == F_ERROR) {
		vs_fail(e, ECANCELED, "migration: the %s refused: %.300s", peer, (char *)f->data);
		free(f->data);
		return -1;
	}
	if (f->type != type) {
		vs_fail(e, EPROTO, "migration: expected a %s frame, got %s (type %u)",
			frame_name(type), frame_name(f->type), f->type);
		free(f->data);
		return -1;
	}
	return 0;
}

/* Best effort: the peer learns why before the connection closes. */
static void send_error(int fd, const struct vs_err *e)
{
	struct vs_err ignore;

	send_frame(fd, F_ERROR, e->msg, strlen(e->msg), &ignore);
}

/* --- sender ------------------------------------------------------------------ */

static bool is_zero(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)p;

	for (unsigned i = 0; i < VM_PAGE_SIZE / 8; i++)
		if (w[i])
			return false;
	return true;
}

struct sender {
	int fd;
	const struct vm_memory *mem;
	uint64_t pages, words;
	uint64_t *bitmap;
	uint8_t *buf; /* one PAGES frame being built */
	struct vm_migrate_stats *st;
	bool postcopy; /* the bitmap holds the pages to send after the commit */
};

/* Appends page i to a PAGES frame being built at s->buf (length *len). */
static void add_page(struct sender *s, uint64_t i, size_t *len)
{
	const uint8_t *p = vm_snapmem_page(s->mem, i);

	if (is_zero(p)) {
		vs_le_put64(s->buf + *len, i | ZERO_FLAG);
		*len += 8;
		s->st->zero_pages++;
	} else {
		vs_le_put64(s->buf + *len, i);
		memcpy(s->buf + *len + 8, p, VM_PAGE_SIZE);
		*len += 8 + VM_PAGE_SIZE;
		s->st->pages_sent++;
	}
}

/* Sends every page set in the bitmap (and clears it); *sent: pages. */
static int send_round(struct sender *s, uint32_t round, bool final, uint64_t *sent,
		      struct vs_err *e)
{
	uint32_t count = 0;
	size_t len = 8;
	uint64_t n = 0;

	for (uint64_t i = 0; i <= s->pages; i++) {
		bool take = i < s->pages && (s->bitmap[i / 64] >> (i % 64) & 1);

		if (take) {
			add_page(s, i, &len);
			count++;
			n++;
		}
		if (count && (count == PAGES_PER_FRAME || i == s->pages)) {
			vs_le_put32(s->buf, round);
			vs_le_put32(s->buf + 4, count);
			if (send_frame(s->fd, F_PAGES, s->buf, len, e) < 0)
				return -1;
			count = 0;
			len = 8;
		}
	}
	memset(s->bitmap, 0, s->words * 8);
	uint8_t end[16];
	vs_le_put32(end, round);
	vs_le_put32(end + 4, final);
	vs_le_put64(end + 8, n);
	if (send_frame(s->fd, F_ROUND_END, end, sizeof(end), e) < 0)
		return -1;
	*sent = n;
	return 0;
}

static uint64_t popcount(const uint64_t *b, uint64_t words)
{
	uint64_t n = 0;

	for (uint64_t i = 0; i < words; i++)
		n += (uint64_t)__builtin_popcountll(b[i]);
	return n;
}

static int handshake_send(struct sender *s, const void *machine, size_t mlen, struct vs_err *e)
{
	uint8_t h[HELLO_LEN] = {0};
	struct frame f;

	memcpy(h, VM_MIGRATE_MAGIC, 8);
	vs_le_put32(h + 8, VM_MIGRATE_VERSION);
	vs_le_put32(h + 12, VM_PAGE_SIZE);
	vs_le_put64(h + 16, s->pages);
	snprintf((char *)h + 24, 32, "%s", "vessel-vmm " VM_VMM_VERSION);
	if (send_frame(s->fd, F_HELLO, h, sizeof(h), e) < 0)
		return -1;
	if (expect(s->fd, F_HELLO_OK, &f, "destination", e) < 0)
		return -1;
	free(f.data);
	if (send_frame(s->fd, F_MACHINE, machine, mlen, e) < 0)
		return -1;
	if (expect(s->fd, F_READY, &f, "destination", e) < 0)
		return -1;
	free(f.data);
	return 0;
}

/* Everything up to the commit; *paused tells the caller to resume on
 * failure. */
static int send_all(struct sender *s, const void *machine, size_t mlen,
		    const struct vm_migrate_source_ops *ops, const struct vm_migrate_params *p,
		    bool *paused, struct vs_err *e)
{
	unsigned max_rounds = p && p->max_rounds ? p->max_rounds : 8;
	uint64_t downtime_ns = (uint64_t)(p && p->downtime_ms ? p->downtime_ms : 300) * 1000000ull;
	uint64_t sent, t0, pause_at;
	double pages_per_ns = 0;
	uint32_t round = 0;
	struct frame f;

	if (handshake_send(s, machine, mlen, e) < 0)
		return -1;
	/* round 0: all of memory; the dirty log covers what changes meanwhile */
	memset(s->bitmap, 0xff, s->words * 8);
	if (s->pages % 64)
		s->bitmap[s->words - 1] = (1ull << (s->pages % 64)) - 1;
	for (;;) {
		t0 = now_ns();
		if (send_round(s, round, false, &sent, e) < 0)
			return -1;
		uint64_t dt = now_ns() - t0;
		if (sent && dt)
			pages_per_ns = (double)sent / (double)dt;
		s->st->rounds = ++round;
		if (ops->get_dirty(ops->opaque, s->bitmap, e) < 0)
			return vs_err_prefix(e, "migration: dirty pages");
		uint64_t dirty = popcount(s->bitmap, s->words);
		/* what the final pause would cost at the rate just measured */
		double limit = p && p->converge_pages ? (double)p->converge_pages
						      : pages_per_ns * (double)downtime_ns;
		if ((double)dirty <= limit || round >= max_rounds)
			break;
	}
	pause_at = now_ns();
	if (ops->pause(ops->opaque, e) < 0)
		return vs_err_prefix(e, "migration: pausing the VM");
	*paused = true;
	if (ops->get_dirty(ops->opaque, s->bitmap, e) < 0)
		return vs_err_prefix(e, "migration: dirty pages");
	if (p && p->postcopy) {
		/* the pages still dirty stay in the bitmap: they follow the commit */
		uint64_t left = popcount(s->bitmap, s->words);
		autofree uint8_t *pc = malloc(8 + s->words * 8);
		if (!pc)
			return vs_fail(e, ENOMEM, "migration: out of memory");
		vs_le_put64(pc, left);
		for (uint64_t w = 0; w < s->words; w++)
			vs_le_put64(pc + 8 + w * 8, s->bitmap[w]);
		if (send_frame(s->fd, F_POSTCOPY, pc, 8 + s->words * 8, e) < 0)
			return -1;
		s->postcopy = true;
	} else {
		if (send_round(s, round, true, &sent, e) < 0)
			return -1;
		s->st->final_pages = sent;
	}
	autofree uint8_t *state = NULL;
	size_t slen = 0;
	if (ops->save_state(ops->opaque, &state, &slen, e) < 0)
		return vs_err_prefix(e, "migration: saving the VM state");
	if (slen > VM_MIGRATE_MAX_FRAME)
		return vs_fail(e, E2BIG, "migration: state of %zu bytes", slen);
	s->st->state_bytes = slen;
	if (send_frame(s->fd, F_STATE, state, slen, e) < 0 ||
	    send_frame(s->fd, F_END, "", 0, e) < 0)
		return -1;
	if (expect(s->fd, F_ACK, &f, "destination", e) < 0)
		return -1;
	free(f.data);
	if (send_frame(s->fd, F_COMMIT, "", 0, e) < 0)
		return -1;
	s->st->downtime_ns = now_ns() - pause_at;
	return 0;
}

static bool pending(const uint64_t *bm, uint64_t i)
{
	return bm[i / 64] >> (i % 64) & 1;
}

/* After the commit: the source stays paused and sends every page left in
 * the bitmap, a page the destination asks for first. */
static int postcopy_serve(struct sender *s, struct vs_err *e)
{
	uint64_t left = popcount(s->bitmap, s->words), next = 0, total = left;

	while (left) {
		struct pollfd pf = {.fd = s->fd, .events = POLLIN};
		size_t len = 8;
		uint32_t count = 0;

		if (poll(&pf, 1, 0) > 0) {
			struct frame f;
			if (expect(s->fd, F_PAGE_REQ, &f, "destination", e) < 0)
				return -1;
			uint64_t idx = f.len == 8 ? vs_le_get64(f.data) : UINT64_MAX;
			free(f.data);
			if (idx >= s->pages)
				return vs_fail(e, EPROTO,
					       "migration: request for a page out of range");
			s->st->postcopy_requests++;
			if (pending(s->bitmap, idx)) {
				add_page(s, idx, &len);
				s->bitmap[idx / 64] &= ~(1ull << (idx % 64));
				count = 1;
			}
		} else {
			while (next < s->pages && count < 16) {
				if (pending(s->bitmap, next)) {
					add_page(s, next, &len);
					s->bitmap[next / 64] &= ~(1ull << (next % 64));
					count++;
				}
				next++;
			}
		}
		if (!count)
			continue;
		vs_le_put32(s->buf, PC_ROUND);
		vs_le_put32(s->buf + 4, count);
		if (send_frame(s->fd, F_PAGES, s->buf, len, e) < 0)
			return -1;
		left -= count;
		s->st->postcopy_pages += count;
	}
	uint8_t end[8];
	vs_le_put64(end, total);
	return send_frame(s->fd, F_POSTCOPY_END, end, sizeof(end), e);
}

int vm_migrate_send(int fd, const struct vm_memory *mem, const void *machine, size_t machine_len,
		    const struct vm_migrate_source_ops *ops, const struct vm_migrate_params *p,
		    struct vm_migrate_stats *st, struct vs_err *e)
{
	struct vm_migrate_stats local = {0};
	struct sender s = {.fd = fd, .mem = mem, .st = st ? st : &local};
	struct vm_snapmem_layout l;
	bool paused = false;
	struct frame f;
	int rc;

	memset(s.st, 0, sizeof(*s.st));
	vm_snapmem_layout_of(mem, &l);
	s.pages = vm_snapmem_pages(&l);
	s.words = (s.pages + 63) / 64;
	s.bitmap = calloc(s.words ? s.words : 1, 8);
	s.buf = malloc(8 + PAGES_PER_FRAME * (8 + VM_PAGE_SIZE));
	if (!s.bitmap || !s.buf) {
		free(s.bitmap);
		free(s.buf);
		return vs_fail(e, ENOMEM, "migration: out of memory");
	}
	rc = send_all(&s, machine, machine_len, ops, p, &paused, e);
	if (rc == 0 && s.postcopy && postcopy_serve(&s, e) < 0) {
		free(s.bitmap);
		free(s.buf);
		vs_err_prefix(e,
			      "migration: post-copy failed after the commit; the VM stays paused");
		return VM_MIGRATE_UNCERTAIN;
	}
	free(s.bitmap);
	free(s.buf);
	if (rc < 0) {
		/* before the commit the source still owns the VM */
		struct vs_err re;
		if (paused && ops->resume(ops->opaque, &re) < 0)
			vs_err_prefix(e, "(and resuming failed: %.100s)", re.msg);
		return -1;
	}
	/* requests for pages already on their way may still come in first */
	while (s.postcopy && recv_frame(fd, &f, e) == 0) {
		if (f.type == F_PAGE_REQ) {
			free(f.data);
			continue;
		}
		if (f.type == F_DONE) {
			free(f.data);
			return 0;
		}
		vs_fail(e, EPROTO, "migration: expected a done frame, got %s", frame_name(f.type));
		free(f.data);
		break;
	}
	if (s.postcopy) {
		vs_err_prefix(e, "migration: commit sent but not confirmed; the VM stays paused");
		return VM_MIGRATE_UNCERTAIN;
	}
	if (expect(fd, F_DONE, &f, "destination", e) < 0) {
		vs_err_prefix(e, "migration: commit sent but not confirmed; the VM stays paused");
		return VM_MIGRATE_UNCERTAIN;
	}
	free(f.data);
	return 0;
}

/* --- receiver ---------------------------------------------------------------- */

struct receiver {
	int fd;
	const struct vm_migrate_sink_ops *ops;
	struct vm_memory *mem;
	uint64_t pages;
	struct vm_migrate_stats *st;
	uint64_t *pc_bitmap; /* post-copy: the pages still to come */
	uint64_t pc_left;
	bool allow_postcopy;
	struct vm_postcopy *pc;
};

/* --- post-copy, destination side ------------------------------------------------ */

struct pc_region {
	struct vm_postcopy *pc;
	uint64_t first; /* page index of the region's first page */
};

struct vm_postcopy {
	int fd;
	struct vm_memory *mem;
	uint64_t pages;
	uint64_t *pending, *requested;
	uint64_t left;
	pthread_mutex_t m, wlock;
	pthread_cond_t c;
	struct vm_uffd *u[VM_MEM_MAX_REGIONS];
	struct pc_region reg[VM_MEM_MAX_REGIONS];
	pthread_t thread;
	bool started, done, failed;
	struct vs_err err;
	struct vm_migrate_stats *st;
};

static bool bit(const uint64_t *bm, uint64_t i)
{
	return bm[i / 64] >> (i % 64) & 1;
}

/* The uffd handler's source: asks the source for the page (once) and waits
 * for the reader thread to place it; the handler's own copy then finds it
 * present. */
static int pc_fetch(void *opaque, uint64_t off, void *dst, size_t page)
{
	struct pc_region *rg = opaque;
	struct vm_postcopy *pc = rg->pc;
	uint64_t idx = rg->first + off / VM_PAGE_SIZE;

	pthread_mutex_lock(&pc->m);
	if (bit(pc->pending, idx) && !bit(pc->requested, idx) && !pc->failed) {
		uint8_t req[8];
		struct vs_err ignore;

		pc->requested[idx / 64] |= 1ull << (idx % 64);
		vs_le_put64(req, idx);
		pthread_mutex_unlock(&pc->m);
		pthread_mutex_lock(&pc->wlock);
		send_frame(pc->fd, F_PAGE_REQ, req, sizeof(req), &ignore);
		pthread_mutex_unlock(&pc->wlock);
		pthread_mutex_lock(&pc->m);
	}
	while (bit(pc->pending, idx) && !pc->failed)
		pthread_cond_wait(&pc->c, &pc->m);
	bool ok = !bit(pc->pending, idx);
	pthread_mutex_unlock(&pc->m);
	if (!ok) {
		errno = EIO;
		return -1;
	}
	memset(dst, 0, page); /* not used: the page is present already */
	return 0;
}

static int pc_place(struct vm_postcopy *pc, uint64_t idx, const uint8_t *data)
{
	static const uint8_t zero[VM_PAGE_SIZE];
	uint64_t first = 0;

	for (unsigned i = 0; i < pc->mem->nr; i++) {
		uint64_t n = pc->mem->regions[i].size / VM_PAGE_SIZE;
		if (idx < first + n)
			return vm_uffd_place(pc->u[i], (idx - first) * VM_PAGE_SIZE,
					     data ? data : zero);
		first += n;
	}
	return -1;
}

static void pc_fail(struct vm_postcopy *pc, const struct vs_err *e)
{
	pthread_mutex_lock(&pc->m);
	if (!pc->done && !pc->failed) {
		pc->failed = true;
		pc->err = *e;
	}
	pthread_cond_broadcast(&pc->c);
	pthread_mutex_unlock(&pc->m);
}

static int pc_pages(struct vm_postcopy *pc, const struct frame *f, struct vs_err *e)
{
	const uint8_t *p = f->data, *end = f->data + f->len;

	if (f->len < 8 || vs_le_get32(p) != PC_ROUND)
		return vs_fail(e, EPROTO, "migration: post-copy pages frame out of place");
	uint32_t count = vs_le_get32(p + 4);
	if (count == 0 || count > PAGES_PER_FRAME)
		return vs_fail(e, EPROTO, "migration: pages frame with %u pages", count);
	p += 8;
	for (uint32_t i = 0; i < count; i++) {
		if (end - p < 8)
			return vs_fail(e, EPROTO, "migration: post-copy pages frame cut short");
		uint64_t v = vs_le_get64(p), idx = v & ~ZERO_FLAG;
		const uint8_t *data = NULL;
		p += 8;
		if (idx >= pc->pages)
			return vs_fail(e, EPROTO, "migration: page %llu beyond the machine",
				       (unsigned long long)idx);
		if (!(v & ZERO_FLAG)) {
			if (end - p < (ptrdiff_t)VM_PAGE_SIZE)
				return vs_fail(e, EPROTO, "migration: page %llu cut short",
					       (unsigned long long)idx);
			data = p;
			p += VM_PAGE_SIZE;
		}
		pthread_mutex_lock(&pc->m);
		bool want = bit(pc->pending, idx);
		pthread_mutex_unlock(&pc->m);
		if (!want)
			return vs_fail(e, EPROTO, "migration: page %llu sent twice",
				       (unsigned long long)idx);
		if (pc_place(pc, idx, data) < 0)
			return vs_fail_errno(e, "migration: placing page %llu",
					     (unsigned long long)idx);
		pthread_mutex_lock(&pc->m);
		pc->pending[idx / 64] &= ~(1ull << (idx % 64));
		pc->left--;
		pc->st->postcopy_pages++;
		pthread_cond_broadcast(&pc->c);
		pthread_mutex_unlock(&pc->m);
	}
	if (p != end)
		return vs_fail(e, EPROTO, "migration: stray bytes after a pages frame");
	return 0;
}

static void *pc_reader(void *arg)
{
	struct vm_postcopy *pc = arg;
	struct vs_err e = {0};

	for (;;) {
		struct frame f;
		if (recv_frame(pc->fd, &f, &e) < 0)
			break;
		int rc = 0;
		if (f.type == F_PAGES) {
			rc = pc_pages(pc, &f, &e);
		} else if (f.type == F_POSTCOPY_END) {
			if (f.len != 8 || pc->left)
				rc = vs_fail(&e, EPROTO,
					     "migration: post-copy ended with %llu pages missing",
					     (unsigned long long)pc->left);
			free(f.data);
			if (rc < 0)
				break;
			pthread_mutex_lock(&pc->wlock);
			send_frame(pc->fd, F_DONE, "", 0, &e);
			pthread_mutex_unlock(&pc->wlock);
			pthread_mutex_lock(&pc->m);
			pc->done = true;
			pthread_cond_broadcast(&pc->c);
			pthread_mutex_unlock(&pc->m);
			return NULL;
		} else if (f.type == F_ERROR) {
			rc = vs_fail(&e, ECANCELED, "migration: the source gave up: %.300s",
				     (char *)f.data);
		} else {
			rc = vs_fail(&e, EPROTO, "migration: unexpected %s frame during post-copy",
				     frame_name(f.type));
		}
		free(f.data);
		if (rc < 0)
			break;
	}
	pc_fail(pc, &e);
	return NULL;
}

/* Before the ack: the pages to come are dropped (so a touch faults) and
 * every region is registered with userfaultfd. */
static int pc_setup(struct receiver *r, struct vs_err *e)
{
	struct vm_postcopy *pc = calloc(1, sizeof(*pc));
	uint64_t words = (r->pages + 63) / 64, first = 0;

	if (!pc)
		return vs_fail(e, ENOMEM, "migration: out of memory");
	pc->fd = r->fd;
	pc->mem = r->mem;
	pc->pages = r->pages;
	pc->pending = r->pc_bitmap;
	r->pc_bitmap = NULL;
	pc->left = r->pc_left;
	pc->st = r->st;
	pc->requested = calloc(words, 8);
	pthread_mutex_init(&pc->m, NULL);
	pthread_mutex_init(&pc->wlock, NULL);
	pthread_cond_init(&pc->c, NULL);
	r->pc = pc;
	if (!pc->requested)
		return vs_fail(e, ENOMEM, "migration: out of memory");
	for (unsigned i = 0; i < r->mem->nr; i++) {
		const struct vm_mem_region *g = &r->mem->regions[i];
		uint64_t n = g->size / VM_PAGE_SIZE;

		for (uint64_t k = 0; k < n; k++)
			if (bit(pc->pending, first + k) &&
			    madvise(g->host + k * VM_PAGE_SIZE, VM_PAGE_SIZE, MADV_DONTNEED) < 0)
				return vs_fail_errno(e, "migration: post-copy: dropping a page");
		pc->reg[i] = (struct pc_region){pc, first};
		struct vm_uffd_source src = {pc_fetch, &pc->reg[i]};
		if (vm_uffd_register(&pc->u[i], g->host, g->size, &src, e) < 0)
			return vs_err_prefix(e, "migration: post-copy");
		first += n;
	}
	return 0;
}

int vm_postcopy_finish(struct vm_postcopy *pc, struct vs_err *e)
{
	pthread_mutex_lock(&pc->m);
	while (!pc->done && !pc->failed)
		pthread_cond_wait(&pc->c, &pc->m);
	int rc = pc->failed ? -1 : 0;
	if (rc < 0)
		*e = pc->err;
	pthread_mutex_unlock(&pc->m);
	return rc;
}

void vm_postcopy_free(struct vm_postcopy *pc)
{
	if (!pc)
		return;
	if (pc->started) {
		pthread_mutex_lock(&pc->m);
		bool running = !pc->done && !pc->failed;
		pthread_mutex_unlock(&pc->m);
		if (running)
			shutdown(pc->fd, SHUT_RDWR); /* the reader's recv ends */
		pthread_join(pc->thread, NULL);
	}
	/* a fault still waiting must not wait forever */
	struct vs_err stop;
	vs_fail(&stop, ECANCELED, "migration: post-copy stopped");
	pc_fail(pc, &stop);
	for (unsigned i = 0; i < VM_MEM_MAX_REGIONS; i++)
		if (pc->u[i])
			vm_uffd_stop(pc->u[i]);
	pthread_mutex_destroy(&pc->m);
	pthread_mutex_destroy(&pc->wlock);
	pthread_cond_destroy(&pc->c);
	free(pc->pending);
	free(pc->requested);
	free(pc);
}

static int recv_hello(struct receiver *r, struct vs_err *e)
{
	struct frame f;

	if (expect(r->fd, F_HELLO, &f, "source", e) < 0)
		return -1;
	autofree uint8_t *d = f.data;
	if (f.len != HELLO_LEN || memcmp(d, VM_MIGRATE_MAGIC, 8))
		return vs_fail(e, EPROTO, "migration: not a Vessel migration stream (bad hello)");
	if (vs_le_get32(d + 8) != VM_MIGRATE_VERSION)
		return vs_fail(e, EPROTO,
			       "migration: the source speaks protocol version %u, this vessel-vmm "
			       "speaks %u",
			       vs_le_get32(d + 8), VM_MIGRATE_VERSION);
	if (vs_le_get32(d + 12) != VM_PAGE_SIZE)
		return vs_fail(e, EPROTO, "migration: page size %u, expected %u",
			       vs_le_get32(d + 12), VM_PAGE_SIZE);
	r->pages = vs_le_get64(d + 16);
	if (r->pages == 0 || r->pages > (1ull << 28))
		return vs_fail(e, EPROTO, "migration: %llu pages is out of range",
			       (unsigned long long)r->pages);
	uint8_t ok[4];
	vs_le_put32(ok, VM_MIGRATE_VERSION);
	if (send_frame(r->fd, F_HELLO_OK, ok, sizeof(ok), e) < 0)
		return -1;
	if (expect(r->fd, F_MACHINE, &f, "source", e) < 0)
		return -1;
	autofree uint8_t *m = f.data;
	if (r->ops->prepare(r->ops->opaque, m, f.len, r->pages, &r->mem, e) < 0)
		return vs_err_prefix(e, "migration: machine");
	struct vm_snapmem_layout l;
	vm_snapmem_layout_of(r->mem, &l);
	if (vm_snapmem_pages(&l) != r->pages)
		return vs_fail(e, EPROTO, "migration: the source has %llu pages, this machine %llu",
			       (unsigned long long)r->pages,
			       (unsigned long long)vm_snapmem_pages(&l));
	return send_frame(r->fd, F_READY, "", 0, e);
}

static int apply_pages(struct receiver *r, const struct frame *f, uint32_t round,
		       uint64_t *in_round, struct vs_err *e)
{
	const uint8_t *p = f->data, *end = f->data + f->len;

	if (f->len < 8)
		return vs_fail(e, EPROTO, "migration: short pages frame");
	if (vs_le_get32(p) != round)
		return vs_fail(e, EPROTO, "migration: pages of round %u during round %u",
			       vs_le_get32(p), round);
	uint32_t count = vs_le_get32(p + 4);
	if (count == 0 || count > PAGES_PER_FRAME)
		return vs_fail(e, EPROTO, "migration: pages frame with %u pages", count);
	p += 8;
	for (uint32_t i = 0; i < count; i++) {
		if (end - p < 8)
			return vs_fail(e, EPROTO,
				       "migration: pages frame shorter than its %u pages", count);
		uint64_t v = vs_le_get64(p), idx = v & ~ZERO_FLAG;
		p += 8;
		if (idx >= r->pages)
			return vs_fail(e, EPROTO,
				       "migration: page %llu beyond the %llu of the machine",
				       (unsigned long long)idx, (unsigned long long)r->pages);
		uint8_t *dst = vm_snapmem_page(r->mem, idx);
		if (v & ZERO_FLAG) {
			memset(dst, 0, VM_PAGE_SIZE);
			r->st->zero_pages++;
		} else {
			if (end - p < (ptrdiff_t)VM_PAGE_SIZE)
				return vs_fail(e, EPROTO, "migration: page %llu cut short",
					       (unsigned long long)idx);
			memcpy(dst, p, VM_PAGE_SIZE);
			p += VM_PAGE_SIZE;
			r->st->pages_sent++;
		}
	}
	if (p != end)
		return vs_fail(e, EPROTO, "migration: %zu stray bytes after a pages frame",
			       (size_t)(end - p));
	*in_round += count;
	return 0;
}

static int recv_all(struct receiver *r, struct vs_err *e)
{
	uint32_t round = 0;
	uint64_t in_round = 0;
	bool final_done = false;
	autofree uint8_t *state = NULL;
	uint32_t state_len = 0;
	struct frame f;

	if (recv_hello(r, e) < 0)
		return -1;
	for (;;) {
		if (recv_frame(r->fd, &f, e) < 0)
			return -1;
		autofree uint8_t *d = f.data;
		switch (f.type) {
		case F_PAGES:
			if (final_done)
				return vs_fail(e, EPROTO, "migration: pages after the final round");
			if (apply_pages(r, &f, round, &in_round, e) < 0)
				return -1;
			break;
		case F_ROUND_END:
			if (final_done || f.len != 16 || vs_le_get32(d) != round ||
			    vs_le_get32(d + 4) > 1)
				return vs_fail(e, EPROTO, "migration: bad end of round %u", round);
			if (vs_le_get64(d + 8) != in_round)
				return vs_fail(
					e, EPROTO,
					"migration: round %u: %llu pages received, the source "
					"sent %llu",
					round, (unsigned long long)in_round,
					(unsigned long long)vs_le_get64(d + 8));
			if (vs_le_get32(d + 4)) {
				final_done = true;
				r->st->final_pages = in_round;
			}
			r->st->rounds = ++round;
			in_round = 0;
			break;
		case F_POSTCOPY: {
			uint64_t words = (r->pages + 63) / 64, n = 0;
			if (final_done || !r->allow_postcopy)
				return vs_fail(e, EPROTO, "migration: post-copy %s",
					       final_done ? "after the final round"
							  : "not accepted here");
			if (f.len != 8 + words * 8)
				return vs_fail(e, EPROTO, "migration: post-copy bitmap of %u bytes",
					       f.len);
			for (unsigned i = 0; i < r->mem->nr; i++)
				if (r->mem->regions[i].fd >= 0)
					return vs_fail(e, ENOTSUP,
						       "migration: post-copy needs private "
						       "anonymous guest memory (not memfd)");
			r->pc_bitmap = calloc(words, 8);
			if (!r->pc_bitmap)
				return vs_fail(e, ENOMEM, "migration: out of memory");
			for (uint64_t w = 0; w < words; w++) {
				r->pc_bitmap[w] = vs_le_get64(d + 8 + w * 8);
				n += (uint64_t)__builtin_popcountll(r->pc_bitmap[w]);
			}
			if (n != vs_le_get64(d) ||
			    (r->pages % 64 && r->pc_bitmap[words - 1] >> (r->pages % 64)))
				return vs_fail(e, EPROTO,
					       "migration: post-copy bitmap disagrees with "
					       "its count");
			r->pc_left = n;
			final_done = true;
			break;
		}
		case F_STATE:
			if (!final_done || state)
				return vs_fail(e, EPROTO, "migration: state frame out of order");
			state = vs_steal_ptr(d);
			state_len = f.len;
			r->st->state_bytes = f.len;
			break;
		case F_END:
			if (!state)
				return vs_fail(e, EPROTO, "migration: end before the state");
			if (r->ops->load_state(r->ops->opaque, state, state_len, e) < 0)
				return vs_err_prefix(e, "migration: state");
			if (r->pc_bitmap && pc_setup(r, e) < 0)
				return -1;
			if (send_frame(r->fd, F_ACK, "", 0, e) < 0)
				return -1;
			free(vs_steal_ptr(d));
			if (expect(r->fd, F_COMMIT, &f, "source", e) < 0)
				return -1;
			free(f.data);
			if (r->pc) {
				/* the pages follow; "done" once they all arrived */
				int t = pthread_create(&r->pc->thread, NULL, pc_reader, r->pc);
				if (t)
					return vs_fail(e, t, "migration: post-copy thread");
				r->pc->started = true;
				return 0;
			}
			/* best effort: the source decides what a lost "done" means */
			struct vs_err ignore;
			send_frame(r->fd, F_DONE, "", 0, &ignore);
			return 0;
		case F_ERROR:
			return vs_fail(e, ECANCELED, "migration: the source gave up: %.300s",
				       (char *)d);
		default:
			return vs_fail(e, EPROTO, "migration: unexpected %s frame (type %u)",
				       frame_name(f.type), f.type);
		}
	}
}

static int recv_common(int fd, const struct vm_migrate_sink_ops *ops, struct vm_migrate_stats *st,
		       struct vm_postcopy **pc, struct vs_err *e)
{
	static struct vm_migrate_stats local; /* post-copy may update it later */
	struct receiver r = {.fd = fd, .ops = ops, .st = st ? st : &local, .allow_postcopy = pc};

	memset(r.st, 0, sizeof(*r.st));
	if (pc)
		*pc = NULL;
	if (recv_all(&r, e) < 0) {
		send_error(fd, e);
		free(r.pc_bitmap);
		vm_postcopy_free(r.pc);
		return -1;
	}
	if (pc)
		*pc = r.pc;
	return 0;
}

int vm_migrate_recv(int fd, const struct vm_migrate_sink_ops *ops, struct vm_migrate_stats *st,
		    struct vs_err *e)
{
	return recv_common(fd, ops, st, NULL, e);
}

int vm_migrate_recv_pc(int fd, const struct vm_migrate_sink_ops *ops, struct vm_migrate_stats *st,
		       struct vm_postcopy **pc, struct vs_err *e)
{
	return recv_common(fd, ops, st, pc, e);
}

/* --- TCP --------------------------------------------------------------------- */

/* "host:port", "[v6]:port" -> host and port strings in buf. */
static int split_hostport(const char *s, char *host, size_t hlen, const char **port,
			  struct vs_err *e)
{
	const char *colon;

	if (s[0] == '[') {
		const char *close_br = strchr(s, ']');
		if (!close_br || close_br[1] != ':')
			return vs_fail(e, EINVAL, "address \"%s\": expected [v6addr]:port", s);
		if ((size_t)(close_br - s - 1) >= hlen)
			return vs_fail(e, EINVAL, "address \"%s\": host too long", s);
		snprintf(host, hlen, "%.*s", (int)(close_br - s - 1), s + 1);
		colon = close_br + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return vs_fail(e, EINVAL, "address \"%s\": expected host:port", s);
		if ((size_t)(colon - s) >= hlen)
			return vs_fail(e, EINVAL, "address \"%s\": host too long", s);
		snprintf(host, hlen, "%.*s", (int)(colon - s), s);
	}
	*port = colon + 1;
	char *end;
	unsigned long p = strtoul(*port, &end, 10);
	if (!**port || *end || p > 65535)
		return vs_fail(e, EINVAL, "address \"%s\": bad port", s);
	return 0;
}

static int resolve(const char *s, bool passive, struct addrinfo **out, struct vs_err *e)
{
	char host[256];
	const char *port = NULL;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = passive ? AI_PASSIVE : 0};

	if (split_hostport(s, host, sizeof(host), &port, e) < 0)
		return -1;
	int r = getaddrinfo(host[0] ? host : NULL, port, &hints, out);
	if (r)
		return vs_fail(e, EINVAL, "address \"%s\": %s", s, gai_strerror(r));
	return 0;
}

int vm_migrate_connect(const char *to, struct vs_err *e)
{
	struct addrinfo *ai;
	int fd = -1, err = 0;

	if (resolve(to, false, &ai, e) < 0)
		return -1;
	for (struct addrinfo *a = ai; a; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd < 0)
		return vs_fail(e, err, "migration: connecting to %s", to);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
	return fd;
}

int vm_migrate_listen_accept(const char *addr, void (*ready)(void *arg, unsigned port), void *arg,
			     struct vs_err *e)
{
	struct addrinfo *ai;
	autoclose int lfd = -1;

	if (resolve(addr, true, &ai, e) < 0)
		return -1;
	lfd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
	if (lfd < 0) {
		freeaddrinfo(ai);
		return vs_fail_errno(e, "migration: socket for %s", addr);
	}
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &(int){1}, sizeof(int));
	if (bind(lfd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(lfd, 1) < 0) {
		freeaddrinfo(ai);
		return vs_fail_errno(e, "migration: listening on %s", addr);
	}
	freeaddrinfo(ai);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	unsigned port = 0;
	if (getsockname(lfd, (struct sockaddr *)&ss, &sl) == 0)
		port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						      : ((struct sockaddr_in *)&ss)->sin_port);
	if (ready)
		ready(arg, port);
	int fd;
	do
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return vs_fail_errno(e, "migration: accepting on %s", addr);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
	return fd;
}
