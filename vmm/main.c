/*
 * vessel-vmm: one process per virtual machine. Parses and validates the
 * machine description, runs it, and exits with the guest's status (see
 * docs/vmm.md "Exit status"). The only place that prints errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vessel/err.h"
#include "vessel/log.h"
#include "vmm/config.h"
#include "vmm/devices/platform.h"
#include "vmm/vm.h"

static const char usage[] =
	"usage: vessel-vmm --kernel FILE [options]\n"
	"       vessel-vmm --config FILE [options]\n"
	"\n"
	"  --kernel FILE            bzImage, vmlinux/PVH ELF or multiboot image\n"
	"  --initrd FILE            initial ramdisk (multiboot: module 0)\n"
	"  --cmdline STR            kernel command line\n"
	"  --memory SIZE            guest RAM, e.g. 512M, 2G (bare number: MiB; default 128M)\n"
	"  --cpus N                 vCPUs, 1..32 (default 1)\n"
	"  --config FILE            JSON machine description; later flags override it\n"
	"  --disk PATH[,ro][,id=X]  virtio-blk disk (repeatable)\n"
	"  --net tap=NAME[,mac=M]   virtio-net on a tap device (repeatable)\n"
	"  --vsock cid=N,path=P     virtio-vsock; guest port X connects to P_X\n"
	"  --rng                    virtio-rng\n"
	"  --balloon                virtio-balloon\n"
	"  --serial KIND            16550 console: stdout (default), file:PATH, pty, none\n"
	"  --console KIND           virtio console: stdout, file:PATH, pty, none (default)\n"
	"  --control-socket PATH    JSON control socket (status, pause, resume, shutdown, "
	"metrics)\n"
	"  --memory-backend KIND    anon (default) or memfd\n"
	"  --hugepages              back guest RAM with 2 MiB hugepages\n"
	"  --host-profile P         auto (default), none or pvm: guest parameters for host quirks\n"
	"  --boot-times             print the guest's boot-marker times at exit\n"
	"                           (also VESSEL_VMM_BOOT_TIMES=1)\n"
	"  --no-seccomp             do not confine the VMM (debugging)\n"
	"  --restore STATEFILE      resume the VM saved in STATEFILE (no kernel needed;\n"
	"                           same cpus, memory and disks as when it was saved)\n"
	"  --memory-backend uffd    with --restore: load pages on first touch (userfaultfd)\n"
	"  --migrate-listen A:P     receive a live migration on A:P, then run it\n"
	"  --identity KEY=VALUE     fw_cfg file opt/vessel/KEY for the guest (clones)\n";

int main(int argc, char **argv)
{
	struct vm_config cfg;
	struct vs_err e = {0};
	char report[4096];
	int status;

	vs_log_init("vessel-vmm", NULL, VS_LOG_TEXT, VS_LOG_WARN, NULL);
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(usage, stdout);
		return 0;
	}
	vm_config_init(&cfg);
	if (argc < 2) {
		vs_fail(&e, 0, "no kernel given (--kernel FILE or --config FILE; --help for more)");
		goto fail;
	}
	if (vm_config_from_args(&cfg, argc - 1, argv + 1, &e) < 0 ||
	    vm_config_validate(&cfg, &e) < 0)
		goto fail;
	const char *bt = getenv("VESSEL_VMM_BOOT_TIMES");
	if (bt && !strcmp(bt, "1"))
		cfg.boot_times = true;
	if (vm_run(&cfg, &status, report, sizeof(report), &e) < 0)
		goto fail;
	if (cfg.boot_times)
		vm_boot_marker_report(stderr);
	if (report[0])
		fprintf(stderr, "vessel-vmm: the guest stopped on a fatal exit (status %d):\n%s",
			status, report);
	vm_config_free(&cfg);
	return status;
fail:
	vs_log_err(&e);
	vm_config_free(&cfg);
	return VM_EXIT_SETUP;
}
