/* vCPUs: creation with CPUID, MSRs, LAPIC and boot registers, and the
 * thread that runs KVM_RUN and dispatches its exits (api.rst §5, struct
 * kvm_run). Fatal exits leave a report for main to print; nothing here
 * prints. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/vcpu.h"
#include "vmm/vm.h"
#include "vmm/x86/emulate.h"
#include "vmm/x86/msr.h"
#include "vmm/x86/regs.h"

#define VM_KICK_SIGNAL SIGUSR1

/* LAPIC registers (SDM vol. 3A §11.5.1): virtual-wire mode as a PC BIOS
 * leaves it, so a guest that never programs its LAPIC still gets PIC
 * interrupts through LINT0 and NMIs through LINT1. */
#define APIC_LVT_LINT0	 0x350
#define APIC_LVT_LINT1	 0x360
#define APIC_MODE_EXTINT 0x7
#define APIC_MODE_NMI	 0x4

static void set_lvt_mode(struct kvm_lapic_state *l, unsigned reg, uint32_t mode)
{
	uint32_t v;

	memcpy(&v, l->regs + reg, 4);
	v = (v & ~0x700u & ~(1u << 16)) | (mode << 8); /* delivery mode, unmasked */
	memcpy(l->regs + reg, &v, 4);
}

static int setup_cpuid_msrs(struct vm *vm, struct vm_vcpu *v, struct vs_err *e)
{
	static struct vm_cpuid c; /* large; vCPUs are created one at a time */
	/* struct kvm_msrs with room for its entries */
	struct {
		uint32_t nmsrs, pad;
		struct kvm_msr_entry ent[32];
	} msrs;

	c = vm->supported;
	if (vm_cpuid_configure(&c, v->id, vm->nr_vcpus, e) < 0)
		return -1;
	if (ioctl(v->fd, KVM_SET_CPUID2, (struct kvm_cpuid2 *)&c) < 0)
		return vs_fail_errno(e, "vCPU %u: KVM_SET_CPUID2", v->id);

	memset(&msrs, 0, sizeof(msrs));
	msrs.nmsrs = vm_msr_boot_list(vm->msr_list, vm->nr_msrs, msrs.ent, 32);
	int n = ioctl(v->fd, KVM_SET_MSRS, &msrs);
	if (n < 0)
		return vs_fail_errno(e, "vCPU %u: KVM_SET_MSRS", v->id);
	if ((unsigned)n != msrs.nmsrs)
		return vs_fail(e, EINVAL, "vCPU %u: KVM_SET_MSRS refused MSR 0x%x", v->id,
			       msrs.ent[n].index);
	return 0;
}

static int setup_lapic(struct vm_vcpu *v, struct vs_err *e)
{
	struct kvm_lapic_state l;

	if (ioctl(v->fd, KVM_GET_LAPIC, &l) < 0)
		return vs_fail_errno(e, "vCPU %u: KVM_GET_LAPIC", v->id);
	set_lvt_mode(&l, APIC_LVT_LINT0, APIC_MODE_EXTINT);
	set_lvt_mode(&l, APIC_LVT_LINT1, APIC_MODE_NMI);
	if (ioctl(v->fd, KVM_SET_LAPIC, &l) < 0)
		return vs_fail_errno(e, "vCPU %u: KVM_SET_LAPIC", v->id);
	return 0;
}

static int setup_boot_regs(struct vm *vm, struct vm_vcpu *v, struct vs_err *e)
{
	struct kvm_sregs s;
	struct kvm_regs r;
	struct kvm_fpu fpu;

	if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		return vs_fail_errno(e, "vCPU %u: KVM_GET_SREGS", v->id);
	vm_x86_boot_sregs(vm->entry.mode, &s);
	if (ioctl(v->fd, KVM_SET_SREGS, &s) < 0)
		return vs_fail_errno(e, "vCPU %u: KVM_SET_SREGS", v->id);
	vm_x86_boot_regs(&vm->entry, &r);
	if (ioctl(v->fd, KVM_SET_REGS, &r) < 0)
		return vs_fail_errno(e, "vCPU %u: KVM_SET_REGS", v->id);
	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;    /* FNINIT state */
	fpu.mxcsr = 0x1f80; /* all SSE exceptions masked */
	if (ioctl(v->fd, KVM_SET_FPU, &fpu) < 0)
		return vs_fail_errno(e, "vCPU %u: KVM_SET_FPU", v->id);
	return 0;
}

int vm_vcpu_create(struct vm *vm, unsigned id, struct vs_err *e)
{
	struct vm_vcpu *v = &vm->vcpus[id];

	memset(v, 0, sizeof(*v));
	v->vm = vm;
	v->id = id;
	v->fd = ioctl(vm->kvm.vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (v->fd < 0)
		return vs_fail_errno(e, "KVM_CREATE_VCPU %u", id);
	v->run = mmap(NULL, (size_t)vm->kvm.run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		return vs_fail_errno(e, "vCPU %u: mmap of kvm_run", id);
	}
	if (setup_cpuid_msrs(vm, v, e) < 0 || setup_lapic(v, e) < 0)
		return -1;
	if (id == 0)
		return setup_boot_regs(vm, v, e);
	/* APs wait for the guest's INIT/SIPI, which the in-kernel LAPIC handles */
	struct kvm_mp_state mp = {.mp_state = KVM_MP_STATE_UNINITIALIZED};
	if (ioctl(v->fd, KVM_SET_MP_STATE, &mp) < 0)
		return vs_fail_errno(e, "vCPU %u: KVM_SET_MP_STATE", id);
	return 0;
}

void vm_vcpu_destroy(struct vm_vcpu *v)
{
	if (v->run)
		munmap(v->run, (size_t)v->vm->kvm.run_size);
	if (v->fd > 0)
		close(v->fd);
	v->run = NULL;
	v->fd = -1;
}

/* --- reports -------------------------------------------------------------- */

void vm_vcpu_format_report(char *buf, size_t len, unsigned id, const char *what,
			   const struct kvm_regs *r, const struct kvm_sregs *s, const uint8_t *insn,
			   size_t ninsn)
{
	size_t off = 0;

#define OUT(...)                                                                                   \
	do {                                                                                       \
		if (off < len)                                                                     \
			off += (size_t)snprintf(buf + off, len - off, __VA_ARGS__);                \
	} while (0)
	OUT("vCPU %u: %s\n", id, what);
	if (r) {
		OUT("  RIP %016llx  instruction bytes:", (unsigned long long)r->rip);
		if (ninsn == 0)
			OUT(" (not readable: RIP not mapped)");
		for (size_t i = 0; i < ninsn; i++)
			OUT(" %02x", insn[i]);
		OUT("\n");
		OUT("  RAX %016llx RBX %016llx RCX %016llx RDX %016llx\n",
		    (unsigned long long)r->rax, (unsigned long long)r->rbx,
		    (unsigned long long)r->rcx, (unsigned long long)r->rdx);
		OUT("  RSI %016llx RDI %016llx RBP %016llx RSP %016llx\n",
		    (unsigned long long)r->rsi, (unsigned long long)r->rdi,
		    (unsigned long long)r->rbp, (unsigned long long)r->rsp);
		OUT("  R8  %016llx R9  %016llx R10 %016llx R11 %016llx\n",
		    (unsigned long long)r->r8, (unsigned long long)r->r9,
		    (unsigned long long)r->r10, (unsigned long long)r->r11);
		OUT("  R12 %016llx R13 %016llx R14 %016llx R15 %016llx\n",
		    (unsigned long long)r->r12, (unsigned long long)r->r13,
		    (unsigned long long)r->r14, (unsigned long long)r->r15);
		OUT("  RFLAGS %016llx\n", (unsigned long long)r->rflags);
	}
	if (s) {
		OUT("  CR0 %016llx CR2 %016llx CR3 %016llx CR4 %016llx EFER %016llx\n",
		    (unsigned long long)s->cr0, (unsigned long long)s->cr2,
		    (unsigned long long)s->cr3, (unsigned long long)s->cr4,
		    (unsigned long long)s->efer);
		OUT("  CS %04x base %llx %s  SS %04x  DS %04x  TR %04x\n", s->cs.selector,
		    (unsigned long long)s->cs.base,
		    s->cs.l    ? "64-bit"
		    : s->cs.db ? "32-bit"
			       : "16-bit",
		    s->ss.selector, s->ds.selector, s->tr.selector);
	}
#undef OUT
	if (len && off >= len)
		buf[len - 1] = '\0';
}

/* Linear address of RIP: CS base applies outside 64-bit mode. */
static uint64_t rip_linear(const struct kvm_regs *r, const struct kvm_sregs *s)
{
	bool long64 = (s->efer & VM_EFER_LMA) && s->cs.l;

	return long64 ? r->rip : (s->cs.base + r->rip) & 0xffffffffull;
}

static size_t fetch_insn(struct vm_vcpu *v, const struct kvm_regs *r, const struct kvm_sregs *s,
			 uint8_t *buf)
{
	struct kvm_run *run = v->run;

	/* KVM hands the bytes over when it has them (KVM_CAP_EXIT_ON_EMULATION_FAILURE) */
	if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR &&
	    run->emulation_failure.suberror == KVM_INTERNAL_ERROR_EMULATION &&
	    run->emulation_failure.ndata >= 3 &&
	    (run->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES) &&
	    run->emulation_failure.insn_size > 0) {
		size_t n = run->emulation_failure.insn_size;
		if (n > VM_EMU_MAX_LEN)
			n = VM_EMU_MAX_LEN;
		memcpy(buf, run->emulation_failure.insn_bytes, n);
		return n;
	}
	return vm_x86_read_virt(&v->vm->mem, s, rip_linear(r, s), buf, VM_EMU_MAX_LEN);
}

static void fatal(struct vm_vcpu *v, int status, const char *what)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	uint8_t insn[VM_EMU_MAX_LEN];
	size_t n = 0;
	bool have_r = ioctl(v->fd, KVM_GET_REGS, &r) == 0;
	bool have_s = ioctl(v->fd, KVM_GET_SREGS, &s) == 0;
	char report[sizeof(v->vm->report)];

	if (have_r && have_s)
		n = fetch_insn(v, &r, &s, insn);
	vm_vcpu_format_report(report, sizeof(report), v->id, what, have_r ? &r : NULL,
			      have_s ? &s : NULL, insn, n);
	pthread_mutex_lock(&v->vm->lock);
	if (!v->vm->exit_set && !v->vm->report[0])
		memcpy(v->vm->report, report, sizeof(report));
	pthread_mutex_unlock(&v->vm->lock);
	vm_request_exit(v->vm, status, what);
}

/* --- instruction fallback -------------------------------------------------- */

static int emulate_one(struct vm_vcpu *v, struct vs_err *e)
{
	struct vm *vm = v->vm;
	struct kvm_regs r;
	struct kvm_sregs s;
	struct kvm_fpu fpu;
	uint8_t bytes[VM_EMU_MAX_LEN];
	struct vm_emu_cpu cpu;
	struct vm_emu_insn insn;
	struct vm_emu_state st = {0};
	struct vm_emu_effect ef;

	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 || ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		return vs_fail_errno(e, "KVM_GET_REGS/SREGS");
	size_t n = fetch_insn(v, &r, &s, bytes);
	if (n == 0)
		return vs_fail(e, EFAULT, "instruction at RIP not readable");

	memset(&cpu, 0, sizeof(cpu));
	uint64_t gpr[16] = {r.rax, r.rcx, r.rdx, r.rbx, r.rsp, r.rbp, r.rsi, r.rdi,
			    r.r8,  r.r9,  r.r10, r.r11, r.r12, r.r13, r.r14, r.r15};
	memcpy(cpu.gpr, gpr, sizeof(gpr));
	cpu.rip = r.rip;
	cpu.long64 = (s.efer & VM_EFER_LMA) && s.cs.l;
	cpu.def32 = s.cs.db;
	cpu.seg_base[VM_SEG_ES] = s.es.base;
	cpu.seg_base[VM_SEG_CS] = s.cs.base;
	cpu.seg_base[VM_SEG_SS] = s.ss.base;
	cpu.seg_base[VM_SEG_DS] = s.ds.base;
	cpu.seg_base[VM_SEG_FS] = s.fs.base;
	cpu.seg_base[VM_SEG_GS] = s.gs.base;
	if (vm_emu_decode(bytes, n, &cpu, &insn, e) < 0)
		return -1;

	st.rip = r.rip;
	st.rflags = r.rflags;
	bool fpu_op =
		insn.op == VM_EMU_LDMXCSR || insn.op == VM_EMU_STMXCSR || insn.op == VM_EMU_FWAIT;
	if (fpu_op) {
		if (ioctl(v->fd, KVM_GET_FPU, &fpu) < 0)
			return vs_fail_errno(e, "KVM_GET_FPU");
		st.mxcsr = fpu.mxcsr;
		st.fcw = fpu.fcw;
		st.fsw = fpu.fsw;
	}
	if (insn.op == VM_EMU_LDMXCSR &&
	    vm_x86_read_virt(&vm->mem, &s, insn.ea, &st.mem_value, 4) != 4)
		return vs_fail(e, EFAULT,
			       "%s operand at 0x%llx not mapped (page faults are not emulated)",
			       vm_emu_op_name(insn.op), (unsigned long long)insn.ea);
	if (vm_emu_effect(&insn, &st, &ef, e) < 0)
		return -1;
	if (ef.mem_write && vm_x86_write_virt(&vm->mem, &s, insn.ea, &ef.mem_value, 4) < 0)
		return vs_fail(e, EFAULT,
			       "%s operand at 0x%llx not mapped (page faults are not emulated)",
			       vm_emu_op_name(insn.op), (unsigned long long)insn.ea);
	if (ef.set_mxcsr) {
		fpu.mxcsr = ef.mxcsr;
		if (ioctl(v->fd, KVM_SET_FPU, &fpu) < 0)
			return vs_fail_errno(e, "KVM_SET_FPU");
	}
	r.rip = ef.rip;
	r.rflags = ef.rflags;
	if (ioctl(v->fd, KVM_SET_REGS, &r) < 0)
		return vs_fail_errno(e, "KVM_SET_REGS");
	if (ef.inject) {
		struct kvm_vcpu_events ev;

		if (ioctl(v->fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
			return vs_fail_errno(e, "KVM_GET_VCPU_EVENTS");
		ev.exception.injected = 1;
		ev.exception.nr = ef.vector;
		ev.exception.has_error_code = ef.has_error_code;
		ev.exception.error_code = ef.error_code;
		ev.flags = 0; /* leave NMI, SIPI and shadow state as they are */
		if (ioctl(v->fd, KVM_SET_VCPU_EVENTS, &ev) < 0)
			return vs_fail_errno(e, "KVM_SET_VCPU_EVENTS");
	}
	atomic_fetch_add(&v->emulated, 1);
	return 0;
}

/* --- the run loop ------------------------------------------------------------ */

static void kick_handler(int sig)
{
	(void)sig; /* only there to interrupt KVM_RUN with EINTR */
}

void vm_vcpu_kick(struct vm_vcpu *v)
{
	if (!v->started || !v->run)
		return;
	/* immediate_exit covers a kick that lands just before KVM_RUN */
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_kill(v->thread, VM_KICK_SIGNAL);
}

static void park(struct vm_vcpu *v)
{
	struct vm *vm = v->vm;

	pthread_mutex_lock(&vm->lock);
	while (vm->paused && !atomic_load(&vm->stopping)) {
		vm->parked++;
		pthread_cond_broadcast(&vm->cond);
		pthread_cond_wait(&vm->cond, &vm->lock);
		vm->parked--;
	}
	pthread_mutex_unlock(&vm->lock);
}

static void handle_exit(struct vm_vcpu *v)
{
	struct kvm_run *run = v->run;
	struct vm *vm = v->vm;
	char what[768];

	if (run->exit_reason < VM_EXIT_REASONS)
		atomic_fetch_add(&v->exits[run->exit_reason], 1);
	switch (run->exit_reason) {
	case KVM_EXIT_IO: {
		uint8_t *data = (uint8_t *)run + run->io.data_offset;
		for (uint32_t i = 0; i < run->io.count; i++)
			vm_bus_dispatch(&vm->pio, run->io.port, data + (size_t)i * run->io.size,
					run->io.size, run->io.direction == KVM_EXIT_IO_OUT);
		return;
	}
	case KVM_EXIT_MMIO:
		vm_bus_dispatch(&vm->mmio, run->mmio.phys_addr, run->mmio.data, run->mmio.len,
				run->mmio.is_write);
		return;
	case KVM_EXIT_INTR:
	case KVM_EXIT_IRQ_WINDOW_OPEN:
	case KVM_EXIT_HLT: /* the in-kernel LAPIC handles HLT; nothing to do */ return;
	case KVM_EXIT_SHUTDOWN:
		fatal(v, VM_EXIT_TRIPLE_FAULT, "KVM_EXIT_SHUTDOWN: triple fault");
		return;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(what, sizeof(what),
			 "KVM_EXIT_FAIL_ENTRY: hardware entry failure reason 0x%llx on CPU %u",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason,
			 run->fail_entry.cpu);
		fatal(v, VM_EXIT_FAIL_ENTRY, what);
		return;
	case KVM_EXIT_INTERNAL_ERROR: {
		struct vs_err e = {0};
		if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION &&
		    emulate_one(v, &e) == 0)
			return;
		snprintf(what, sizeof(what), "KVM_EXIT_INTERNAL_ERROR: suberror %u%s%s%s",
			 run->internal.suberror,
			 run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION
				 ? " (emulation failure)"
				 : "",
			 e.msg[0] ? "; fallback: " : "", e.msg);
		fatal(v, VM_EXIT_INTERNAL, what);
		return;
	}
	case KVM_EXIT_SYSTEM_EVENT:
		switch (run->system_event.type) {
		case KVM_SYSTEM_EVENT_SHUTDOWN:
			vm_request_exit(vm, VM_EXIT_OK, "guest shut down");
			return;
		case KVM_SYSTEM_EVENT_RESET:
			vm_request_exit(vm, VM_EXIT_OK, "guest reset (no warm reset: exiting)");
			return;
		case KVM_SYSTEM_EVENT_CRASH:
			fatal(v, VM_EXIT_GUEST_CRASH, "KVM_SYSTEM_EVENT_CRASH: the guest crashed");
			return;
		}
		snprintf(what, sizeof(what), "KVM_EXIT_SYSTEM_EVENT type %u",
			 run->system_event.type);
		fatal(v, VM_EXIT_UNEXPECTED, what);
		return;
	default:
		snprintf(what, sizeof(what), "unexpected KVM exit reason %u", run->exit_reason);
		fatal(v, VM_EXIT_UNEXPECTED, what);
		return;
	}
}

static void *vcpu_thread(void *arg)
{
	struct vm_vcpu *v = arg;
	struct vm *vm = v->vm;
	sigset_t set;
	char name[16];

	snprintf(name, sizeof(name), "vcpu%u", v->id);
	pthread_setname_np(pthread_self(), name);
	sigemptyset(&set);
	sigaddset(&set, VM_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	while (!atomic_load(&vm->stopping)) {
		__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
		if (vm->paused) {
			park(v);
			continue;
		}
		if (atomic_load(&vm->stopping))
			break;
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			char what[128];
			snprintf(what, sizeof(what), "KVM_RUN failed: %s", strerror(errno));
			fatal(v, VM_EXIT_UNEXPECTED, what);
			break;
		}
		handle_exit(v);
	}
	return NULL;
}

int vm_vcpu_signals_init(struct vs_err *e)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler; /* no SA_RESTART: KVM_RUN must return */
	sigemptyset(&sa.sa_mask);
	if (sigaction(VM_KICK_SIGNAL, &sa, NULL) < 0)
		return vs_fail_errno(e, "sigaction");
	return 0;
}

int vm_vcpu_start(struct vm_vcpu *v, struct vs_err *e)
{
	int err = pthread_create(&v->thread, NULL, vcpu_thread, v);
	if (err)
		return vs_fail(e, err, "vCPU %u: pthread_create", v->id);
	v->started = true;
	return 0;
}
