/* Host tool: joins the real-mode setup (boot/linux_setup.S, flat binary) and
 * the protected-mode payload (the guest linked at 1 MiB, flat binary) into a
 * bzImage, filling the header fields that depend on the sizes:
 * setup_sects (0x1f1), syssize (0x1f4, 16-byte units) and init_size (0x260,
 * memory the payload needs from its load address, read from the .long _end
 * the payload keeps at LINUX_IMAGE_END_OFFSET).
 * Usage: mkbzimage SETUP.bin PAYLOAD.bin OUT [CODE32_START]
 * CODE32_START (hex) overrides the 32-bit entry: test images use it to
 * enter through a stand-in 64-bit loader (boot/linux_fake64.S). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../boot/boot.h"

#define SETUP_MAX 0x1000 /* boot_params lives at 0x1000 in the setup segment */

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		return NULL;
	}
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	unsigned char *buf = calloc(1, (size_t)n + SETUP_MAX);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "mkbzimage: %s: short read\n", path);
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

int main(int argc, char **argv)
{
	size_t slen, plen;

	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: mkbzimage SETUP.bin PAYLOAD.bin OUT [CODE32_START]\n");
		return 2;
	}
	uint32_t code32 = 0;
	if (argc == 5) {
		char *end;
		unsigned long v = strtoul(argv[4], &end, 16);
		if (!*argv[4] || *end || v < IMAGE_BASE || v > 0xffffffffu) {
			fprintf(stderr,
				"mkbzimage: CODE32_START \"%s\": not a hex address above 1 MiB\n",
				argv[4]);
			return 2;
		}
		code32 = (uint32_t)v;
	}
	unsigned char *setup = slurp(argv[1], &slen);
	unsigned char *payload = slurp(argv[2], &plen);
	if (!setup || !payload)
		return 1;
	if (slen < 0x270 || memcmp(setup + 0x202, "HdrS", 4) != 0 || setup[0x1fe] != 0x55 ||
	    setup[0x1ff] != 0xaa) {
		fprintf(stderr, "mkbzimage: %s: no setup header\n", argv[1]);
		return 1;
	}
	/* the short jump at 0x200 must go forward, past the header */
	if (setup[0x200] != 0xeb || setup[0x201] >= 0x80 || 0x202 + setup[0x201] < 0x268) {
		fprintf(stderr, "mkbzimage: %s: bad jump at 0x200\n", argv[1]);
		return 1;
	}
	if (slen > SETUP_MAX) {
		fprintf(stderr, "mkbzimage: %s: setup is %zu bytes, more than %d\n", argv[1], slen,
			SETUP_MAX);
		return 1;
	}
	if (plen < LINUX_IMAGE_END_OFFSET + 4) {
		fprintf(stderr, "mkbzimage: %s: payload too small\n", argv[2]);
		return 1;
	}
	uint32_t end = get32(payload + LINUX_IMAGE_END_OFFSET);
	if (end <= IMAGE_BASE || end - IMAGE_BASE < plen) {
		fprintf(stderr, "mkbzimage: %s: bad image end 0x%x\n", argv[2], end);
		return 1;
	}
	/* at least 4 setup sectors: loaders assume 4 when the field is 0 */
	size_t sects = (slen + 511) / 512 - 1;
	if (sects < 4)
		sects = 4;
	size_t setup_size = (sects + 1) * 512;
	setup[0x1f1] = (unsigned char)sects;
	put32(setup + 0x1f4, (uint32_t)((plen + 15) / 16));
	put32(setup + 0x260, (end - IMAGE_BASE + 4095) & ~4095u);
	if (code32) {
		if (code32 >= end) {
			fprintf(stderr, "mkbzimage: CODE32_START 0x%x outside the image\n", code32);
			return 1;
		}
		put32(setup + 0x214, code32);
	}

	FILE *o = fopen(argv[3], "wb");
	if (!o || fwrite(setup, 1, setup_size, o) != setup_size ||
	    fwrite(payload, 1, plen, o) != plen || fclose(o) != 0) {
		perror(argv[3]);
		remove(argv[3]);
		return 1;
	}
	return 0;
}
