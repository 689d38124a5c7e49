/* The device event loop: one epoll instance, one registration per fd, and an
 * eventfd that wakes the loop when another thread asks it to stop. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vmm/event.h"

struct ev_entry {
	int fd;
	vm_event_fn fn;
	void *opaque;
	bool dead; /* deleted; freed by the loop after the current batch */
	struct ev_entry *next;
};

struct vm_event_loop {
	int epfd;
	int stopfd; /* eventfd: written by vm_event_loop_stop() */
	atomic_bool stop;
	pthread_mutex_t lock; /* guards the entry list */
	struct ev_entry *entries;
};

/* epoll data pointing here is the stop eventfd, not an entry */
static char stop_tag;

struct vm_event_loop *vm_event_loop_new(struct vs_err *e)
{
	struct vm_event_loop *l = calloc(1, sizeof(*l));

	if (!l) {
		vs_fail(e, ENOMEM, "event loop: out of memory");
		return NULL;
	}
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		vs_fail_errno(e, "event loop: epoll_create1");
		free(l);
		return NULL;
	}
	l->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->stopfd < 0) {
		vs_fail_errno(e, "event loop: eventfd");
		close(l->epfd);
		free(l);
		return NULL;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &stop_tag};
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->stopfd, &ev) < 0) {
		vs_fail_errno(e, "event loop: epoll_ctl(stop eventfd)");
		close(l->stopfd);
		close(l->epfd);
		free(l);
		return NULL;
	}
	pthread_mutex_init(&l->lock, NULL);
	return l;
}

void vm_event_loop_free(struct vm_event_loop *l)
{
	if (!l)
		return;
	for (struct ev_entry *n, *x = l->entries; x; x = n) {
		n = x->next;
		free(x);
	}
	close(l->stopfd);
	close(l->epfd);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

/* Caller holds l->lock. */
static struct ev_entry *find_live(struct vm_event_loop *l, int fd)
{
	for (struct ev_entry *x = l->entries; x; x = x->next)
		if (x->fd == fd && !x->dead)
			return x;
	return NULL;
}

int vm_event_add(struct vm_event_loop *l, int fd, uint32_t events, vm_event_fn fn, void *opaque,
		 struct vs_err *e)
{
	int ret = 0;

	if (fd < 0 || !fn)
		return vs_fail(e, EINVAL, "event loop: bad registration (fd %d)", fd);
	pthread_mutex_lock(&l->lock);
	if (find_live(l, fd)) {
		ret = vs_fail(e, EEXIST, "event loop: fd %d already registered", fd);
		goto out;
	}
	struct ev_entry *x = calloc(1, sizeof(*x));
	if (!x) {
		ret = vs_fail(e, ENOMEM, "event loop: out of memory");
		goto out;
	}
	*x = (struct ev_entry){.fd = fd, .fn = fn, .opaque = opaque, .next = l->entries};
	struct epoll_event ev = {.events = events, .data.ptr = x};
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		ret = vs_fail_errno(e, "event loop: epoll_ctl(ADD, fd %d)", fd);
		free(x);
		goto out;
	}
	l->entries = x;
out:
	pthread_mutex_unlock(&l->lock);
	return ret;
}

int vm_event_mod(struct vm_event_loop *l, int fd, uint32_t events, struct vs_err *e)
{
	int ret = 0;

	pthread_mutex_lock(&l->lock);
	struct ev_entry *x = find_live(l, fd);
	if (!x) {
		ret = vs_fail(e, ENOENT, "event loop: fd %d not registered", fd);
		goto out;
	}
	struct epoll_event ev = {.events = events, .data.ptr = x};
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		ret = vs_fail_errno(e, "event loop: epoll_ctl(MOD, fd %d)", fd);
out:
	pthread_mutex_unlock(&l->lock);
	return ret;
}

/* The entry is only marked: an event for it may already sit in the batch the
 * loop is dispatching, and must then be dropped rather than reach freed
 * memory. */
void vm_event_del(struct vm_event_loop *l, int fd)
{
	pthread_mutex_lock(&l->lock);
	struct ev_entry *x = find_live(l, fd);
	if (x) {
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
		x->dead = true;
	}
	pthread_mutex_unlock(&l->lock);
}

static void sweep_dead(struct vm_event_loop *l)
{
	pthread_mutex_lock(&l->lock);
	for (struct ev_entry **pp = &l->entries; *pp;) {
		struct ev_entry *x = *pp;
		if (x->dead) {
			*pp = x->next;
			free(x);
		} else {
			pp = &x->next;
		}
	}
	pthread_mutex_unlock(&l->lock);
}

int vm_event_loop_run(struct vm_event_loop *l, struct vs_err *e)
{
	struct epoll_event evs[32];

	while (!atomic_load(&l->stop)) {
		int n = epoll_wait(l->epfd, evs, 32, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return vs_fail_errno(e, "event loop: epoll_wait");
		}
		/* the batch is finished even after a stop request: handlers
		 * see each event that epoll reported, or none for deleted fds */
		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == &stop_tag)
				continue; /* the flag is already set */
			struct ev_entry *x = evs[i].data.ptr;
			vm_event_fn fn = NULL;
			void *opaque = NULL;

			pthread_mutex_lock(&l->lock);
			if (!x->dead) {
				fn = x->fn;
				opaque = x->opaque;
			}
			pthread_mutex_unlock(&l->lock);
			if (fn)
				fn(opaque, evs[i].events);
		}
		sweep_dead(l);
	}
	return 0;
}

void vm_event_loop_stop(struct vm_event_loop *l)
{
	uint64_t one = 1;

	atomic_store(&l->stop, true);
	/* a full counter (EAGAIN) still leaves the fd readable: the wake-up is
	 * not lost */
	ssize_t r = write(l->stopfd, &one, sizeof(one));
	(void)r;
}
