/* fw_cfg: the selector/data ports as kvm-unit-tests read them, the file
 * directory, and DMA into (and refused outside) guest memory. */
#include <byteswap.h>
#include <errno.h>

#include "test.h"
#include "platform_harness.h"
#include "vmm/devices/fw_cfg.h"
#include "vmm/layout.h"

#define SEL  VM_PORT_FW_CFG
#define DATA (VM_PORT_FW_CFG + 1)
#define DMA  (VM_PORT_FW_CFG + 4)

static int create(void)
{
	struct vs_err e;

	if (vm_fw_cfg_device.create(&H.ctx, &e) < 0) {
		fprintf(stderr, "  create: %s\n", e.msg);
		return -1;
	}
	return 0;
}

/* What kvm-unit-tests' fwcfg_get_u64 does: select, then n data bytes. */
static uint64_t get_le(uint16_t key, unsigned n)
{
	uint64_t v = 0;

	h_out(SEL, 2, key);
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)inb(DATA) << (8 * i);
	return v;
}

static void read_item(uint16_t key, uint8_t *buf, size_t n)
{
	h_out(SEL, 2, key);
	for (size_t i = 0; i < n; i++)
		buf[i] = inb(DATA);
}

static uint32_t be32_at(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

/* Looks a file up in FW_CFG_FILE_DIR: its selector and size, -1 if absent. */
static int dir_lookup(const char *name, uint32_t *size, unsigned *count)
{
	uint8_t hdr[4], e[64];

	read_item(FW_CFG_FILE_DIR, hdr, 4);
	uint32_t n = be32_at(hdr);
	int found = -1;
	char prev[57] = "";
	if (count)
		*count = n;
	for (uint32_t i = 0; i < n && i < 64; i++) {
		for (int k = 0; k < 64; k++)
			e[k] = inb(DATA);
		char nm[57] = {0};
		memcpy(nm, e + 8, 56);
		if (strcmp(prev, nm) > 0)
			return -2; /* not sorted */
		strcpy(prev, nm);
		if (!strcmp(nm, name)) {
			found = e[4] << 8 | e[5];
			if (size)
				*size = be32_at(e);
		}
	}
	return found;
}

TEST(fw_cfg_reports_signature_and_machine_numbers)
{
	REQUIRE(h_init(1 << 20) == 0);
	H.cfg.cpus = 3;
	H.cfg.mem_size = 768ull << 20;
	REQUIRE(create() == 0);
	uint8_t sig[6];
	read_item(FW_CFG_SIGNATURE, sig, 6);
	CHECK(!memcmp(sig, "QEMU\0\0", 6)); /* zeros past the end */
	CHECK_EQ(get_le(FW_CFG_ID, 4), 3);  /* traditional + DMA */
	CHECK_EQ(get_le(FW_CFG_RAM_SIZE, 8), 768ull << 20);
	CHECK_EQ(get_le(FW_CFG_NB_CPUS, 2), 3);
	CHECK_EQ(get_le(FW_CFG_MAX_CPUS, 2), 3);
	CHECK_EQ(get_le(FW_CFG_NOGRAPHIC, 2), 1);
	CHECK_EQ(get_le(0x7777, 4), 0); /* unknown item reads zeros */
	CHECK_EQ(inb(SEL), 0xff);
	vm_fw_cfg_device.destroy();
	h_fini();
}

TEST(fw_cfg_cmdline_has_trailing_nul)
{
	char buf[32];

	REQUIRE(h_init(1 << 20) == 0);
	H.cfg.cmdline = "console=ttyS0 quiet";
	REQUIRE(create() == 0);
	CHECK_EQ(get_le(FW_CFG_CMDLINE_SIZE, 4), 20);
	memset(buf, 'x', sizeof(buf));
	read_item(FW_CFG_CMDLINE_DATA, (uint8_t *)buf, 21);
	CHECK_STR(buf, "console=ttyS0 quiet");
	CHECK_EQ(buf[20], 0);
	/* and as a file, without the NUL */
	uint32_t size = 0;
	int key = dir_lookup("opt/vessel/cmdline", &size, NULL);
	CHECK(key >= FW_CFG_FILE_FIRST);
	CHECK_EQ(size, 19);
	vm_fw_cfg_device.destroy();

	H.cfg.cmdline = NULL;
	REQUIRE(create() == 0);
	CHECK_EQ(get_le(FW_CFG_CMDLINE_SIZE, 4), 0);
	vm_fw_cfg_device.destroy();
	h_fini();
}

TEST(fw_cfg_added_files_appear_in_sorted_directory)
{
	uint32_t size = 0;
	unsigned count = 0;
	uint8_t buf[16];

	REQUIRE(h_init(1 << 20) == 0);
	REQUIRE(create() == 0);
	CHECK(vm_fw_cfg_add_file("etc/vessel/identity", "clone-7", 7) == 0);
	CHECK(vm_fw_cfg_add_file("etc/vessel/identity", "x", 1) < 0 && errno == EEXIST);
	CHECK(vm_fw_cfg_add_file("", "x", 1) < 0 && errno == EINVAL);
	char longname[80];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[79] = 0;
	CHECK(vm_fw_cfg_add_file(longname, "x", 1) < 0 && errno == EINVAL);
	CHECK(vm_fw_cfg_add_file("zz/last", "", 0) == 0);

	int key = dir_lookup("etc/vessel/identity", &size, &count);
	CHECK_EQ(count, 3);
	REQUIRE(key >= FW_CFG_FILE_FIRST);
	CHECK_EQ(size, 7);
	read_item((uint16_t)key, buf, 8);
	CHECK(!memcmp(buf, "clone-7\0", 8));
	CHECK(dir_lookup("zz/last", &size, NULL) >= FW_CFG_FILE_FIRST);
	CHECK_EQ(size, 0);

	/* a re-created device (same process) keeps the VMM's files */
	REQUIRE(create() == 0);
	CHECK(dir_lookup("etc/vessel/identity", NULL, &count) == key);
	CHECK_EQ(count, 3);
	for (int i = 0; i < FW_CFG_MAX_FILES; i++) {
		char nm[32];
		snprintf(nm, sizeof(nm), "opt/f%02d", i);
		if (vm_fw_cfg_add_file(nm, "", 0) < 0) {
			CHECK_EQ(errno, ENOSPC);
			CHECK_EQ(i, FW_CFG_MAX_FILES - 3);
			break;
		}
	}
	vm_fw_cfg_device.destroy();
	/* destroy drops them */
	REQUIRE(create() == 0);
	CHECK_EQ(dir_lookup("etc/vessel/identity", NULL, &count), -1);
	CHECK_EQ(count, 1);
	vm_fw_cfg_device.destroy();
	h_fini();
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Writes an FWCfgDmaAccess at gpa and starts it, as Linux's driver does. */
static void dma(uint64_t gpa, uint32_t ctl, uint32_t len, uint64_t addr)
{
	if (gpa <= H.ram_size - 16) {
		put_be32(H.ram + gpa, ctl);
		put_be32(H.ram + gpa + 4, len);
		put_be32(H.ram + gpa + 8, (uint32_t)(addr >> 32));
		put_be32(H.ram + gpa + 12, (uint32_t)addr);
	}
	h_out(DMA, 4, bswap_32((uint32_t)(gpa >> 32)));
	h_out(DMA + 4, 4, bswap_32((uint32_t)gpa));
}

TEST(fw_cfg_dma_reads_into_guest_memory_and_refuses_outside)
{
	REQUIRE(h_init(1 << 20) == 0);
	H.cfg.cpus = 2;
	REQUIRE(create() == 0);
	/* the DMA register reads "QEMU CFG" */
	uint32_t hi = h_in(DMA, 4), lo = h_in(DMA + 4, 4);
	CHECK(!memcmp(&hi, "QEMU", 4) && !memcmp(&lo, " CFG", 4));

	/* select + read: 8 bytes of a 4-byte item, zero-filled */
	memset(H.ram + 0x2000, 0xaa, 16);
	dma(0x1000, FW_CFG_SIGNATURE << 16 | 0x08 | 0x02, 8, 0x2000);
	CHECK_EQ(be32_at(H.ram + 0x1000), 0);
	CHECK(!memcmp(H.ram + 0x2000, "QEMU\0\0\0\0", 8));
	CHECK_EQ(H.ram[0x2008], 0xaa);

	/* skip 1 byte then read 1 byte of NB_CPUS */
	dma(0x1000, FW_CFG_RAM_SIZE << 16 | 0x08 | 0x04, 1, 0);
	h_out(SEL, 2, FW_CFG_NB_CPUS);
	dma(0x1000, 0x04, 1, 0);
	dma(0x1000, 0x02, 1, 0x3000);
	CHECK_EQ(H.ram[0x3000], 0); /* high byte of le16 2 */
	CHECK_EQ(be32_at(H.ram + 0x1000), 0);

	/* a destination outside guest RAM: error bit, nothing written */
	dma(0x1000, FW_CFG_SIGNATURE << 16 | 0x08 | 0x02, 4, H.ram_size - 2);
	CHECK_EQ(be32_at(H.ram + 0x1000), 1);
	dma(0x1000, FW_CFG_SIGNATURE << 16 | 0x08 | 0x02, 0x10, 0xffffffffffff0000ull);
	CHECK_EQ(be32_at(H.ram + 0x1000), 1);
	/* writes are refused */
	dma(0x1000, FW_CFG_SIGNATURE << 16 | 0x08 | 0x10, 4, 0x2000);
	CHECK_EQ(be32_at(H.ram + 0x1000), 1);
	CHECK(!memcmp(H.ram + 0x2000, "QEMU", 4));
	/* an access structure outside RAM is ignored without harm */
	dma(H.ram_size - 8, 0x02, 4, 0x2000);
	dma(0xfffffffffffffff0ull, 0x02, 4, 0x2000);
	vm_fw_cfg_device.destroy();
	h_fini();
}

TEST(fw_cfg_read_position_survives_save_and_restore)
{
	struct vm_state_writer w;
	struct vs_err e;

	REQUIRE(h_init(1 << 20) == 0);
	REQUIRE(create() == 0);
	h_out(SEL, 2, FW_CFG_SIGNATURE);
	CHECK_EQ(inb(DATA), 'Q');
	CHECK_EQ(inb(DATA), 'E');
	REQUIRE(h_save(&vm_fw_cfg_device, &w) == 0);
	h_out(SEL, 2, FW_CFG_ID);
	REQUIRE(h_restore(&vm_fw_cfg_device, &w, &e) == 0);
	CHECK_EQ(inb(DATA), 'M');
	CHECK_EQ(inb(DATA), 'U');
	w.buf[0] = 3;
	CHECK(h_restore(&vm_fw_cfg_device, &w, &e) < 0);
	CHECK_CONTAINS(e.msg, "version");
	w.buf[0] = 1;
	w.len = 4;
	CHECK(h_restore(&vm_fw_cfg_device, &w, &e) < 0);
	vm_sw_free(&w);
	vm_fw_cfg_device.destroy();
	h_fini();
}
