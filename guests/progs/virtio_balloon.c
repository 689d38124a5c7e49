/* virtio_balloon: the traditional balloon (virtio 1.2 §5.5): read the
 * host's target (num_pages), give it a few pages through the inflate queue
 * (arrays of 32-bit 4 KiB page frame numbers), report them in `actual`,
 * then take them back through the deflate queue. */
#include "virtio.h"

#define BALLOON_PAGES 4
#define CFG_NUM_PAGES 0
#define CFG_ACTUAL    4

static struct virtio_dev dev;
static uint8_t pages[BALLOON_PAGES][4096] __attribute__((aligned(4096)));
static uint32_t pfns[BALLOON_PAGES];

static bool send_pfns(unsigned q)
{
	struct vbuf b = {pfns, sizeof(pfns), false};
	uint16_t id;
	uint32_t len;

	uint16_t head = virtq_submit(&dev, q, &b, 1);
	return virtq_wait(&dev, q, &id, &len) && id == head;
}

void guest_main(void)
{

	if (!virtio_setup(&dev, VIRTIO_ID_BALLOON, 0, 2, "virtio_balloon"))
		return;
	uint32_t target = virtio_cfg32(&dev, CFG_NUM_PAGES);
	uint64_t mem = 0;
	printf_g("balloon: num_pages %u\n", target);
	if (cmdline_get_u64("expect_mem", &mem))
		check((uint64_t)target * 4096 <= mem, "virtio_balloon_num_pages",
		      "target %u pages is more than the guest's memory", target);

	for (int i = 0; i < BALLOON_PAGES; i++)
		pfns[i] = (uint32_t)((uint64_t)pages[i] >> 12);
	check(send_pfns(0), "virtio_balloon_inflate", "inflate buffer never returned");
	virtio_cfg_write32(&dev, CFG_ACTUAL, BALLOON_PAGES);
	uint32_t actual = virtio_cfg32(&dev, CFG_ACTUAL);
	check(actual == BALLOON_PAGES, "virtio_balloon_actual", "actual reads %u after writing %u",
	      actual, BALLOON_PAGES);

	check(send_pfns(1), "virtio_balloon_deflate", "deflate buffer never returned");
	virtio_cfg_write32(&dev, CFG_ACTUAL, 0);
	actual = virtio_cfg32(&dev, CFG_ACTUAL);
	check(actual == 0, "virtio_balloon_actual_zero", "actual reads %u after writing 0", actual);
	/* the pages are ours again: usable */
	memset(pages, 0xa5, sizeof(pages));
	check(pages[BALLOON_PAGES - 1][4095] == 0xa5, "virtio_balloon_pages_usable",
	      "deflated page not writable");
	uint8_t s = virtio_status(&dev);
	check(!(s & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED)),
	      "virtio_balloon_status_clean", "device status 0x%x", s);
}
