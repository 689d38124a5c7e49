/* Host profiles: guest kernel parameters for hosts whose KVM has known
 * gaps. Only "pvm" exists: the software KVM (kvm_pvm) of the development
 * machines, which emulates guest CPL 0 and cannot emulate some instructions
 * (ENVIRONMENT.md). Applying one is announced by the caller, never silent. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vessel/fs.h"
#include "vmm/vm.h"

/* Features the host cannot emulate or emulates too slowly, hidden through
 * clearcpuid because it ignores most of KVM_SET_CPUID2; timer and
 * boot-time checks that take seconds when every instruction is emulated.
 * acpi=off/pci=off of the original prototype are left out: Vessel's own
 * ACPI tables and PCI bus are needed for virtio and power-off. */
static const char pvm_params[] =
	"noxsave clearcpuid=popcnt,smap,rdrand,rdseed,fsgsbase,pcid,invpcid,rdtscp,clflushopt,"
	"ssse3,sse4_2,erms,fsrm,movbe nokaslr tsc=reliable no_timer_check mitigations=off "
	"init_on_alloc=0 cryptomgr.notests=1 noreplace-smp rodata=off "
	"initcall_blacklist=kfunc_init,bpf_prog_test_run_init,tracer_init_tracefs,"
	"ftrace_check_sync,load_system_certificate_list,system_trusted_keyring_init,"
	"init_ima,init_evm,integrity_fs_init,nvme_core_init,nvme_init,tpm_init,"
	"fbmem_init,vga_arb_device_init,vesafb_driver_init,simplefb_driver_init,"
	"crypto_algapi_init,tcrypt_mod_init,init_trace_printk,trace_eval_sync,"
	"bpf_struct_ops_init,btf_module_init,init_kprobe_trace,init_dynamic_event,"
	"kprobe_trace_self_tests_init,event_trace_self_tests_init,"
	"ftrace_init_tracefs_toplevel,init_blk_tracer,init_mmio_trace";

const char *vm_host_profile_select(const char *configured)
{
	if (configured)
		return strcmp(configured, "pvm") ? NULL : "pvm";
	/* auto: the kvm_pvm module provides /dev/kvm on such hosts */
	return access("/sys/module/kvm_pvm", F_OK) == 0 ? "pvm" : NULL;
}

char *vm_host_profile_cmdline(const char *profile, const char *cmdline)
{
	const char *c = cmdline ? cmdline : "";

	if (!profile || strcmp(profile, "pvm"))
		return vs_strdup_printf("%s", c);
	return vs_strdup_printf("%s%s%s", c, *c ? " " : "", pvm_params);
}
