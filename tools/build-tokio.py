#!/usr/bin/env python3
"""Builds Axle's Tokio programs (tests/tokio) and stages them for the image and the tests.

    python3 tools/build-tokio.py [--profile release|debug|both] [-q]

Static x86_64-unknown-linux-musl builds, release and debug (cargo's dev profile: debug
assertions and overflow checks on), in ~/.cache/axle/target-tokio. `dump` needs
`--cfg tokio_unstable` and Tokio's `taskdump` feature; it is built in a cargo invocation
of its own, with its own target dir (target-tokio/unstable), so that the other programs
get the plain Tokio. The binaries are then copied to

    ~/.cache/axle/stage/tokio/release/    installed in the image as /opt/tokio/
    ~/.cache/axle/stage/tokio/debug/      installed in the image as /opt/tokio/debug/

(a file is rewritten only when its content changed; files of programs that no longer
exist are removed). The image builder runs this script (images/manifest.toml, [[tree]]);
the Tokio scenarios' host runs use the staged programs. $AXLE_CACHE_DIR replaces
~/.cache/axle. Standard library only (Python 3.11+).
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORKSPACE = REPO / "tests" / "tokio"
MUSL = "x86_64-unknown-linux-musl"
UNSTABLE_PACKAGES = ["dump"]  # built with --cfg tokio_unstable


def cache_dir() -> Path:
    return Path(os.environ.get("AXLE_CACHE_DIR") or Path.home() / ".cache" / "axle")


def executables(stdout: str) -> list[Path]:
    """The executables named in cargo's --message-format=json output."""
    found: list[Path] = []
    for line in stdout.splitlines():
        if not line.startswith("{"):
            continue
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        exe = msg.get("executable") if msg.get("reason") == "compiler-artifact" else None
        if exe and Path(exe) not in found:
            found.append(Path(exe))
    return found


def cargo_build(profile: str, target_dir: Path, select: list[str], rustflags: str | None, quiet: bool) -> list[Path]:
    cmd = ["cargo", "build", "--target", MUSL, "--manifest-path", str(WORKSPACE / "Cargo.toml"),
           "--message-format=json-render-diagnostics", *select]
    if profile == "release":
        cmd.append("--release")
    if quiet:
        cmd.append("--quiet")
    env = dict(os.environ, CARGO_TARGET_DIR=str(target_dir))
    if rustflags is not None:
        env["RUSTFLAGS"] = rustflags
    # cwd = the workspace: cargo reads tests/tokio's own config, not the kernel's.
    proc = subprocess.run(cmd, cwd=WORKSPACE, env=env, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"build-tokio: cargo build ({profile}, {' '.join(select)}) failed (exit {proc.returncode})")
    exes = executables(proc.stdout)
    if not exes:
        raise SystemExit(f"build-tokio: cargo build ({profile}, {' '.join(select)}) named no executables")
    return exes


def stage(exes: list[Path], dest: Path) -> int:
    """Copies exes into dest (only the changed ones); removes other files. Returns the
    number of files written."""
    dest.mkdir(parents=True, exist_ok=True)
    names = {e.name for e in exes}
    for old in dest.iterdir():
        if old.name not in names and (old.is_file() or old.is_symlink()):
            old.unlink()
    written = 0
    for exe in exes:
        target = dest / exe.name
        if target.is_file() and filecmp.cmp(exe, target, shallow=False):
            continue
        tmp = dest / f".{exe.name}.tmp"
        shutil.copyfile(exe, tmp)
        tmp.chmod(0o755)
        os.replace(tmp, target)
        written += 1
    return written


def build_profile(profile: str, quiet: bool) -> Path:
    target = cache_dir() / "target-tokio"
    stable = [a for p in UNSTABLE_PACKAGES for a in ("--exclude", p)]
    exes = cargo_build(profile, target, ["--workspace", *stable], None, quiet)
    flags = " ".join(filter(None, [os.environ.get("RUSTFLAGS", ""), "--cfg tokio_unstable"]))
    unstable = [a for p in UNSTABLE_PACKAGES for a in ("-p", p)]
    exes += cargo_build(profile, target / "unstable", unstable, flags, quiet)
    dest = cache_dir() / "stage" / "tokio" / profile
    written = stage(exes, dest)
    if not quiet:
        print(f"build-tokio: {len(exes)} {profile} programs in {dest} ({written} updated)", file=sys.stderr)
    return dest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Build and stage Axle's Tokio programs (tests/tokio).")
    p.add_argument("--profile", choices=("release", "debug", "both"), default="both")
    p.add_argument("-q", "--quiet", action="store_true")
    args = p.parse_args(argv)
    for profile in ("release", "debug") if args.profile == "both" else (args.profile,):
        build_profile(profile, args.quiet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
