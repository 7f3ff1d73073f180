#!/usr/bin/env bash
# tests/dataflows/build.sh: builds Axle's Dora dataflow nodes (static x86_64 musl, release,
# target dir ~/.cache/axle/target-dataflows) and stages each dataflow as the directory the
# image ships under /opt/dataflows/<name>/ (YAML files + node binaries), plus the driver
# script dora-flow.sh:
#
#   ~/.cache/axle/stage/dataflows/
#     dora-flow.sh
#     rust-dataflow/{dataflow.yml,dataflow-large.yml,dataflow-shmem.yml,dataflow-endless.yml,
#                    rust-dataflow-node,rust-dataflow-status-node,rust-dataflow-sink}
#     rs-latency/{dataflow.yml,rs-latency-node,rs-latency-sink,latency-report}
#
# latency-report is the report tool (tools/report, its own cargo project, built the same
# way into the same target dir), shipped with rs-latency so the guest makes its report too.
#
#   tests/dataflows/build.sh           build + stage; prints the stage directory
#   tests/dataflows/build.sh --test    also run the host unit tests of the shared crate
#
# AXLE_CACHE_DIR overrides ~/.cache/axle. Idempotent: cargo rebuilds only what changed, and
# files are copied only when they differ. Exit status non-zero with the reason on failure.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${AXLE_CACHE_DIR:-$HOME/.cache/axle}
TARGET=x86_64-unknown-linux-musl
TARGET_DIR=$CACHE/target-dataflows
STAGE=$CACHE/stage/dataflows
say() { echo "build-dataflows: $*" >&2; }
fail() { say "error: $*"; exit 1; }

[ -d "$HOME/.cargo/bin" ] && PATH="$HOME/.cargo/bin:$PATH"
command -v cargo >/dev/null 2>&1 || fail "cargo not found: install Rust with rustup (https://rustup.rs)"
if command -v rustup >/dev/null 2>&1 && ! (cd "$HERE" && rustup target list --installed 2>/dev/null | grep -qx "$TARGET"); then
  say "adding the Rust target $TARGET"
  (cd "$HERE" && rustup target add "$TARGET") || fail "run: rustup target add $TARGET"
fi

if [ "${1:-}" = "--test" ]; then
  CARGO_TARGET_DIR=$TARGET_DIR cargo test --locked --manifest-path "$HERE/Cargo.toml" -p flowcheck >&2 \
    || fail "unit tests of flowcheck failed"
  CARGO_TARGET_DIR=$TARGET_DIR cargo test --locked --manifest-path "$HERE/../../tools/report/Cargo.toml" >&2 \
    || fail "unit tests of tools/report failed"
fi

CARGO_TARGET_DIR=$TARGET_DIR cargo build --release --locked --target "$TARGET" \
  --manifest-path "$HERE/Cargo.toml" >&2 || fail "cargo build of tests/dataflows failed"
REPORT=$HERE/../../tools/report/Cargo.toml
CARGO_TARGET_DIR=$TARGET_DIR cargo build --release --locked --target "$TARGET" \
  --manifest-path "$REPORT" >&2 || fail "cargo build of tools/report failed"
BIN=$TARGET_DIR/$TARGET/release

# copy SRC DEST: only when the content differs (keeps mtimes, so the image stays cached).
put() {
  if ! cmp -s "$1" "$2"; then
    cp -p "$1" "$2.tmp.$$" && mv -f "$2.tmp.$$" "$2" || fail "cannot copy $1 to $2"
  fi
}
# put_bin SRC DEST: a copy without symbols (smaller initramfs), when `strip` exists.
put_bin() {
  if command -v strip >/dev/null 2>&1; then
    strip -o "$STAGE/.strip.$$" "$1" || fail "strip $1 failed"
    put "$STAGE/.strip.$$" "$2"
    rm -f "$STAGE/.strip.$$"
  else
    put "$1" "$2"
  fi
}
mkdir -p "$STAGE/rust-dataflow" "$STAGE/rs-latency" || fail "cannot create $STAGE"
put "$HERE/dora-flow.sh" "$STAGE/dora-flow.sh"
for f in dataflow.yml dataflow-large.yml dataflow-shmem.yml dataflow-endless.yml; do
  put "$HERE/rust-dataflow/$f" "$STAGE/rust-dataflow/$f"
done
for b in rust-dataflow-node rust-dataflow-status-node rust-dataflow-sink; do
  put_bin "$BIN/$b" "$STAGE/rust-dataflow/$b"
done
put "$HERE/rs-latency/dataflow.yml" "$STAGE/rs-latency/dataflow.yml"
for b in rs-latency-node rs-latency-sink latency-report; do
  put_bin "$BIN/$b" "$STAGE/rs-latency/$b"
done
echo "$STAGE"
