/*
 * Device nodes in the container's /dev: the default set every container gets
 * (runtime-spec config-linux.md "Default Devices"), linux.devices, the /dev
 * symlinks (fd, stdin, stdout, stderr, ptmx, core) and /dev/console.
 */
#ifndef VESSEL_RUNTIME_DEVICES_H
#define VESSEL_RUNTIME_DEVICES_H

#include "vessel/err.h"

struct ct_spec;
struct ct_rootfs_opts;

/*
 * Creates them under root_fd (the rootfs, before the root switch). mknod
 * with linux.devices[].fileMode/uid/gid; a bind mount of the host's node
 * when o->in_userns or mknod is refused (EPERM). An entry that is already
 * the right device (or a mount point) is kept.
 */
int ct_devices_create(const struct ct_spec *s, int root_fd, const struct ct_rootfs_opts *o,
		      struct vs_err *e);

#endif
