/* pty allocation inside the container and the console socket. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "vessel/cleanup.h"
#include "runtime/console.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

int ct_console_connect(const char *path, struct vs_err *e)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return vs_fail(e, ENAMETOOLONG, "console socket %s: path too long", path);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return vs_fail_errno(e, "console socket %s: socket", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		vs_fail_errno(e, "console socket %s: connect", path);
		close(fd);
		return -1;
	}
	return fd;
}

int ct_console_open(const char *ptmx_path, unsigned int rows, unsigned int cols, int *master,
		    int *slave, struct vs_err *e)
{
	autoclose int m = open(ptmx_path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	int unlock = 0;

	if (m < 0)
		return vs_fail_errno(e, "console: open %s", ptmx_path);
	if (ioctl(m, TIOCSPTLCK, &unlock) < 0)
		return vs_fail_errno(e, "console: unlock pty");
	int s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (s < 0)
		return vs_fail_errno(e, "console: open pty slave");
	if (rows || cols) {
		struct winsize ws = {.ws_row = (unsigned short)rows,
				     .ws_col = (unsigned short)cols};

		if (ioctl(s, TIOCSWINSZ, &ws) < 0) {
			vs_fail_errno(e, "console: set window size %ux%u", rows, cols);
			close(s);
			return -1;
		}
	}
	*master = vs_steal_fd(m);
	*slave = s;
	return 0;
}

int ct_console_send(int sock, int fd, const char *name, struct vs_err *e)
{
	char data[256];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov;
	struct msghdr msg = {0};
	struct cmsghdr *c;

	memset(&u, 0, sizeof(u));
	snprintf(data, sizeof(data), "%s", name && *name ? name : "/dev/ptmx");
	iov.iov_base = data;
	iov.iov_len = strlen(data);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = u.buf;
	msg.msg_controllen = sizeof(u.buf);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	if (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0)
		return vs_fail_errno(e, "console socket: sending the pty master");
	return 0;
}

int ct_console_recv(int sock, int *fd, struct vs_err *e)
{
	char data[256];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {data, sizeof(data)};
	struct msghdr msg = {0};
	struct cmsghdr *c;

	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = u.buf;
	msg.msg_controllen = sizeof(u.buf);
	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) < 0)
		return vs_fail_errno(e, "console socket: receive");
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			memcpy(fd, CMSG_DATA(c), sizeof(int));
			return 0;
		}
	}
	return vs_fail(e, EBADMSG, "console socket: message carried no fd");
}

int ct_console_bind(int slave, const char *target, struct vs_err *e)
{
	char src[64];
	struct stat st;

	if (lstat(target, &st) < 0) {
		int fd = open(target, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

		if (fd < 0)
			return vs_fail_errno(e, "console: create %s", target);
		close(fd);
	} else if (S_ISLNK(st.st_mode)) {
		/* a symlink there would redirect the bind mount: replace it */
		if (unlink(target) < 0)
			return vs_fail_errno(e, "console: remove symlink %s", target);
		int fd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

		if (fd < 0)
			return vs_fail_errno(e, "console: create %s", target);
		close(fd);
	}
	/* the slave may not be reachable by path from here (it lives in the
	 * container's devpts): bind through its fd */
	snprintf(src, sizeof(src), "/proc/self/fd/%d", slave);
	if (mount(src, target, NULL, MS_BIND, NULL) < 0)
		return vs_fail_errno(e, "console: bind the pty on %s", target);
	return 0;
}

int ct_console_set_ctty(int slave, struct vs_err *e)
{
	if (ioctl(slave, TIOCSCTTY, 0) < 0)
		return vs_fail_errno(e, "console: make the pty the controlling terminal");
	for (int fd = 0; fd < 3; fd++)
		if (dup2(slave, fd) < 0)
			return vs_fail_errno(e, "console: dup the pty to fd %d", fd);
	return 0;
}
