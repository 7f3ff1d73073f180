#!/usr/bin/env python3
"""Listens on 127.0.0.1:PORT for one connection and checks it delivers exactly
`hello world\\n` before end of file (Tokio's hello_world). Exit 0 on success."""

import socket
import sys


def main() -> int:
    port = int(sys.argv[1])
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(1)
    srv.settimeout(300)
    print("ready", flush=True)
    conn, peer = srv.accept()
    conn.settimeout(30)
    got = b""
    while True:
        chunk = conn.recv(4096)
        if not chunk:
            break
        got += chunk
    if got != b"hello world\n":
        raise SystemExit(f"hello_listener: got {got!r} from {peer}")
    print(f"hello_listener: {got!r} from {peer[0]}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
