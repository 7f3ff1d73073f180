#!/usr/bin/env python3
"""Builds Axle's base initramfs (a newc cpio archive) from images/manifest.toml.

    python3 images/build_initramfs.py [--manifest images/manifest.toml] [-o build/initramfs.cpio]
    python3 images/build_initramfs.py --list build/initramfs.cpio     # show what is inside

The output is reproducible (fixed owner root, mtime $SOURCE_DATE_EPOCH or 0) and only
rewritten when its content changes, so `make image` is cheap when nothing changed.
Standard library only (Python 3.11+). The manifest format is described at the top of
images/manifest.toml.
"""

from __future__ import annotations

import argparse
import os
import stat
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))

from axletools import newc  # noqa: E402

DEFAULT_MANIFEST = REPO / "images" / "manifest.toml"
DEFAULT_OUTPUT = REPO / "build" / "initramfs.cpio"
MUSL = "x86_64-unknown-linux-musl"


class ManifestError(Exception):
    pass


def cache_dir() -> Path:
    return Path(os.environ.get("AXLE_CACHE_DIR") or Path.home() / ".cache" / "axle")


def parse_mode(where: str, value, default: int | None) -> int | None:
    if value is None:
        return default
    if not isinstance(value, str):
        raise ManifestError(f"{where}: mode must be an octal string like \"0755\"")
    try:
        mode = int(value, 8)
    except ValueError:
        raise ManifestError(f"{where}: bad mode {value!r}") from None
    if not 0 <= mode <= 0o7777:
        raise ManifestError(f"{where}: bad mode {value!r}")
    return mode


def host_path(text: str) -> Path:
    p = Path(os.path.expandvars(os.path.expanduser(text)))
    return p if p.is_absolute() else REPO / p


def build_cargo(where: str, spec) -> Path:
    """Builds a static musl program and returns the path of the binary."""
    if not isinstance(spec, dict) or not {"manifest", "bin"} <= set(spec) or set(spec) - {"manifest", "package", "bin"}:
        raise ManifestError(f"{where}: cargo = {{ manifest = ..., package = ..., bin = ... }}")
    target_dir = cache_dir() / "target-image"
    cmd = ["cargo", "build", "--release", "--target", MUSL, "--manifest-path", str(host_path(spec["manifest"])),
           "--bin", spec["bin"]]
    if spec.get("package"):
        cmd += ["-p", spec["package"]]
    env = dict(os.environ, CARGO_TARGET_DIR=str(target_dir))
    print(f"image: building {spec['bin']}: {' '.join(cmd)}", file=sys.stderr)
    proc = subprocess.run(cmd, env=env, cwd=REPO)
    if proc.returncode != 0:
        raise ManifestError(f"{where}: cargo build failed (exit {proc.returncode})")
    return target_dir / MUSL / "release" / spec["bin"]


KINDS = ("dir", "file", "symlink", "node")
KEYS = {
    "dir": {"path", "mode"},
    "file": {"path", "mode", "text", "host", "cargo", "optional"},
    "symlink": {"path", "target"},
    "node": {"path", "kind", "major", "minor", "mode"},
}


def ordered_entries(manifest: dict) -> list[tuple[str, dict]]:
    """(kind, table) pairs, parents before children: sorted by path depth, then kind, then
    manifest order, so the manifest itself may list entries in any order."""
    unknown = set(manifest) - set(KINDS)
    if unknown:
        raise ManifestError(f"unknown kinds: {', '.join(sorted(unknown))} (known: {', '.join(KINDS)})")
    out = []
    for kind in KINDS:
        tables = manifest.get(kind, [])
        if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
            raise ManifestError(f"'{kind}' must be an array of tables ([[{kind}]])")
        for t in tables:
            path = t.get("path")
            if not isinstance(path, str) or not path.startswith("/"):
                raise ManifestError(f"[[{kind}]] {path!r}: 'path' must be an absolute guest path")
            out.append((kind, t))
    # Stable sort: within a depth, the KINDS order and then the manifest order are kept.
    return sorted(out, key=lambda e: newc.guest_name(e[1]["path"]).count("/"))


def write_image(out, manifest: dict, mtime: int, notes: list[str]) -> int:
    count = 0
    seen: set[str] = set()
    entries = ordered_entries(manifest)
    dirs = {newc.guest_name(t["path"]) for kind, t in entries if kind == "dir"}
    with newc.Writer(out, mtime=mtime) as w:
        for kind, t in entries:
            path = t["path"]
            where = f"[[{kind}]] {path}"
            extra = set(t) - KEYS[kind]
            if extra:
                raise ManifestError(f"{where}: unknown keys {', '.join(sorted(extra))}")
            name = newc.guest_name(path)
            if name in seen:
                raise ManifestError(f"{where}: duplicate path")
            parent = name.rpartition("/")[0]
            if parent and parent not in dirs:
                raise ManifestError(f"{where}: parent directory /{parent} is not declared as a [[dir]]")
            if kind == "dir":
                w.add_dir(path, parse_mode(where, t.get("mode"), 0o755))
            elif kind == "symlink":
                if not isinstance(t.get("target"), str):
                    raise ManifestError(f"{where}: 'target' must be a string")
                w.add_symlink(path, t["target"])
            elif kind == "node":
                if t.get("kind") not in ("c", "b") or not all(isinstance(t.get(k), int) for k in ("major", "minor")):
                    raise ManifestError(f"{where}: needs kind = \"c\"|\"b\", major and minor (integers)")
                w.add_node(path, t["kind"], t["major"], t["minor"], parse_mode(where, t.get("mode"), 0o600))
            else:
                sources = [k for k in ("text", "host", "cargo") if k in t]
                if len(sources) != 1:
                    raise ManifestError(f"{where}: needs exactly one of text, host, cargo")
                mode = parse_mode(where, t.get("mode"), None)
                if "text" in t:
                    if not isinstance(t["text"], str):
                        raise ManifestError(f"{where}: 'text' must be a string")
                    w.add_bytes(path, t["text"].encode(), 0o644 if mode is None else mode)
                else:
                    src = host_path(t["host"]) if "host" in t else build_cargo(where, t["cargo"])
                    if not src.is_file():
                        if t.get("optional"):
                            notes.append(f"skipped {path}: {src} does not exist (optional)")
                            continue
                        raise ManifestError(f"{where}: host file {src} does not exist")
                    w.add_file(path, src, mode)
            seen.add(name)
            count += 1
    return count


def expand_applets(manifest: dict) -> dict:
    """`[[applets]] binary = "/bin/busybox", host = "/bin/busybox"`: one symlink per applet
    that `host --list-full` names (e.g. bin/ls, usr/bin/env), pointing at `binary`, unless
    the manifest already has that path or its directory is not declared."""
    tables = manifest.pop("applets", [])
    if not isinstance(tables, list):
        raise ManifestError("'applets' must be an array of tables ([[applets]])")
    declared = {t.get("path") for kind in KINDS for t in manifest.get(kind, []) if isinstance(t, dict)}
    dirs = {t.get("path") for t in manifest.get("dir", []) if isinstance(t, dict)}
    links = manifest.setdefault("symlink", [])
    for t in tables:
        if set(t) != {"binary", "host"}:
            raise ManifestError("[[applets]] needs exactly: binary (guest path) and host (the multi-call binary)")
        host = host_path(t["host"])
        if not host.is_file():
            raise ManifestError(f"[[applets]]: {host} does not exist")
        out = subprocess.run([str(host), "--list-full"], capture_output=True, text=True)
        if out.returncode != 0:
            raise ManifestError(f"[[applets]]: {host} --list-full failed")
        for rel in out.stdout.split():
            path = "/" + rel.strip("/")
            if path in declared or path == t["binary"] or path.rpartition("/")[0] not in dirs:
                continue
            links.append({"path": path, "target": t["binary"]})
            declared.add(path)
    return manifest


TREE_KEYS = {"path", "host", "build"}


def expand_trees(manifest: dict) -> dict:
    """`[[tree]] path = "/opt/x", host = "dir", build = ["cmd", ...]`: runs each distinct
    `build` command once (cwd = the repo root), then declares `path` as a [[dir]] and every
    directory, file and symlink under the host directory below it (modes kept)."""
    tables = manifest.pop("tree", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ManifestError("'tree' must be an array of tables ([[tree]])")
    built: list[list[str]] = []
    for t in tables:
        where = f"[[tree]] {t.get('path')!r}"
        if set(t) - TREE_KEYS or not {"path", "host"} <= set(t):
            raise ManifestError(f"{where}: needs path and host, and optionally build (keys: {', '.join(sorted(TREE_KEYS))})")
        cmd = t.get("build")
        if cmd is None or cmd in built:
            continue
        if not isinstance(cmd, list) or not cmd or not all(isinstance(a, str) for a in cmd):
            raise ManifestError(f"{where}: 'build' must be a non-empty list of strings")
        print(f"image: building for {t['path']}: {' '.join(cmd)}", file=sys.stderr)
        if subprocess.run(cmd, cwd=REPO).returncode != 0:
            raise ManifestError(f"{where}: build command failed: {' '.join(cmd)}")
        built.append(cmd)
    for t in tables:
        path, host = t["path"], host_path(t["host"])
        if not isinstance(path, str) or not path.startswith("/"):
            raise ManifestError(f"[[tree]] {path!r}: 'path' must be an absolute guest path")
        if not host.is_dir():
            raise ManifestError(f"[[tree]] {path}: host directory {host} does not exist")
        manifest.setdefault("dir", []).append({"path": path})
        for root, dirs, files in os.walk(host):
            dirs.sort()
            rel_root = Path(root).relative_to(host)
            for name in dirs + sorted(files):
                src = Path(root) / name
                guest = "/".join(p for p in (path.rstrip("/"), *rel_root.parts, name) if p)
                if src.is_symlink():
                    manifest.setdefault("symlink", []).append({"path": guest, "target": os.readlink(src)})
                elif src.is_dir():
                    manifest.setdefault("dir", []).append({"path": guest, "mode": f"{stat.S_IMODE(src.stat().st_mode):04o}"})
                elif src.is_file():
                    manifest.setdefault("file", []).append({"path": guest, "host": str(src)})
    return manifest


def build(manifest_path: Path, output: Path) -> tuple[int, bool, list[str]]:
    """Returns (members, changed, notes)."""
    try:
        manifest = tomllib.loads(manifest_path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise ManifestError(f"{manifest_path}: {e}") from None
    manifest = expand_trees(expand_applets(manifest))
    mtime = int(os.environ.get("SOURCE_DATE_EPOCH", "0") or 0)
    notes: list[str] = []
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".initramfs-", dir=output.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            count = write_image(f, manifest, mtime, notes)
        if output.exists() and _same(tmp, output):
            os.unlink(tmp)
            return count, False, notes
        os.chmod(tmp, 0o644)
        os.replace(tmp, output)
        return count, True, notes
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _same(a, b) -> bool:
    if os.path.getsize(a) != os.path.getsize(b):
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(1 << 20), fb.read(1 << 20)
            if x != y:
                return False
            if not x:
                return True


def list_image(path: Path) -> None:
    for m in newc.read_members(path.read_bytes()):
        extra = f" -> {m.data.decode(errors='replace')}" if m.kind == "symlink" else ""
        if m.kind in ("char", "block"):
            extra = f" {m.rdev[0]},{m.rdev[1]}"
        print(f"{stat.filemode(m.mode)} {len(m.data):>10} /{m.name}{extra}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Build Axle's base initramfs from a manifest.")
    p.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST)
    p.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT)
    p.add_argument("--list", type=Path, metavar="CPIO", help="list the members of an archive and exit")
    p.add_argument("-q", "--quiet", action="store_true")
    args = p.parse_args(argv)
    if args.list:
        try:
            list_image(args.list)
        except (OSError, newc.CpioError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        return 0
    try:
        count, changed, notes = build(args.manifest, args.output)
    except (OSError, ManifestError, newc.CpioError) as e:
        print(f"image: error: {e}", file=sys.stderr)
        return 1
    for n in notes:
        print(f"image: {n}", file=sys.stderr)
    if not args.quiet:
        state = "written" if changed else "up to date"
        print(f"image: {args.output} ({count} entries, {args.output.stat().st_size} bytes) {state}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
