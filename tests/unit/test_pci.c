/* PCI host bridge: configuration mechanisms, BAR sizing and relocation,
 * capability lists, write masks. */
#include <string.h>

#include "test.h"
#include "vmm/irq.h"
#include "vmm/pci.h"

struct rec {
	int hits;
	uint64_t last_off;
};

static void bar_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct rec *r = opaque;

	r->hits++;
	r->last_off = offset;
	if (!is_write)
		memset(data, 0x5a, len);
}

struct fixture {
	struct vm_bus pio, mmio;
	struct vm_pci_bus pci;
	struct vm_pci_dev dev;
	struct rec rec;
};

static void pio_w32(struct fixture *f, uint16_t port, uint32_t v)
{
	uint8_t d[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};

	vm_bus_dispatch(&f->pio, port, d, 4, true);
}

static uint32_t pio_r(struct fixture *f, uint16_t port, uint32_t len)
{
	uint8_t d[4] = {0};

	vm_bus_dispatch(&f->pio, port, d, len, false);
	return (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 | (uint32_t)d[3] << 24;
}

/* Config dword via the legacy mechanism. */
static uint32_t cfg_r(struct fixture *f, uint8_t slot, uint8_t off, uint32_t len)
{
	pio_w32(f, 0xcf8, 0x80000000u | (uint32_t)slot << 11 | (off & 0xfcu));
	return pio_r(f, (uint16_t)(0xcfc + (off & 3)), len);
}

static void cfg_w32(struct fixture *f, uint8_t slot, uint8_t off, uint32_t v)
{
	pio_w32(f, 0xcf8, 0x80000000u | (uint32_t)slot << 11 | off);
	pio_w32(f, 0xcfc, v);
}

static bool mmio_hits(struct fixture *f, uint64_t addr)
{
	uint8_t d[4];
	int before = f->rec.hits;

	vm_bus_dispatch(&f->mmio, addr, d, 4, false);
	return f->rec.hits == before + 1;
}

static int setup(struct fixture *f, bool with_dev)
{
	struct vs_err e;

	memset(f, 0, sizeof(*f));
	vm_bus_init(&f->pio, "pio");
	vm_bus_init(&f->mmio, "mmio");
	if (vm_pci_bus_init(&f->pci, &f->pio, &f->mmio, &e) < 0)
		return -1;
	if (!with_dev)
		return 0;
	f->dev.name = "testdev";
	f->dev.config[0] = 0xf4;
	f->dev.config[1] = 0x1a;
	f->dev.config[2] = 0x41;
	f->dev.config[3] = 0x10;
	f->dev.bar[0] = (struct vm_pci_bar){.size = 0x4000, .fn = bar_io, .opaque = &f->rec};
	f->dev.bar[2] =
		(struct vm_pci_bar){.size = 0x1000, .is_64 = true, .fn = bar_io, .opaque = &f->rec};
	return vm_pci_register(&f->pci, &f->dev, &e);
}

TEST(host_bridge_answers_on_slot_zero_through_cf8)
{
	struct fixture f;

	REQUIRE(setup(&f, false) == 0);
	CHECK_EQ(cfg_r(&f, 0, 0, 4), 0x00081b36);
	CHECK_EQ(cfg_r(&f, 0, 0x08, 4) >> 16, 0x0600); /* class: host bridge */
	CHECK_EQ(cfg_r(&f, 0, 0x02, 2), 0x0008);       /* word at 0xCFE */
	CHECK_EQ(cfg_r(&f, 0, 0x01, 1), 0x1b);	       /* byte at 0xCFD */
	CHECK_EQ(pio_r(&f, 0xcf8, 4), 0x80000000u);    /* latch reads back */
	vm_pci_bus_destroy(&f.pci);
}

TEST(empty_slot_and_other_functions_read_all_ones)
{
	struct fixture f;

	REQUIRE(setup(&f, false) == 0);
	CHECK_EQ(cfg_r(&f, 5, 0, 4), 0xffffffffu);
	pio_w32(&f, 0xcf8, 0x80000000u | 1u << 8); /* slot 0 function 1 */
	CHECK_EQ(pio_r(&f, 0xcfc, 4), 0xffffffffu);
	pio_w32(&f, 0xcf8, 0x00000000u); /* enable bit clear */
	CHECK_EQ(pio_r(&f, 0xcfc, 4), 0xffffffffu);
	vm_pci_bus_destroy(&f.pci);
}

TEST(port_cf9_is_left_for_the_acpi_reset_register)
{
	struct fixture f;
	uint8_t b = 0;

	REQUIRE(setup(&f, false) == 0);
	CHECK(!vm_bus_dispatch(&f.pio, 0xcf9, &b, 1, true));
	/* and a byte write at 0xCF8 does not disturb the latch */
	pio_w32(&f, 0xcf8, 0x80000010u);
	b = 0;
	vm_bus_dispatch(&f.pio, 0xcf8, &b, 1, true);
	CHECK_EQ(pio_r(&f, 0xcf8, 4), 0x80000010u);
	vm_pci_bus_destroy(&f.pci);
}

TEST(device_gets_slot_bars_and_interrupt_pin)
{
	struct fixture f;

	REQUIRE(setup(&f, true) == 0);
	CHECK_EQ(f.dev.slot, 1);
	CHECK_EQ(cfg_r(&f, 1, 0, 4), 0x10411af4);
	CHECK_EQ(cfg_r(&f, 1, 0x3d, 1), 1);
	CHECK_EQ(cfg_r(&f, 1, 0x3c, 1), VM_PCI_INTX_GSI(1));
	CHECK_EQ(cfg_r(&f, 1, 0x04, 2) & 0x6, 0x6); /* memory + master enabled */
	CHECK(f.dev.bar[0].addr >= VM_PCI_MMIO_BASE);
	CHECK_EQ(f.dev.bar[0].addr & 0x3fff, 0);
	CHECK_EQ(cfg_r(&f, 1, 0x10, 4), (uint32_t)f.dev.bar[0].addr);
	CHECK_EQ(cfg_r(&f, 1, 0x18, 4) & 0x6, 0x4); /* 64-bit memory BAR */
	CHECK(mmio_hits(&f, f.dev.bar[0].addr + 0x10));
	CHECK_EQ(f.rec.last_off, 0x10);
	CHECK(mmio_hits(&f, f.dev.bar[2].addr));
	vm_pci_bus_destroy(&f.pci);
}

TEST(bar_sizing_reads_back_size_mask)
{
	struct fixture f;

	REQUIRE(setup(&f, true) == 0);
	uint32_t old = cfg_r(&f, 1, 0x10, 4);
	cfg_w32(&f, 1, 0x10, 0xffffffffu);
	CHECK_EQ(cfg_r(&f, 1, 0x10, 4), 0xffffc000u);
	cfg_w32(&f, 1, 0x18, 0xffffffffu);
	cfg_w32(&f, 1, 0x1c, 0xffffffffu);
	CHECK_EQ(cfg_r(&f, 1, 0x18, 4), 0xfffff004u);
	CHECK_EQ(cfg_r(&f, 1, 0x1c, 4), 0xffffffffu);
	/* the all-ones pattern must not be decoded over the APIC range */
	CHECK(!mmio_hits(&f, 0xffffc000u));
	cfg_w32(&f, 1, 0x10, old);
	CHECK(mmio_hits(&f, old));
	vm_pci_bus_destroy(&f.pci);
}

TEST(bar_relocation_moves_the_mmio_range)
{
	struct fixture f;

	REQUIRE(setup(&f, true) == 0);
	uint64_t old = f.dev.bar[0].addr, neu = VM_PCI_MMIO_BASE + 0x100000;
	cfg_w32(&f, 1, 0x10, (uint32_t)neu);
	CHECK_EQ(f.dev.bar[0].addr, neu);
	CHECK(!mmio_hits(&f, old));
	CHECK(mmio_hits(&f, neu + 4));
	CHECK_EQ(f.rec.last_off, 4);
	vm_pci_bus_destroy(&f.pci);
}

TEST(command_register_memory_enable_gates_decoding)
{
	struct fixture f;

	REQUIRE(setup(&f, true) == 0);
	uint64_t a = f.dev.bar[0].addr;
	uint32_t cmd = cfg_r(&f, 1, 0x04, 2);
	cfg_w32(&f, 1, 0x04, cmd & ~2u);
	CHECK(!mmio_hits(&f, a));
	cfg_w32(&f, 1, 0x04, cmd);
	CHECK(mmio_hits(&f, a));
	vm_pci_bus_destroy(&f.pci);
}

TEST(read_only_fields_ignore_guest_writes)
{
	struct fixture f;

	REQUIRE(setup(&f, true) == 0);
	cfg_w32(&f, 1, 0x00, 0x12345678);
	CHECK_EQ(cfg_r(&f, 1, 0, 4), 0x10411af4);
	cfg_w32(&f, 1, 0x3c, 0xffffff0b); /* line is writable, pin is not */
	CHECK_EQ(cfg_r(&f, 1, 0x3c, 1), 0x0b);
	CHECK_EQ(cfg_r(&f, 1, 0x3d, 1), 1);
	vm_pci_bus_destroy(&f.pci);
}

TEST(capabilities_chain_from_the_pointer)
{
	struct fixture f;
	uint8_t c1[8] = {0x09, 0, 8, 1}, c2[12] = {0x11, 0, 0, 0};

	REQUIRE(setup(&f, true) == 0);
	int o1 = vm_pci_add_cap(&f.dev, c1, sizeof(c1));
	int o2 = vm_pci_add_cap(&f.dev, c2, sizeof(c2));
	CHECK_EQ(o1, 0x40);
	CHECK_EQ(o2, 0x48);
	CHECK(cfg_r(&f, 1, 0x06, 2) & 0x10);
	CHECK_EQ(cfg_r(&f, 1, 0x34, 1), 0x40);
	CHECK_EQ(cfg_r(&f, 1, 0x41, 1), 0x48);
	CHECK_EQ(cfg_r(&f, 1, 0x49, 1), 0);
	CHECK_EQ(cfg_r(&f, 1, 0x48, 1), 0x11);
	uint8_t big[200] = {0x09};
	CHECK(vm_pci_add_cap(&f.dev, big, sizeof(big)) < 0); /* does not fit below 0x100 */
	vm_pci_bus_destroy(&f.pci);
}

TEST(ecam_reaches_the_same_config_space)
{
	struct fixture f;
	uint8_t d[4];

	REQUIRE(setup(&f, true) == 0);
	vm_bus_dispatch(&f.mmio, VM_PCI_ECAM_BASE + (1u << 15), d, 4, false);
	CHECK_EQ(d[0] | d[1] << 8, 0x1af4);
	memset(d, 0xff, 4);
	vm_bus_dispatch(&f.mmio, VM_PCI_ECAM_BASE + (1u << 15) + 0x10, d, 4, true);
	vm_bus_dispatch(&f.mmio, VM_PCI_ECAM_BASE + (1u << 15) + 0x10, d, 4, false);
	CHECK_EQ((uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 | (uint32_t)d[3] << 24,
		 0xffffc000u);
	vm_bus_dispatch(&f.mmio, VM_PCI_ECAM_BASE + (9u << 15), d, 2, false);
	CHECK_EQ(d[0] & d[1], 0xff);
	vm_pci_bus_destroy(&f.pci);
}

TEST(bad_bar_size_is_refused_with_device_name)
{
	struct fixture f;
	struct vs_err e;
	struct vm_pci_dev d = {.name = "oddbar"};

	REQUIRE(setup(&f, false) == 0);
	d.bar[0] = (struct vm_pci_bar){.size = 0x3000, .fn = bar_io, .opaque = &f.rec};
	CHECK(vm_pci_register(&f.pci, &d, &e) < 0);
	CHECK_CONTAINS(e.msg, "oddbar");
	CHECK(f.pci.devs[1] == NULL);
	vm_pci_bus_destroy(&f.pci);
}

struct lines {
	int level[32];
	int calls;
};

static void rec_line(void *opaque, uint32_t gsi, int level)
{
	struct lines *l = opaque;

	l->level[gsi] = level;
	l->calls++;
}

TEST(slots_sharing_a_gsi_wire_or_their_intx)
{
	struct fixture f;
	struct lines l = {0};
	struct vm_irq irq = {.opaque = &l, .set_line = rec_line};
	uint32_t gsi = VM_PCI_INTX_GSI(1);

	REQUIRE(setup(&f, false) == 0);
	REQUIRE(VM_PCI_INTX_GSI(9) == gsi);
	vm_pci_set_intx(&f.pci, &irq, 1, true);
	CHECK_EQ(l.level[gsi], 1);
	vm_pci_set_intx(&f.pci, &irq, 9, true);
	vm_pci_set_intx(&f.pci, &irq, 1, false);
	CHECK_EQ(l.level[gsi], 1); /* slot 9 still holds the line */
	vm_pci_set_intx(&f.pci, &irq, 2, true);
	CHECK_EQ(l.level[VM_PCI_INTX_GSI(2)], 1);
	vm_pci_set_intx(&f.pci, &irq, 9, false);
	CHECK_EQ(l.level[gsi], 0);
	CHECK_EQ(l.calls, 3); /* only real changes reach the irqchip */
	vm_pci_bus_destroy(&f.pci);
}
