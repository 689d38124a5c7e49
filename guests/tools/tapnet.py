#!/usr/bin/env python3
"""Host side of the virtio_net guest test, on the host end of a tap device.

usage: tapnet.py IFNAME TOKEN READY_FILE OUT_FILE STOP_FILE

Writes READY_FILE once its packet socket is bound, then waits for the first
frame with EtherType 0x88b5 from the guest and writes its payload into
OUT_FILE. From then on, until STOP_FILE appears (or a 60 s hang guard runs
out), every 0.2 s it sends five frames of another EtherType (0x88b6:
traffic the guest must skip, so it has to recycle its four receive
buffers) followed by "vessel-host-frame TOKEN" (EtherType 0x88b5,
broadcast) for a guest that waits to receive. The guest sends before it
listens and the tap keeps frames in order, so the first host frame the
guest sees always comes after five noise frames.
Exit status 0 when a guest frame was
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
    noise = (b"\xff" * 6 + bytes([0x02, 0, 0, 0, 0, 0x01]) + (ETHERTYPE + 1).to_bytes(2, "big")
             + b"noise").ljust(60, b"\0")
    with open(ready, "w") as f:
        f.write("ready\n")
    seen = False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not os.path.exists(stop):
        if seen:
            try:
                for _ in range(5):
                    s.send(noise)
                s.send(frame)
            except OSError:
                pass  # the VMM has closed the tap
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
