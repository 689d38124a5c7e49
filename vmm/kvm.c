/* /dev/kvm and the VM file descriptor (Documentation/virt/kvm/api.rst
 * §4: KVM_GET_API_VERSION, KVM_CHECK_EXTENSION, KVM_CREATE_VM,
 * KVM_SET_TSS_ADDR, KVM_SET_IDENTITY_MAP_ADDR, KVM_CREATE_IRQCHIP,
 * KVM_CREATE_PIT2, KVM_SET_USER_MEMORY_REGION). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/kvm.h>

#include "vmm/kvm.h"

const struct vm_kvm_cap vm_kvm_required_caps[] = {
	{KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"},
	{KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
	{KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
	{KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR"},
	{KVM_CAP_PIT2, "KVM_CAP_PIT2"},
	{KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
	{KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD"},
	{KVM_CAP_IRQFD, "KVM_CAP_IRQFD"},
	{KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING"},
	{KVM_CAP_SIGNAL_MSI, "KVM_CAP_SIGNAL_MSI"},
	{KVM_CAP_ADJUST_CLOCK, "KVM_CAP_ADJUST_CLOCK (kvmclock)"},
	{KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE"},
	{KVM_CAP_VCPU_EVENTS, "KVM_CAP_VCPU_EVENTS"},
	{KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
	{0, NULL},
};

int vm_kvm_open(struct vm_kvm *k, const char *path, struct vs_err *e)
{
	memset(k, 0, sizeof(*k));
	k->fd = k->vm_fd = -1;
	k->fd = open(path, O_RDWR | O_CLOEXEC);
	if (k->fd < 0) {
		if (errno == ENOENT)
			return vs_fail(e, ENOENT,
				       "%s not present: this host offers no KVM (load kvm_intel or "
				       "kvm_amd, or enable nested virtualisation)",
				       path);
		return vs_fail_errno(e, "cannot open %s", path);
	}
	int v = ioctl(k->fd, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION) {
		vs_fail(e, EINVAL, "%s: KVM API version %d, need %d", path, v, KVM_API_VERSION);
		goto fail;
	}
	for (const struct vm_kvm_cap *c = vm_kvm_required_caps; c->name; c++) {
		if (ioctl(k->fd, KVM_CHECK_EXTENSION, c->cap) <= 0) {
			vs_fail(e, ENOTSUP, "%s: missing capability %s", path, c->name);
			goto fail;
		}
	}
	k->run_size = ioctl(k->fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (k->run_size < (int)sizeof(struct kvm_run)) {
		vs_fail_errno(e, "%s: KVM_GET_VCPU_MMAP_SIZE", path);
		goto fail;
	}
	k->max_vcpus = ioctl(k->fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (k->max_vcpus <= 0)
		k->max_vcpus = ioctl(k->fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	return 0;
fail:
	close(k->fd);
	k->fd = -1;
	return -1;
}

int vm_kvm_create_vm(struct vm_kvm *k, unsigned vcpus, struct vs_err *e)
{
	if (k->max_vcpus > 0 && vcpus > (unsigned)k->max_vcpus)
		return vs_fail(e, EINVAL, "cpus: %u, KVM here allows at most %d", vcpus,
			       k->max_vcpus);
	k->vm_fd = ioctl(k->fd, KVM_CREATE_VM, 0);
	if (k->vm_fd < 0)
		return vs_fail_errno(e, "KVM_CREATE_VM");
	/* Intel needs these before the first vCPU; AMD ignores them */
	if (ioctl(k->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &(uint64_t){VM_KVM_IDENTITY_MAP_ADDR}) < 0)
		return vs_fail_errno(e, "KVM_SET_IDENTITY_MAP_ADDR");
	if (ioctl(k->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)VM_KVM_TSS_ADDR) < 0)
		return vs_fail_errno(e, "KVM_SET_TSS_ADDR");
	if (ioctl(k->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return vs_fail_errno(e, "KVM_CREATE_IRQCHIP");
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
	if (ioctl(k->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return vs_fail_errno(e, "KVM_CREATE_PIT2");
	return 0;
}

int vm_kvm_set_memory(struct vm_kvm *k, const struct vm_memory *m, struct vs_err *e)
{
	for (unsigned i = 0; i < m->nr; i++) {
		struct kvm_userspace_memory_region r = {
			.slot = i,
			.guest_phys_addr = m->regions[i].gpa,
			.memory_size = m->regions[i].size,
			.userspace_addr = (uint64_t)(uintptr_t)m->regions[i].host,
		};
		if (ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
			return vs_fail_errno(e,
					     "KVM_SET_USER_MEMORY_REGION slot %u (0x%llx+0x%llx)",
					     i, (unsigned long long)r.guest_phys_addr,
					     (unsigned long long)r.memory_size);
	}
	return 0;
}

void vm_kvm_close(struct vm_kvm *k)
{
	if (k->vm_fd >= 0)
		close(k->vm_fd);
	if (k->fd >= 0)
		close(k->fd);
	k->fd = k->vm_fd = -1;
}
