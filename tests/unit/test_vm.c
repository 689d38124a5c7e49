/* vmm/vcpu.c and vmm/host_profile.c: the parts of running a VM that do not
 * need KVM (fatal-exit report, host profile). */
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "vmm/seccomp.h"
#include "vmm/vm.h"

TEST(fatal_exit_report_names_reason_rip_bytes_and_registers)
{
	struct kvm_regs r = {0};
	struct kvm_sregs s = {0};
	uint8_t insn[] = {0x0f, 0xc7, 0x0e};
	char buf[4096];

	r.rip = 0xffffffff81234567ull;
	r.rax = 0x1111;
	r.r15 = 0xf15;
	s.cr0 = 0x80050033;
	s.cr3 = 0x1a0b000;
	s.cr4 = 0x3506f0;
	s.efer = 0xd01;
	s.cs.selector = 0x10;
	s.cs.l = 1;
	vm_vcpu_format_report(buf, sizeof(buf), 1,
			      "KVM_EXIT_INTERNAL_ERROR: suberror 1 (emulation failure)", &r, &s,
			      insn, sizeof(insn));
	CHECK_CONTAINS(buf, "vCPU 1: KVM_EXIT_INTERNAL_ERROR: suberror 1");
	CHECK_CONTAINS(buf, "RIP ffffffff81234567  instruction bytes: 0f c7 0e\n");
	CHECK_CONTAINS(buf, "RAX 0000000000001111");
	CHECK_CONTAINS(buf, "R15 0000000000000f15");
	CHECK_CONTAINS(buf, "CR0 0000000080050033");
	CHECK_CONTAINS(buf, "CR3 0000000001a0b000");
	CHECK_CONTAINS(buf, "CR4 00000000003506f0");
	CHECK_CONTAINS(buf, "EFER 0000000000000d01");
	CHECK_CONTAINS(buf, "64-bit");

	vm_vcpu_format_report(buf, sizeof(buf), 0, "KVM_EXIT_SHUTDOWN: triple fault", &r, &s, NULL,
			      0);
	CHECK_CONTAINS(buf, "not readable");
	/* a short buffer is cut, never overrun */
	char small[40];
	vm_vcpu_format_report(small, sizeof(small), 0, "x", &r, &s, insn, 3);
	CHECK_EQ(strlen(small), sizeof(small) - 1);
}

TEST(exit_statuses_are_distinct_and_never_look_like_debug_exit)
{
	int st[] = {VM_EXIT_INTERNAL,	VM_EXIT_TRIPLE_FAULT, VM_EXIT_FAIL_ENTRY,
		    VM_EXIT_UNEXPECTED, VM_EXIT_GUEST_CRASH,  VM_EXIT_SECCOMP};

	for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
		CHECK_EQ(st[i] & 1, 0); /* debug-exit statuses are odd */
		for (size_t j = 0; j < i; j++)
			CHECK(st[i] != st[j]);
	}
}

TEST(host_profile_pvm_appends_parameters_and_none_keeps_cmdline)
{
	char *c = vm_host_profile_cmdline("pvm", "console=ttyS0");

	CHECK(!strncmp(c, "console=ttyS0 noxsave ", 22));
	CHECK_CONTAINS(c, "clearcpuid=popcnt,smap,");
	CHECK_CONTAINS(c, " tsc=reliable no_timer_check ");
	CHECK_CONTAINS(c, " initcall_blacklist=");
	CHECK(!strstr(c, "acpi=off"));
	free(c);
	c = vm_host_profile_cmdline("pvm", NULL);
	CHECK(!strncmp(c, "noxsave", 7));
	free(c);
	c = vm_host_profile_cmdline(NULL, "quiet");
	CHECK_STR(c, "quiet");
	free(c);
	CHECK(vm_host_profile_select("none") == NULL);
	CHECK_STR(vm_host_profile_select("pvm"), "pvm");
}

TEST(kvm_open_names_the_device_and_what_is_wrong)
{
	struct vm_kvm k;
	struct vs_err e;

	CHECK_EQ(vm_kvm_open(&k, "/nonexistent/kvm", &e), -1);
	CHECK_CONTAINS(e.msg, "/nonexistent/kvm not present");
	CHECK_EQ(k.fd, -1);
	/* something that opens but is not KVM */
	CHECK_EQ(vm_kvm_open(&k, "/dev/null", &e), -1);
	CHECK_CONTAINS(e.msg, "/dev/null: KVM API version -1, need 12");
	CHECK_EQ(k.fd, -1);
}
