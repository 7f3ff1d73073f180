#!/usr/bin/env bash
# tools/run-upstream-example.sh: builds Dora's own rust-dataflow example from a checkout of
# Dora's repository (tag v0.3.5, the version in Axle's image) as static musl programs and
# runs it in Axle (and with --linux also in the Linux reference VM) through the user's flow:
# `dora up`, `dora start dataflow.yml --attach`, `dora list`, `dora destroy`.
#
#   git clone --branch v0.3.5 https://github.com/dora-rs/dora ~/dora   # once, by the user
#   tools/run-upstream-example.sh ~/dora [--linux] [--smp N] [--accel A]
#
# The example's dataflow.yml is used with its `build:` lines dropped and its paths pointed
# at the programs built here (under /add in the guest). Exit status: Axle's run (0 when
# every node finished successfully and `dora start --attach` exited 0). Nothing is built
# inside this repository: the target dir is ~/.cache/axle/target-dora-upstream.
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
DORA_SRC=${1:-}
[ -n "$DORA_SRC" ] && [ -f "$DORA_SRC/examples/rust-dataflow/dataflow.yml" ] || {
  echo "usage: $0 DORA_CHECKOUT [--linux] [--smp N] [--accel auto|kvm|tcg]" >&2
  echo "  DORA_CHECKOUT: a clone of https://github.com/dora-rs/dora at tag v0.3.5" >&2
  exit 2
}
shift
LINUX=0; SMP=2; ACCEL=auto
while [ $# -gt 0 ]; do
  case "$1" in
    --linux) LINUX=1; shift ;;
    --smp) SMP=$2; shift 2 ;;
    --accel) ACCEL=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
say() { echo "upstream-example: $*" >&2; }
TARGET_DIR=$HOME/.cache/axle/target-dora-upstream
BIN=$TARGET_DIR/x86_64-unknown-linux-musl/release
PKGS="rust-dataflow-example-node rust-dataflow-example-status-node rust-dataflow-example-sink dora-record"
say "building $PKGS from $DORA_SRC (static musl, release)"
( cd "$DORA_SRC" && RUSTUP_TOOLCHAIN=${RUSTUP_TOOLCHAIN:-stable} CARGO_TARGET_DIR=$TARGET_DIR \
    cargo build --locked --release --target x86_64-unknown-linux-musl $(for p in $PKGS; do echo -p "$p"; done) ) \
  || { say "cargo build failed"; exit 1; }
ADD=$(mktemp -d "${TMPDIR:-/tmp}/dora-upstream.XXXXXX")
trap 'rm -rf "$ADD"' EXIT
for p in $PKGS; do cp "$BIN/$p" "$ADD/"; done
sed -e '/^ *build: /d' -e 's#\.\./\.\./target/debug/#/add/#' "$DORA_SRC/examples/rust-dataflow/dataflow.yml" >"$ADD/dataflow.yml"
cat >"$ADD/run.sh" <<'EOF'
#!/bin/sh
# Runs the example with the Dora CLI given as $1 (Axle: /bin/dora).
D=$1
mkdir -p /tmp/upstream && cd /tmp/upstream && cp /add/dataflow.yml . || exit 1
"$D" up >up.log 2>&1 || { echo "dora up failed"; cat up.log; exit 1; }
"$D" start dataflow.yml --attach; rc=$?
echo "dora start --attach: exit status $rc"
"$D" list
"$D" destroy
for f in out/*/log_*.txt; do echo "== $f"; tail -n 2 "$f"; done
ls -l out/*/
exit $rc
EOF
chmod +x "$ADD/run.sh"
say "Axle (SMP $SMP, accel $ACCEL)"
"$REPO/tools/run-qemu" --smp "$SMP" --mem 2G --accel "$ACCEL" --timeout 900 --add "$ADD" -- /bin/sh /add/run.sh /bin/dora
rc=$?
say "Axle: exit status $rc"
if [ $LINUX = 1 ]; then
  DORA=$("$REPO/tools/build-dora.sh") || { say "tools/build-dora.sh failed"; exit 1; }
  cp "$DORA" "$ADD/dora"
  say "Linux VM (SMP $SMP, accel $ACCEL)"
  "$REPO/tools/linuxvm/run-linux" --smp "$SMP" --mem 2G --accel "$ACCEL" --timeout 900 --add "$ADD" -- \
    /bin/sh /add/run.sh /add/dora
  say "Linux VM: exit status $?"
fi
exit $rc
