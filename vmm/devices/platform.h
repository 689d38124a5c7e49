/* The platform devices of a Vessel machine (legacy PC parts, ACPI fixed
 * hardware, the test and benchmark ports) and what the core may call on them.
 * Each registers itself with VM_DEVICE; the ops are exported so unit tests
 * can create one device alone. One VM per process: state is per file. */
#ifndef VMM_DEVICES_PLATFORM_H
#define VMM_DEVICES_PLATFORM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "vmm/device.h"

extern const struct vm_device_ops vm_serial_device;	 /* 16550A at 0x3f8, IRQ 4 */
extern const struct vm_device_ops vm_rtc_device;	 /* MC146818 at 0x70 */
extern const struct vm_device_ops vm_i8042_device;	 /* 0x60/0x64 */
extern const struct vm_device_ops vm_debug_exit_device;	 /* 0xf4 */
extern const struct vm_device_ops vm_fw_cfg_device;	 /* 0x510 */
extern const struct vm_device_ops vm_boot_marker_device; /* 0x440 */
extern const struct vm_device_ops vm_acpi_pm_device;	 /* 0x600, 0xcf9 */

/* serial: writes out what the guest wrote and is still buffered. */
void vm_serial_flush(void);
/* The pts path of a pty console ("" otherwise), e.g. for the control socket. */
const char *vm_serial_pty_path(void);

/* boot marker: one line per guest write ("boot-marker VALUE at N.NNN ms"),
 * for --boot-times / VESSEL_VMM_BOOT_TIMES=1. */
void vm_boot_marker_report(FILE *f);
/* The first marker (control socket "metrics"); false when none yet. */
bool vm_boot_marker_first(uint32_t *value, uint64_t *uptime_ns);

/* ACPI: a power-button press (sets PWRBTN_STS, raises the SCI if enabled);
 * the guest's ACPI driver then shuts down through \_S5. Any thread. */
void vm_acpi_pm_power_button(void);

#endif
