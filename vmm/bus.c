/* Port-I/O and MMIO dispatch. A handful of ranges per bus, so a linear scan
 * under a read lock is cheaper than anything cleverer. */
#include <errno.h>
#include <string.h>

#include "vmm/bus.h"

void vm_bus_init(struct vm_bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
	pthread_rwlock_init(&bus->lock, NULL);
}

/* [a, a + alen) and [b, b + blen) intersect; lengths are non-zero and the
 * ends were checked not to wrap. */
static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

int vm_bus_register(struct vm_bus *bus, uint64_t base, uint64_t len, vm_io_fn fn, void *opaque,
		    const char *name, struct vs_err *e)
{
	int ret = 0;

	if (len == 0 || base + len < base || base + len == 0)
		return vs_fail(e, EINVAL, "%s bus: %s: bad range 0x%llx+0x%llx", bus->name,
			       name ? name : "?", (unsigned long long)base,
			       (unsigned long long)len);
	if (!fn)
		return vs_fail(e, EINVAL, "%s bus: %s: no handler", bus->name, name ? name : "?");
	pthread_rwlock_wrlock(&bus->lock);
	for (unsigned i = 0; i < bus->nr; i++) {
		const struct vm_bus_range *r = &bus->ranges[i];

		if (overlaps(base, len, r->base, r->len)) {
			ret = vs_fail(e, EEXIST,
				      "%s bus: %s at 0x%llx+0x%llx overlaps %s at 0x%llx+0x%llx",
				      bus->name, name ? name : "?", (unsigned long long)base,
				      (unsigned long long)len, r->name ? r->name : "?",
				      (unsigned long long)r->base, (unsigned long long)r->len);
			goto out;
		}
	}
	if (bus->nr >= VM_BUS_MAX_RANGES) {
		ret = vs_fail(e, ENOSPC, "%s bus: %s: more than %d ranges", bus->name,
			      name ? name : "?", VM_BUS_MAX_RANGES);
		goto out;
	}
	bus->ranges[bus->nr++] = (struct vm_bus_range){
		.base = base,
		.len = len,
		.fn = fn,
		.opaque = opaque,
		.name = name,
	};
out:
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}

void vm_bus_unregister(struct vm_bus *bus, uint64_t base, void *opaque)
{
	pthread_rwlock_wrlock(&bus->lock);
	for (unsigned i = 0; i < bus->nr; i++) {
		if (bus->ranges[i].base == base && bus->ranges[i].opaque == opaque) {
			memmove(&bus->ranges[i], &bus->ranges[i + 1],
				(bus->nr - i - 1) * sizeof(bus->ranges[0]));
			bus->nr--;
			break;
		}
	}
	pthread_rwlock_unlock(&bus->lock);
}

/*
 * The handler runs after the lock is dropped: a PCI config write arrives on
 * this very bus (0xCFC or ECAM) and may move a BAR, i.e. re-register on the
 * same bus from inside the handler. Devices live as long as the VM, so a
 * handler called just after its range moved sees one stale access at most,
 * as a real device would during reprogramming.
 */
bool vm_bus_dispatch(struct vm_bus *bus, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	struct vm_bus_range hit = {0};
	bool found = false;

	pthread_rwlock_rdlock(&bus->lock);
	for (unsigned i = 0; i < bus->nr; i++) {
		const struct vm_bus_range *r = &bus->ranges[i];

		if (addr >= r->base && addr - r->base < r->len) {
			hit = *r;
			found = true;
			break;
		}
	}
	pthread_rwlock_unlock(&bus->lock);

	if (!found) {
		if (!is_write)
			memset(data, 0xff, len);
		return false;
	}
	hit.fn(hit.opaque, addr - hit.base, data, len, is_write);
	return true;
}
