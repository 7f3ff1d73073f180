#!/usr/bin/env bash
# tools/run-upstream-tokio-examples.sh: builds Tokio's own examples (`examples/` of Tokio's
# repository) as static musl programs and runs them in Axle and, with --linux, in the Linux
# reference VM, with the same checks, so their behaviour can be compared (issue 5).
#
#   git clone https://github.com/tokio-rs/tokio ~/tokio       # once, by the user
#   tools/run-upstream-tokio-examples.sh ~/tokio [--linux] [--smp N] [--accel A]
#
# Each check prints `ok tokio-upstream::NAME` or `FAIL tokio-upstream::NAME: why`, and the
# last line `tokio-upstream: N passed, M failed` (exit status 0 iff M = 0 on Axle). The
# examples that need a person (chat's typing, graceful-shutdown's ^C) or tokio_unstable
# (dump) are not run; Axle's own Tokio suite (tests/tokio) covers those scenarios. Nothing
# is built inside this repository: the target dir is ~/.cache/axle/target-tokio-upstream.
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
SRC=${1:-}
[ -n "$SRC" ] && [ -f "$SRC/examples/Cargo.toml" ] || {
  echo "usage: $0 TOKIO_CHECKOUT [--linux] [--smp N] [--accel auto|kvm|tcg]" >&2
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
say() { echo "tokio-upstream: $*" >&2; }
TARGET_DIR=$HOME/.cache/axle/target-tokio-upstream
EX=$TARGET_DIR/x86_64-unknown-linux-musl/release/examples
NAMES="hello_world echo-tcp connect-tcp echo-udp connect-udp udp-client udp-codec tinydb tinyhttp print_each_packet
       proxy custom-executor custom-executor-tokio-context prewarm-fd-table"
say "building Tokio's examples from $SRC (static musl, release)"
( cd "$SRC" && CARGO_TARGET_DIR=$TARGET_DIR cargo build --release --target x86_64-unknown-linux-musl -p examples \
    $(for n in $NAMES; do echo --example "$n"; done) ) || { say "cargo build failed"; exit 1; }
ADD=$(mktemp -d "${TMPDIR:-/tmp}/tokio-upstream.XXXXXX")
trap 'rm -rf "$ADD"' EXIT
for n in $NAMES; do cp "$EX/$n" "$ADD/" || exit 1; done
cat >"$ADD/run.sh" <<'EOF'
#!/bin/sh
# The checks, the same in Axle and in the Linux VM (busybox sh, nc, wget, timeout).
cd /add || exit 1
P=0; F=0
ok() { echo "ok tokio-upstream::$1"; P=$((P + 1)); }
fail() { echo "FAIL tokio-upstream::$1: $2"; F=$((F + 1)); }
# expect NAME FILE PATTERN: FILE contains PATTERN.
expect() { if grep -q "$3" "$2"; then ok "$1"; else fail "$1" "no '$3' in: $(head -c 300 "$2" | tr '\n' '|')"; fi; }
# server NAME CMD...: starts a server in the background, waits until it listens.
server() { shift; "$@" >/tmp/srv.out 2>&1 & SRV=$!; sleep 1; }
stop() { kill "$SRV" 2>/dev/null; wait "$SRV" 2>/dev/null; }
# client: lines to stdin, then keep stdin open 2 s so the answers arrive before EOF.
client() { lines=$1; shift; ( printf "$lines"; sleep 2 ) | timeout 10 "$@" >/tmp/cli.out 2>&1; }

nc -l -p 6142 >/tmp/nc.out 2>&1 & NC=$!; sleep 1
timeout 10 ./hello_world >/tmp/hw.out 2>&1; rc=$?
sleep 1; kill $NC 2>/dev/null; wait $NC 2>/dev/null
[ $rc = 0 ] || fail hello_world "exit status $rc"; expect hello_world /tmp/nc.out "hello world"

server echo ./echo-tcp
client 'hello tokio\n' ./connect-tcp 127.0.0.1:8080; expect echo-tcp+connect-tcp /tmp/cli.out "hello tokio"
stop

server echo-udp ./echo-udp
client 'udp line\n' ./connect-udp 127.0.0.1:8080; expect echo-udp+connect-udp /tmp/cli.out "udp line"
client 'from udp-client\n' ./udp-client 127.0.0.1:8080; expect echo-udp+udp-client /tmp/cli.out "from udp-client"
stop

timeout 20 ./udp-codec >/tmp/codec.out 2>&1; rc=$?
[ $rc = 0 ] && ok udp-codec-exit || fail udp-codec-exit "exit status $rc"; expect udp-codec /tmp/codec.out "PING"

server tinydb ./tinydb
client 'SET car fast\nGET car\nGET nothing\n' ./connect-tcp 127.0.0.1:8080
expect tinydb-set /tmp/cli.out "set car = .fast."; expect tinydb-get /tmp/cli.out "car = fast"
expect tinydb-missing /tmp/cli.out "error: no key nothing"
stop

server tinyhttp ./tinyhttp
timeout 10 wget -q -O /tmp/http.out http://127.0.0.1:8080/plaintext; expect tinyhttp-plaintext /tmp/http.out "Hello, World!"
timeout 10 wget -q -O /tmp/http.out http://127.0.0.1:8080/json; expect tinyhttp-json /tmp/http.out '"message":"Hello, World!"'
stop

server print_each_packet ./print_each_packet
client 'one packet\n' ./connect-tcp 127.0.0.1:8080; sleep 1; expect print_each_packet /tmp/srv.out "one packet"
stop

./echo-tcp >/tmp/echo.out 2>&1 & ECHO=$!; sleep 1
server proxy ./proxy 127.0.0.1:8081 127.0.0.1:8080
client 'through the proxy\n' ./connect-tcp 127.0.0.1:8081; expect proxy+echo /tmp/cli.out "through the proxy"
stop; kill $ECHO; wait $ECHO 2>/dev/null

for n in custom-executor custom-executor-tokio-context prewarm-fd-table; do
  timeout 30 ./$n >/tmp/$n.out 2>&1; rc=$?
  if [ $rc = 0 ]; then ok "$n"; else fail "$n" "exit status $rc: $(head -c 300 /tmp/$n.out | tr '\n' '|')"; fi
done
echo "tokio-upstream: $P passed, $F failed"
[ $F = 0 ]
EOF
chmod +x "$ADD/run.sh"
say "Axle (SMP $SMP, accel $ACCEL)"
"$REPO/tools/run-qemu" --smp "$SMP" --mem 2G --accel "$ACCEL" --timeout 600 --add "$ADD" -- /bin/sh /add/run.sh
rc=$?
if [ $LINUX = 1 ]; then
  say "Linux VM (SMP $SMP, accel $ACCEL)"
  "$REPO/tools/linuxvm/run-linux" --smp "$SMP" --mem 2G --accel "$ACCEL" --timeout 600 --add "$ADD" -- /bin/sh /add/run.sh
  say "Linux VM: exit status $?"
fi
say "Axle: exit status $rc"
exit $rc
