/* vsock-hello CID PORT LINE: the guest side of the Linux vsock check.
 * Connects an AF_VSOCK stream to CID:PORT, sends LINE and a newline, and
 * prints the first line that comes back ("ack LINE" from
 * guests/tools/vsock_host.py). Built static into the test root image, since
 * busybox has no vsock client. Exit 0 only when a reply arrived. */
#include <linux/vm_sockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_vm sa = {.svm_family = AF_VSOCK};
	char buf[256];
	size_t got = 0;
	int fd;

	if (argc != 4) {
		fprintf(stderr, "usage: vsock-hello CID PORT LINE\n");
		return 2;
	}
	sa.svm_cid = (unsigned)strtoul(argv[1], NULL, 0);
	sa.svm_port = (unsigned)strtoul(argv[2], NULL, 0);
	fd = socket(AF_VSOCK, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("vsock-hello: connect");
		return 1;
	}
	if (dprintf(fd, "%s\n", argv[3]) < 0) {
		perror("vsock-hello: write");
		return 1;
	}
	while (got < sizeof(buf) - 1) {
		ssize_t n = read(fd, buf + got, 1);
		if (n <= 0 || buf[got] == '\n')
			break;
		got++;
	}
	buf[got] = 0;
	close(fd);
	if (!got) {
		fprintf(stderr, "vsock-hello: no reply\n");
		return 1;
	}
	printf("%s\n", buf);
	return 0;
}
