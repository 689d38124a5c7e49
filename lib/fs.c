#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vessel/cleanup.h"
#include "vessel/fs.h"

ssize_t vs_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, p + done, len - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		done += n;
	}
	return done;
}

ssize_t vs_read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t done = 0;

	while (done < len) {
		ssize_t n = read(fd, p + done, len - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		done += n;
	}
	return done;
}

static int read_fd(int fd, const char *path, char **out, size_t *len, struct vs_err *e)
{
	size_t cap = 4096, used = 0;
	autofree char *buf = malloc(cap);

	if (!buf)
		return vs_fail(e, ENOMEM, "%s: out of memory", path);
	for (;;) {
		ssize_t n;

		if (used + 1 >= cap) {
			char *nb = realloc(buf, cap * 2);

			if (!nb)
				return vs_fail(e, ENOMEM, "%s: out of memory", path);
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + used, cap - used - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return vs_fail_errno(e, "read %s", path);
		}
		if (n == 0)
			break;
		used += n;
	}
	buf[used] = '\0';
	if (len)
		*len = used;
	*out = vs_steal_ptr(buf);
	return 0;
}

int vs_read_file_at(int dirfd, const char *path, char **out, size_t *len, struct vs_err *e)
{
	autoclose int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return vs_fail_errno(e, "open %s", path);
	return read_fd(fd, path, out, len, e);
}

int vs_read_file(const char *path, char **out, size_t *len, struct vs_err *e)
{
	return vs_read_file_at(AT_FDCWD, path, out, len, e);
}

int vs_write_file(const char *path, const void *buf, size_t len, mode_t mode, struct vs_err *e)
{
	autoclose int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	if (fd < 0)
		return vs_fail_errno(e, "open %s", path);
	if (vs_write_all(fd, buf, len) < 0)
		return vs_fail_errno(e, "write %s", path);
	return 0;
}

int vs_write_str(const char *path, const char *s, struct vs_err *e)
{
	autoclose int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t len = strlen(s);

	if (fd < 0)
		return vs_fail_errno(e, "open %s", path);
	/* kernel files take one write() per value; a short write is an error */
	if (write(fd, s, len) != (ssize_t)len)
		return vs_fail_errno(e, "write \"%s\" to %s", s, path);
	return 0;
}

int vs_write_file_atomic(const char *path, const void *buf, size_t len, mode_t mode,
			 struct vs_err *e)
{
	autofree char *tmp = vs_strdup_printf("%s.tmp.%d", path, (int)getpid());
	autoclose int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	if (fd < 0)
		return vs_fail_errno(e, "open %s", tmp);
	if (vs_write_all(fd, buf, len) < 0 || fsync(fd) < 0) {
		vs_fail_errno(e, "write %s", tmp);
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) < 0) {
		vs_fail_errno(e, "rename %s to %s", tmp, path);
		unlink(tmp);
		return -1;
	}
	return 0;
}

int vs_mkdir_p(const char *path, mode_t mode, struct vs_err *e)
{
	autofree char *p = strdup(path);

	if (!p)
		return vs_fail(e, ENOMEM, "%s: out of memory", path);
	for (char *s = p + 1;; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;

			*s = '\0';
			if (mkdir(p, mode) < 0 && errno != EEXIST)
				return vs_fail_errno(e, "mkdir %s", p);
			*s = c;
			if (c == '\0')
				break;
		}
	}
	return 0;
}

static int rm_rf_at(int parent, const char *name, dev_t dev, struct vs_err *e)
{
	struct stat st;

	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : vs_fail_errno(e, "stat %s", name);
	if (S_ISDIR(st.st_mode)) {
		int fd;
		DIR *d;
		struct dirent *de;

		if (st.st_dev != dev)
			return vs_fail(e, EBUSY, "%s: is a mount point", name);
		fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return vs_fail_errno(e, "open %s", name);
		d = fdopendir(fd);
		if (!d) {
			close(fd);
			return vs_fail_errno(e, "opendir %s", name);
		}
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			if (rm_rf_at(dirfd(d), de->d_name, dev, e) < 0) {
				closedir(d);
				return vs_err_prefix(e, "%s", name);
			}
		}
		closedir(d);
		if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
			return vs_fail_errno(e, "rmdir %s", name);
		return 0;
	}
	if (unlinkat(parent, name, 0) < 0 && errno != ENOENT)
		return vs_fail_errno(e, "unlink %s", name);
	return 0;
}

int vs_rm_rf(const char *path, struct vs_err *e)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : vs_fail_errno(e, "stat %s", path);
	return rm_rf_at(AT_FDCWD, path, st.st_dev, e);
}

char *vs_strdup_printf(const char *fmt, ...)
{
	char *s;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	return s;
}

char *vs_path_join(const char *a, const char *b)
{
	size_t la = strlen(a);

	while (la > 1 && a[la - 1] == '/')
		la--;
	while (*b == '/')
		b++;
	return vs_strdup_printf("%.*s/%s", (int)la, a, b);
}

int vs_parse_size(const char *s, unsigned long long *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (!s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (*end) {
	case '\0': break;
	case 'k':
	case 'K':
		shift = 10;
		end++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		end++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		end++;
		break;
	case 't':
	case 'T':
		shift = 40;
		end++;
		break;
	default: return -1;
	}
	if (*end == 'i' && shift)
		end++;
	if ((*end == 'b' || *end == 'B') && shift)
		end++;
	if (*end != '\0')
		return -1;
	if (shift && v > (ULLONG_MAX >> shift))
		return -1;
	*out = v << shift;
	return 0;
}
