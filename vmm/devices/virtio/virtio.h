/*
 * Virtio 1.2 for vessel-vmm: split virtqueues (queue.c), the modern PCI
 * transport (pci.c) and the device types built on them (blk, net, console,
 * rng, vsock, balloon). Everything here treats guest memory as hostile: rings
 * and buffers are checked against the guest memory map, and a protocol
 * violation marks the device DEVICE_NEEDS_RESET (virtio 1.2 §2.1.2) instead
 * of touching host memory or crashing.
 */
#ifndef VMM_VIRTIO_H
#define VMM_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vmm/device.h"

/* Device status bits (§2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER	  2
#define VIRTIO_STATUS_DRIVER_OK	  4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED	  0x80

/* Reserved feature bits (§6). */
#define VIRTIO_F_INDIRECT_DESC	 28
#define VIRTIO_F_EVENT_IDX	 29
#define VIRTIO_F_VERSION_1	 32
#define VIRTIO_F_ACCESS_PLATFORM 33
#define VIRTIO_F_RING_PACKED	 34

/* Device types (§5): PCI device id is 0x1040 + type (§4.1.2). */
#define VIRTIO_ID_NET	  1
#define VIRTIO_ID_BLOCK	  2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG	  4
#define VIRTIO_ID_BALLOON 5
#define VIRTIO_ID_VSOCK	  19

#define VIRTIO_MSI_NO_VECTOR 0xffff

/* ---- split virtqueue (queue.c, §2.7) ---------------------------------- */

#define VM_VQ_MAX_SIZE 256 /* largest queue size any device offers */

#define VIRTQ_DESC_F_NEXT	   1
#define VIRTQ_DESC_F_WRITE	   2
#define VIRTQ_DESC_F_INDIRECT	   4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

/* One descriptor chain the driver made available: the device-readable
 * segments first (iov[0..n_out)), then the device-writable ones. Each iov
 * points into guest memory, already checked to lie inside one region. */
struct vm_vq_elem {
	uint16_t head;
	unsigned n_out, n_in;
	uint64_t out_len, in_len;
	struct iovec iov[VM_VQ_MAX_SIZE];
};

struct vm_vq {
	/* programmed by the driver through the transport */
	uint16_t size, max_size;
	bool enabled;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t msix_vector;
	/* negotiated features that change ring handling */
	bool event_idx, indirect;
	/* device position; saved and restored */
	uint16_t last_avail, used_idx;
	uint16_t signalled_used;
	bool signalled_valid;
	/* set by vm_vq_enable once the rings are known to be in guest RAM */
	const struct vm_memory *mem;
	uint8_t *desc, *avail, *used;
	uint8_t inflight[VM_VQ_MAX_SIZE / 8]; /* heads popped, not yet used */
	unsigned index;			      /* for messages */
};

/* Back to the state after reset (size = max_size, nothing programmed). */
void vm_vq_reset(struct vm_vq *q, unsigned index, uint16_t max_size);
/* Checks size and the three ring areas (alignment, inside guest RAM) and
 * caches their host addresses; the queue is live afterwards. */
int vm_vq_enable(struct vm_vq *q, const struct vm_memory *mem, struct vs_err *e);
/* Takes the next available chain: 1 when el holds one, 0 when the ring is
 * empty, -1 on a driver error (e says which rule was broken). */
int vm_vq_pop(struct vm_vq *q, struct vm_vq_elem *el, struct vs_err *e);
/* Returns a chain to the driver with len bytes written into it. */
int vm_vq_push(struct vm_vq *q, uint16_t head, uint32_t len, struct vs_err *e);
/* Batched return (mergeable rx buffers): fill used entry i past the current
 * used idx, then publish n entries at once with vm_vq_flush, so the driver
 * never sees part of a packet. */
int vm_vq_fill(struct vm_vq *q, unsigned i, uint16_t head, uint32_t len, struct vs_err *e);
void vm_vq_flush(struct vm_vq *q, unsigned n);
/* Gives back the last n popped chains (heads in pop order) unconsumed. */
void vm_vq_rewind(struct vm_vq *q, const uint16_t *heads, unsigned n);
/* After pushes: whether the driver asked to be interrupted (§2.7.7, §2.7.10
 * with VIRTIO_F_EVENT_IDX). Updates the "last signalled" mark. */
bool vm_vq_should_notify(struct vm_vq *q);
/* Whether a chain is available without consuming it. */
bool vm_vq_has_avail(struct vm_vq *q);

/* Gather/scatter between an element's segments and a flat buffer, starting
 * skip bytes in; return bytes copied. */
size_t vm_iov_to_buf(const struct iovec *iov, unsigned n, size_t skip, void *buf, size_t len);
size_t vm_buf_to_iov(const struct iovec *iov, unsigned n, size_t skip, const void *buf, size_t len);
/* Copies up to max segments of iov, leaving out skip bytes at the front and
 * drop bytes at the end; returns the number of segments written to out. */
unsigned vm_iov_slice(const struct iovec *iov, unsigned n, size_t skip, size_t drop,
		      struct iovec *out, unsigned max);

/* ---- virtio-pci modern transport (pci.c, §4.1) ------------------------- */

#define VM_VIRTIO_MAX_QUEUES 4
#define VM_VIRTIO_MAX_CONFIG 64
#define VM_VIRTIO_NVEC	     (VM_VIRTIO_MAX_QUEUES + 1)

struct vm_virtio_dev;

/* What a device type tells the transport. Callbacks run with d->lock held. */
struct vm_virtio_ops {
	const char *name;   /* "virtio-blk": used in messages and for the PCI dev */
	uint16_t type;	    /* VIRTIO_ID_* */
	uint32_t pci_class; /* class code (base << 16 | sub << 8 | prog-if) */
	uint16_t nr_queues;
	uint16_t queue_size;  /* maximum size of each queue */
	uint32_t config_size; /* bytes of device config (<= VM_VIRTIO_MAX_CONFIG) */
	/* The driver wrote device config bytes [off, off + len) of d->config
	 * (already stored). NULL: the config space is read-only. */
	void (*config_write)(struct vm_virtio_dev *d, uint32_t off, uint32_t len);
	/* Queue q was notified (or the device asks itself to run it). */
	void (*queue_notify)(struct vm_virtio_dev *d, unsigned q);
	/* DRIVER_OK was set: start backends with d->guest_features. */
	int (*activate)(struct vm_virtio_dev *d, struct vs_err *e);
	/* The driver reset the device (status 0) or the device is being torn down. */
	void (*reset)(struct vm_virtio_dev *d);
};

struct vm_virtio_dev {
	struct vm_pci_dev pci; /* first: the PCI layer hands us this pointer */
	const struct vm_virtio_ops *ops;
	struct vm_ctx *ctx;
	void *priv;
	pthread_mutex_t lock; /* vCPU MMIO vs. the device loop */

	uint64_t host_features, guest_features;
	uint32_t dfselect, gfselect;
	uint16_t queue_sel, msix_config;
	uint8_t status, config_gen, isr;
	bool intx_level;      /* INTx line currently raised */
	bool broken;	      /* NEEDS_RESET set: queues are not processed */
	char broken_why[256]; /* first violation, for logs and tests */
	uint8_t config[VM_VIRTIO_MAX_CONFIG];

	struct vm_vq vq[VM_VIRTIO_MAX_QUEUES];
	int kick_fd[VM_VIRTIO_MAX_QUEUES]; /* eventfd per queue, -1 without a loop */
	bool ioeventfd_done;

	uint8_t msix_table[VM_VIRTIO_NVEC * 16];
	uint32_t msix_pending; /* PBA bits */
	uint16_t msix_cap;     /* config offset of the MSI-X capability */
	uint16_t pcicfg_cap;   /* config offset of VIRTIO_PCI_CAP_PCI_CFG */
};

/* Builds the PCI function (ids, capabilities, BAR 0 layout), registers it on
 * ctx->pci and hooks each queue's eventfd into ctx->loop (when there is one;
 * without a loop a notify runs the queue at once, which unit tests use). */
int vm_virtio_init(struct vm_virtio_dev *d, struct vm_ctx *ctx, const struct vm_virtio_ops *ops,
		   uint64_t features, void *priv, struct vs_err *e);
void vm_virtio_destroy(struct vm_virtio_dev *d);

/* After pushing used buffers on q: interrupt the driver if it wants one. */
void vm_virtio_notify_used(struct vm_virtio_dev *d, unsigned q);
/* The device changed its config: new generation and a config interrupt. */
void vm_virtio_config_changed(struct vm_virtio_dev *d);
/* The driver broke the protocol: DEVICE_NEEDS_RESET, stop processing, tell
 * the driver through the config interrupt (§2.1.2). Lock held. */
void vm_virtio_set_broken(struct vm_virtio_dev *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Runs queue q as a notification would (device side: e.g. a backend became
 * writable again). Takes the lock. */
void vm_virtio_kick(struct vm_virtio_dev *d, unsigned q);
/* Whether the driver has set DRIVER_OK and the device is not broken. */
bool vm_virtio_running(const struct vm_virtio_dev *d);
bool vm_virtio_has_feature(const struct vm_virtio_dev *d, unsigned bit);

/* Transport state: status, features, queues and ring positions, MSI-X table,
 * PCI config space, device config. Every device's save() starts with it. */
void vm_virtio_save(struct vm_virtio_dev *d, struct vm_state_writer *w);
int vm_virtio_restore(struct vm_virtio_dev *d, struct vm_state_reader *r, struct vs_err *e);

/* BAR 0 layout (offsets inside the BAR). */
#define VM_VIRTIO_BAR_SIZE    0x8000
#define VM_VIRTIO_COMMON_OFF  0x0000
#define VM_VIRTIO_ISR_OFF     0x1000
#define VM_VIRTIO_DEVICE_OFF  0x2000
#define VM_VIRTIO_NOTIFY_OFF  0x3000
#define VM_VIRTIO_NOTIFY_MULT 4
#define VM_VIRTIO_MSIX_OFF    0x4000
#define VM_VIRTIO_PBA_OFF     0x5000

/* Instances by type, in creation order (tests, control socket). */
struct vm_virtio_dev *vm_virtio_lookup(uint16_t type, unsigned nth);

/* ---- device-specific entry points -------------------------------------- */

/* The device kinds (registered with VM_DEVICE; named here so tests can
 * create them directly). */
extern const struct vm_device_ops vm_virtio_blk_ops, vm_virtio_net_ops, vm_virtio_console_ops,
	vm_virtio_rng_ops, vm_virtio_vsock_ops, vm_virtio_balloon_ops;

/* Console (console.c): the pty path the guest console is on, or NULL. */
const char *vm_virtio_console_pty(void);

/* Balloon (balloon.c): the core sets how much guest memory the balloon
 * should hold (bytes, rounded down to 4 KiB pages: config num_pages); the
 * driver is told through a config change interrupt. -1 when there is no
 * balloon. */
int vm_balloon_set_target(uint64_t bytes);
/* Hands the driver's stats buffer back so it sends fresh statistics. */
int vm_balloon_request_stats(void);
/* Last statistics the driver reported (VIRTIO_BALLOON_F_STATS_VQ): tags
 * VIRTIO_BALLOON_S_* (§5.5.6.3) -> value; returns how many were filled. */
struct vm_balloon_stat {
	uint16_t tag;
	uint64_t val;
};
int vm_balloon_get_stats(struct vm_balloon_stat *out, int max, uint32_t *actual_pages);

#endif
