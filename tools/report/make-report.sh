#!/usr/bin/env bash
# tools/report/make-report.sh: `make report`. Runs the rs-latency dataflow (Dora 0.3.5,
# tests/dataflows/rs-latency) in Axle under QEMU, on the host Linux and in the Linux
# reference VM (Debian's kernel in the same QEMU machine), and makes the jitter report of
# the three side by side with latency-report (tools/report), verified against the raw
# samples.
#
#   tools/report/make-report.sh [--smp N] [--accel auto|kvm|tcg] [--mem SIZE]
#                               [--systems "axle host linuxvm"] [--rt] [--host-rt PRIO] [--out DIR]
#                               [--timeout SECS]
#
# Output (default DIR: build/report/<UTC date>-smp<N>-<accel>/; build/report/latest links
# to the newest):
#   latency.md, latency.csv, latency.svg   the report (Markdown table, numbers, plot)
#   raw/<system>.csv                       every sample, labelled with its configuration
#   raw/<system>-console.log               the whole console/output of each run
#   raw/<system>-result.json               the runner's result (QEMU runs)
#
# Systems may carry variants joined with `+` (issue 7's comparison; `--rt` runs
#   "axle+profile axle+profile+load axle+load linuxvm+rt linuxvm+rt+load"):
#   +profile  Axle booted with the dataflow profile `default` (configs/profiles/)
#   +load     axle-load (tests/rt-tools) on every CPU during the dataflow: one CPU hog and
#             one syscall worker pinned to each CPU
#   +rt       Linux: the daemon's main thread SCHED_FIFO 50 (what Dora's own `--rt` does in
#             later versions; Dora 0.3.5 has no such option), set with axle-chrt
#
# --host-rt PRIO runs QEMU's main-loop thread at host SCHED_FIFO PRIO and preallocates the
# guest's memory, for both kernels (tools/axletools/hostrt.py says why: on a host with no
# spare core the host's scheduler otherwise delays every guest timer by up to a slice, and
# first touches of guest memory stop the vCPUs); --rt turns it on (PRIO 1) unless
# `--host-rt 0` is given. The host Linux run is not affected.
#
# With --rt each Axle run also boots with `wakelat` and its console log ends with
# /proc/axle/wakelat (docs/scheduling.md: how late timer interrupts came, how long woken
# real-time threads waited and behind what).
#
# Each run's raw CSV is labelled (`# key: value` lines) with system, kernel, smp, accel,
# mem, profile and date. A system whose run fails is left out of the report (and said);
# the exit status is then 1. Needs `make kernel image` first (make report does that).
set -u

REPO=$(cd "$(dirname "$0")/../.." && pwd)
cd "$REPO" || exit 1
SMP=2
ACCEL=auto
MEM=
SYSTEMS="axle host linuxvm"
OUT=
TIMEOUT=3600
RT=0
HOST_RT=
while [ $# -gt 0 ]; do
  case "$1" in
    --smp) SMP=$2; shift 2 ;;
    --accel) ACCEL=$2; shift 2 ;;
    --mem) MEM=$2; shift 2 ;;
    --systems) SYSTEMS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --host-rt) HOST_RT=$2; shift 2 ;;
    --rt) SYSTEMS="axle+profile axle+profile+load axle+load linuxvm+rt linuxvm+rt+load"; RT=1; shift ;;
    *) echo "usage: $0 [--smp N] [--accel A] [--mem SIZE] [--systems LIST] [--rt] [--host-rt PRIO] [--out DIR] [--timeout SECS]" >&2; exit 2 ;;
  esac
done

say() { echo "report: $*" >&2; }
[ -n "$HOST_RT" ] || { [ $RT = 1 ] && HOST_RT=1 || HOST_RT=0; }
case "$HOST_RT" in ''|*[!0-9]*) say "error: --host-rt takes a priority 0-99 (0: off)"; exit 2 ;; esac
# --rt: Axle's real-time wake-up tracer is on, and its per-CPU histograms
# (/proc/axle/wakelat) end each Axle console log: where real-time threads waited.
WAKELAT_ARGS=; WAKELAT_DUMP=
if [ $RT = 1 ]; then WAKELAT_ARGS="--append wakelat"; WAKELAT_DUMP="cat /proc/axle/wakelat;"; fi
HOST_RT_ARGS=; HOST_SIDE="none (QEMU's threads SCHED_OTHER, guest memory allocated on first touch)"
if [ "$HOST_RT" != 0 ]; then
  HOST_RT_ARGS="--host-rt $HOST_RT"; HOST_SIDE="QEMU main loop SCHED_FIFO $HOST_RT on the host (vCPU threads SCHED_OTHER), guest memory preallocated"
fi
# Dora 0.3.5 takes a fresh /dev/shm region for every large message until the sink hands
# it back, so a dataflow that lags (under load) holds gigabytes: --rt runs get 8G.
[ -n "$MEM" ] || { [ $RT = 1 ] && MEM=8G || MEM=4G; }
STAGE=$(tests/dataflows/build.sh) || { say "error: tests/dataflows/build.sh failed"; exit 1; }
DORA=$(tools/build-dora.sh) || { say "error: tools/build-dora.sh failed"; exit 1; }
REPORT_TOOL=$STAGE/rs-latency/latency-report
DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
STAMP=$(date -u +%Y%m%d-%H%M%S)
OUT=${OUT:-build/report/$STAMP-smp$SMP-$ACCEL$([ $RT = 1 ] && echo -rt)}
mkdir -p "$OUT/raw" || { say "error: cannot create $OUT"; exit 1; }
REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || REV="$REV+dirty"
# The real-time tools (axle-load, axle-chrt) for the Linux VM's /add and the host.
RT_TOOLS=$HOME/.cache/axle/target-rt-tools/x86_64-unknown-linux-musl/release
if echo " $SYSTEMS " | grep -q '+load\|+rt'; then
  CARGO_TARGET_DIR=$HOME/.cache/axle/target-rt-tools cargo build --release --target x86_64-unknown-linux-musl \
    --manifest-path tests/rt-tools/Cargo.toml --bin axle-load --bin axle-chrt >&2 \
    || { say "error: building tests/rt-tools failed"; exit 1; }
fi
LAST_CPU=$((SMP - 1))

# extract CONSOLE CSV: the raw CSV printed between the driver's markers (CRLF removed).
extract() {
  tr -d '\r' <"$1" | sed -n '/^----- BEGIN latency-raw.csv -----$/,/^----- END latency-raw.csv -----$/p' \
    | sed '1d;$d' >"$2"
  [ -s "$2" ] && grep -q '^size_index,' "$2"
}

# label CSV KEY=VALUE...: prepends `# key: value` lines.
label() {
  local f=$1; shift
  { for kv in "$@"; do echo "# ${kv%%=*}: ${kv#*=}"; done; cat "$f"; } >"$f.tmp" && mv "$f.tmp" "$f"
}

accel_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("accel") or "?")' "$1" 2>/dev/null || echo "?"; }

RUNS=()
FAILED=0
for sys in $SYSTEMS; do
  key=$(echo "$sys" | tr '+' '-')
  console=$OUT/raw/$key-console.log
  csv=$OUT/raw/$key.csv
  base=${sys%%+*}
  variants=" $(echo "${sys#"$base"}" | tr '+' ' ') "
  envs=; suffix=; profile_args=; profile="none (default scheduling)"
  for v in $variants; do
    case "$v" in
      profile)
        [ "$base" = axle ] || { say "$sys: +profile is for axle only"; FAILED=1; continue 2; }
        profile_args="--profile default"; profile="default (configs/profiles/default.toml)"
        suffix="$suffix + profile" ;;
      load)
        envs="$envs LAT_LOAD='axle-load -c $SMP -s $SMP -a 0-$LAST_CPU -D 7200s -q'"
        suffix="$suffix + load" ;;
      rt)
        [ "$base" = axle ] && { say "$sys: +rt is for Linux (Axle uses +profile)"; FAILED=1; continue 2; }
        envs="$envs LAT_DAEMON_RT=50"; profile="none; daemon main thread SCHED_FIFO 50 (Dora --rt)"
        suffix="$suffix + daemon FIFO 50" ;;
      *) say "unknown variant '+$v' in '$sys' (profile, load, rt)"; FAILED=1; continue 2 ;;
    esac
  done
  case "$base" in
    axle)
      say "Axle in QEMU (SMP $SMP, accel $ACCEL, mem $MEM${suffix}): rs-latency, up to $TIMEOUT s"
      tools/run-qemu --smp "$SMP" --mem "$MEM" --accel "$ACCEL" --timeout "$TIMEOUT" $profile_args $HOST_RT_ARGS \
        --result "$OUT/raw/$key-result.json" $WAKELAT_ARGS -- \
        /bin/sh -c "$envs /bin/sh /opt/dataflows/dora-flow.sh latency; st=\$?; $WAKELAT_DUMP exit \$st" \
        >"$console" 2>&1
      rc=$?
      kernel="Axle $REV"; accel=$(accel_of "$OUT/raw/$key-result.json"); smp=$SMP; name="Axle$suffix" ;;
    host)
      say "host Linux${suffix}: rs-latency"
      PATH=$RT_TOOLS:$PATH sh -c "$envs exec sh '$STAGE/dora-flow.sh' --dora '$DORA' --dataflows '$STAGE' latency" \
        >"$console" 2>&1
      rc=$?
      kernel="Linux $(uname -r)"; accel="none (native)"; smp="$(nproc) (host CPUs)"; name="Linux host$suffix" ;;
    linuxvm)
      say "Linux reference VM (SMP $SMP, accel $ACCEL, mem $MEM${suffix}): rs-latency, up to $TIMEOUT s"
      add=$(mktemp -d "${TMPDIR:-/tmp}/axle-report.XXXXXX")
      cp -rL "$STAGE"/. "$add"/ && cp "$DORA" "$add/dora"
      for t in axle-load axle-chrt; do [ -x "$RT_TOOLS/$t" ] && cp "$RT_TOOLS/$t" "$add/"; done
      tools/linuxvm/run-linux --smp "$SMP" --mem "$MEM" --accel "$ACCEL" --timeout "$TIMEOUT" --add "$add" $HOST_RT_ARGS \
        --result "$OUT/raw/$key-result.json" -- \
        /bin/sh -c "$envs exec /bin/sh /add/dora-flow.sh --dora /add/dora --dataflows /add latency" \
        >"$console" 2>&1
      rc=$?
      rm -rf "$add"
      kernel="Linux $(basename "$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)" | sed 's/^vmlinuz-//') (Debian, in QEMU)"
      accel=$(accel_of "$OUT/raw/$key-result.json"); smp=$SMP; name="Linux VM$suffix" ;;
    *) say "unknown system '$sys' (axle, host, linuxvm, with +profile, +load, +rt)"; FAILED=1; continue ;;
  esac
  if extract "$console" "$csv"; then
    label "$csv" "kernel=$kernel" "smp=$smp" "accel=$accel" "mem=$([ "$sys" = host ] && echo host || echo "$MEM")" \
      "profile=$profile" "load=$(case "$variants" in *" load "*) echo "axle-load: $SMP CPU hogs + $SMP syscall workers, pinned to CPUs 0-$LAST_CPU" ;; *) echo none ;; esac)" \
      "qemu-host=$([ "$base" = host ] && echo "n/a (native)" || echo "$HOST_SIDE")" \
      "build=release" "dora=0.3.5" "date=$DATE"
    RUNS+=(--run "$name=$csv")
    [ "$rc" = 0 ] || say "$sys: the run ended with status $rc (its samples are in the report; see $console)"
    [ "$rc" = 0 ] || FAILED=1
  else
    say "$sys: FAILED (status $rc, no raw CSV); see $console"
    grep -E '^(FAIL|ok) dora-flow::|^dora-flow: [0-9]+ passed' "$console" | sed 's/^/    /' >&2
    FAILED=1
  fi
done

if [ ${#RUNS[@]} = 0 ]; then
  say "no run produced samples: no report"
  exit 1
fi
"$REPORT_TOOL" "${RUNS[@]}" --out "$OUT" --verify \
  --title "rs-latency (Dora 0.3.5), SMP $SMP, $DATE" >"$OUT/raw/report.log" 2>&1
rc=$?
cat "$OUT/raw/report.log" >&2
[ $rc = 0 ] || { say "latency-report failed"; exit 1; }
ln -sfn "$(basename "$OUT")" "$(dirname "$OUT")/latest" 2>/dev/null
say "report: $OUT/latency.md (also latency.csv, latency.svg, raw/)"
exit $FAILED
