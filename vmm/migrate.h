/*
 * Live migration stream (docs/snapshots.md "Migration protocol"): a
 * versioned hello, the machine description, pre-copy rounds of dirty pages
 * while the source runs, a bounded final pause that sends the last dirty
 * pages and the device + vCPU state, then a two-step ack/commit. Sender and
 * receiver are functions over a connected fd, with the VM behind callbacks,
 * so the protocol is tested with plain mappings. Every frame is checksummed;
 * a truncated, corrupt or foreign stream is refused. Until the commit is
 * sent, any failure leaves the source running.
 */
#ifndef VMM_MIGRATE_H
#define VMM_MIGRATE_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/memory.h"
#include "vessel/err.h"

#define VM_MIGRATE_MAGIC     "VESSELMG"
#define VM_MIGRATE_VERSION   1u
#define VM_MIGRATE_MAX_FRAME (256u << 20)

/* Returned by vm_migrate_send when the commit was sent but not confirmed:
 * the destination may be running, so the source must not resume on its own
 * (it stays paused; the operator decides). */
#define VM_MIGRATE_UNCERTAIN (-2)

struct vm_migrate_source_ops {
	void *opaque;
	/* Sets in bitmap (bit i: page i, pages numbered across regions) the
	 * pages written since the previous call (the first call: since dirty
	 * logging started) and clears nothing else. */
	int (*get_dirty)(void *opaque, uint64_t *bitmap, struct vs_err *e);
	int (*pause)(void *opaque, struct vs_err *e);
	int (*resume)(void *opaque, struct vs_err *e);
	/* The paused machine's device and vCPU state (malloc'ed). */
	int (*save_state)(void *opaque, uint8_t **buf, size_t *len, struct vs_err *e);
};

struct vm_migrate_params {
	unsigned max_rounds;  /* pre-copy rounds before pausing anyway (0: 8) */
	unsigned downtime_ms; /* target for the final pause (0: 300) */
	/* Pause once at most this many pages are dirty (0: estimate it from
	 * downtime_ms and the rate the previous round was sent at). */
	uint64_t converge_pages;
	/* Post-copy: pause after the pre-copy rounds and hand over at once;
	 * the pages still dirty follow after the commit, pushed in order and
	 * on demand when the destination's guest touches them. */
	bool postcopy;
};

struct vm_migrate_stats {
	unsigned rounds;      /* pre-copy rounds, the first (all of memory) included */
	uint64_t pages_sent;  /* with data */
	uint64_t zero_pages;  /* sent as "zero" without data */
	uint64_t final_pages; /* sent while paused */
	uint64_t state_bytes;
	uint64_t downtime_ns;	    /* pause to commit (source) */
	uint64_t postcopy_pages;    /* sent after the commit */
	uint64_t postcopy_requests; /* of those, asked for by a fault */
};

/* The machine description goes first so the destination can refuse a
 * machine it cannot build before any page is sent. */
int vm_migrate_send(int fd, const struct vm_memory *mem, const void *machine, size_t machine_len,
		    const struct vm_migrate_source_ops *ops, const struct vm_migrate_params *p,
		    struct vm_migrate_stats *st, struct vs_err *e);

struct vm_migrate_sink_ops {
	void *opaque;
	/* Checks the machine and makes its memory (pages: the source's page
	 * count, which must match). */
	int (*prepare)(void *opaque, const uint8_t *machine, size_t len, uint64_t pages,
		       struct vm_memory **mem, struct vs_err *e);
	/* Loads the final state; the VM must be ready to run after it. */
	int (*load_state)(void *opaque, const uint8_t *buf, size_t len, struct vs_err *e);
};

/* Returns 0 once the commit arrived (the caller then runs the VM); on any
 * failure -1, after telling the source why when the connection allows. */
int vm_migrate_recv(int fd, const struct vm_migrate_sink_ops *ops, struct vm_migrate_stats *st,
		    struct vs_err *e);

/* A post-copy migration in progress on the destination: the VM may run;
 * a missing page it touches is fetched from the source (userfaultfd). */
struct vm_postcopy;
/* Like vm_migrate_recv, and accepts post-copy: then *pc is set, fd stays in
 * use by the post-copy thread (do not close it) and the memory must be
 * private anonymous (refused before the ack otherwise). *pc is NULL after
 * a plain migration. */
int vm_migrate_recv_pc(int fd, const struct vm_migrate_sink_ops *ops, struct vm_migrate_stats *st,
		       struct vm_postcopy **pc, struct vs_err *e);
/* Waits until every page arrived; -1 when the source failed first (the
 * pages still missing read as zero: the VM must stop). */
int vm_postcopy_finish(struct vm_postcopy *pc, struct vs_err *e);
/* Stops the thread (shutting the connection down if needed) and frees. */
void vm_postcopy_free(struct vm_postcopy *pc);

/* TCP: "host:port" (IPv4, IPv6 in brackets, or a name). */
int vm_migrate_connect(const char *to, struct vs_err *e);
/* Listens on addr:port and accepts one connection; *bound_port (may be
 * NULL) gets the port (useful with port 0). ready, when not NULL, is called
 * once listening. */
int vm_migrate_listen_accept(const char *addr, void (*ready)(void *arg, unsigned port), void *arg,
			     struct vs_err *e);

#endif
