/* virtio_console: port 0 without VIRTIO_CONSOLE_F_MULTIPORT (virtio 1.2
 * §5.3): queue 1 is its transmit queue. The guest writes one line the test
 * finds in the console output file:
 *   "hello from virtio-console <token>\n", token from console_token=... */
#include "virtio.h"

static struct virtio_dev dev;
static char line[128];

void guest_main(void)
{
	char token[64] = "none";
	uint16_t id;
	uint32_t len;

	cmdline_get("console_token", token, sizeof(token));
	if (!virtio_setup(&dev, VIRTIO_ID_CONSOLE, 0, 2, "virtio_console"))
		return;
	int n = snprintf_g(line, sizeof(line), "hello from virtio-console %s\n", token);
	struct vbuf b = {line, (uint32_t)n, false};
	uint16_t head = virtq_submit(&dev, 1, &b, 1);
	bool done = virtq_wait(&dev, 1, &id, &len);
	check(done && id == head, "virtio_console_write", "transmit buffer %s",
	      done ? "returned with the wrong id" : "never returned");
	uint8_t s = virtio_status(&dev);
	check(!(s & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED)),
	      "virtio_console_status_clean", "device status 0x%x", s);
}
