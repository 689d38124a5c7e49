/* i8042, debug-exit, boot marker and ACPI PM registers through the port bus. */
#include <stdio.h>

#include "test.h"
#include "platform_harness.h"
#include "vmm/layout.h"
#include "vmm/x86/acpi.h"

static int create(const struct vm_device_ops *ops)
{
	struct vs_err e;

	if (ops->create(&H.ctx, &e) < 0) {
		fprintf(stderr, "  %s create: %s\n", ops->name, e.msg);
		return -1;
	}
	return 0;
}

/* --- i8042 ---------------------------------------------------------------- */

#define KBD_DATA 0x60
#define KBD_CMD	 0x64

/* One controller response, as Linux's i8042_command() waits for it. */
static int kbd_reply(void)
{
	if (!(inb(KBD_CMD) & 0x01))
		return -1;
	return inb(KBD_DATA);
}

TEST(i8042_passes_the_linux_probe_sequence)
{
	REQUIRE(h_init(1 << 20) == 0);
	REQUIRE(create(&vm_i8042_device) == 0);
	CHECK_EQ(inb(KBD_CMD) & 0x01, 0); /* nothing to flush */
	outb(KBD_CMD, 0xaa);		  /* self-test */
	CHECK_EQ(kbd_reply(), 0x55);
	CHECK(inb(KBD_CMD) & 0x04); /* system flag */
	outb(KBD_CMD, 0x20);	    /* read command byte */
	int ctr = kbd_reply();
	CHECK(ctr >= 0 && (ctr & 0x01)); /* keyboard interrupt enabled */
	outb(KBD_CMD, 0x60);
	outb(KBD_DATA, 0x45);
	CHECK(inb(KBD_CMD) & 0x08 ? false : true); /* last write went to data */
	outb(KBD_CMD, 0x20);
	CHECK_EQ(kbd_reply(), 0x45);
	outb(KBD_CMD, 0xab); /* keyboard interface test */
	CHECK_EQ(kbd_reply(), 0x00);
	outb(KBD_CMD, 0xa9); /* AUX interface test */
	CHECK_EQ(kbd_reply(), 0x00);
	/* AUX loopback: the byte comes back flagged as mouse data */
	outb(KBD_CMD, 0xd3);
	outb(KBD_DATA, 0x5a);
	CHECK_EQ(inb(KBD_CMD) & 0x21, 0x21);
	CHECK_EQ(inb(KBD_DATA), 0x5a);
	/* disable/enable ports show in the command byte */
	outb(KBD_CMD, 0xad);
	outb(KBD_CMD, 0xa7);
	outb(KBD_CMD, 0x20);
	CHECK_EQ(kbd_reply() & 0x30, 0x30);
	outb(KBD_CMD, 0xae);
	outb(KBD_CMD, 0xa8);
	outb(KBD_CMD, 0x20);
	CHECK_EQ(kbd_reply() & 0x30, 0x00);
	/* output port: reset line high, A20 on */
	outb(KBD_CMD, 0xd0);
	CHECK_EQ(kbd_reply() & 0x03, 0x03);
	CHECK_EQ(H.exits, 0);
	vm_i8042_device.destroy();
	h_fini();
}

TEST(i8042_absent_keyboard_answers_fe_with_timeout)
{
	REQUIRE(h_init(1 << 20) == 0);
	REQUIRE(create(&vm_i8042_device) == 0);
	outb(KBD_DATA, 0xf2); /* keyboard "get ID" */
	uint8_t st = inb(KBD_CMD);
	CHECK_EQ(st & 0x41, 0x41); /* data, timeout */
	CHECK_EQ(H.line[1], 1);	   /* IRQ 1: keyboard interrupt enabled */
	CHECK_EQ(inb(KBD_DATA), 0xfe);
	CHECK_EQ(H.line[1], 0);
	CHECK_EQ(inb(KBD_CMD) & 0x41, 0);
	CHECK_EQ(inb(KBD_DATA), 0xfe); /* empty buffer: last byte again */
	outb(KBD_CMD, 0xd4);	       /* to the mouse: nobody either */
	outb(KBD_DATA, 0xff);
	CHECK_EQ(inb(KBD_CMD) & 0x61, 0x61);
	CHECK_EQ(H.line[12], 1);
	CHECK_EQ(inb(KBD_DATA), 0xfe);
	CHECK_EQ(H.line[12], 0);
	/* interrupts off in the command byte: no line */
	outb(KBD_CMD, 0x60);
	outb(KBD_DATA, 0x44);
	outb(KBD_DATA, 0xf2);
	CHECK_EQ(H.line[1], 0);
	CHECK_EQ(kbd_reply(), 0xfe);
	vm_i8042_device.destroy();
	h_fini();
}

TEST(i8042_reset_pulse_requests_exit)
{
	REQUIRE(h_init(1 << 20) == 0);
	REQUIRE(create(&vm_i8042_device) == 0);
	outb(KBD_CMD, 0xff); /* pulse nothing */
	CHECK_EQ(H.exits, 0);
	outb(KBD_CMD, 0xfe);
	CHECK_EQ(H.exits, 1);
	CHECK_EQ(H.exit_status, 0);
	CHECK_STR(H.exit_why, "guest reset through i8042");
	outb(KBD_CMD, 0xd1); /* output port with reset low */
	outb(KBD_DATA, 0x02);
	CHECK_EQ(H.exits, 2);
	vm_i8042_device.destroy();
	h_fini();
}

TEST(i8042_state_survives_save_and_restore)
{
	struct vm_state_writer w;
	struct vs_err e;

	REQUIRE(h_init(1 << 20) == 0);
	REQUIRE(create(&vm_i8042_device) == 0);
	outb(KBD_CMD, 0x60);
	outb(KBD_DATA, 0x47);
	outb(KBD_CMD, 0x65); /* RAM byte 5 */
	outb(KBD_DATA, 0x99);
	outb(KBD_CMD, 0xd2);
	outb(KBD_DATA, 0x12);
	outb(KBD_CMD, 0xd3);
	outb(KBD_DATA, 0x34);
	REQUIRE(h_save(&vm_i8042_device, &w) == 0);
	vm_i8042_device.destroy();
	REQUIRE(create(&vm_i8042_device) == 0);
	CHECK_EQ(inb(KBD_CMD) & 0x01, 0);
	REQUIRE(h_restore(&vm_i8042_device, &w, &e) == 0);
	CHECK_EQ(H.line[1], 1);
	CHECK_EQ(inb(KBD_DATA), 0x12);
	CHECK_EQ(inb(KBD_CMD) & 0x21, 0x21);
	CHECK_EQ(inb(KBD_DATA), 0x34);
	outb(KBD_CMD, 0x20);
	CHECK_EQ(kbd_reply(), 0x47);
	outb(KBD_CMD, 0x25);
	CHECK_EQ(kbd_reply(), 0x99);

	w.buf[0] = 2;
	CHECK(h_restore(&vm_i8042_device, &w, &e) < 0);
	CHECK_CONTAINS(e.msg, "version");
	w.buf[0] = 1;
	w.buf[1 + 32 + 4] = 17; /* queue count */
	CHECK(h_restore(&vm_i8042_device, &w, &e) < 0);
	CHECK_CONTAINS(e.msg, "queued");
	w.buf[1 + 32 + 4] = 2;
	w.buf[1 + 32 + 5 + 1] = 0x80; /* flags of the first byte */
	CHECK(h_restore(&vm_i8042_device, &w, &e) < 0);
	CHECK_CONTAINS(e.msg, "flags");
	vm_sw_free(&w);
	vm_i8042_device.destroy();
	h_fini();
}

/* --- debug exit ----------------------------------------------------------- */

TEST(debug_exit_write_ends_vm_with_shifted_status)
{
	REQUIRE(h_init(1 << 20) == 0);
	REQUIRE(create(&vm_debug_exit_device) == 0);
	CHECK_EQ(inb(VM_PORT_DEBUG_EXIT), 0); /* QEMU's read handler returns 0 */
	CHECK_EQ(h_in(VM_PORT_DEBUG_EXIT, 4), 0);
	CHECK_EQ(H.exits, 0);
	outb(VM_PORT_DEBUG_EXIT, 0);
	CHECK_EQ(H.exit_status, 1);
	outb(VM_PORT_DEBUG_EXIT, 0x21);
	CHECK_EQ(H.exit_status, 0x43);
	CHECK_CONTAINS(H.exit_why, "0x21");
	h_out(VM_PORT_DEBUG_EXIT, 2, 0x1234);
	CHECK_EQ(H.exit_status, 0x2469);
	h_out(VM_PORT_DEBUG_EXIT, 4, 0x10000);
	CHECK_EQ(H.exit_status, 0x20001);
	outb(VM_PORT_DEBUG_EXIT + 3, 2); /* the whole 4-port window */
	CHECK_EQ(H.exit_status, 5);
	CHECK_EQ(H.exits, 5);
	outb(VM_PORT_DEBUG_EXIT + 4, 2); /* past it: not this device */
	CHECK_EQ(H.exits, 5);
	vm_debug_exit_device.destroy();
	h_fini();
}

/* --- boot marker ---------------------------------------------------------- */

TEST(boot_marker_records_values_with_uptime)
{
	uint32_t v;
	uint64_t ns;
	char buf[4096] = {0};

	REQUIRE(h_init(1 << 20) == 0);
	REQUIRE(create(&vm_boot_marker_device) == 0);
	CHECK(!vm_boot_marker_first(&v, &ns));
	H.now_ns = 12345678;
	h_out(VM_PORT_BOOT_MARKER, 4, 0xb007);
	H.now_ns = 99000000;
	outb(VM_PORT_BOOT_MARKER, 2);
	REQUIRE(vm_boot_marker_first(&v, &ns));
	CHECK_EQ(v, 0xb007);
	CHECK_EQ(ns, 12345678);
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");
	REQUIRE(f);
	vm_boot_marker_report(f);
	fclose(f);
	CHECK_STR(buf, "boot-marker 0xb007 at 12.345 ms\nboot-marker 0x2 at 99.000 ms\n");
	/* a new VM starts an empty table */
	vm_boot_marker_device.destroy();
	REQUIRE(create(&vm_boot_marker_device) == 0);
	CHECK(!vm_boot_marker_first(&v, &ns));
	for (int i = 0; i < 70; i++)
		outb(VM_PORT_BOOT_MARKER, (uint8_t)i);
	memset(buf, 0, sizeof(buf));
	f = fmemopen(buf, sizeof(buf) - 1, "w");
	REQUIRE(f);
	vm_boot_marker_report(f);
	fclose(f);
	CHECK_CONTAINS(buf, "6 more not recorded");
	vm_boot_marker_device.destroy();
	h_fini();
}

/* --- ACPI PM -------------------------------------------------------------- */

#define PM1_STS VM_PORT_ACPI_PM
#define PM1_EN	(VM_PORT_ACPI_PM + 2)
#define PM1_CNT (VM_PORT_ACPI_PM + 4)

TEST(acpi_pm_s5_sleep_powers_off)
{
	REQUIRE(h_init(1 << 20) == 0);
	REQUIRE(create(&vm_acpi_pm_device) == 0);
	CHECK_EQ(h_in(PM1_CNT, 2) & 1, 1); /* SCI_EN: always ACPI mode */
	/* SLP_TYP alone, or another sleep type, does nothing */
	h_out(PM1_CNT, 2, VM_ACPI_S5_SLP_TYP << 10);
	h_out(PM1_CNT, 2, (1 << 10) | (1 << 13));
	CHECK_EQ(H.exits, 0);
	CHECK_EQ(h_in(PM1_CNT, 2) & 0x2000, 0); /* SLP_EN reads 0 */
	h_out(PM1_CNT, 2, (VM_ACPI_S5_SLP_TYP << 10) | (1 << 13));
	CHECK_EQ(H.exits, 1);
	CHECK_EQ(H.exit_status, 0);
	CHECK_STR(H.exit_why, "ACPI power-off");
	vm_acpi_pm_device.destroy();
	h_fini();
}

TEST(acpi_pm_reset_register_resets)
{
	REQUIRE(h_init(1 << 20) == 0);
	REQUIRE(create(&vm_acpi_pm_device) == 0);
	outb(VM_PORT_ACPI_RESET, 0x02); /* Linux's first write: no reset yet */
	CHECK_EQ(H.exits, 0);
	CHECK_EQ(inb(VM_PORT_ACPI_RESET), 0x02);
	outb(VM_PORT_ACPI_RESET, 0x06);
	CHECK_EQ(H.exits, 1);
	CHECK_STR(H.exit_why, "ACPI reset");
	outb(VM_PORT_ACPI_RESET, 0x0e);
	CHECK_EQ(H.exits, 2);
	vm_acpi_pm_device.destroy();
	h_fini();
}

TEST(acpi_pm_power_button_raises_sci_when_enabled)
{
	struct vm_state_writer w;
	struct vs_err e;

	REQUIRE(h_init(1 << 20) == 0);
	REQUIRE(create(&vm_acpi_pm_device) == 0);
	vm_acpi_pm_power_button();
	CHECK_EQ(h_in(PM1_STS, 2) & 0x100, 0x100);
	CHECK_EQ(H.line[VM_IRQ_ACPI_SCI], 0); /* not enabled yet */
	h_out(PM1_EN, 2, 0x100);
	CHECK_EQ(H.line[VM_IRQ_ACPI_SCI], 1);
	CHECK_EQ(h_in(PM1_EN, 2), 0x100);
	/* RTC_EN and GBL_EN read back (ACPICA checks), raise nothing */
	h_out(PM1_EN, 2, 0x0420);
	CHECK_EQ(h_in(PM1_EN, 2), 0x0420);
	CHECK_EQ(H.line[VM_IRQ_ACPI_SCI], 0);
	h_out(PM1_EN, 2, 0xf100); /* reserved bits stay 0 */
	CHECK_EQ(h_in(PM1_EN, 2), 0x0100);
	CHECK_EQ(H.line[VM_IRQ_ACPI_SCI], 1);
	REQUIRE(h_save(&vm_acpi_pm_device, &w) == 0);
	h_out(PM1_STS, 2, 0x0001); /* other bits: no effect */
	CHECK_EQ(H.line[VM_IRQ_ACPI_SCI], 1);
	h_out(PM1_STS, 2, 0x0100); /* write one to clear */
	CHECK_EQ(H.line[VM_IRQ_ACPI_SCI], 0);
	CHECK_EQ(h_in(PM1_STS, 2) & 0x100, 0);

	/* the pressed, enabled button comes back with its SCI */
	vm_acpi_pm_device.destroy();
	REQUIRE(create(&vm_acpi_pm_device) == 0);
	REQUIRE(h_restore(&vm_acpi_pm_device, &w, &e) == 0);
	CHECK_EQ(H.line[VM_IRQ_ACPI_SCI], 1);
	CHECK_EQ(h_in(PM1_STS, 2) & 0x100, 0x100);
	CHECK_EQ(h_in(PM1_EN, 2), 0x100);
	w.buf[0] = 0;
	CHECK(h_restore(&vm_acpi_pm_device, &w, &e) < 0);
	CHECK_CONTAINS(e.msg, "version");
	w.buf[0] = 1;
	w.len = 3;
	CHECK(h_restore(&vm_acpi_pm_device, &w, &e) < 0);
	vm_sw_free(&w);
	vm_acpi_pm_device.destroy();
	h_fini();
}

TEST(platform_devices_coexist_on_one_bus)
{
	const struct vm_device_ops *all[] = {
		&vm_serial_device, &vm_rtc_device,	   &vm_i8042_device,  &vm_debug_exit_device,
		&vm_fw_cfg_device, &vm_boot_marker_device, &vm_acpi_pm_device};
	struct vs_err e;

	REQUIRE(h_init(2 << 20) == 0);
	for (unsigned i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (all[i]->create(&H.ctx, &e) < 0) {
			fprintf(stderr, "  %s: %s\n", all[i]->name, e.msg);
			vt_failed_now = 1;
		}
		CHECK_EQ(all[i]->count(), 1);
	}
	/* each one claims its own ports and nothing else */
	CHECK_EQ(inb(VM_PORT_COM1 + 5) & 0x60, 0x60);
	CHECK_EQ(inb(0x64) & 0x10, 0x10);
	CHECK_EQ(inb(0x80), 0xff);
	/* and the core finds them in the registration section */
	unsigned found = 0;
	for (const struct vm_device_ops *const *p = __start_vm_devices; p < __stop_vm_devices; p++)
		for (unsigned i = 0; i < sizeof(all) / sizeof(all[0]); i++)
			found += *p == all[i];
	CHECK_EQ(found, sizeof(all) / sizeof(all[0]));
	for (unsigned i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		all[i]->destroy();
		CHECK_EQ(all[i]->count(), 0);
	}
	CHECK_EQ(H.pio.nr, 0);
	h_fini();
}

TEST(stateless_devices_save_a_version_and_refuse_others)
{
	const struct vm_device_ops *ops[] = {&vm_debug_exit_device, &vm_boot_marker_device};
	struct vm_state_writer w;
	struct vs_err e;

	REQUIRE(h_init(1 << 20) == 0);
	for (unsigned i = 0; i < 2; i++) {
		REQUIRE(create(ops[i]) == 0);
		REQUIRE(h_save(ops[i], &w) == 0);
		CHECK_EQ(w.len, 1);
		CHECK(h_restore(ops[i], &w, &e) == 0);
		w.buf[0] = 2;
		CHECK(h_restore(ops[i], &w, &e) < 0);
		CHECK_CONTAINS(e.msg, "version");
		w.buf[0] = 1;
		vm_sw_u8(&w, 0);
		CHECK(h_restore(ops[i], &w, &e) < 0); /* trailing bytes */
		vm_sw_free(&w);
		ops[i]->destroy();
	}
	h_fini();
}
