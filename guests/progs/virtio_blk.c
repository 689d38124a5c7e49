/* virtio_blk: block requests (virtio 1.2 §5.2.6) against a disk image the
 * test prepared. Command line:
 *   expect_sectors=N  capacity in 512-byte sectors
 *   expect_id=STR     the device ID string (GET_ID)
 *   expect_ro=1       the disk is read-only: writes must fail, F_RO offered
 * Sector 0 holds the test pattern (see blk_pattern); the guest writes its
 * own pattern to sector 1 (unless read-only), which the test checks on the
 * host afterwards, then flushes. */
#include "virtio.h"

#define VIRTIO_BLK_F_RO	    (1ull << 5)
#define VIRTIO_BLK_F_FLUSH  (1ull << 9)
#define VIRTIO_BLK_T_IN	    0
#define VIRTIO_BLK_T_OUT    1
#define VIRTIO_BLK_T_FLUSH  4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_S_OK	    0
#define VIRTIO_BLK_S_IOERR  1

struct blk_req {
	uint32_t type, reserved;
	uint64_t sector;
};

static struct virtio_dev dev;
static struct blk_req req;
static uint8_t data[512] __attribute__((aligned(512)));
static volatile uint8_t status;

/* Sector 0 as the tests write it: "VESSEL-BLK-SECTOR-0\n" then byte i =
 * (i * 7 + 3) & 0xff for the rest. Sector 1 as this guest writes it:
 * "WRITTEN-BY-GUEST\n" then byte i = i ^ 0x5a. */
static uint8_t pattern0(unsigned i)
{
	static const char head[] = "VESSEL-BLK-SECTOR-0\n";
	return i < sizeof(head) - 1 ? (uint8_t)head[i] : (uint8_t)((i * 7 + 3) & 0xff);
}

static uint8_t pattern1(unsigned i)
{
	static const char head[] = "WRITTEN-BY-GUEST\n";
	return i < sizeof(head) - 1 ? (uint8_t)head[i] : (uint8_t)(i ^ 0x5a);
}

/* One request: header, optional data, status. Returns the status byte, or
 * 0xff when the device never completed it. */
static uint8_t blk_rw(uint32_t type, uint64_t sector, void *buf, uint32_t len, bool dev_writes)
{
	struct vbuf b[3];
	unsigned n = 0;
	uint16_t id;
	uint32_t used_len;

	req = (struct blk_req){type, 0, sector};
	status = 0xff;
	b[n++] = (struct vbuf){&req, sizeof(req), false};
	if (len)
		b[n++] = (struct vbuf){buf, len, dev_writes};
	b[n++] = (struct vbuf){(const void *)&status, 1, true};
	uint16_t head = virtq_submit(&dev, 0, b, n);
	if (!virtq_wait(&dev, 0, &id, &used_len) || id != head)
		return 0xff;
	return status;
}

void guest_main(void)
{
	uint64_t want;
	bool ro = cmdline_get_u64("expect_ro", &want) && want;

	if (!virtio_setup(&dev, VIRTIO_ID_BLOCK, VIRTIO_BLK_F_RO | VIRTIO_BLK_F_FLUSH, 1,
			  "virtio_blk"))
		return;

	uint64_t cap = virtio_cfg64(&dev, 0);
	if (cmdline_get_u64("expect_sectors", &want))
		check(cap == want, "virtio_blk_capacity", "capacity %lu sectors, expected %lu", cap,
		      want);

	uint8_t st = blk_rw(VIRTIO_BLK_T_IN, 0, data, 512, true);
	bool same = true;
	for (unsigned i = 0; i < 512; i++)
		same &= data[i] == pattern0(i);
	check(st == VIRTIO_BLK_S_OK && same, "virtio_blk_read_sector0", "status %u, data %s", st,
	      same ? "matches" : "differs from the pattern");

	/* a read past the end must fail, not wrap or hang (§5.2.6.1) */
	st = blk_rw(VIRTIO_BLK_T_IN, cap, data, 512, true);
	check(st == VIRTIO_BLK_S_IOERR, "virtio_blk_read_past_end", "status %u", st);

	for (unsigned i = 0; i < 512; i++)
		data[i] = pattern1(i);
	st = blk_rw(VIRTIO_BLK_T_OUT, 1, data, 512, false);
	if (ro) {
		check(dev.offered & VIRTIO_BLK_F_RO, "virtio_blk_ro_offered",
		      "read-only disk without VIRTIO_BLK_F_RO");
		check(st == VIRTIO_BLK_S_IOERR, "virtio_blk_ro_write_fails", "status %u", st);
	} else {
		check(st == VIRTIO_BLK_S_OK, "virtio_blk_write_sector1", "status %u", st);
		/* read back through the device */
		memset(data, 0, sizeof(data));
		st = blk_rw(VIRTIO_BLK_T_IN, 1, data, 512, true);
		bool back = true;
		for (unsigned i = 0; i < 512; i++)
			back &= data[i] == pattern1(i);
		check(st == VIRTIO_BLK_S_OK && back, "virtio_blk_read_back", "status %u, %s", st,
		      back ? "same" : "differs");
	}

	/* one request, two sectors, scattered over three data descriptors
	 * that split the first sector unevenly: the device must fill them in
	 * order (§2.7.4: a buffer is the concatenation of its descriptors) */
	static uint8_t sg[3][512];
	struct vbuf b[5] = {
		{&req, sizeof(req), false},
		{sg[0], 100, true},
		{sg[1], 412, true},
		{sg[2], 512, true},
		{(const void *)&status, 1, true},
	};
	uint16_t used_id;
	uint32_t used_len = 0;
	req = (struct blk_req){VIRTIO_BLK_T_IN, 0, 0};
	status = 0xff;
	memset(sg, 0, sizeof(sg));
	uint16_t head = virtq_submit(&dev, 0, b, 5);
	bool done = virtq_wait(&dev, 0, &used_id, &used_len) && used_id == head;
	bool sg_ok = done && status == VIRTIO_BLK_S_OK;
	for (unsigned i = 0; i < 512 && sg_ok; i++) {
		uint8_t got0 = i < 100 ? sg[0][i] : sg[1][i - 100];
		sg_ok = got0 == pattern0(i) && sg[2][i] == (ro ? 0 : pattern1(i));
	}
	check(sg_ok, "virtio_blk_read_scatter", "%s, status %u",
	      done ? "data not where the descriptors put it" : "request never completed", status);

	if (check(dev.features & VIRTIO_BLK_F_FLUSH, "virtio_blk_flush_offered",
		  "VIRTIO_BLK_F_FLUSH not offered")) {
		st = blk_rw(VIRTIO_BLK_T_FLUSH, 0, NULL, 0, false);
		check(st == VIRTIO_BLK_S_OK, "virtio_blk_flush", "status %u", st);
	}

	/* GET_ID: up to 20 bytes, NUL-terminated only if shorter (§5.2.6) */
	char id[21] = {0};
	st = blk_rw(VIRTIO_BLK_T_GET_ID, 0, id, 20, true);
	char expect[32];
	if (cmdline_get("expect_id", expect, sizeof(expect)))
		check(st == VIRTIO_BLK_S_OK && strcmp(id, expect) == 0, "virtio_blk_get_id",
		      "status %u, id \"%s\", expected \"%s\"", st, id, expect);
	uint8_t s = virtio_status(&dev);
	check(!(s & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED)), "virtio_blk_status_clean",
	      "device status 0x%x", s);
}
