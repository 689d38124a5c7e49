/* fwcfg: the fw_cfg device at 0x510 (QEMU docs/specs/fw_cfg.rst) against
 * what the test configured, passed on the command line:
 *   expect_cpus=N expect_mem=SIZE */
#include "hw.h"

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

	/* selecting an absent key reads as zeros, not stale data */
	uint32_t absent = fwcfg_read_u32(0x7fff);
	check(absent == 0, "fwcfg_absent_key", "key 0x7fff read 0x%x", absent);
}
