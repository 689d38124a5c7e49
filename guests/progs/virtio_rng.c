/* virtio_rng: entropy requests (virtio 1.2 §5.4): the device fills a
 * device-writable buffer. Two 64-byte reads: some bytes non-zero, and the
 * reads differ (the chance of equal honest reads is 2^-512). */
#include "virtio.h"

static struct virtio_dev dev;
static uint8_t buf[2][64];

static uint32_t fill(uint8_t *b)
{
	struct vbuf v = {b, 64, true};
	uint16_t id;
	uint32_t len = 0;

	uint16_t head = virtq_submit(&dev, 0, &v, 1);
	if (!virtq_wait(&dev, 0, &id, &len) || id != head)
		return 0;
	return len;
}

void guest_main(void)
{

	if (!virtio_setup(&dev, VIRTIO_ID_RNG, 0, 1, "virtio_rng"))
		return;
	/* the device may return fewer bytes than asked: top up */
	for (int r = 0; r < 2; r++) {
		uint32_t got = 0;
		for (int tries = 0; got < 64 && tries < 64; tries++) {
			static uint8_t part[64];
			uint32_t n = fill(part);
			if (n > 64 - got)
				n = 64 - got;
			memcpy(buf[r] + got, part, n);
			got += n;
			if (n == 0)
				break;
		}
		char name[32];
		snprintf_g(name, sizeof(name), "virtio_rng_read%d", r + 1);
		check(got == 64, name, "got %u of 64 bytes", got);
	}
	unsigned nonzero = 0;
	for (int i = 0; i < 64; i++)
		nonzero += buf[0][i] != 0;
	check(nonzero > 0, "virtio_rng_not_zero", "64 zero bytes");
	check(memcmp(buf[0], buf[1], 64) != 0, "virtio_rng_reads_differ", "two equal reads");
}
