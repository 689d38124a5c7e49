/* Migration protocol, for real: a sender and a receiver over a socket pair
 * and over TCP between two network namespaces, with plain mappings as guest
 * memory and a synthetic guest that keeps dirtying pages until paused. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include "test.h"
#include "vessel/crc32c.h"
#include "vmm/migrate.h"
#include "vmm/snapshot_mem.h"

#define PG    VM_PAGE_SIZE
#define NPAGE 100

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

static uint32_t mem_crc(const struct vm_memory *m)
{
	uint32_t c = 0;

	for (uint64_t i = 0; i < NPAGE; i++)
		c = vs_crc32c(c, vm_snapmem_page(m, i), PG);
	return c;
}

/* The synthetic guest: each get_dirty call writes `burst` pages (fewer
 * each time, so pre-copy converges) and reports them dirty. */
struct guest {
	struct vm_memory mem;
	unsigned burst, calls, pauses, resumes;
	bool paused;
	const char *state;
	int fail_save;
};

static int g_dirty(void *o, uint64_t *bm, struct vs_err *e)
{
	struct guest *g = o;

	g->calls++;
	if (g->paused)
		return 0; /* nothing runs while paused */
	for (unsigned i = 0; i < g->burst; i++) {
		uint64_t p = (g->calls * 37 + i * 11) % NPAGE;
		memset(vm_snapmem_page(&g->mem, p), (int)(g->calls + i), PG);
		bm[p / 64] |= 1ull << (p % 64);
	}
	g->burst /= 2;
	return 0;
}

static int g_pause(void *o, struct vs_err *e)
{
	struct guest *g = o;

	g->paused = true;
	g->pauses++;
	return 0;
}

static int g_resume(void *o, struct vs_err *e)
{
	struct guest *g = o;

	g->paused = false;
	g->resumes++;
	return 0;
}

static int g_save(void *o, uint8_t **buf, size_t *len, struct vs_err *e)
{
	struct guest *g = o;

	if (g->fail_save)
		return vs_fail(e, EIO, "vcpu 0: KVM_GET_REGS");
	*buf = (uint8_t *)strdup(g->state);
	*len = strlen(g->state);
	return 0;
}

struct dest {
	int fd;
	struct vm_memory mem;
	bool have_mem;
	char machine[64];
	char state[64];
	int refuse_state;
	int rc;
	struct vs_err err;
	struct vm_migrate_stats st;
};

static int d_prepare(void *o, const uint8_t *machine, size_t len, uint64_t pages,
		     struct vm_memory **mem, struct vs_err *e)
{
	struct dest *d = o;

	if (len >= sizeof(d->machine))
		return vs_fail(e, EINVAL, "machine description too long");
	memcpy(d->machine, machine, len);
	d->machine[len] = 0;
	if (pages != NPAGE)
		return vs_fail(e, EINVAL, "%llu pages", (unsigned long long)pages);
	if (make_mem(&d->mem) < 0)
		return vs_fail(e, ENOMEM, "no memory");
	d->have_mem = true;
	*mem = &d->mem;
	return 0;
}

static int d_load(void *o, const uint8_t *buf, size_t len, struct vs_err *e)
{
	struct dest *d = o;

	if (d->refuse_state)
		return vs_fail(e, EINVAL, "disk vda: size differs");
	if (len >= sizeof(d->state))
		return vs_fail(e, EINVAL, "state too long");
	memcpy(d->state, buf, len);
	d->state[len] = 0;
	return 0;
}

static void *dest_thread(void *arg)
{
	struct dest *d = arg;
	struct vm_migrate_sink_ops ops = {d, d_prepare, d_load};

	d->rc = vm_migrate_recv(d->fd, &ops, &d->st, &d->err);
	close(d->fd);
	return NULL;
}

static void guest_init(struct guest *g)
{
	memset(g, 0, sizeof(*g));
	make_mem(&g->mem);
	for (uint64_t i = 0; i < NPAGE; i += 2) /* odd pages stay zero */
		memset(vm_snapmem_page(&g->mem, i), (int)(i + 1), PG);
	g->burst = 16;
	g->state = "vcpu0:rip=0x1000;dev:virtio-blk:avail=7";
}

static int migrate_pair(struct guest *g, struct dest *d, struct vm_migrate_stats *st,
			struct vs_err *e, const struct vm_migrate_params *p)
{
	int sv[2];
	pthread_t th;
	struct vm_migrate_source_ops ops = {g, g_dirty, g_pause, g_resume, g_save};

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return -100;
	d->fd = sv[1];
	pthread_create(&th, NULL, dest_thread, d);
	int rc = vm_migrate_send(sv[0], &g->mem, "machine:2cpu", 12, &ops, p, st, e);
	close(sv[0]);
	pthread_join(th, NULL);
	return rc;
}

TEST(migration_copies_memory_dirtied_during_precopy_and_the_state)
{
	struct guest g;
	struct dest d = {0};
	struct vm_migrate_stats st;
	struct vs_err e = {0};
	struct vm_migrate_params p = {.max_rounds = 4, .converge_pages = 1};

	guest_init(&g);
	g.burst = 64;
	REQUIRE(migrate_pair(&g, &d, &st, &e, &p) == 0);
	CHECK_EQ(d.rc, 0);
	CHECK_EQ(mem_crc(&g.mem), mem_crc(&d.mem));
	CHECK_STR(d.machine, "machine:2cpu");
	CHECK_STR(d.state, g.state);
	CHECK_EQ(g.pauses, 1);
	CHECK_EQ(g.resumes, 0); /* the destination took over */
	CHECK(st.rounds >= 1);
	CHECK_EQ(st.zero_pages + st.pages_sent, d.st.zero_pages + d.st.pages_sent);
	CHECK(st.zero_pages >= NPAGE / 2 - 16); /* odd pages went as "zero" in round 0 */
	CHECK_EQ(d.st.rounds, st.rounds + 1);	/* and the final round */
	vm_mem_free(&g.mem);
	vm_mem_free(&d.mem);
}

TEST(migration_copies_rounds_until_the_dirty_set_is_small_then_pauses)
{
	struct guest g;
	struct dest d = {0};
	struct vm_migrate_stats st;
	struct vs_err e = {0};
	struct vm_migrate_params p = {.max_rounds = 20, .converge_pages = 4};

	guest_init(&g);
	g.burst = 64; /* the guest dirties 64, 32, 16, 8, 4... pages between rounds */
	REQUIRE(migrate_pair(&g, &d, &st, &e, &p) == 0);
	CHECK_EQ(mem_crc(&g.mem), mem_crc(&d.mem));
	/* round 0 (all) then 64, 32, 16, 8 dirty: more than 4, go on; then 4:
	 * pause and send those 4 in the final round */
	CHECK_EQ(st.rounds, 5);
	CHECK_EQ(st.final_pages, 4);
	CHECK_EQ(d.st.final_pages, 4);
	CHECK_EQ(g.resumes, 0);
	vm_mem_free(&g.mem);
	vm_mem_free(&d.mem);
}

TEST(destination_refusing_the_state_leaves_the_source_running)
{
	struct guest g;
	struct dest d = {.refuse_state = 1};
	struct vm_migrate_stats st;
	struct vs_err e = {0};

	guest_init(&g);
	CHECK_EQ(migrate_pair(&g, &d, &st, &e, NULL), -1);
	CHECK_CONTAINS(e.msg, "destination refused");
	CHECK_CONTAINS(e.msg, "disk vda: size differs");
	CHECK_EQ(g.pauses, 1);
	CHECK_EQ(g.resumes, 1);
	CHECK(!g.paused);
	CHECK_EQ(d.rc, -1);
	vm_mem_free(&g.mem);
	if (d.have_mem)
		vm_mem_free(&d.mem);
}

TEST(source_failing_to_save_resumes_and_tells_the_destination)
{
	struct guest g;
	struct dest d = {0};
	struct vm_migrate_stats st;
	struct vs_err e = {0};

	guest_init(&g);
	g.fail_save = 1;
	CHECK_EQ(migrate_pair(&g, &d, &st, &e, NULL), -1);
	CHECK_CONTAINS(e.msg, "KVM_GET_REGS");
	CHECK_EQ(g.resumes, 1);
	/* the destination saw the connection end before any state */
	CHECK_EQ(d.rc, -1);
	vm_mem_free(&g.mem);
	if (d.have_mem)
		vm_mem_free(&d.mem);
}

/* --- post-copy --------------------------------------------------------------------- */

struct pc_dest {
	struct dest d;
	uint32_t crc_after_touch;
	int finish_rc;
	struct vs_err finish_err;
	bool was_postcopy;
};

static void *pc_dest_thread(void *arg)
{
	struct pc_dest *p = arg;
	struct vm_migrate_sink_ops ops = {&p->d, d_prepare, d_load};
	struct vm_postcopy *pc = NULL;

	p->d.rc = vm_migrate_recv_pc(p->d.fd, &ops, &p->d.st, &pc, &p->d.err);
	if (p->d.rc == 0) {
		p->was_postcopy = pc != NULL;
		/* the guest runs now: every page it touches that is still at the
		 * source is fetched on the fault */
		p->crc_after_touch = mem_crc(&p->d.mem);
		if (pc) {
			p->finish_rc = vm_postcopy_finish(pc, &p->finish_err);
			vm_postcopy_free(pc);
		}
	}
	close(p->d.fd);
	return NULL;
}

TEST(postcopy_migration_serves_missing_pages_on_fault_and_pushes_the_rest)
{
	struct guest g;
	struct pc_dest p = {0};
	struct vm_migrate_stats st;
	struct vs_err e = {0};
	struct vm_migrate_params prm = {.max_rounds = 1, .postcopy = true};
	struct vm_migrate_source_ops ops = {&g, g_dirty, g_pause, g_resume, g_save};
	int sv[2];
	pthread_t th;

	guest_init(&g);
	g.burst = 40; /* dirtied after round 0: they go after the commit */
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	p.d.fd = sv[1];
	REQUIRE(pthread_create(&th, NULL, pc_dest_thread, &p) == 0);
	int rc = vm_migrate_send(sv[0], &g.mem, "machine:2cpu", 12, &ops, &prm, &st, &e);
	close(sv[0]);
	pthread_join(th, NULL);
	if (p.d.rc < 0 && strstr(p.d.err.msg, "userfaultfd")) {
		vm_mem_free(&g.mem);
		SKIP("%.200s", p.d.err.msg);
	}
	CHECK_EQ(rc, 0);
	if (rc)
		fprintf(stderr, "  source: %s\n", e.msg);
	CHECK_EQ(p.d.rc, 0);
	if (p.finish_rc)
		fprintf(stderr, "  destination: %s\n", p.finish_err.msg);
	CHECK(p.was_postcopy);
	CHECK_EQ(p.finish_rc, 0);
	CHECK_EQ(st.final_pages, 0);
	CHECK(st.postcopy_pages > 0 && st.postcopy_pages <= 40);
	/* what the destination read while pages were still arriving, and its
	 * memory at the end, are the source's memory */
	CHECK_EQ(p.crc_after_touch, mem_crc(&g.mem));
	CHECK_EQ(mem_crc(&p.d.mem), mem_crc(&g.mem));
	CHECK_STR(p.d.state, g.state);
	CHECK_EQ(g.resumes, 0);
	vm_mem_free(&g.mem);
	vm_mem_free(&p.d.mem);
}

TEST(postcopy_is_refused_by_a_receiver_that_does_not_take_it)
{
	struct guest g;
	struct dest d = {0};
	struct vm_migrate_stats st;
	struct vs_err e = {0};
	struct vm_migrate_params prm = {.max_rounds = 1, .postcopy = true};

	guest_init(&g);
	CHECK_EQ(migrate_pair(&g, &d, &st, &e, &prm), -1);
	CHECK_CONTAINS(e.msg, "post-copy not accepted here");
	CHECK_EQ(g.resumes, 1); /* before the commit: the source runs on */
	vm_mem_free(&g.mem);
	if (d.have_mem)
		vm_mem_free(&d.mem);
}

/* --- damaged streams: record a good one, replay it altered -------------------- */

struct pipe_fwd {
	int in, out;
	uint8_t *buf; /* recorded bytes, when not NULL-able */
	size_t len, cap;
	bool keep;
	size_t limit; /* 0: none; else the connection breaks after this many bytes */
	size_t passed;
};

static void *forward(void *arg)
{
	struct pipe_fwd *f = arg;
	uint8_t b[65536];
	ssize_t n;

	while ((n = read(f->in, b, sizeof(b))) > 0) {
		if (f->limit && f->passed + (size_t)n >= f->limit) {
			n = (ssize_t)(f->limit - f->passed);
			if (n && send(f->out, b, (size_t)n, MSG_NOSIGNAL) != n)
				break;
			/* the link breaks: both directions */
			shutdown(f->out, SHUT_RDWR);
			shutdown(f->in, SHUT_RDWR);
			return NULL;
		}
		f->passed += (size_t)n;
		if (f->keep) {
			if (f->len + (size_t)n > f->cap) {
				f->cap = (f->len + (size_t)n) * 2;
				f->buf = realloc(f->buf, f->cap);
			}
			memcpy(f->buf + f->len, b, (size_t)n);
			f->len += (size_t)n;
		}
		if (send(f->out, b, (size_t)n, MSG_NOSIGNAL) != n)
			break;
	}
	shutdown(f->out, SHUT_WR);
	return NULL;
}

/* The source->destination bytes of a whole good migration. */
static int record_stream(struct pipe_fwd *up)
{
	struct guest g;
	struct dest d = {0};
	struct vs_err e;
	struct vm_migrate_stats st;
	int s[2], t[2];
	pthread_t f1, f2, dt;
	struct pipe_fwd down = {0};
	struct vm_migrate_source_ops ops = {&g, g_dirty, g_pause, g_resume, g_save};

	guest_init(&g);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, s) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, t) < 0)
		return -1;
	*up = (struct pipe_fwd){.in = s[1], .out = t[0], .keep = true};
	down = (struct pipe_fwd){.in = t[0], .out = s[1]};
	d.fd = t[1];
	pthread_create(&f1, NULL, forward, up);
	pthread_create(&f2, NULL, forward, &down);
	pthread_create(&dt, NULL, dest_thread, &d);
	int rc = vm_migrate_send(s[0], &g.mem, "machine:2cpu", 12, &ops, NULL, &st, &e);
	close(s[0]);
	pthread_join(dt, NULL);
	pthread_join(f1, NULL);
	pthread_join(f2, NULL);
	close(s[1]);
	close(t[0]);
	vm_mem_free(&g.mem);
	if (d.have_mem)
		vm_mem_free(&d.mem);
	return rc == 0 && d.rc == 0 ? 0 : -1;
}

struct feeder {
	int fd;
	const uint8_t *buf;
	size_t len;
};

static void *feed(void *arg)
{
	struct feeder *f = arg;
	size_t off = 0;

	while (off < f->len) {
		ssize_t n = send(f->fd, f->buf + off, f->len - off, MSG_NOSIGNAL);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	shutdown(f->fd, SHUT_WR);
	return NULL;
}

/* Runs a receiver on buf; returns its result, e its error. */
static int replay(const uint8_t *buf, size_t len, struct dest *d)
{
	int sv[2];
	pthread_t ft, dt;
	struct feeder f;

	memset(d, 0, sizeof(*d));
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return -100;
	f = (struct feeder){sv[0], buf, len};
	d->fd = sv[1];
	pthread_create(&ft, NULL, feed, &f);
	pthread_create(&dt, NULL, dest_thread, d);
	pthread_join(dt, NULL);
	pthread_join(ft, NULL);
	close(sv[0]);
	if (d->have_mem)
		vm_mem_free(&d->mem);
	return d->rc;
}

TEST(recorded_stream_replays_and_every_damage_is_refused)
{
	struct pipe_fwd up = {0};
	struct dest d;

	REQUIRE(record_stream(&up) == 0);
	REQUIRE(up.len > NPAGE / 2 * PG);
	/* the recording itself is a complete migration: a replay succeeds up
	 * to the commit (the recorded commit frame is in it) */
	CHECK_EQ(replay(up.buf, up.len, &d), 0);
	CHECK_STR(d.state, "vcpu0:rip=0x1000;dev:virtio-blk:avail=7");

	/* truncated anywhere: refused */
	size_t cuts[] = {0, 7, 16, 40, 100, 5000, up.len / 2, up.len - 17, up.len - 1};
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		CHECK_EQ(replay(up.buf, cuts[i], &d), -1);
		CHECK(strstr(d.err.msg, "truncated") || strstr(d.err.msg, "ended early") ||
		      strstr(d.err.msg, "closed"));
	}
	/* a flipped bit anywhere: refused with a checksum or protocol error */
	size_t flips[] = {3, 20, 70, 4000, up.len / 3, up.len - 30};
	for (size_t i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
		uint8_t *copy = malloc(up.len);
		memcpy(copy, up.buf, up.len);
		copy[flips[i]] ^= 0x10;
		CHECK_EQ(replay(copy, up.len, &d), -1);
		CHECK(strstr(d.err.msg, "checksum mismatch") || strstr(d.err.msg, "frame of"));
		free(copy);
	}
	free(up.buf);
}

TEST(foreign_stream_is_refused_as_not_a_migration)
{
	struct dest d;
	const char junk[] = "GET / HTTP/1.1\r\nHost: example\r\n\r\n";

	CHECK_EQ(replay((const uint8_t *)junk, sizeof(junk) - 1, &d), -1);
	CHECK(strstr(d.err.msg, "checksum mismatch") != NULL);
	CHECK_EQ(replay(NULL, 0, &d), -1);
	CHECK_CONTAINS(d.err.msg, "closed");
}

/* --- TCP between two network namespaces ---------------------------------------- */

#define NS_A "vessel-mig-a"
#define NS_B "vessel-mig-b"

static int sh(const char *cmd)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "%s >/dev/null 2>&1", cmd);
	return system(buf);
}

static void netns_cleanup(void)
{
	sh("ip netns del " NS_A);
	sh("ip netns del " NS_B);
}

/* The destination tells the parent it listens (and on which port). */
static void announce(void *arg, unsigned port)
{
	if (write(*(int *)arg, &port, sizeof(port)) != sizeof(port))
		_exit(9);
}

static int enter_ns(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = setns(fd, CLONE_NEWNET);
	close(fd);
	return r;
}

TEST(migration_over_tcp_between_two_network_namespaces)
{
	int ready[2], result[2];
	pid_t dst, src;
	int st_d = 0, st_s = 0;
	uint32_t crc_d = 0, crc_s = 0;

	if (geteuid() != 0)
		SKIP("needs root for network namespaces");
	if (sh("command -v ip") != 0)
		SKIP("ip(8) not installed");
	netns_cleanup();
	if (sh("ip netns add " NS_A) || sh("ip netns add " NS_B) ||
	    sh("ip link add vsmig0 netns " NS_A " type veth peer name vsmig1 netns " NS_B) ||
	    sh("ip -n " NS_A " addr add 10.231.7.1/24 dev vsmig0") ||
	    sh("ip -n " NS_B " addr add 10.231.7.2/24 dev vsmig1") ||
	    sh("ip -n " NS_A " link set vsmig0 up") || sh("ip -n " NS_B " link set vsmig1 up") ||
	    sh("ip -n " NS_A " link set lo up") || sh("ip -n " NS_B " link set lo up")) {
		netns_cleanup();
		SKIP("cannot create network namespaces and a veth pair here");
	}
	REQUIRE(pipe(ready) == 0 && pipe(result) == 0);

	dst = fork();
	if (dst == 0) {
		struct vs_err e;
		struct dest d = {0};
		struct vm_migrate_sink_ops ops = {&d, d_prepare, d_load};
		uint32_t c = 0;

		close(ready[0]);
		if (enter_ns(NS_B) < 0)
			_exit(3);
		int fd = vm_migrate_listen_accept("10.231.7.2:0", announce, &ready[1], &e);
		if (fd < 0)
			_exit(4);
		if (vm_migrate_recv(fd, &ops, &d.st, &e) < 0)
			_exit(5);
		c = mem_crc(&d.mem);
		if (write(result[1], &c, 4) != 4)
			_exit(6);
		_exit(strcmp(d.state, "vcpu0:rip=0x1000;dev:virtio-blk:avail=7") ? 7 : 0);
	}
	close(ready[1]);
	unsigned port = 0;
	if (read(ready[0], &port, sizeof(port)) != sizeof(port) || !port) {
		kill(dst, SIGKILL);
		waitpid(dst, NULL, 0);
		netns_cleanup();
		REQUIRE(!"the destination did not start listening");
	}
	src = fork();
	if (src == 0) {
		struct vs_err e;
		struct guest g;
		struct vm_migrate_stats st;
		struct vm_migrate_source_ops ops = {&g, g_dirty, g_pause, g_resume, g_save};
		int fd;

		if (enter_ns(NS_A) < 0)
			_exit(3);
		char to[64];

		guest_init(&g);
		snprintf(to, sizeof(to), "10.231.7.2:%u", port);
		fd = vm_migrate_connect(to, &e);
		if (fd < 0)
			_exit(4);
		if (vm_migrate_send(fd, &g.mem, "machine:2cpu", 12, &ops, NULL, &st, &e) < 0)
			_exit(5);
		uint32_t c = mem_crc(&g.mem);
		if (write(result[1], &c, 4) != 4)
			_exit(6);
		_exit(g.resumes ? 8 : 0);
	}
	close(result[1]);
	waitpid(src, &st_s, 0);
	waitpid(dst, &st_d, 0);
	CHECK(read(result[0], &crc_s, 4) == 4);
	CHECK(read(result[0], &crc_d, 4) == 4);
	close(result[0]);
	close(ready[0]);
	netns_cleanup();
	CHECK(WIFEXITED(st_s) && WEXITSTATUS(st_s) == 0);
	CHECK(WIFEXITED(st_d) && WEXITSTATUS(st_d) == 0);
	CHECK(crc_s != 0);
	CHECK_EQ(crc_s, crc_d);
	CHECK(sh("ip netns list | grep -q vessel-mig") != 0);
}

/* --- post-copy when the link breaks after the commit ------------------------------- */

/* Runs a post-copy migration through forwarding threads; up->limit breaks
 * the source->destination link after that many bytes (0: never). */
static int postcopy_through(struct pipe_fwd *up, struct pc_dest *p, struct guest *g,
			    struct vs_err *e)
{
	struct vm_migrate_params prm = {.max_rounds = 1, .postcopy = true};
	struct vm_migrate_source_ops ops = {g, g_dirty, g_pause, g_resume, g_save};
	struct vm_migrate_stats st;
	struct pipe_fwd down = {0};
	int s[2], t[2];
	pthread_t f1, f2, dt;

	guest_init(g);
	g->burst = 40;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, s) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, t) < 0)
		return -100;
	up->in = s[1];
	up->out = t[0];
	down = (struct pipe_fwd){.in = t[0], .out = s[1]};
	p->d.fd = t[1];
	pthread_create(&f1, NULL, forward, up);
	pthread_create(&f2, NULL, forward, &down);
	pthread_create(&dt, NULL, pc_dest_thread, p);
	int rc = vm_migrate_send(s[0], &g->mem, "machine:2cpu", 12, &ops, &prm, &st, e);
	close(s[0]);
	pthread_join(dt, NULL);
	pthread_join(f1, NULL);
	pthread_join(f2, NULL);
	close(s[1]);
	close(t[0]);
	return rc;
}

/* Offset just past the commit frame in a recorded source stream. */
static size_t after_commit(const uint8_t *b, size_t len)
{
	size_t off = 0;

	while (off + 16 <= len) {
		uint32_t type =
			b[off] | b[off + 1] << 8 | b[off + 2] << 16 | (uint32_t)b[off + 3] << 24;
		uint32_t flen = b[off + 4] | b[off + 5] << 8 | b[off + 6] << 16 |
				(uint32_t)b[off + 7] << 24;
		off += 16 + flen;
		if (type == 10) /* commit */
			return off;
	}
	return 0;
}

TEST(postcopy_link_lost_after_commit_fails_the_destination_and_keeps_the_source_paused)
{
	struct pipe_fwd up = {.keep = true};
	struct pc_dest p = {0};
	struct guest g;
	struct vs_err e = {0};

	/* a whole post-copy migration first, to find where the commit ends */
	int rc = postcopy_through(&up, &p, &g, &e);
	vm_mem_free(&g.mem);
	if (p.d.have_mem)
		vm_mem_free(&p.d.mem);
	if (p.d.rc < 0 && strstr(p.d.err.msg, "userfaultfd")) {
		free(up.buf);
		SKIP("%.200s", p.d.err.msg);
	}
	REQUIRE(rc == 0);
	size_t cut = after_commit(up.buf, up.len);
	free(up.buf);
	REQUIRE(cut > 0);

	/* again, the link breaking right after the commit: the destination
	 * took over, but its missing pages never come */
	memset(&up, 0, sizeof(up));
	memset(&p, 0, sizeof(p));
	up.limit = cut;
	rc = postcopy_through(&up, &p, &g, &e);
	CHECK_EQ(rc, VM_MIGRATE_UNCERTAIN);
	CHECK_CONTAINS(e.msg, "stays paused");
	CHECK(g.paused);
	CHECK_EQ(g.resumes, 0);
	CHECK_EQ(p.d.rc, 0);
	CHECK(p.was_postcopy);
	/* touching the memory did not hang; the failure is reported */
	CHECK_EQ(p.finish_rc, -1);
	CHECK(p.finish_err.msg[0] != 0);
	CHECK(p.crc_after_touch != mem_crc(&g.mem));
	vm_mem_free(&g.mem);
	if (p.d.have_mem)
		vm_mem_free(&p.d.mem);
}
