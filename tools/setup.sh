#!/usr/bin/env bash
# Installs what building, running and testing Axle needs; quick and silent-ish when
# everything is already there (it only looks). Run as root on Debian to install missing
# packages; otherwise it prints what to install and exits non-zero.
#
#   tools/setup.sh            check and install
#   tools/setup.sh --check    only check (exit 1 if something is missing)
#
# To need another Debian package, add one line to DEB_REQUIREMENTS below.
set -u

cd "$(dirname "$0")/.." || exit 1
[ -d "$HOME/.cargo/bin" ] && PATH="$HOME/.cargo/bin:$PATH"

# "<what must exist> <Debian package that provides it>": a command name, or an absolute
# path (globs allowed).
DEB_REQUIREMENTS=(
  "qemu-system-x86_64 qemu-system-x86"
  "/usr/share/qemu/qboot.rom qemu-system-data"   # the fast PVH firmware (optional: QEMU's default BIOS works too)
  "python3 python3"
  "make make"
  "cc gcc"                                       # linker driver for the static musl test programs
  "/usr/lib/x86_64-linux-gnu/libc.a libc6-dev"   # static libc for the Linux reference VM's init helper
  "/bin/busybox busybox-static"                  # the guest's shell and tools
  "/boot/vmlinuz-* linux-image-amd64"            # the Linux reference VM's kernel (tools/linuxvm, docs/linux-vm.md)
)

# Rust targets of the toolchain named in rust-toolchain.toml.
RUST_TARGETS=(x86_64-unknown-none x86_64-unknown-linux-musl)

CHECK_ONLY=0
[ "${1:-}" = "--check" ] && CHECK_ONLY=1

say() { echo "setup: $*" >&2; }
failed=0

have() {
  case "$1" in
    /*) compgen -G "$1" >/dev/null ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
  esac
}

# --- Debian packages --------------------------------------------------------------
missing_pkgs=()
for req in "${DEB_REQUIREMENTS[@]}"; do
  set -- $req
  have "$1" || missing_pkgs+=("$2")
done

if [ ${#missing_pkgs[@]} -gt 0 ]; then
  if [ $CHECK_ONLY = 1 ]; then
    say "missing Debian packages: ${missing_pkgs[*]}"
    failed=1
  elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing ${missing_pkgs[*]}"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing_pkgs[@]}" >/dev/null; }; then
      say "apt-get could not install: ${missing_pkgs[*]}"
      say "install them by hand: apt-get install -y ${missing_pkgs[*]}"
      failed=1
    fi
  else
    say "missing Debian packages: ${missing_pkgs[*]}"
    say "install them as root: apt-get update && apt-get install -y ${missing_pkgs[*]}"
    failed=1
  fi
fi

# --- Python -----------------------------------------------------------------------
if have python3 && ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  say "python3 is $(python3 -V 2>&1); the tools need Python 3.11 or newer (Debian 12's python3)"
  failed=1
fi

# --- Rust -------------------------------------------------------------------------
channel=$(sed -n 's/^channel *= *"\(.*\)".*/\1/p' rust-toolchain.toml 2>/dev/null)
channel=${channel:-stable}
if ! command -v rustup >/dev/null 2>&1; then
  say "rustup not found: install Rust with rustup (https://rustup.rs), then rerun tools/setup.sh"
  failed=1
else
  if ! rustup toolchain list 2>/dev/null | grep -q "^$channel[-( ]"; then
    if [ $CHECK_ONLY = 1 ]; then
      say "missing Rust toolchain $channel"
      failed=1
    else
      say "installing the Rust toolchain $channel"
      rustup toolchain install "$channel" --profile minimal || { say "run: rustup toolchain install $channel"; failed=1; }
    fi
  fi
  installed=$(rustup +"$channel" target list --installed 2>/dev/null)
  for t in "${RUST_TARGETS[@]}"; do
    if ! grep -qx "$t" <<<"$installed"; then
      if [ $CHECK_ONLY = 1 ]; then
        say "missing Rust target $t"
        failed=1
      else
        say "adding the Rust target $t"
        rustup target add --toolchain "$channel" "$t" || { say "run: rustup target add $t"; failed=1; }
      fi
    fi
  done
fi

if [ $failed != 0 ]; then
  say "not ready (see above)"
  exit 1
fi
exit 0
