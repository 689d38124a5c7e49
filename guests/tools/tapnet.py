#!/usr/bin/env python3
"""Host side of the virtio_net guest test, on the host end of a tap device.

usage: tapnet.py IFNAME TOKEN READY_FILE OUT_FILE STOP_FILE

Writes READY_FILE once its packet socket is bound. Until STOP_FILE appears
(or a 60 s hang guard runs out) it sends the frame "vessel-host-frame TOKEN"
(EtherType 0x88b5, broadcast) every 0.2 s for a guest that waits to receive,
and writes the payload of the first frame with EtherType 0x88b5 that
arrives from the guest into OUT_FILE. Exit status 0 when a guest frame was
seen, 1 otherwise.
"""
import os
import select
import socket
import sys
import time

ETH_P_ALL = 0x0003
ETHERTYPE = 0x88B5
PACKET_OUTGOING = 4


def main():
    ifname, token, ready, out, stop = sys.argv[1:6]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((ifname, 0))
    frame = (b"\xff" * 6 + bytes([0x02, 0, 0, 0, 0, 0x01]) + ETHERTYPE.to_bytes(2, "big")
             + b"vessel-host-frame " + token.encode())
    frame = frame.ljust(60, b"\0")
    with open(ready, "w") as f:
        f.write("ready\n")
    seen = False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not os.path.exists(stop):
        try:
            s.send(frame)
        except OSError:
            pass  # the tap has no reader yet
        end = time.monotonic() + 0.2
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([s], [], [], left)
            if not r:
                continue
            data, addr = s.recvfrom(2048)
            if addr[2] == PACKET_OUTGOING or len(data) < 14:
                continue
            if int.from_bytes(data[12:14], "big") == ETHERTYPE and not seen:
                with open(out, "wb") as f:
                    f.write(data[14:].rstrip(b"\0") + b"\n")
                seen = True
        if seen and os.path.exists(stop):
            break
    return 0 if seen else 1


if __name__ == "__main__":
    sys.exit(main())
