/*
 * Fuzzes the split-virtqueue parser (vmm/devices/virtio/queue.c). Input:
 *   byte 0: log2 of the queue size (mod 9), byte 1: flags (bit 0 indirect,
 *   bit 1 event_idx), bytes 2-7: desc/avail/used offsets (le16, x16) in a
 *   64 KiB guest RAM region; the rest is the RAM image itself.
 * A second 4 KiB region sits right after a gap, so buffers that cross region
 * ends or fall in the gap are exercised. Every popped buffer is read and
 * written in full: ASan catches anything that escaped guest memory.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vessel/log.h"
#include "vmm/devices/virtio/virtio.h"

#define RAM0 0x10000
#define RAM1 0x1000

static uint8_t *ram0, *ram1;
static struct vm_memory mem;
static struct vm_vq_elem el;

static void setup(void)
{
	struct vs_err e;

	ram0 = malloc(RAM0);
	ram1 = malloc(RAM1);
	if (!ram0 || !ram1 || vm_mem_add_region(&mem, 0, RAM0, ram0, -1, 0, &e) < 0 ||
	    vm_mem_add_region(&mem, 0x20000, RAM1, ram1, -1, 0, &e) < 0)
		abort();
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vm_vq q;
	struct vs_err e;
	int got;

	if (!ram0)
		setup();
	if (size < 8)
		return 0;
	memset(ram0, 0, RAM0);
	memset(ram1, 0, RAM1);
	memcpy(ram0, data + 8, size - 8 < RAM0 ? size - 8 : RAM0);
	if (size - 8 > RAM0)
		memcpy(ram1, data + 8 + RAM0, size - 8 - RAM0 < RAM1 ? size - 8 - RAM0 : RAM1);

	vm_vq_reset(&q, 0, VM_VQ_MAX_SIZE);
	q.size = (uint16_t)(1u << (data[0] % 9));
	q.indirect = data[1] & 1;
	q.event_idx = data[1] & 2;
	q.desc_gpa = (uint64_t)le16(data + 2) * 16;
	q.avail_gpa = (uint64_t)le16(data + 4) * 16;
	q.used_gpa = (uint64_t)le16(data + 6) * 16;
	if (vm_vq_enable(&q, &mem, &e) < 0)
		return 0;
	for (int round = 0; round < 2 * VM_VQ_MAX_SIZE; round++) {
		got = vm_vq_pop(&q, &el, &e);
		if (got <= 0)
			break;
		volatile uint8_t sum = 0;
		for (unsigned i = 0; i < el.n_out + el.n_in; i++) {
			uint8_t *p = el.iov[i].iov_base;

			for (size_t k = 0; k < el.iov[i].iov_len; k++)
				sum += p[k];
			if (i >= el.n_out)
				memset(p, 0xa5, el.iov[i].iov_len);
		}
		(void)sum;
		if (vm_vq_push(&q, el.head, (uint32_t)el.in_len, &e) < 0)
			abort(); /* a popped head must always go back */
		vm_vq_should_notify(&q);
	}
	return 0;
}
