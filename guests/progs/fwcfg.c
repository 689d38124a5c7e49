/* fwcfg: the fw_cfg device at 0x510 (QEMU docs/specs/fw_cfg.rst) against
 * what the test configured, passed on the command line:
 *   expect_cpus=N expect_mem=SIZE
 * and, when the ID advertises it (bit 1), the DMA interface: the same
 * items read through a FWCfgDmaAccess structure must match the port reads. */
#include "hw.h"

#define FW_CFG_DMA_PORT (PORT_FW_CFG + 4)
#define DMA_ERROR	0x01
#define DMA_READ	0x02
#define DMA_SELECT	0x08

/* all fields big-endian (fw_cfg.rst "FWCfgDmaAccess") */
struct fw_cfg_dma {
	uint32_t control, length;
	uint64_t address;
} __attribute__((packed, aligned(16)));

static uint32_t be32(uint32_t v)
{
	return __builtin_bswap32(v);
}

/* Selects key and reads len bytes into buf through DMA; false on error or
 * when the device never completes. */
static bool fwcfg_dma_read(uint16_t key, void *buf, uint32_t len)
{
	static volatile struct fw_cfg_dma d;
	uint64_t a = (uint64_t)&d;

	d.control = be32((uint32_t)key << 16 | DMA_SELECT | DMA_READ);
	d.length = be32(len);
	d.address = __builtin_bswap64((uint64_t)buf);
	barrier();
	/* the address is written high half first; the low write starts it */
	outl(FW_CFG_DMA_PORT, be32((uint32_t)(a >> 32)));
	outl(FW_CFG_DMA_PORT + 4, be32((uint32_t)a));
	for (unsigned long i = 0; i < POLL_LIMIT; i++) {
		uint32_t c = be32(d.control);
		if (c & DMA_ERROR)
			return false;
		if (c == 0)
			return true;
		cpu_relax();
	}
	return false;
}

void guest_main(void)
{
	char sig[5] = {0};
	uint64_t want;

	fwcfg_read(FW_CFG_SIGNATURE, sig, 4);
	check(memcmp(sig, "QEMU", 4) == 0, "fwcfg_signature", "signature \"%s\"", sig);
	uint32_t id = fwcfg_read_u32(FW_CFG_ID);
	check(id & 1, "fwcfg_id_traditional", "ID 0x%x lacks bit 0 (port interface)", id);

	uint16_t cpus = fwcfg_read_u16(FW_CFG_NB_CPUS);
	if (cmdline_get_u64("expect_cpus", &want))
		check(cpus == want, "fwcfg_nb_cpus", "NB_CPUS %u, expected %lu", cpus, want);
	else
		report_fail("fwcfg_nb_cpus", "no expect_cpus= on the command line");

	uint64_t ram = fwcfg_read_u64(FW_CFG_RAM_SIZE);
	if (cmdline_get_u64("expect_mem", &want))
		check(ram == want, "fwcfg_ram_size", "RAM_SIZE 0x%lx, expected 0x%lx", ram, want);
	else
		report_fail("fwcfg_ram_size", "no expect_mem= on the command line");

	/* the kernel command line through fw_cfg equals the one the boot path
	 * delivered (CMDLINE_SIZE counts the terminating NUL) */
	static char cmd[4096];
	uint32_t size = fwcfg_read_u32(FW_CFG_CMDLINE_SIZE);
	if (check(size > 0 && size <= sizeof(cmd), "fwcfg_cmdline_size", "size %u", size)) {
		fwcfg_read(FW_CFG_CMDLINE_DATA, cmd, size);
		cmd[sizeof(cmd) - 1] = '\0';
		check(strcmp(cmd, boot.cmdline) == 0, "fwcfg_cmdline", "fw_cfg \"%s\", boot \"%s\"",
		      cmd, boot.cmdline);
	}

	if (id & 2) {
		static char dsig[5], pdir[64], ddir[64];
		bool ok = fwcfg_dma_read(FW_CFG_SIGNATURE, dsig, 4);
		check(ok && memcmp(dsig, "QEMU", 4) == 0, "fwcfg_dma_signature",
		      "DMA read %s, signature \"%s\"", ok ? "done" : "failed", dsig);
		/* the file directory: count and first entries, both ways */
		fwcfg_read(FW_CFG_FILE_DIR, pdir, sizeof(pdir));
		ok = fwcfg_dma_read(FW_CFG_FILE_DIR, ddir, sizeof(ddir));
		check(ok && memcmp(pdir, ddir, sizeof(pdir)) == 0, "fwcfg_dma_file_dir",
		      "DMA read %s, %s port I/O", ok ? "done" : "failed",
		      ok ? "differs from" : "unlike");
	} else {
		printf_g("fwcfg: no DMA interface (ID 0x%x)\n", id);
	}

	/* selecting an absent key reads as zeros, not stale data */
	uint32_t absent = fwcfg_read_u32(0x7fff);
	check(absent == 0, "fwcfg_absent_key", "key 0x7fff read 0x%x", absent);
}
