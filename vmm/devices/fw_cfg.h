/* QEMU-compatible fw_cfg (vmm/devices/fw_cfg.c): what the VMM may publish to
 * the guest besides the built-in items. */
#ifndef VMM_DEVICES_FW_CFG_H
#define VMM_DEVICES_FW_CFG_H

#include <stddef.h>

/* Item numbers (QEMU docs/specs/fw_cfg.rst) */
#define FW_CFG_SIGNATURE    0x00
#define FW_CFG_ID	    0x01
#define FW_CFG_RAM_SIZE	    0x03
#define FW_CFG_NOGRAPHIC    0x04
#define FW_CFG_NB_CPUS	    0x05
#define FW_CFG_MAX_CPUS	    0x0f
#define FW_CFG_CMDLINE_SIZE 0x14
#define FW_CFG_CMDLINE_DATA 0x15
#define FW_CFG_FILE_DIR	    0x19
#define FW_CFG_FILE_FIRST   0x20

#define FW_CFG_MAX_FILE_NAME 56 /* including the NUL */
#define FW_CFG_MAX_FILES     32

/*
 * Adds a named file ("etc/vessel/identity") to the directory, e.g. the
 * identity a clone reads after restore. The data is copied. Files added stay
 * until the device is destroyed (create() keeps them). Returns 0, or -1 with
 * errno: EINVAL (empty or too long name, data over 16 MiB), EEXIST (name
 * taken), ENOSPC (directory full), ENOMEM.
 */
int vm_fw_cfg_add_file(const char *name, const void *data, size_t len);

#endif
