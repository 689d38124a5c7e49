/* Files and paths. */
#ifndef VESSEL_FS_H
#define VESSEL_FS_H

#include <stddef.h>
#include <sys/types.h>
#include "vessel/err.h"

/* Reads a whole file, NUL-terminated; *len (may be NULL) excludes the NUL. */
int vs_read_file(const char *path, char **out, size_t *len, struct vs_err *e);
/* Same, relative to dirfd (openat semantics). */
int vs_read_file_at(int dirfd, const char *path, char **out, size_t *len, struct vs_err *e);
/* Writes buf to an existing or new file (O_WRONLY|O_CREAT|O_TRUNC, mode). */
int vs_write_file(const char *path, const void *buf, size_t len, mode_t mode, struct vs_err *e);
/* Writes a string to a file that must exist (sysfs, cgroupfs, /proc). */
int vs_write_str(const char *path, const char *s, struct vs_err *e);
/* Writes to a temporary file beside path, fsyncs, then renames over path. */
int vs_write_file_atomic(const char *path, const void *buf, size_t len, mode_t mode,
			 struct vs_err *e);
/* mkdir -p; existing directories are fine. */
int vs_mkdir_p(const char *path, mode_t mode, struct vs_err *e);
/* rm -rf that does not cross mount points; a missing path is fine. */
int vs_rm_rf(const char *path, struct vs_err *e);
/* Writes all of buf, retrying short writes and EINTR. */
ssize_t vs_write_all(int fd, const void *buf, size_t len);
/* Reads exactly len bytes unless EOF; returns bytes read or -1. */
ssize_t vs_read_all(int fd, void *buf, size_t len);
/* malloc'ed "a/b" (single slash); aborts on out-of-memory. */
char *vs_path_join(const char *a, const char *b);
/* malloc'ed sprintf; aborts on out-of-memory. */
char *vs_strdup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Parses "128M", "1G", "4096", "64K" into bytes (binary units). */
int vs_parse_size(const char *s, unsigned long long *out);

#endif
