/* virtio_blk_hostile: a guest that breaks the virtqueue rules on purpose.
 * Each case publishes one bad request on virtio-blk and then checks what
 * the virtio 1.2 spec lets a device do about it: put itself into an error
 * state visible as DEVICE_NEEDS_RESET (§2.1.2), after which a driver reset
 * must bring it back (§3.1.1) and a well-formed read must work again. The
 * VMM surviving is shown by this guest getting to report at all.
 *   loop:        two descriptors chained to each other (§2.7.5.3.1 forbids
 *                chains longer than the queue size)
 *   bad_next:    a descriptor whose next index is beyond the queue size
 *   bad_head:    an available ring entry naming a descriptor beyond the
 *                queue size
 *   outside RAM: a data buffer at 512 GiB, far beyond guest memory
 *   straddle:    a data buffer starting 256 bytes below the end of RAM
 *                (needs expect_mem=SIZE on the command line)
 * A loop must end in DEVICE_NEEDS_RESET; a bad index must be refused
 * (NEEDS_RESET, or a completion with an error status). For buffers outside
 * RAM the spec
 * says nothing: QEMU maps unbacked addresses like unassigned MMIO (writes
 * vanish) and completes the request, so by default the guest asserts only
 * that the request was handled (NEEDS_RESET or completed). With strict=1
 * (vessel-vmm, whose design bounds-checks every guest address) a completed
 * request must also carry VIRTIO_BLK_S_IOERR, never OK. */
#include "virtio.h"

#define VIRTIO_BLK_T_IN 0

struct blk_req {
	uint32_t type, reserved;
	uint64_t sector;
};

static struct virtio_dev dev;
static struct blk_req req;
static uint8_t data[512];
static volatile uint8_t status;

static bool good_read(void)
{
	struct vbuf b[3] = {
		{&req, sizeof(req), false},
		{data, 512, true},
		{(const void *)&status, 1, true},
	};
	uint16_t id;
	uint32_t len;

	req = (struct blk_req){VIRTIO_BLK_T_IN, 0, 0};
	status = 0xff;
	memset(data, 0, sizeof(data));
	uint16_t head = virtq_submit(&dev, 0, b, 3);
	return virtq_wait(&dev, 0, &id, &len) && id == head && status == 0 &&
	       memcmp(data, "VESSEL-BLK-SECTOR-0\n", 20) == 0;
}

static bool wait_needs_reset(void)
{
	for (unsigned long i = 0; i < POLL_LIMIT; i++) {
		if (virtio_status(&dev) & VIRTIO_STATUS_NEEDS_RESET)
			return true;
		cpu_relax();
	}
	return false;
}

/* Publishes a chain written straight into the descriptor table. */
static void publish_raw(const struct virtq_desc *descs, unsigned n, uint16_t head)
{
	struct virtq *q = &dev.q[0];

	for (unsigned i = 0; i < n; i++)
		q->desc[i] = descs[i];
	virtq_publish(&dev, 0, head);
}

enum expect { EXPECT_NEEDS_RESET, EXPECT_REFUSED, EXPECT_HANDLED };

/* outcome of a bad request: NEEDS_RESET, completion, or nothing */
enum outcome { NOTHING, NEEDS_RESET, COMPLETED };

static enum outcome wait_outcome(void)
{
	uint16_t id;
	uint32_t len;

	for (unsigned long i = 0; i < POLL_LIMIT; i++) {
		if (virtio_status(&dev) & VIRTIO_STATUS_NEEDS_RESET)
			return NEEDS_RESET;
		if (virtq_poll(&dev, 0, &id, &len))
			return COMPLETED;
		cpu_relax();
	}
	return NOTHING;
}

static void run_case(const char *name, const struct virtq_desc *descs, unsigned n, uint16_t head,
		     enum expect expect)
{
	char tname[80];
	const char *why = "";
	uint64_t strict = 0;

	cmdline_get_u64("strict", &strict);
	req = (struct blk_req){VIRTIO_BLK_T_IN, 0, 0};
	status = 0xff;
	publish_raw(descs, n, head);
	if (expect == EXPECT_NEEDS_RESET) {
		snprintf_g(tname, sizeof(tname), "virtio_blk_hostile_%s_needs_reset", name);
		check(wait_needs_reset(), tname, "status 0x%x: no DEVICE_NEEDS_RESET",
		      virtio_status(&dev));
	} else {
		enum outcome o = wait_outcome();
		printf_g("hostile %s: %s, request status %u\n", name,
			 o == NEEDS_RESET ? "DEVICE_NEEDS_RESET"
			 : o == COMPLETED ? "completed"
					  : "no reaction",
			 status);
		snprintf_g(tname, sizeof(tname), "virtio_blk_hostile_%s_handled", name);
		check(o != NOTHING, tname, "neither NEEDS_RESET nor a completion");
		if (strict || expect == EXPECT_REFUSED) {
			snprintf_g(tname, sizeof(tname), "virtio_blk_hostile_%s_refused", name);
			check(o == NEEDS_RESET || status == 1, tname,
			      "bad request completed with status %u", status);
		}
	}
	snprintf_g(tname, sizeof(tname), "virtio_blk_hostile_%s_recovers", name);
	bool again = virtio_init(&dev, 0, 1, &why);
	check(again && good_read(), tname, "%s", again ? "read after reset failed" : why);
}

void guest_main(void)
{
	uint64_t mem = 0;

	if (!virtio_setup(&dev, VIRTIO_ID_BLOCK, 0, 1, "virtio_blk_hostile"))
		return;
	if (!check(good_read(), "virtio_blk_hostile_baseline_read", "well-formed read failed"))
		return;

	const struct virtq_desc loop[2] = {
		{(uint64_t)&req, sizeof(req), VIRTQ_DESC_F_NEXT, 1},
		{(uint64_t)data, 512, VIRTQ_DESC_F_NEXT, 0},
	};
	/* both device-readable, so only the loop itself is wrong */
	run_case("loop", loop, 2, 0, EXPECT_NEEDS_RESET);

	const struct virtq_desc bad_next[1] = {
		{(uint64_t)&req, sizeof(req), VIRTQ_DESC_F_NEXT, VIRTQ_MAX_SIZE + 5},
	};
	run_case("bad_next", bad_next, 1, 0, EXPECT_REFUSED);
	run_case("bad_head", NULL, 0, VIRTQ_MAX_SIZE + 3, EXPECT_REFUSED);

	const struct virtq_desc outside[3] = {
		{(uint64_t)&req, sizeof(req), VIRTQ_DESC_F_NEXT, 1},
		{0x8000000000ull, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2},
		{(uint64_t)&status, 1, VIRTQ_DESC_F_WRITE, 0},
	};
	run_case("outside_ram", outside, 3, 0, EXPECT_HANDLED);

	if (cmdline_get_u64("expect_mem", &mem)) {
		const struct virtq_desc straddle[3] = {
			{(uint64_t)&req, sizeof(req), VIRTQ_DESC_F_NEXT, 1},
			{mem - 256, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2},
			{(uint64_t)&status, 1, VIRTQ_DESC_F_WRITE, 0},
		};
		run_case("straddle", straddle, 3, 0, EXPECT_HANDLED);
	}
}
