/* vmm/event.c: the device event loop. */
#include <pthread.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "test.h"
#include "vmm/event.h"

struct ctx {
	struct vm_event_loop *l;
	int fd, other_fd;
	int calls;
	int stop_after;
	int del_other;
};

static void on_ready(void *opaque, uint32_t events)
{
	struct ctx *c = opaque;
	uint64_t v;

	c->calls++;
	if (read(c->fd, &v, sizeof(v)) < 0)
		return;
	if (c->del_other)
		vm_event_del(c->l, c->other_fd);
	if (c->calls >= c->stop_after)
		vm_event_loop_stop(c->l);
}

static void *run_loop(void *arg)
{
	struct vm_event_loop *l = arg;
	struct vs_err e;

	return (void *)(intptr_t)vm_event_loop_run(l, &e);
}

TEST(event_loop_dispatches_and_stops_from_handler)
{
	struct vs_err e;
	struct vm_event_loop *l = vm_event_loop_new(&e);
	uint64_t one = 1;

	REQUIRE(l);
	struct ctx c = {.l = l, .stop_after = 1};
	c.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	REQUIRE(c.fd >= 0);
	REQUIRE(vm_event_add(l, c.fd, EPOLLIN, on_ready, &c, &e) == 0);
	CHECK_EQ(vm_event_add(l, c.fd, EPOLLIN, on_ready, &c, &e), -1); /* twice */
	CHECK_CONTAINS(e.msg, "already registered");
	REQUIRE(write(c.fd, &one, sizeof(one)) == sizeof(one));
	CHECK_EQ(vm_event_loop_run(l, &e), 0);
	CHECK_EQ(c.calls, 1);
	vm_event_loop_free(l);
	close(c.fd);
}

TEST(event_loop_stop_from_other_thread_wakes_it)
{
	struct vs_err e;
	struct vm_event_loop *l = vm_event_loop_new(&e);
	pthread_t t;
	void *ret;

	REQUIRE(l);
	REQUIRE(pthread_create(&t, NULL, run_loop, l) == 0);
	vm_event_loop_stop(l);
	pthread_join(t, &ret);
	CHECK_EQ((intptr_t)ret, 0);
	vm_event_loop_free(l);
}

TEST(event_deleted_fd_gets_no_more_events)
{
	struct vs_err e;
	struct vm_event_loop *l = vm_event_loop_new(&e);
	uint64_t one = 1;

	REQUIRE(l);
	/* both ready in the same batch: whichever runs first deletes the other
	 * and stops the loop; the batch is still finished, so only the deleted
	 * mark keeps the second handler from running */
	struct ctx a = {.l = l, .stop_after = 1, .del_other = 1};
	struct ctx b = {.l = l, .stop_after = 1, .del_other = 1};
	a.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	b.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	a.other_fd = b.fd;
	b.other_fd = a.fd;
	REQUIRE(vm_event_add(l, a.fd, EPOLLIN, on_ready, &a, &e) == 0);
	REQUIRE(vm_event_add(l, b.fd, EPOLLIN, on_ready, &b, &e) == 0);
	REQUIRE(write(a.fd, &one, sizeof(one)) == sizeof(one));
	REQUIRE(write(b.fd, &one, sizeof(one)) == sizeof(one));
	CHECK_EQ(vm_event_loop_run(l, &e), 0);
	CHECK_EQ(a.calls + b.calls, 1);
	CHECK_EQ(vm_event_mod(l, a.calls ? b.fd : a.fd, EPOLLIN, &e), -1);
	vm_event_loop_free(l);
	close(a.fd);
	close(b.fd);
}
