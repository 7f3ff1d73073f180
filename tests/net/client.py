#!/usr/bin/env python3
"""client.py PORT [--done PORT2]: connects to 127.0.0.1:PORT (a port forwarded into the
guest) and checks an echo service:
lines come back unchanged; a half-closed connection gets its data back, then end of file.
Retries the connection while the guest boots. With --done, then connects to PORT2 and sends
`done` (the guest's signal to stop the server). Exit 0 on success (see README.md)."""

import socket
import sys
import time


def connect(port: int, deadline: float) -> socket.socket:
    while True:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            # QEMU accepts forwarded connections before the guest does: probe with data.
            s.sendall(b"probe\n")
            if s.recv(6) == b"probe\n":
                return s
            s.close()
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"client: no echo service on 127.0.0.1:{port}")
        time.sleep(0.5)


def main() -> int:
    port = int(sys.argv[1])
    done_port = int(sys.argv[3]) if len(sys.argv) == 4 and sys.argv[2] == "--done" else None
    print("ready", flush=True)
    deadline = time.monotonic() + 120
    s = connect(port, deadline)
    for i in range(20):
        msg = f"line {i} from the host\n".encode()
        s.sendall(msg)
        got = b""
        while len(got) < len(msg):
            chunk = s.recv(4096)
            if not chunk:
                raise SystemExit(f"client: connection closed after {got!r}")
            got += chunk
        if got != msg:
            raise SystemExit(f"client: sent {msg!r}, got {got!r}")
    big = bytes(range(256)) * 4096  # 1 MiB
    got = bytearray()
    s.setblocking(False)
    sent = 0
    # Send and read back at once (neither side's buffers need to hold the whole MiB).
    while len(got) < len(big):
        if sent < len(big):
            try:
                sent += s.send(big[sent:sent + 65536])
            except BlockingIOError:
                pass
        try:
            chunk = s.recv(65536)
            if not chunk:
                raise SystemExit(f"client: connection closed after {len(got)} echoed bytes")
            got += chunk
        except BlockingIOError:
            time.sleep(0.001)
        if time.monotonic() > deadline:
            raise SystemExit(f"client: timed out after {len(got)} echoed bytes")
    if bytes(got) != big:
        raise SystemExit("client: the echoed MiB differs")
    # Half-close: the guest's echo server sees end of file and finishes (it exits, and the
    # machine with it, so its own close may never reach us: that is not checked).
    s.setblocking(True)
    s.shutdown(socket.SHUT_WR)
    print("client: 20 lines and 1 MiB echoed; half-closed", flush=True)
    if done_port:
        tell_done(done_port, deadline)
    return 0


def tell_done(port: int, deadline: float) -> None:
    """Tells the guest the check is over: `done` on a second forwarded port."""
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"done\n")
                s.shutdown(socket.SHUT_WR)
                s.recv(1)
                return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit("client: nobody to tell `done`")
            time.sleep(0.5)


if __name__ == "__main__":
    sys.exit(main())
