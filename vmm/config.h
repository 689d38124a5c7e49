/* The machine a vessel-vmm process runs: filled from the command line or a
 * JSON config file (vmm/config.c), read by the core and by devices. */
#ifndef VMM_CONFIG_H
#define VMM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vessel/err.h"

#define VM_MAX_CPUS	32
#define VM_MAX_DISKS	8
#define VM_MAX_NETS	4
#define VM_MAX_IDENTITY 8

struct vm_disk_cfg {
	char *path;
	char *id; /* virtio-blk device ID string (<= 20 bytes) */
	bool readonly;
};

struct vm_net_cfg {
	char *tap; /* tap interface name */
	uint8_t mac[6];
	bool has_mac; /* false: a locally administered MAC is derived */
};

struct vm_vsock_cfg {
	bool enabled;
	uint64_t cid;	/* guest CID, >= 3 */
	char *uds_path; /* host side: guest port P connects to uds_path_P */
};

enum vm_console_kind { VM_CONSOLE_STDOUT, VM_CONSOLE_FILE, VM_CONSOLE_PTY, VM_CONSOLE_NONE };

struct vm_console_cfg {
	enum vm_console_kind kind;
	char *path; /* VM_CONSOLE_FILE */
};

struct vm_config {
	unsigned cpus;
	uint64_t mem_size;
	bool mem_hugepages;
	bool mem_memfd; /* memfd backing (needed for snapshots/sharing) */
	char *kernel, *initrd, *cmdline;

	struct vm_disk_cfg disks[VM_MAX_DISKS];
	unsigned nr_disks;
	struct vm_net_cfg nets[VM_MAX_NETS];
	unsigned nr_nets;
	struct vm_vsock_cfg vsock;
	struct vm_console_cfg serial;  /* 16550 at 0x3f8 */
	struct vm_console_cfg console; /* virtio-console; NONE: no device */
	bool rng;		       /* virtio-rng */
	bool balloon;		       /* virtio-balloon */

	char *control_socket; /* NULL: none */
	bool no_seccomp;      /* debug: do not confine the process */
	char *host_profile;   /* NULL, "none" or "pvm" */
	bool boot_times;      /* print the boot-marker times at exit */

	/* snapshots and migration (vmm/snapshot.h, docs/snapshots.md) */
	char *restore;	      /* --restore STATEFILE: resume from it */
	bool restore_uffd;    /* --memory-backend uffd: pages on first touch */
	char *migrate_listen; /* --migrate-listen ADDR:PORT: receive a VM */
	struct {
		char *key, *value;
	} identity[VM_MAX_IDENTITY]; /* --identity KEY=VALUE: fw_cfg opt/vessel/KEY */
	unsigned nr_identity;
};

void vm_config_init(struct vm_config *c); /* defaults: 1 cpu, 128M, serial on stdout */
void vm_config_free(struct vm_config *c);
/* argv after the program name; fills c or names the flag at fault. */
int vm_config_from_args(struct vm_config *c, int argc, char **argv, struct vs_err *e);
/* A JSON config file (see docs/vmm.md); fields named on error. */
int vm_config_from_file(struct vm_config *c, const char *path, struct vs_err *e);
/* The same from a buffer; what names it in messages (fuzzers, tests). */
int vm_config_from_json(struct vm_config *c, const char *what, const char *buf, size_t len,
			struct vs_err *e);
/* Cross-field checks: sizes in range, files exist and are readable. */
int vm_config_validate(const struct vm_config *c, struct vs_err *e);

#endif
