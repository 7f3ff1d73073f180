#!/usr/bin/env bash
# tools/build-dora.sh: builds Dora's CLI (`dora`, one binary for CLI, coordinator and daemon)
# from crates.io as a static x86_64 musl binary, once per machine, and prints its path.
#
#   tools/build-dora.sh            build (or reuse) and print the binary's path on stdout
#   tools/build-dora.sh --path     only print where the binary is (or will be); build nothing
#
# Result: ~/.cache/axle/dora/<version>/bin/dora (symbols stripped when `strip` exists) (AXLE_CACHE_DIR overrides ~/.cache/axle;
# DORA_VERSION overrides the version, default 0.3.5). A binary that is already there and is
# a static executable is reused, so the second call takes milliseconds. The build is
# `cargo install dora-cli --version V --locked --target x86_64-unknown-linux-musl` (Dora's own
# Cargo.lock), with its intermediate files in ~/.cache/axle/dora/target-<version>
# (kept, so an interrupted build resumes). About 15-20 minutes on a 2-core machine.
#
# What the musl build needs besides Rust: `musl-gcc` (Debian package musl-tools), because
# `ring` (TLS, pulled in by Dora's coordinator/CLI) and libgit2/zlib compile C code for the
# target. The script installs it with apt-get as root, and adds the Rust target with rustup;
# anything it cannot do it says, with the command to run, and exits non-zero.
set -u

VERSION=${DORA_VERSION:-0.3.5}
TARGET=x86_64-unknown-linux-musl
CACHE=${AXLE_CACHE_DIR:-$HOME/.cache/axle}
ROOT=$CACHE/dora/$VERSION
BIN=$ROOT/bin/dora
LOG=$CACHE/dora/build-$VERSION.log

say() { echo "build-dora: $*" >&2; }
fail() { say "error: $*"; exit 1; }

if [ "${1:-}" = "--path" ]; then
  echo "$BIN"
  exit 0
fi
[ $# -eq 0 ] || fail "unknown argument '$1' (usage: tools/build-dora.sh [--path])"

# A cached binary is reused when it is a static executable (a half-written one is not:
# cargo install moves the finished binary into place at the very end).
is_static_exe() {
  [ -x "$1" ] && [ -s "$1" ] || return 1
  local info
  info=$(file -b "$1" 2>/dev/null) || return 0   # no `file`: trust the executable bit
  case "$info" in
    *ELF*64-bit*x86-64*static*) return 0 ;;
    *ELF*64-bit*x86-64*) say "$1 exists but is not statically linked ($info)"; return 1 ;;
    *) say "$1 exists but is not an x86-64 ELF executable ($info)"; return 1 ;;
  esac
}

# Symbols make up most of the binary and the image carries it on every boot: strip them
# (in place, atomically) when `strip` exists and the binary still has them.
strip_symbols() {
  command -v strip >/dev/null 2>&1 || return 0
  case "$(file -b "$1" 2>/dev/null)" in
    *"not stripped"*)
      strip -o "$1.stripped.$$" "$1" && mv -f "$1.stripped.$$" "$1" || { rm -f "$1.stripped.$$"; say "warning: strip $1 failed"; } ;;
  esac
}

if is_static_exe "$BIN"; then
  strip_symbols "$BIN"
  echo "$BIN"
  exit 0
fi

# One build at a time per machine: a second caller (e.g. two `make image`s) waits for the
# first and then reuses its binary.
mkdir -p "$CACHE/dora" || fail "cannot create $CACHE/dora"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$CACHE/dora/build-$VERSION.lock" || fail "cannot open the lock file"
  if ! flock -n 9; then
    say "another build of dora $VERSION is running; waiting for it"
    flock 9 || fail "cannot lock $CACHE/dora/build-$VERSION.lock"
  fi
  if is_static_exe "$BIN"; then
    strip_symbols "$BIN"
    echo "$BIN"
    exit 0
  fi
fi

[ -d "$HOME/.cargo/bin" ] && PATH="$HOME/.cargo/bin:$PATH"
command -v cargo >/dev/null 2>&1 || fail "cargo not found: install Rust with rustup (https://rustup.rs)"
command -v rustup >/dev/null 2>&1 || fail "rustup not found: install Rust with rustup (https://rustup.rs)"

# Debian packages: musl-gcc for the C parts (ring, libgit2, zlib), `file` for the check above.
need_pkgs=()
command -v musl-gcc >/dev/null 2>&1 || need_pkgs+=(musl-tools)
command -v file >/dev/null 2>&1 || need_pkgs+=(file)
command -v cc >/dev/null 2>&1 || need_pkgs+=(gcc)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian packages: ${need_pkgs[*]}"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null; } \
      || fail "apt-get could not install ${need_pkgs[*]}; run as root: apt-get update && apt-get install -y ${need_pkgs[*]}"
  else
    fail "missing Debian packages ${need_pkgs[*]}; run as root: apt-get update && apt-get install -y ${need_pkgs[*]}"
  fi
  command -v musl-gcc >/dev/null 2>&1 || fail "musl-gcc still not found after installing musl-tools"
fi

# The Rust target, for the toolchain cargo uses here (outside the repository: the default
# toolchain; RUSTUP_AUTO_INSTALL=0 machines have it installed already).
BUILD_DIR=$CACHE/dora
mkdir -p "$BUILD_DIR" || fail "cannot create $BUILD_DIR"
cd "$BUILD_DIR" || fail "cannot enter $BUILD_DIR"
if ! rustup target list --installed 2>/dev/null | grep -qx "$TARGET"; then
  say "adding the Rust target $TARGET"
  rustup target add "$TARGET" || fail "rustup could not add $TARGET; run: rustup target add $TARGET"
fi

say "building dora-cli $VERSION for $TARGET (15-20 minutes on 2 cores; log: $LOG)"
start=$(date +%s)
# CC for the target: the cc crate looks for musl-gcc itself, but saying it keeps the
# build independent of its guessing. -static is what musl-gcc does anyway.
if ! CC_x86_64_unknown_linux_musl=musl-gcc \
     CARGO_TARGET_DIR="$BUILD_DIR/target-$VERSION" \
     cargo install dora-cli --version "$VERSION" --locked --target "$TARGET" --root "$ROOT" \
       >"$LOG" 2>&1; then
  say "cargo install failed; the last lines of $LOG:"
  grep -E '^(error|warning: .*(failed|not found))|^  error occurred|Is `.*` installed' "$LOG" | tail -15 >&2
  tail -20 "$LOG" >&2
  fail "dora-cli $VERSION did not build (see $LOG)"
fi
is_static_exe "$BIN" || fail "cargo install finished but $BIN is not a static x86-64 executable"
strip_symbols "$BIN"
say "built $BIN in $(( $(date +%s) - start )) s"
echo "$BIN"
