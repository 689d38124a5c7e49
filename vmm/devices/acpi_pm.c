/*
 * ACPI fixed hardware (ACPI 6.4 §4.8): the PM1a event block at
 * VM_PORT_ACPI_PM (status and enable, 16 bits each), the PM1a control block
 * at VM_PORT_ACPI_PM + 4 (16 bits), and the FADT reset register at 0xcf9.
 * The FADT built by x86/acpi.c points at exactly these ports.
 *
 * - Writing SLP_EN with SLP_TYP equal to the \_S5 value of the DSDT powers
 *   the machine off: request_exit(0, "ACPI power-off"). No other sleep state
 *   is declared, so other SLP_TYP values are ignored.
 * - The reset register resets on a write with bit 2 set (0x06, 0x0e: the
 *   FADT's RESET_VALUE and the PIIX-style full reset): request_exit(0,
 *   "ACPI reset"); Vessel has no warm reset, the manager restarts.
 * - A power-button press (the control socket's "shutdown") sets PWRBTN_STS
 *   and raises the SCI (IRQ 9, level) while PWRBTN_EN is set; the status
 *   bits are write-one-to-clear (§4.8.3.1). SCI_EN reads as 1: with no
 *   SMI_CMD in the FADT the machine is always in ACPI mode.
 * No PM timer and no GPE blocks.
 */
#include <errno.h>
#include <pthread.h>

#include "vmm/devices/platform.h"
#include "vmm/layout.h"
#include "vmm/x86/acpi.h"

#define ACPI_PM_STATE_VERSION 1
#define PM_PORTS	      8 /* PM1a_EVT (4) + PM1a_CNT (2) + 2 reserved */

/* status bits the guest may see and clear */
#define STS_MASK (VM_ACPI_PM1_PWRBTN | VM_ACPI_PM1_WAK_STS)
/* enable bits that read back as written (TMR_EN, GBL_EN, PWRBTN_EN,
 * SLPBTN_EN, RTC_EN): ACPICA checks by reading back that a fixed event was
 * enabled or disabled (Linux's rtc-cmos toggles RTC_EN, the global lock
 * GBL_EN); only the power button ever sets a status bit */
#define EN_MASK 0x0721
/* control bits that read back: SCI_EN, BM_RLD, SLP_TYP */
#define CNT_MASK  (VM_ACPI_PM1_SCI_EN | 0x0002 | 0x1c00)
#define RESET_BIT 0x04

static struct acpi_pm {
	pthread_mutex_t lock;
	struct vm_ctx *ctx;
	bool created;
	uint16_t sts, en, cnt;
	uint8_t reset;
	int sci;
	const char *exit_why; /* acted on after the lock is dropped */
} pm = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void update_sci(bool force)
{
	int level = (pm.sts & pm.en & VM_ACPI_PM1_PWRBTN) != 0;

	if ((level != pm.sci || force) && pm.ctx)
		vm_irq_line(pm.ctx->irq, VM_IRQ_ACPI_SCI, level);
	pm.sci = level;
}

static uint8_t pm_read(unsigned off)
{
	switch (off) {
	case 0: return (uint8_t)pm.sts;
	case 1: return (uint8_t)(pm.sts >> 8);
	case 2: return (uint8_t)pm.en;
	case 3: return (uint8_t)(pm.en >> 8);
	case 4: return (uint8_t)(pm.cnt | VM_ACPI_PM1_SCI_EN);
	case 5: return (uint8_t)(pm.cnt >> 8); /* SLP_EN reads as 0 */
	default: return 0;
	}
}

static void pm_write(unsigned off, uint8_t v)
{
	switch (off) {
	case 0:
	case 1:
		pm.sts &= (uint16_t) ~((uint16_t)v << (8 * off)); /* write 1 to clear */
		update_sci(false);
		break;
	case 2:
	case 3:
		pm.en = (uint16_t)((pm.en & ~(0xff << (8 * (off - 2)))) | (v << (8 * (off - 2))));
		pm.en &= EN_MASK;
		update_sci(false);
		break;
	case 4: pm.cnt = (uint16_t)(((pm.cnt & 0xff00) | v) & CNT_MASK); break;
	case 5: {
		uint16_t full = (uint16_t)((pm.cnt & 0x00ff) | v << 8);
		unsigned typ = (full >> VM_ACPI_PM1_SLP_TYP_SHIFT) & 7;

		pm.cnt = full & CNT_MASK;
		if ((full & VM_ACPI_PM1_SLP_EN) && typ == VM_ACPI_S5_SLP_TYP)
			pm.exit_why = "ACPI power-off";
		break;
	}
	default: break;
	}
}

/* Drops the lock, then ends the VM if a register asked to: the core may
 * stop vCPUs that are waiting for this lock. */
static void exit_after_unlock(void)
{
	const char *why = pm.exit_why;
	struct vm_ctx *ctx = pm.ctx;

	pm.exit_why = NULL;
	pthread_mutex_unlock(&pm.lock);
	if (why && ctx && ctx->request_exit)
		ctx->request_exit(ctx, 0, why);
}

static void pm_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	pthread_mutex_lock(&pm.lock);
	for (uint32_t i = 0; i < len; i++) {
		if (off + i >= PM_PORTS) {
			if (!is_write)
				data[i] = 0xff;
		} else if (is_write) {
			pm_write((unsigned)(off + i), data[i]);
		} else {
			data[i] = pm_read((unsigned)(off + i));
		}
	}
	exit_after_unlock();
}

static void reset_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	pthread_mutex_lock(&pm.lock);
	if (!is_write) {
		data[0] = pm.reset;
		for (uint32_t i = 1; i < len; i++)
			data[i] = 0xff;
	} else {
		pm.reset = data[0] & 0x0e;
		if (data[0] & RESET_BIT)
			pm.exit_why = "ACPI reset";
	}
	exit_after_unlock();
}

void vm_acpi_pm_power_button(void)
{
	pthread_mutex_lock(&pm.lock);
	pm.sts |= VM_ACPI_PM1_PWRBTN;
	update_sci(false);
	pthread_mutex_unlock(&pm.lock);
}

static void acpi_pm_destroy(void)
{
	pthread_mutex_lock(&pm.lock);
	if (pm.created && pm.ctx) {
		vm_bus_unregister(pm.ctx->pio, VM_PORT_ACPI_PM, NULL);
		vm_bus_unregister(pm.ctx->pio, VM_PORT_ACPI_RESET, NULL);
	}
	pm.created = false;
	pm.ctx = NULL;
	pthread_mutex_unlock(&pm.lock);
}

static int acpi_pm_create(struct vm_ctx *ctx, struct vs_err *e)
{
	acpi_pm_destroy();
	pthread_mutex_lock(&pm.lock);
	pm.sts = pm.en = pm.cnt = 0;
	pm.reset = 0;
	pm.sci = 0;
	pthread_mutex_unlock(&pm.lock);
	if (vm_bus_register(ctx->pio, VM_PORT_ACPI_PM, PM_PORTS, pm_io, NULL, "acpi-pm", e) < 0)
		return -1;
	if (vm_bus_register(ctx->pio, VM_PORT_ACPI_RESET, 1, reset_io, NULL, "acpi-reset", e) < 0) {
		vm_bus_unregister(ctx->pio, VM_PORT_ACPI_PM, NULL);
		return -1;
	}
	pm.ctx = ctx;
	pm.created = true;
	return 0;
}

static unsigned acpi_pm_count(void)
{
	return pm.created ? 1 : 0;
}

static int acpi_pm_save(unsigned idx, struct vm_state_writer *w)
{
	pthread_mutex_lock(&pm.lock);
	vm_sw_u8(w, ACPI_PM_STATE_VERSION);
	vm_sw_u16(w, pm.sts);
	vm_sw_u16(w, pm.en);
	vm_sw_u16(w, pm.cnt);
	vm_sw_u8(w, pm.reset);
	pthread_mutex_unlock(&pm.lock);
	return w->failed ? -1 : 0;
}

static int acpi_pm_restore(unsigned idx, struct vm_state_reader *r, struct vs_err *e)
{
	uint8_t ver, reset;
	uint16_t sts, en, cnt;

	if (vm_sr_u8(r, &ver, e) < 0)
		return -1;
	if (ver != ACPI_PM_STATE_VERSION)
		return vs_fail(e, EINVAL, "acpi-pm state: version %u, expected %u", ver,
			       ACPI_PM_STATE_VERSION);
	if (vm_sr_u16(r, &sts, e) < 0 || vm_sr_u16(r, &en, e) < 0 || vm_sr_u16(r, &cnt, e) < 0 ||
	    vm_sr_u8(r, &reset, e) < 0 || vm_sr_end(r, e) < 0)
		return -1;
	pthread_mutex_lock(&pm.lock);
	pm.sts = sts & STS_MASK;
	pm.en = en & EN_MASK;
	pm.cnt = cnt & CNT_MASK;
	pm.reset = reset & 0x0e;
	update_sci(true);
	pthread_mutex_unlock(&pm.lock);
	return 0;
}

const struct vm_device_ops vm_acpi_pm_device = {
	.name = "acpi-pm",
	.order = 0,
	.create = acpi_pm_create,
	.count = acpi_pm_count,
	.save = acpi_pm_save,
	.restore = acpi_pm_restore,
	.destroy = acpi_pm_destroy,
};
VM_DEVICE(vm_acpi_pm_device);
