#!/usr/bin/env python3
"""Host side of the virtio_vsock guest test: listens on the Unix socket the
VMM connects to when the guest connects to host port P (PATH_P, the
Firecracker convention vessel-vmm follows), reads one line, answers
"ack <line>", then waits for the guest to close.

usage: vsock_host.py SOCKET_PATH READY_FILE OUT_FILE STOP_FILE
Writes READY_FILE once listening and the received line to OUT_FILE. Stops
waiting for a connection when STOP_FILE appears (the VMM has exited) or
after a 60 s hang guard. Exit status 0 when a line was received.
"""
import os
import socket
import sys
import time


def main():
    path, ready, out, stop = sys.argv[1:5]
    if os.path.exists(path):
        os.unlink(path)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    srv.settimeout(0.2)
    with open(ready, "w") as f:
        f.write("ready\n")
    conn = None
    deadline = time.monotonic() + 60
    while conn is None:
        try:
            conn, _ = srv.accept()
        except socket.timeout:
            if os.path.exists(stop) or time.monotonic() > deadline:
                srv.close()
                os.unlink(path)
                return 1
    conn.settimeout(60)
    data = b""
    try:
        while b"\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
        if b"\n" in data:
            line = data.split(b"\n", 1)[0] + b"\n"
            with open(out, "wb") as f:
                f.write(line)
            conn.sendall(b"ack " + line)
            while conn.recv(4096):
                pass
    except socket.timeout:
        pass
    finally:
        conn.close()
        srv.close()
        os.unlink(path)
    return 0 if b"\n" in data else 1


if __name__ == "__main__":
    sys.exit(main())
