/* A minimal virtio 1.2 driver over the modern PCI transport (virtio 1.2
 * §4.1): capability walk, feature negotiation with VERSION_1, split
 * virtqueues (§2.7) polled through the used ring, no interrupts. */
#ifndef GUEST_VIRTIO_H
#define GUEST_VIRTIO_H

#include "guest.h"

#define VIRTIO_ID_NET	  1
#define VIRTIO_ID_BLOCK	  2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG	  4
#define VIRTIO_ID_BALLOON 5
#define VIRTIO_ID_VSOCK	  19

/* device status (§2.1) */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER	  2
#define VIRTIO_STATUS_DRIVER_OK	  4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED	  0x80

#define VIRTIO_F_VERSION_1 (1ull << 32)

#define VIRTQ_DESC_F_NEXT  1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_MAX_SIZE	   64
#define VIRTIO_MAX_QUEUES  4

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

struct virtq {
	uint16_t index, size;
	uint16_t avail_idx; /* next free slot of the avail ring (driver side) */
	uint16_t used_seen; /* used entries consumed so far */
	uint16_t next_desc; /* descriptors are handed out in a simple ring */
	volatile struct virtq_desc *desc;
	volatile uint16_t *avail; /* flags, idx, ring[size], used_event */
	volatile uint8_t *used;	  /* flags, idx, ring[size] of {id, len}, avail_event */
	uint64_t notify_addr;
};

struct virtio_dev {
	uint8_t pci_dev, pci_fn;
	uint16_t type;
	uint64_t common, notify, isr, device; /* mapped capability regions */
	uint32_t notify_mult;
	uint64_t offered, features;
	struct virtq q[VIRTIO_MAX_QUEUES];
};

/* A buffer of a request: guest-physical address (identity mapped), length,
 * and whether the device writes it. */
struct vbuf {
	const void *addr;
	uint32_t len;
	bool write;
};

/* Finds the device of this type on bus 0 and maps its capabilities;
 * false with *why set when absent or malformed. */
bool virtio_find(struct virtio_dev *d, uint16_t type, const char **why);
/* Reset, ACKNOWLEDGE, DRIVER, negotiate (VERSION_1 plus the wanted features
 * the device offers), FEATURES_OK, set up queues 0..nq-1, DRIVER_OK (§3.1.1). */
bool virtio_init(struct virtio_dev *d, uint64_t wanted, unsigned nq, const char **why);
void virtio_reset(struct virtio_dev *d);
/* virtio_find + virtio_init, reported as "<name>_found" and "<name>_init". */
bool virtio_setup(struct virtio_dev *d, uint16_t type, uint64_t wanted, unsigned nq,
		  const char *name);
uint8_t virtio_status(struct virtio_dev *d);

/* Adds a descriptor chain for bufs and notifies; returns the head id. */
uint16_t virtq_submit(struct virtio_dev *d, unsigned qi, const struct vbuf *bufs, unsigned n);
/* Publishes a head the caller built by hand (hostile tests) and notifies. */
void virtq_publish(struct virtio_dev *d, unsigned qi, uint16_t head);
/* Waits for the next used entry; false when none arrives within POLL_LIMIT. */
bool virtq_wait(struct virtio_dev *d, unsigned qi, uint16_t *id, uint32_t *len);
/* Non-blocking: true and the entry when one is pending. */
bool virtq_poll(struct virtio_dev *d, unsigned qi, uint16_t *id, uint32_t *len);

/* Device-specific configuration space (§4.1.4.6), little-endian. */
uint8_t virtio_cfg8(struct virtio_dev *d, uint32_t off);
uint32_t virtio_cfg32(struct virtio_dev *d, uint32_t off);
uint64_t virtio_cfg64(struct virtio_dev *d, uint32_t off);
void virtio_cfg_write32(struct virtio_dev *d, uint32_t off, uint32_t v);

#endif
