/* The device event loop: one thread, epoll over eventfds (queue notifications),
 * tap and socket fds. Handlers run on the loop thread. */
#ifndef VMM_EVENT_H
#define VMM_EVENT_H

#include <stdint.h>

#include "vessel/err.h"

typedef void (*vm_event_fn)(void *opaque, uint32_t events);

struct vm_event_loop;

struct vm_event_loop *vm_event_loop_new(struct vs_err *e);
void vm_event_loop_free(struct vm_event_loop *l);
/* events: EPOLLIN/EPOLLOUT...; one registration per fd. */
int vm_event_add(struct vm_event_loop *l, int fd, uint32_t events, vm_event_fn fn, void *opaque,
		 struct vs_err *e);
int vm_event_mod(struct vm_event_loop *l, int fd, uint32_t events, struct vs_err *e);
void vm_event_del(struct vm_event_loop *l, int fd);
/* Runs until vm_event_loop_stop(); returns 0, or -1 on epoll failure. */
int vm_event_loop_run(struct vm_event_loop *l, struct vs_err *e);
void vm_event_loop_stop(struct vm_event_loop *l); /* any thread */

#endif
