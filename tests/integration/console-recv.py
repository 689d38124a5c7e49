# Test helper: a --console-socket receiver. Listens on SOCKET, receives the
# pty master sent with SCM_RIGHTS, optionally writes INPUT to it, and copies
# everything the container prints to OUT until the pty closes.
# usage: console-recv.py SOCKET OUT [INPUT]   (creates SOCKET.ready when listening)
import array, os, socket, sys

path, out = sys.argv[1], sys.argv[2]
data = sys.argv[3].encode() if len(sys.argv) > 3 else b""
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(1)
open(path + ".ready", "w").close()
c, _ = s.accept()
fds = array.array("i")
msg, anc, _, _ = c.recvmsg(256, socket.CMSG_LEN(fds.itemsize))
for level, typ, d in anc:
    if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
        fds.frombytes(d[:fds.itemsize])
if not fds:
    open(out, "w").write("NO FD RECEIVED\n")
    sys.exit(1)
m = fds[0]
if data:
    os.write(m, data)
buf = b""
while True:
    try:
        d = os.read(m, 4096)
    except OSError:  # EIO: the last slave fd closed
        break
    if not d:
        break
    buf += d
open(out, "wb").write(b"name=" + msg + b"\n" + buf)
