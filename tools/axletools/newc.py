"""Writer (and a small reader, for tests) of "newc" cpio archives, the initramfs format.

Format (Linux `Documentation/driver-api/early-userspace/buffer-format.rst`): each member is
a 110-byte ASCII header -- the magic `070701` and 13 fields of 8 hex digits (ino, mode,
uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize,
check) -- then the NUL-terminated name, zero padding to a multiple of 4, the data, and
zero padding to a multiple of 4. The archive ends with a member named `TRAILER!!!`.
Several archives may be concatenated into one initramfs file; the kernel unpacks them in
order and later members replace earlier ones.

Names are written without a leading `/` (`etc/hostname`), as Linux's own tools do.
Everything is owned by root (uid/gid 0) and has nlink 1 (hard links become copies).
File data is streamed in chunks, so large directories never sit in memory.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

MAGIC = b"070701"
HEADER_LEN = 110
TRAILER = "TRAILER!!!"
MAX_FIELD = 0xFFFF_FFFF
CHUNK = 1 << 20


class CpioError(Exception):
    """Something cannot be represented in (or read from) a newc archive."""


def guest_name(path: str) -> str:
    """'/etc/hostname' -> 'etc/hostname'; rejects '..', empty and NUL-containing names."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if not parts:
        raise CpioError(f"bad guest path {path!r}: empty or the root directory")
    if any(p == ".." for p in parts) or "\0" in path:
        raise CpioError(f"bad guest path {path!r}")
    return "/".join(parts)


def _pad(n: int) -> int:
    return (4 - n % 4) % 4


class Writer:
    """Writes one newc archive to a binary stream. Call `finish()` (or use `with`)."""

    def __init__(self, out: BinaryIO, *, first_ino: int = 1, mtime: int | None = 0):
        self.out = out
        self.ino = first_ino
        self.mtime = mtime  # None: take file mtimes from the host (add_tree)
        self.offset = 0
        self.finished = False

    def __enter__(self) -> "Writer":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.finish()

    # -- low level -------------------------------------------------------

    def _write(self, b: bytes) -> None:
        self.out.write(b)
        self.offset += len(b)

    def _header(self, name: str, mode: int, size: int, mtime: int, rdev: tuple[int, int] = (0, 0)) -> None:
        encoded = name.encode("utf-8", "surrogateescape") + b"\0"
        if size > MAX_FIELD:
            raise CpioError(f"{name}: {size} bytes is too big for a newc archive (max 4 GiB - 1)")
        fields = (
            self.ino, mode, 0, 0, 1, max(0, min(mtime, MAX_FIELD)), size,
            0, 0, rdev[0], rdev[1], len(encoded), 0,
        )
        self.ino += 1
        self._write(MAGIC + b"".join(b"%08x" % f for f in fields))
        self._write(encoded)
        self._write(b"\0" * _pad(HEADER_LEN + len(encoded)))

    def _mtime(self, host_mtime: float | None = None) -> int:
        if self.mtime is not None or host_mtime is None:
            return self.mtime or 0
        return int(host_mtime)

    # -- members -----------------------------------------------------------

    def add_dir(self, path: str, mode: int = 0o755, mtime: int | None = None) -> None:
        self._header(guest_name(path), stat.S_IFDIR | (mode & 0o7777), 0, self._mtime(mtime))

    def add_bytes(self, path: str, data: bytes, mode: int = 0o644, mtime: int | None = None) -> None:
        self._header(guest_name(path), stat.S_IFREG | (mode & 0o7777), len(data), self._mtime(mtime))
        self._write(data)
        self._write(b"\0" * _pad(len(data)))

    def add_symlink(self, path: str, target: str, mtime: int | None = None) -> None:
        data = target.encode("utf-8", "surrogateescape")
        self._header(guest_name(path), stat.S_IFLNK | 0o777, len(data), self._mtime(mtime))
        self._write(data)
        self._write(b"\0" * _pad(len(data)))

    def add_node(self, path: str, kind: str, major: int, minor: int, mode: int = 0o600) -> None:
        """A device node: kind 'c' (character) or 'b' (block)."""
        fmt = {"c": stat.S_IFCHR, "b": stat.S_IFBLK}.get(kind)
        if fmt is None:
            raise CpioError(f"{path}: node kind must be 'c' or 'b', not {kind!r}")
        self._header(guest_name(path), fmt | (mode & 0o7777), 0, self._mtime(), (major, minor))

    def add_fifo(self, path: str, mode: int = 0o644, mtime: int | None = None) -> None:
        self._header(guest_name(path), stat.S_IFIFO | (mode & 0o7777), 0, self._mtime(mtime))

    def add_file(self, path: str, host_path: str | os.PathLike, mode: int | None = None) -> None:
        """A regular file copied from the host in chunks (mode: the host's unless given)."""
        with open(host_path, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise CpioError(f"{host_path}: not a regular file")
            size = st.st_size
            self._header(guest_name(path), stat.S_IFREG | ((st.st_mode if mode is None else mode) & 0o7777),
                         size, self._mtime(st.st_mtime))
            left = size
            while left:
                chunk = f.read(min(CHUNK, left))
                if not chunk:
                    raise CpioError(f"{host_path}: file shrank while it was being archived")
                self._write(chunk)
                left -= len(chunk)
            self._write(b"\0" * _pad(size))

    def add_tree(self, guest_dir: str, host_dir: str | os.PathLike, *, on_skip=None) -> int:
        """Adds `guest_dir` and everything under `host_dir` below it, keeping permission
        bits; symlinks stay symlinks (never followed); sockets and devices are skipped
        (reported through `on_skip(path, why)`). Returns the number of members written."""
        host_dir = Path(host_dir)
        st = os.stat(host_dir)
        if not stat.S_ISDIR(st.st_mode):
            raise CpioError(f"{host_dir}: not a directory")
        count = 0
        self.add_dir(guest_dir, st.st_mode, st.st_mtime)
        count += 1
        for root, dirs, files in os.walk(host_dir, followlinks=False):
            dirs.sort()
            rel_root = os.path.relpath(root, host_dir)
            base = guest_dir if rel_root == "." else f"{guest_dir}/{rel_root}"
            for name in sorted(dirs + files):
                host = os.path.join(root, name)
                guest = f"{base}/{name}"
                lst = os.lstat(host)
                m = lst.st_mode
                if stat.S_ISLNK(m):
                    self.add_symlink(guest, os.readlink(host), lst.st_mtime)
                elif stat.S_ISDIR(m):
                    self.add_dir(guest, m, lst.st_mtime)
                elif stat.S_ISREG(m):
                    self.add_file(guest, host)
                elif stat.S_ISFIFO(m):
                    self.add_fifo(guest, m, lst.st_mtime)
                else:
                    if on_skip:
                        on_skip(host, "not a file, directory, symlink or FIFO")
                    continue
                count += 1
            # os.walk does not descend into symlinked directories with followlinks=False,
            # but lists them in `dirs`; they were written as symlinks above.
        return count

    def finish(self) -> None:
        """Writes the trailer and pads the archive to a multiple of 512 bytes."""
        if self.finished:
            return
        self._header(TRAILER, 0, 0, 0)
        self._write(b"\0" * ((512 - self.offset % 512) % 512))
        self.finished = True


def nul_strings(items) -> bytes:
    """['a', 'b c'] -> b'a\\0b c\\0' (the format of /etc/axle/cmd and /etc/axle/env)."""
    out = bytearray()
    for s in items:
        b = s.encode("utf-8", "surrogateescape") if isinstance(s, str) else bytes(s)
        if b"\0" in b:
            raise CpioError(f"argument or variable contains a NUL byte: {s!r}")
        out += b + b"\0"
    return bytes(out)


# -------------------------------------------------------------------------
# Reader (used by the tests and `build_initramfs.py --list`)


@dataclass(frozen=True)
class Member:
    name: str
    mode: int
    uid: int
    gid: int
    nlink: int
    mtime: int
    data: bytes
    rdev: tuple[int, int]
    ino: int

    @property
    def kind(self) -> str:
        m = self.mode
        return ("dir" if stat.S_ISDIR(m) else "file" if stat.S_ISREG(m) else "symlink" if stat.S_ISLNK(m)
                else "char" if stat.S_ISCHR(m) else "block" if stat.S_ISBLK(m) else "fifo" if stat.S_ISFIFO(m)
                else "other")


def read_members(data: bytes) -> Iterator[Member]:
    """Members of (possibly concatenated, zero-padded) newc archives, trailers skipped."""
    pos = 0
    while True:
        while pos < len(data) and data[pos] == 0:
            pos += 1
        if pos >= len(data):
            return
        h = data[pos:pos + HEADER_LEN]
        if len(h) < HEADER_LEN:
            raise CpioError(f"offset {pos}: truncated header")
        if h[:6] != MAGIC:
            raise CpioError(f"offset {pos}: bad magic {h[:6]!r}")
        try:
            f = [int(h[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
        except ValueError:
            raise CpioError(f"offset {pos}: bad header field") from None
        namesize, size = f[11], f[6]
        name_start = pos + HEADER_LEN
        raw_name = data[name_start:name_start + namesize]
        if len(raw_name) != namesize or not raw_name.endswith(b"\0"):
            raise CpioError(f"offset {pos}: bad name")
        data_start = name_start + namesize + _pad(HEADER_LEN + namesize)
        body = data[data_start:data_start + size]
        if len(body) != size:
            raise CpioError(f"offset {pos}: truncated data")
        pos = data_start + size + _pad(size)
        name = raw_name[:-1].decode("utf-8", "surrogateescape")
        if name == TRAILER:
            continue
        yield Member(name, f[1], f[2], f[3], f[4], f[5], body, (f[9], f[10]), f[0])
