/* Machine assembly and the life of a VM: KVM, memory, buses, devices, boot
 * image, vCPUs, confinement, then the event loop on the main thread until
 * something ends the VM; teardown in reverse order on every path. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "vessel/cleanup.h"
#include "vessel/fs.h"
#include "vmm/control.h"
#include "vmm/devices/platform.h"
#include "vmm/devices/virtio/virtio.h"
#include "vmm/layout.h"
#include "vmm/seccomp.h"
#include "vmm/snapshot.h"
#include "vmm/devices/fw_cfg.h"
#include "vmm/vm.h"
#include "vmm/x86/acpi.h"
#include "vmm/x86/regs.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t vm_uptime_ns(struct vm *vm)
{
	return now_ns() - vm->start_ns;
}

void vm_request_exit(struct vm *vm, int status, const char *why)
{
	pthread_mutex_lock(&vm->lock);
	if (!vm->exit_set) {
		vm->exit_set = true;
		vm->exit_status = status;
		snprintf(vm->exit_why, sizeof(vm->exit_why), "%s", why ? why : "");
	}
	atomic_store(&vm->stopping, true);
	pthread_cond_broadcast(&vm->cond); /* parked vCPUs, a waiting pause */
	pthread_mutex_unlock(&vm->lock);
	if (vm->loop)
		vm_event_loop_stop(vm->loop);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vm_vcpu_kick(&vm->vcpus[i]);
}

int vm_pause(struct vm *vm, struct vs_err *e)
{
	unsigned running = 0;

	pthread_mutex_lock(&vm->lock);
	if (vm->paused) {
		pthread_mutex_unlock(&vm->lock);
		return vs_fail(e, EINVAL, "already paused");
	}
	vm->paused = true;
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		running += vm->vcpus[i].started;
	pthread_mutex_unlock(&vm->lock);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vm_vcpu_kick(&vm->vcpus[i]);
	pthread_mutex_lock(&vm->lock);
	while (vm->parked < running && !atomic_load(&vm->stopping))
		pthread_cond_wait(&vm->cond, &vm->lock);
	/* guest time stands still while paused (api.rst KVM_GET_CLOCK) */
	int r = ioctl(vm->kvm.vm_fd, KVM_GET_CLOCK, &vm->paused_clock);
	/* and the guest's soft-lockup watchdog is told why (KVM_KVMCLOCK_CTRL;
	 * EINVAL when the guest does not use kvmclock: nothing to tell) */
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		if (vm->vcpus[i].started)
			ioctl(vm->vcpus[i].fd, KVM_KVMCLOCK_CTRL, 0);
	pthread_mutex_unlock(&vm->lock);
	if (r < 0)
		return vs_fail_errno(e, "KVM_GET_CLOCK");
	return 0;
}

int vm_resume(struct vm *vm, struct vs_err *e)
{
	pthread_mutex_lock(&vm->lock);
	if (!vm->paused) {
		pthread_mutex_unlock(&vm->lock);
		return vs_fail(e, EINVAL, "not paused");
	}
	struct kvm_clock_data c = {.clock = vm->paused_clock.clock};
	int r = ioctl(vm->kvm.vm_fd, KVM_SET_CLOCK, &c);
	vm->paused = false;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	if (r < 0)
		return vs_fail_errno(e, "KVM_SET_CLOCK");
	return 0;
}

/* --- ctx callbacks for devices --------------------------------------------- */

static int ctx_add_ioeventfd(struct vm_ctx *ctx, uint64_t addr, uint32_t len, bool is_pio, int fd,
			     struct vs_err *e)
{
	struct vm *vm = ctx->core;
	struct kvm_ioeventfd io = {
		.addr = addr,
		.len = len,
		.fd = fd,
		.flags = is_pio ? KVM_IOEVENTFD_FLAG_PIO : 0,
	};

	if (ioctl(vm->kvm.vm_fd, KVM_IOEVENTFD, &io) < 0)
		return vs_fail_errno(e, "KVM_IOEVENTFD at %s 0x%llx", is_pio ? "port" : "address",
				     (unsigned long long)addr);
	return 0;
}

static void ctx_request_exit(struct vm_ctx *ctx, int status, const char *why)
{
	vm_request_exit(ctx->core, status, why);
}

static uint64_t ctx_uptime_ns(struct vm_ctx *ctx)
{
	return vm_uptime_ns(ctx->core);
}

/* --- control socket glue ------------------------------------------------------ */

static void c_status(void *o, struct vm_control_status *st)
{
	struct vm *vm = o;

	st->state = vm->paused ? "paused" : "running";
	st->vcpus = vm->nr_vcpus;
	st->memory = vm_mem_size(&vm->mem);
	st->uptime_ns = vm_uptime_ns(vm);
	st->serial_pty = vm->cfg->serial.kind == VM_CONSOLE_PTY ? vm_serial_pty_path() : NULL;
	st->console_pty = vm->cfg->console.kind == VM_CONSOLE_PTY ? vm_virtio_console_pty() : NULL;
}

static int c_balloon_set(void *o, uint64_t bytes, struct vs_err *e)
{
	struct vm *vm = o;

	if (!vm->cfg->balloon)
		return vs_fail(e, ENODEV, "no balloon device (start with --balloon)");
	if (bytes > vm_mem_size(&vm->mem))
		return vs_fail(e, EINVAL, "balloon target %llu bytes exceeds guest RAM (%llu)",
			       (unsigned long long)bytes,
			       (unsigned long long)vm_mem_size(&vm->mem));
	if (vm_balloon_set_target(bytes) < 0)
		return vs_fail(e, ENODEV, "no balloon device");
	return 0;
}

static int c_balloon_stats(void *o, struct json_object *out, struct vs_err *e)
{
	struct vm *vm = o;
	struct vm_balloon_stat st[16];
	uint32_t actual = 0;

	if (!vm->cfg->balloon)
		return vs_fail(e, ENODEV, "no balloon device (start with --balloon)");
	int n = vm_balloon_get_stats(st, 16, &actual);
	if (n < 0)
		return vs_fail(e, ENODEV, "no balloon device");
	struct json_object *stats = json_object_new_object();
	for (int i = 0; i < n; i++) {
		char key[16];
		snprintf(key, sizeof(key), "%u", st[i].tag);
		json_object_object_add(stats, key, json_object_new_uint64(st[i].val));
	}
	json_object_object_add(out, "actual_pages", json_object_new_uint64(actual));
	json_object_object_add(out, "stats", stats);
	vm_balloon_request_stats(); /* fresh ones for the next call */
	return 0;
}

static int c_pause(void *o, struct vs_err *e)
{
	return vm_pause(o, e);
}

static int c_resume(void *o, struct vs_err *e)
{
	return vm_resume(o, e);
}

/* The power button when the guest listens for it (PM1 enable has
 * PWRBTN_EN: read through the bus as the guest would), else stop. */
static int c_shutdown(void *o, bool force, const char **how, struct vs_err *e)
{
	struct vm *vm = o;
	uint8_t en[2] = {0, 0};

	if (!force && vm_bus_dispatch(&vm->pio, VM_PORT_ACPI_PM + 2, en, 2, false) &&
	    ((en[0] | en[1] << 8) & VM_ACPI_PM1_PWRBTN) && !vm->paused) {
		vm_acpi_pm_power_button();
		*how = "acpi-power-button";
		return 0;
	}
	*how = "stop";
	vm_request_exit(vm, VM_EXIT_OK, "control socket: shutdown");
	return 0;
}

static const char *exit_name(unsigned r)
{
	switch (r) {
	case KVM_EXIT_IO: return "io";
	case KVM_EXIT_MMIO: return "mmio";
	case KVM_EXIT_HLT: return "hlt";
	case KVM_EXIT_SHUTDOWN: return "shutdown";
	case KVM_EXIT_INTERNAL_ERROR: return "internal_error";
	case KVM_EXIT_FAIL_ENTRY: return "fail_entry";
	case KVM_EXIT_SYSTEM_EVENT: return "system_event";
	case KVM_EXIT_INTR: return "intr";
	case KVM_EXIT_IRQ_WINDOW_OPEN: return "irq_window_open";
	}
	return NULL;
}

static void c_metrics(void *o, struct json_object *out)
{
	struct vm *vm = o;
	struct json_object *exits = json_object_new_object();
	uint64_t emulated = 0;

	for (unsigned r = 0; r < VM_EXIT_REASONS; r++) {
		uint64_t n = 0;
		for (unsigned i = 0; i < vm->nr_vcpus; i++)
			n += atomic_load(&vm->vcpus[i].exits[r]);
		if (!n)
			continue;
		char key[32];
		const char *name = exit_name(r);
		if (!name) {
			snprintf(key, sizeof(key), "reason_%u", r);
			name = key;
		}
		json_object_object_add(exits, name, json_object_new_uint64(n));
	}
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		emulated += atomic_load(&vm->vcpus[i].emulated);
	json_object_object_add(out, "exits", exits);
	json_object_object_add(out, "emulated_instructions", json_object_new_uint64(emulated));
	uint32_t mark;
	uint64_t mark_ns;
	if (vm_boot_marker_first(&mark, &mark_ns)) {
		json_object_object_add(out, "first_boot_marker", json_object_new_int64(mark));
		json_object_object_add(out, "first_boot_marker_ns",
				       json_object_new_uint64(mark_ns));
	}
}

static int c_snapshot(void *o, const char *path, bool diff, bool resume, struct vs_err *e)
{
	struct vm_snapshot_opts so = {.path = path, .diff = diff, .resume = resume};

	return vm_snapshot_save(o, &so, e);
}

static int c_migrate(void *o, const char *to, bool postcopy, struct vs_err *e)
{
	return vm_migrate_out(o, to, postcopy, e);
}

/* --- set-up ------------------------------------------------------------------- */

static int cmp_order(const void *a, const void *b)
{
	const struct vm_device_ops *x = *(const struct vm_device_ops *const *)a;
	const struct vm_device_ops *y = *(const struct vm_device_ops *const *)b;

	if (x->order != y->order)
		return (x->order > y->order) - (x->order < y->order);
	return strcmp(x->name ? x->name : "", y->name ? y->name : "");
}

static int create_devices(struct vm *vm, struct vs_err *e)
{
	/* the linker places both symbols around one section: one object */
	// cppcheck-suppress comparePointers
	for (const struct vm_device_ops *const *p = __start_vm_devices; p < __stop_vm_devices;
	     p++) {
		if (vm->nr_devs >= sizeof(vm->devs) / sizeof(vm->devs[0]))
			return vs_fail(e, E2BIG, "too many device types");
		vm->devs[vm->nr_devs++] = *p;
	}
	/* stable within an order: qsort is not, so break ties by name */
	qsort(vm->devs, vm->nr_devs, sizeof(vm->devs[0]), cmp_order);
	for (unsigned i = 0; i < vm->nr_devs; i++) {
		const struct vm_device_ops *d = vm->devs[i];
		if (d->create && d->create(&vm->ctx, e) < 0)
			return vs_err_prefix(e, "device %s", d->name);
		vm->devs_created = i + 1;
	}
	return 0;
}

static int read_cpu_tables(struct vm *vm, struct vs_err *e)
{
	vm->supported.nent = VM_CPUID_MAX;
	if (ioctl(vm->kvm.fd, KVM_GET_SUPPORTED_CPUID, (struct kvm_cpuid2 *)&vm->supported) < 0)
		return vs_fail_errno(e, "KVM_GET_SUPPORTED_CPUID");

	struct kvm_msr_list probe = {.nmsrs = 0};
	if (ioctl(vm->kvm.fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
		return vs_fail_errno(e, "KVM_GET_MSR_INDEX_LIST");
	struct kvm_msr_list *l = calloc(1, sizeof(*l) + probe.nmsrs * sizeof(uint32_t));
	if (!l)
		return vs_fail(e, ENOMEM, "MSR list: out of memory");
	l->nmsrs = probe.nmsrs;
	if (ioctl(vm->kvm.fd, KVM_GET_MSR_INDEX_LIST, l) < 0) {
		free(l);
		return vs_fail_errno(e, "KVM_GET_MSR_INDEX_LIST");
	}
	vm->msr_list = malloc(l->nmsrs * sizeof(uint32_t) + 1);
	if (!vm->msr_list) {
		free(l);
		return vs_fail(e, ENOMEM, "MSR list: out of memory");
	}
	memcpy(vm->msr_list, l->indices, l->nmsrs * sizeof(uint32_t));
	vm->nr_msrs = l->nmsrs;
	free(l);
	return 0;
}

static int load_guest(struct vm *vm, const uint8_t *kernel, size_t klen, const uint8_t *initrd,
		      size_t ilen, struct vs_err *e)
{
	const struct vm_config *cfg = vm->cfg;
	enum vm_boot_kind kind;

	if (vm_boot_detect(kernel, klen, &kind, e) < 0)
		return vs_err_prefix(e, "kernel %s", cfg->kernel);
	const char *profile = NULL;
	if (kind != VM_BOOT_MULTIBOOT) /* the parameters are Linux's */
		profile = vm_host_profile_select(cfg->host_profile);
	autofree char *cmdline = vm_host_profile_cmdline(profile, cfg->cmdline);
	if (profile)
		/* announced, never silent (not an error: stderr, not the log) */
		fprintf(stderr,
			"vessel-vmm: host profile %s applied: guest kernel parameters "
			"appended (see docs/vmm.md; --host-profile none to disable)\n",
			profile);
	struct vm_boot_input in = {
		.kernel = kernel,
		.kernel_len = klen,
		.initrd = initrd,
		.initrd_len = ilen,
		.cmdline = cmdline,
		.initrd_name = cfg->initrd,
		.rsdp_addr = VM_ACPI_ADDR,
	};
	if (vm_boot_load(&vm->mem, &in, &vm->entry, e) < 0)
		return vs_err_prefix(e, "kernel %s", cfg->kernel);
	if (vm_x86_write_gdt(&vm->mem, vm->entry.mode, e) < 0)
		return -1;
	if (vm->entry.mode == VM_ENTRY_LONG64 && vm_x86_write_page_tables(&vm->mem, e) < 0)
		return -1;
	return 0;
}

static void teardown(struct vm *vm)
{
	atomic_store(&vm->stopping, true);
	pthread_mutex_lock(&vm->lock);
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vm_vcpu_kick(&vm->vcpus[i]);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		if (vm->vcpus[i].started)
			pthread_join(vm->vcpus[i].thread, NULL);
	vm_control_stop(vm->control);
	vm->control = NULL;
	vm_serial_flush();
	for (unsigned i = vm->devs_created; i-- > 0;)
		if (vm->devs[i]->destroy)
			vm->devs[i]->destroy();
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vm_vcpu_destroy(&vm->vcpus[i]);
	vm_msi_free(vm);
	if (vm->loop)
		vm_event_loop_free(vm->loop);
	vm->loop = NULL;
	vm_mem_free(&vm->mem);
	vm_kvm_close(&vm->kvm);
	free(vm->msr_list);
}

int vm_run(const struct vm_config *cfg, int *status, char *report, size_t report_len,
	   struct vs_err *e)
{
	autofree char *kernel = NULL, *initrd = NULL;
	size_t klen = 0, ilen = 0;
	enum vm_boot_kind kind;
	static struct vm_control_ops cops;
	struct vm_restore *restore = NULL;
	struct vm *vm;
	int ret = -1;

	*status = VM_EXIT_SETUP;
	if (report_len)
		report[0] = '\0';
	/* a snapshot (or a migration) instead of a kernel: verified whole
	 * before KVM is opened, so a bad one is refused on any host */
	if (vm_restore_from_config(cfg, &restore, e) < 0)
		return -1;
	/* the image first: a bad kernel is reported even where KVM is absent */
	if (!restore) {
		if (vs_read_file(cfg->kernel, &kernel, &klen, e) < 0)
			return vs_err_prefix(e, "kernel");
		if (vm_boot_detect((uint8_t *)kernel, klen, &kind, e) < 0)
			return vs_err_prefix(e, "kernel %s", cfg->kernel);
		if (cfg->initrd && vs_read_file(cfg->initrd, &initrd, &ilen, e) < 0)
			return vs_err_prefix(e, "initrd");
	}

	vm = calloc(1, sizeof(*vm));
	if (!vm) {
		vm_restore_free(restore);
		return vs_fail(e, ENOMEM, "out of memory");
	}
	vm->cfg = cfg;
	vm->kvm.fd = vm->kvm.vm_fd = -1;
	pthread_mutex_init(&vm->lock, NULL);
	pthread_cond_init(&vm->cond, NULL);
	vm->start_ns = now_ns();
	for (unsigned i = 0; i < VM_MAX_CPUS; i++)
		vm->vcpus[i].fd = -1;

	/* memory and the loaded image before KVM: what is wrong with the input
	 * (initrd larger than RAM, command line too long, empty hugepage
	 * pool) is reported as such on any host */
	if (restore) {
		vm->mem = restore->mem; /* the VM owns the restored memory now */
		memset(&restore->mem, 0, sizeof(restore->mem));
	} else if (vm_mem_alloc(&vm->mem, cfg->mem_size, cfg->mem_memfd, cfg->mem_hugepages, e) <
			   0 ||
		   load_guest(vm, (uint8_t *)kernel, klen, (uint8_t *)initrd, ilen, e) < 0) {
		goto out;
	}
	/* per-clone identity the guest reads from fw_cfg */
	for (unsigned i = 0; i < cfg->nr_identity; i++) {
		char name[FW_CFG_MAX_FILE_NAME];
		snprintf(name, sizeof(name), "opt/vessel/%s", cfg->identity[i].key);
		if (vm_fw_cfg_add_file(name, cfg->identity[i].value,
				       strlen(cfg->identity[i].value)) < 0) {
			vs_fail_errno(e, "--identity %s", cfg->identity[i].key);
			goto out;
		}
	}
	if (vm_kvm_open(&vm->kvm, VM_KVM_DEV, e) < 0 ||
	    vm_kvm_create_vm(&vm->kvm, cfg->cpus, e) < 0 ||
	    vm_kvm_set_memory(&vm->kvm, &vm->mem, e) < 0)
		goto out;
	if (read_cpu_tables(vm, e) < 0)
		goto out;

	vm_bus_init(&vm->pio, "pio");
	vm_bus_init(&vm->mmio, "mmio");
	vm->loop = vm_event_loop_new(e);
	if (!vm->loop || vm_msi_init(vm, e) < 0)
		goto out;
	vm->irq =
		(struct vm_irq){.opaque = vm, .set_line = vm_irq_set_line, .send_msi = vm_msi_send};
	vm->ctx = (struct vm_ctx){
		.cfg = cfg,
		.mem = &vm->mem,
		.pio = &vm->pio,
		.mmio = &vm->mmio,
		.pci = &vm->pci,
		.irq = &vm->irq,
		.loop = vm->loop,
		.add_ioeventfd = ctx_add_ioeventfd,
		.request_exit = ctx_request_exit,
		.uptime_ns = ctx_uptime_ns,
		.core = vm,
	};
	if (vm_pci_bus_init(&vm->pci, &vm->pio, &vm->mmio, e) < 0 ||
	    (!restore && vm_acpi_build(&vm->mem, cfg, e) < 0) || create_devices(vm, e) < 0)
		goto out;

	vm->nr_vcpus = cfg->cpus;
	for (unsigned i = 0; i < cfg->cpus; i++)
		if (vm_vcpu_create(vm, i, e) < 0)
			goto out;
	if (restore && vm_restore_apply(vm, restore, e) < 0)
		goto out;

	cops = (struct vm_control_ops){
		.opaque = vm,
		.status = c_status,
		.pause = c_pause,
		.resume = c_resume,
		.shutdown = c_shutdown,
		.metrics = c_metrics,
		.balloon_set = c_balloon_set,
		.balloon_stats = c_balloon_stats,
		.snapshot = c_snapshot,
		.migrate = c_migrate,
	};
	if (cfg->control_socket &&
	    vm_control_start(&vm->control, cfg->control_socket, &cops, e) < 0)
		goto out;

	/* the kick signal only ever reaches vCPU threads */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (vm_vcpu_signals_init(e) < 0)
		goto out;
	if (!cfg->no_seccomp && vm_seccomp_install(e) < 0)
		goto out;
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		if (vm_vcpu_start(&vm->vcpus[i], e) < 0)
			goto out;

	struct vs_err loop_err = {0};
	if (vm_event_loop_run(vm->loop, &loop_err) < 0)
		vm_request_exit(vm, VM_EXIT_UNEXPECTED, loop_err.msg);
	ret = 0;
out:
	teardown(vm);
	vm_restore_free(restore); /* after the vCPUs: its page server fed them */
	if (ret == 0) {
		*status = vm->exit_status;
		if (report_len)
			snprintf(report, report_len, "%s", vm->report);
	}
	pthread_mutex_destroy(&vm->lock);
	pthread_cond_destroy(&vm->cond);
	free(vm);
	return ret;
}
