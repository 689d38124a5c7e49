/* Fuzzes the migration receiver: the input is what a source sends. Any
 * stream must be refused cleanly or, when it is a complete migration,
 * leave exactly the pages it carried in memory. Pages beyond the machine,
 * out-of-order frames and bad checksums must never touch memory outside
 * the mapping (ASan). */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vmm/migrate.h"
#include "vmm/snapshot_mem.h"

#define MAX_PAGES 64

struct sink {
	struct vm_memory mem;
	uint8_t *area;
	size_t area_len;
};

static int prepare(void *o, const uint8_t *machine, size_t len, uint64_t pages,
		   struct vm_memory **mem, struct vs_err *e)
{
	struct sink *s = o;

	if (pages > MAX_PAGES)
		return vs_fail(e, EINVAL, "fuzz: %llu pages", (unsigned long long)pages);
	s->area_len = pages * VM_PAGE_SIZE;
	s->area =
		mmap(NULL, s->area_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s->area == MAP_FAILED) {
		s->area = NULL;
		return vs_fail(e, ENOMEM, "fuzz: mmap");
	}
	memset(&s->mem, 0, sizeof(s->mem));
	if (vm_mem_add_region(&s->mem, 0, s->area_len, s->area, -1, 0, e) < 0)
		return -1;
	*mem = &s->mem;
	return 0;
}

static int load(void *o, const uint8_t *buf, size_t len, struct vs_err *e)
{
	volatile uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += buf[i];
	(void)sum;
	return 0;
}

struct feed {
	int fd;
	const uint8_t *d;
	size_t n;
};

static void *feeder(void *arg)
{
	struct feed *f = arg;
	size_t off = 0;

	while (off < f->n) {
		ssize_t w = send(f->fd, f->d + off, f->n - off, MSG_NOSIGNAL);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	shutdown(f->fd, SHUT_WR);
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sink s = {0};
	struct vm_migrate_sink_ops ops = {&s, prepare, load};
	struct vs_err e;
	int sv[2];
	pthread_t t;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	struct feed f = {sv[0], data, size};
	pthread_create(&t, NULL, feeder, &f);
	struct vm_postcopy *pc = NULL;
	if (vm_migrate_recv_pc(sv[1], &ops, NULL, &pc, &e) == 0 && pc) {
		/* the rest of the input is the post-copy part */
		vm_postcopy_finish(pc, &e);
		vm_postcopy_free(pc);
	}
	close(sv[1]); /* unblocks the feeder if the receiver stopped early */
	pthread_join(t, NULL);
	close(sv[0]);
	if (s.area)
		munmap(s.area, s.area_len);
	return 0;
}
