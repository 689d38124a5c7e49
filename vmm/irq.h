/* How devices raise interrupts, without knowing whether KVM (or a unit test)
 * is on the other side. */
#ifndef VMM_IRQ_H
#define VMM_IRQ_H

#include <stdint.h>

struct vm_irq {
	void *opaque;
	/* level-triggered line on the IOAPIC/PIC (GSI); level 1 raise, 0 lower */
	void (*set_line)(void *opaque, uint32_t gsi, int level);
	/* one MSI message (address/data as the guest programmed them) */
	void (*send_msi)(void *opaque, uint64_t addr, uint32_t data);
};

static inline void vm_irq_line(const struct vm_irq *irq, uint32_t gsi, int level)
{
	if (irq && irq->set_line)
		irq->set_line(irq->opaque, gsi, level);
}

static inline void vm_irq_msi(const struct vm_irq *irq, uint64_t addr, uint32_t data)
{
	if (irq && irq->send_msi)
		irq->send_msi(irq->opaque, addr, data);
}

#endif
