/*
 * Whole-VM snapshots, restore, clones and the VM side of migration
 * (docs/snapshots.md). The state file (vmm/snapshot_file.h) holds:
 *   "machine"        vCPU count, memory layout, memory layers, disks
 *   "irqchip"        PIC master/slave, IOAPIC, PIT, kvmclock
 *   "vcpu.N"         every vCPU (vmm/x86/vcpu_state.h)
 *   "dev.NAME.I"     each device instance's own section (vmm/state.h)
 * and guest memory is in separate memory files (vmm/snapshot_mem.h).
 *
 * A restore validates everything that needs no KVM first (state file,
 * every section's decoding, disks, memory files) so a bad snapshot is
 * refused with nothing created; then the VM is built as configured and its
 * state is loaded over it.
 */
#ifndef VMM_SNAPSHOT_H
#define VMM_SNAPSHOT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/config.h"
#include "vmm/memory.h"
#include "vmm/snapshot_file.h"
#include "vmm/snapshot_mem.h"
#include "vmm/uffd.h"
#include "vmm/x86/vcpu_state.h"
#include "vessel/err.h"

#define VM_MACHINE_VERSION 1u
#define VM_SNAP_MAX_LAYERS 64u
#define VM_SNAP_PATH_MAX   1024u

/* How a disk is recognised again: size always; the same file (device,
 * inode) must also have the same modification time; any file (a copy, on
 * another host) must have the same content samples: CRC-32C of the first
 * and last MiB and of 64 4-KiB blocks spread evenly. */
struct vm_disk_identity {
	char path[VM_SNAP_PATH_MAX];
	uint64_t size;
	uint64_t dev, ino;
	int64_t mtime_ns;
	uint32_t sample_crc;
	bool readonly;
};

struct vm_mem_layer {
	bool diff;
	uint64_t id;
	char name[VM_SNAP_PATH_MAX]; /* relative: to the state file's directory */
};

struct vm_machine_desc {
	uint32_t cpus;
	struct vm_snapmem_layout layout;
	uint32_t nr_layers;
	struct vm_mem_layer layers[VM_SNAP_MAX_LAYERS];
	uint32_t nr_disks;
	struct vm_disk_identity disks[VM_MAX_DISKS];
};

void vm_machine_encode(const struct vm_machine_desc *m, struct vm_state_writer *w);
int vm_machine_decode(const char *what, const void *buf, size_t len, struct vm_machine_desc *m,
		      struct vs_err *e);

int vm_disk_identity_of(const char *path, bool readonly, struct vm_disk_identity *d,
			struct vs_err *e);
/* Refuses a disk at path that is missing or not the one saved in want. */
int vm_disk_identity_check(const struct vm_disk_identity *want, const char *path, struct vs_err *e);

/* Checks a machine description against the configuration it is restored
 * into: vCPUs, memory size, disks (count, and each one's identity). */
int vm_machine_check(const struct vm_machine_desc *m, const struct vm_config *cfg,
		     struct vs_err *e);

/* --- restore ----------------------------------------------------------------- */

enum vm_memory_backend_kind { VM_RESTORE_MAP_PRIVATE, VM_RESTORE_UFFD };

struct vm_restore_opts {
	const char *path; /* state file */
	enum vm_memory_backend_kind backend;
};

/* A verified snapshot ready to be loaded (everything decoded, memory
 * mapped); nothing in it needs KVM. */
struct vm_restore {
	struct vm_snap snap;
	struct vm_machine_desc machine;
	struct vm_irqchip_state irqchip;
	struct vm_vcpu_state *vcpus;  /* machine.cpus of them */
	struct vm_memory mem;	      /* the guest memory, ready */
	struct vm_uffd *uffd;	      /* VM_RESTORE_UFFD: its page server */
	int uffd_fd;		      /* the memory file it reads */
	struct vm_postcopy *postcopy; /* a post-copy migration still bringing pages */
	int mig_fd;		      /* its connection */
	uint64_t top_id;	      /* id of the last memory layer */
};

int vm_restore_open(struct vm_restore *r, const struct vm_restore_opts *o,
		    const struct vm_config *cfg, struct vs_err *e);
/* The same from a state file in memory (migration); memory is not touched.
 * Takes buf on success; on failure the caller still owns it. */
int vm_restore_parse(struct vm_restore *r, const char *what, uint8_t *buf, size_t len,
		     const struct vm_config *cfg, struct vs_err *e);
/* Frees everything, guest memory included unless it was taken (r->mem.nr
 * set to 0 by the caller that moved it into its VM). */
void vm_restore_close(struct vm_restore *r);

/* What vm_run starts from instead of a kernel: cfg->restore (the state
 * file, checked and its memory mapped) or cfg->migrate_listen (a migration
 * received up to its commit). NULL in *out when neither is configured. */
int vm_restore_from_config(const struct vm_config *cfg, struct vm_restore **out, struct vs_err *e);
/* Frees what vm_restore_from_config returned (NULL is fine). */
void vm_restore_free(struct vm_restore *r);

/* Builds a state file in w from its parts (pure; used by the save path and
 * by tests). dev: device sections already named "dev.NAME.I". */
int vm_snapshot_build(struct vm_snap_writer *w, const struct vm_machine_desc *m,
		      const struct vm_irqchip_state *irq, const struct vm_vcpu_state *vcpus,
		      unsigned nr_vcpus, struct vs_err *e);
/* "dev.NAME.I", or an error when it does not fit a section name. */
int vm_snapshot_dev_section(char *out, size_t len, const char *dev, unsigned idx, struct vs_err *e);

/* --- on a running VM (KVM) ---------------------------------------------------- */

struct vm;

struct vm_snapshot_opts {
	const char *path;     /* state file */
	const char *mem_path; /* NULL: PATH.mem (full) or PATH.diff (diff) */
	bool diff;	      /* only pages written since the previous snapshot */
	bool resume;	      /* run on after it; false: the VM exits (status 0) */
};

/* Holds the device event loop (a job on its thread that waits for the
 * thaw), so no device handler changes guest memory or device state while
 * they are saved. Fails when the VM is stopping. Without a loop: no-op. */
struct vm_freeze {
	struct vm *vm;
	int efd;
	pthread_mutex_t m;
	pthread_cond_t c;
	bool started, cancelled, thawed, finished;
};
int vm_devices_freeze(struct vm *vm, struct vm_freeze *f, struct vs_err *e);
void vm_devices_thaw(struct vm_freeze *f);

/* Pauses (if running), saves, then resumes or ends the VM. */
int vm_snapshot_save(struct vm *vm, const struct vm_snapshot_opts *o, struct vs_err *e);
/* Loads r's vCPU, irqchip and device state into vm, built from the same
 * configuration, whose memory is r's (moved in before KVM slots are set). */
int vm_restore_apply(struct vm *vm, struct vm_restore *r, struct vs_err *e);
/* Migration, source side: streams the VM to "host:port". On success the VM
 * ends (the destination runs it); on failure before the commit it runs on. */
int vm_migrate_out(struct vm *vm, const char *to, bool postcopy, struct vs_err *e);

#endif
