#!/usr/bin/env python3
"""HTTP/1.1 client for Tokio's tinyhttp through a forwarded port: GET /plaintext and /json
on one kept-alive connection, a 404 for another path; then, with --done PORT2, tells the
guest it is finished by connecting to PORT2 and sending `done`. Retries while the guest
boots. Exit 0 on success (see README.md)."""

import argparse
import http.client
import json
import socket
import sys
import time


def get(conn: http.client.HTTPConnection, path: str):
    conn.request("GET", path, headers={"Host": "axle"})
    r = conn.getresponse()
    return r.status, r.getheader("Content-Type"), r.read()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--done", type=int)
    a = ap.parse_args()
    print("ready", flush=True)
    deadline = time.monotonic() + 150
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=10)
            status, ctype, body = get(conn, "/plaintext")
            break
        except (OSError, http.client.HTTPException):
            if time.monotonic() > deadline:
                raise SystemExit("http_get: tinyhttp never answered")
            time.sleep(0.5)
    if (status, ctype, body) != (200, "text/plain", b"Hello, World!"):
        raise SystemExit(f"http_get: /plaintext gave {status} {ctype} {body!r}")
    status, ctype, body = get(conn, "/json")
    if status != 200 or ctype != "application/json" or json.loads(body) != {"message": "Hello, World!"}:
        raise SystemExit(f"http_get: /json gave {status} {ctype} {body!r}")
    status, _, _ = get(conn, "/nowhere")
    if status != 404:
        raise SystemExit(f"http_get: /nowhere gave {status}")
    print("http_get: /plaintext, /json and a 404 over one connection", flush=True)
    if a.done:
        done(a.done, deadline)
    return 0


def done(port: int, deadline: float) -> None:
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"done\n")
                s.shutdown(socket.SHUT_WR)
                s.recv(1)
                return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit("http_get: nobody to tell `done`")
            time.sleep(0.5)


if __name__ == "__main__":
    sys.exit(main())
