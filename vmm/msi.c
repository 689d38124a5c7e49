/* Interrupts into KVM's in-kernel irqchip: INTx lines with KVM_IRQ_LINE, and
 * MSI/MSI-X through GSI routing + irqfd (api.rst §4.52 KVM_SET_GSI_ROUTING,
 * §4.75 KVM_IRQFD). A device's vectors are few and stable, so a small
 * cache of (address, data) -> GSI routes makes each MSI one eventfd write;
 * when the cache is full the least recently used route is reprogrammed.
 * If routing fails, KVM_SIGNAL_MSI delivers the message directly. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmm/vm.h"

#define IRQCHIP_PINS 24

void vm_irq_set_line(void *opaque, uint32_t gsi, int level)
{
	struct vm *vm = opaque;
	struct kvm_irq_level l = {.irq = gsi, .level = (uint32_t)level};

	ioctl(vm->kvm.vm_fd, KVM_IRQ_LINE, &l);
}

static int set_routing(struct vm *vm);

int vm_msi_init(struct vm *vm, struct vs_err *e)
{
	pthread_mutex_init(&vm->msi.lock, NULL);
	for (unsigned i = 0; i < VM_MSI_ROUTES; i++)
		vm->msi.r[i].fd = -1;
	/* at once, not at the first MSI: the PIT needs its IOAPIC pin from boot */
	if (set_routing(vm) < 0)
		return vs_fail_errno(e, "KVM_SET_GSI_ROUTING");
	return 0;
}

void vm_msi_free(struct vm *vm)
{
	for (unsigned i = 0; i < VM_MSI_ROUTES; i++) {
		struct vm_msi_route *r = &vm->msi.r[i];
		if (r->fd < 0)
			continue;
		struct kvm_irqfd fd = {.fd = (uint32_t)r->fd,
				       .gsi = VM_MSI_GSI_BASE + i,
				       .flags = KVM_IRQFD_FLAG_DEASSIGN};
		ioctl(vm->kvm.vm_fd, KVM_IRQFD, &fd);
		close(r->fd);
		r->fd = -1;
	}
}

/* The whole table: KVM replaces the default routing, so the irqchip pins
 * are restated (PIC and IOAPIC for 0-15, IOAPIC for 16-23), then every MSI
 * route in use. One change from KVM's default: the MADT declares the PC's
 * interrupt source override ISA IRQ 0 -> GSI 2, and the in-kernel PIT
 * raises GSI 0, so GSI 0 goes to IOAPIC pin 2 (and nothing else does),
 * where the guest looks for its timer. Caller holds the lock (or is init). */
static int set_routing(struct vm *vm)
{
	size_t n = 16 * 2 + 8 + VM_MSI_ROUTES;
	struct kvm_irq_routing *t = calloc(1, sizeof(*t) + n * sizeof(t->entries[0]));
	unsigned k = 0;

	if (!t)
		return -1;
	for (uint32_t gsi = 0; gsi < IRQCHIP_PINS; gsi++) {
		if (gsi < 16) {
			t->entries[k++] = (struct kvm_irq_routing_entry){
				.gsi = gsi,
				.type = KVM_IRQ_ROUTING_IRQCHIP,
				.u.irqchip = {gsi < 8 ? KVM_IRQCHIP_PIC_MASTER
						      : KVM_IRQCHIP_PIC_SLAVE,
					      gsi % 8},
			};
		}
		if (gsi == 2)
			continue;
		t->entries[k++] = (struct kvm_irq_routing_entry){
			.gsi = gsi,
			.type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = {KVM_IRQCHIP_IOAPIC, gsi == 0 ? 2 : gsi},
		};
	}
	for (unsigned i = 0; i < VM_MSI_ROUTES; i++) {
		struct vm_msi_route *r = &vm->msi.r[i];
		if (r->fd < 0)
			continue;
		t->entries[k++] = (struct kvm_irq_routing_entry){
			.gsi = VM_MSI_GSI_BASE + i,
			.type = KVM_IRQ_ROUTING_MSI,
			.u.msi = {.address_lo = (uint32_t)r->addr,
				  .address_hi = (uint32_t)(r->addr >> 32),
				  .data = r->data},
		};
	}
	t->nr = k;
	int ret = ioctl(vm->kvm.vm_fd, KVM_SET_GSI_ROUTING, t);
	free(t);
	return ret;
}

/* The route's eventfd for (addr, data), creating or recycling one. */
static int route_fd(struct vm *vm, uint64_t addr, uint32_t data)
{
	struct vm_msi *m = &vm->msi;
	unsigned victim = 0;
	uint64_t oldest = UINT64_MAX;

	m->clock++;
	for (unsigned i = 0; i < VM_MSI_ROUTES; i++) {
		struct vm_msi_route *r = &m->r[i];
		if (r->fd >= 0 && r->addr == addr && r->data == data) {
			r->last_use = m->clock;
			return r->fd;
		}
		uint64_t age = r->fd < 0 ? 0 : r->last_use;
		if (age < oldest) {
			oldest = age;
			victim = i;
		}
	}
	struct vm_msi_route *r = &m->r[victim];
	bool fresh = r->fd < 0;
	if (fresh) {
		r->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (r->fd < 0)
			return -1;
	}
	r->addr = addr;
	r->data = data;
	r->last_use = m->clock;
	if (set_routing(vm) < 0)
		goto fail;
	if (fresh) {
		struct kvm_irqfd fd = {.fd = (uint32_t)r->fd, .gsi = VM_MSI_GSI_BASE + victim};
		if (ioctl(vm->kvm.vm_fd, KVM_IRQFD, &fd) < 0)
			goto fail;
	}
	return r->fd;
fail:
	close(r->fd);
	r->fd = -1;
	return -1;
}

void vm_msi_send(void *opaque, uint64_t addr, uint32_t data)
{
	struct vm *vm = opaque;
	int fd = -1;

	pthread_mutex_lock(&vm->msi.lock);
	if (!vm->msi.use_signal) {
		fd = route_fd(vm, addr, data);
		if (fd < 0)
			vm->msi.use_signal = true;
	}
	if (fd >= 0) {
		uint64_t one = 1;
		ssize_t w = write(fd, &one, sizeof(one));
		(void)w; /* EAGAIN: counter full, the interrupt is pending anyway */
	}
	pthread_mutex_unlock(&vm->msi.lock);
	if (fd < 0) {
		struct kvm_msi msi = {.address_lo = (uint32_t)addr,
				      .address_hi = (uint32_t)(addr >> 32),
				      .data = data};
		ioctl(vm->kvm.vm_fd, KVM_SIGNAL_MSI, &msi);
	}
}
