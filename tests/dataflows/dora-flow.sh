#!/bin/sh
# dora-flow.sh: runs the Dora user flows on Axle's dataflows and checks them, the same way in
# Axle (busybox sh; /opt/dataflows/dora-flow.sh, Dora at /bin/dora), in the Linux reference
# VM and on the host Linux (dash/bash; the reference), printing a check suite:
#
#   ok dora-flow::<check>            FAIL dora-flow::<check>: <reason>
#   note dora-flow::<what>: <text>   (reported, never a verdict: the Shmem mode)
#   dora-flow: N passed, M failed    (last line; exit status 0 iff M = 0)
#
# Usage: dora-flow.sh [--dora PATH] [--dataflows DIR] [--work DIR] [--keep] STEP...
#
# Steps (each in a fresh directory under the work dir, with a copy of the dataflow):
#   attach [YML]  rust-dataflow via the user's flow: `dora up` (the CLI returns; coordinator
#                 and daemon stay in the background), `dora list` (empty), `dora start YML
#                 --attach` (exit 0: every node finished successfully), the per-node logs
#                 under out/<uuid>/ (the sink's verdict), `dora list` (Succeeded),
#                 `dora destroy` (coordinator and daemon exit; no zombie left where pid 1
#                 reaps orphans). YML: dataflow.yml (default) or dataflow-large.yml.
#   stop          `dora start dataflow-endless.yml --detach`, `dora list` (Running),
#                 `dora stop --name`, `dora list` (Succeeded), then destroy.
#   sigint        `dora start dataflow-endless.yml --attach` stopped by SIGINT (Ctrl-C):
#                 the CLI stops the dataflow and exits 0.
#   daemon [YML]  the hidden `dora daemon --run-dataflow YML` (no coordinator): exit 0 and
#                 the sink's verdict in out/.
#   shmem         `dora daemon --run-dataflow dataflow-shmem.yml` under `ulimit -f` and a
#                 time limit: reported as a note, never a check (Dora 0.3.5's Shmem mode
#                 is buggy on Linux too).
#   profiled      (Axle with `PROFILE=default` only) rust-dataflow-endless under the dataflow
#                 profile: every thread of each node runs SCHED_FIFO at its rule's priority on
#                 a real-time CPU (not CPU 0) and says so in /proc (profile_rule), the daemon's
#                 threads SCHED_FIFO 40 on CPU 0, the coordinator's SCHED_OTHER on CPU 0.
#   latency       rs-latency via dora up / start --attach / destroy; checks the sink's
#                 verdict and prints the raw CSV between `----- BEGIN latency-raw.csv -----`
#                 and `----- END latency-raw.csv -----` (with `# key: value` lines saying the
#                 machine), so a host can take it from a console; with the report tool
#                 (latency-report on PATH or next to the dataflow) also the report, verified
#                 against the raw samples. Options from the environment (issue 7's
#                 comparisons; tools/report/make-report.sh --rt): LAT_LOAD="CMD ARGS"
#                 runs CMD in the background from before `dora start` until the dataflow
#                 ends (e.g. axle-load hogs on every CPU); LAT_DAEMON_RT=PRIO makes the
#                 daemon's main thread SCHED_FIFO PRIO after `dora up` with axle-chrt (what
#                 Dora's own `--rt` does in later versions: main thread only, FIFO 50).
#                 Both are recorded in the raw CSV's `# key: value` lines.
#
# Defaults: Dora is $DORA, else `dora` next to this script, else `dora` on PATH; the
# dataflows are the directory of this script if it holds rust-dataflow/, else
# /opt/dataflows; the work dir is a new directory under ${TMPDIR:-/tmp}, removed at the
# end unless a check failed or --keep is given. Time limits (seconds): DORA_FLOW_TIMEOUT
# (one dora command; default 600) and DORA_FLOW_SHMEM_TIMEOUT (default 120).
# Dora's fixed ports: 6012 (CLI), 53290 (daemons), 53291 (daemon, local) on localhost.
set -u

SUITE=dora-flow
PASSED=0
FAILED=0
HERE=$(cd "$(dirname "$0")" && pwd)
T=${DORA_FLOW_TIMEOUT:-600}
T_SHMEM=${DORA_FLOW_SHMEM_TIMEOUT:-120}
KEEP=0
WORK=
DORA=${DORA:-}
DATAFLOWS=

ok() { echo "ok $SUITE::$1"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL $SUITE::$1: $2"; FAILED=$((FAILED + 1)); }
note() { echo "note $SUITE::$1: $2"; }
say() { echo "dora-flow: $*"; }
# show FILE [N]: the last N lines of a file, indented, to explain a failure.
show() {
  [ -f "$1" ] || { echo "    | ($1 does not exist)"; return; }
  tail -n "${2:-25}" "$1" | sed 's/^/    | /'
}

while [ $# -gt 0 ]; do
  case "$1" in
    --dora) DORA=$2; shift 2 ;;
    --dataflows) DATAFLOWS=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --) shift; break ;;
    -*) echo "dora-flow.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || { echo "usage: dora-flow.sh [--dora PATH] [--dataflows DIR] [--work DIR] [--keep] STEP..." >&2; exit 2; }

if [ -z "$DORA" ]; then
  if [ -x "$HERE/dora" ]; then DORA=$HERE/dora; else DORA=$(command -v dora || echo dora); fi
fi
if [ -z "$DATAFLOWS" ]; then
  if [ -r "$HERE/rust-dataflow/dataflow.yml" ]; then DATAFLOWS=$HERE; else DATAFLOWS=/opt/dataflows; fi
fi
case "$DORA" in /*) ;; *) DORA=$(command -v "$DORA" || echo "$DORA") ;; esac
[ -x "$DORA" ] || { fail setup "no dora binary ($DORA)"; echo "$SUITE: $PASSED passed, $FAILED failed"; exit 1; }
[ -r "$DATAFLOWS/rust-dataflow/dataflow.yml" ] || { fail setup "no dataflows in $DATAFLOWS"; echo "$SUITE: $PASSED passed, $FAILED failed"; exit 1; }
if [ -z "$WORK" ]; then
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/dora-flow.XXXXXX") || { fail setup "mktemp failed"; exit 1; }
fi
mkdir -p "$WORK" || { fail setup "cannot create $WORK"; exit 1; }
say "dora $DORA; dataflows $DATAFLOWS; work dir $WORK"
# Dora talks over 127.0.0.1: bring the loopback interface up where it is down (the Linux
# reference VM's minimal init leaves it down; Axle's and a normal host's are up).
if [ -r /sys/class/net/lo/flags ] && [ $(( $(cat /sys/class/net/lo/flags) & 1 )) = 0 ]; then
  if ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up 2>/dev/null; then say "brought lo up"; fi
fi
say "system: $(uname -sr 2>/dev/null); $(grep -c '^processor' /proc/cpuinfo 2>/dev/null || echo '?') CPUs"

# ---------------------------------------------------------------------------------------
# Processes. Our Dora processes are found in /proc by their command name (comm): `dora`
# (CLI, coordinator, daemon) and the node programs (comm is cut to 15 characters).

# procs: one line "pid state ppid comm" per Dora-related process.
procs() {
  for f in /proc/[0-9]*/stat; do
    line=$(cat "$f" 2>/dev/null) || continue
    pid=${line%% *}
    comm=${line#*(}; comm=${comm%)*}
    rest=${line##*) }
    set -- $rest
    case "$comm" in
      dora|rust-dataflow-*|rs-latency-*) echo "$pid $1 $2 $comm" ;;
    esac
  done
}
# live_procs: those not yet zombies.
live_procs() { procs | awk '$2 != "Z"'; }

# Whether pid 1 reaps orphans here (Axle's init and the Linux VM's init do; a container's
# pid 1 may not): an orphaned child that exits must disappear from /proc.
PID1_REAPS=
pid1_reaps() {
  if [ -z "$PID1_REAPS" ]; then
    orphan=$(sh -c 'sleep 0.3 >/dev/null 2>&1 & echo $!')
    PID1_REAPS=no
    i=0
    while [ $i -lt 50 ]; do
      if [ ! -e "/proc/$orphan/stat" ]; then PID1_REAPS=yes; break; fi
      sleep 0.2
      i=$((i + 1))
    done
  fi
  [ "$PID1_REAPS" = yes ]
}

# wait_gone CHECK: after `dora destroy`, every Dora process must exit (within 30 s), and
# where pid 1 reaps orphans, none may stay a zombie.
wait_gone() {
  i=0
  while [ $i -lt 150 ]; do
    [ -z "$(live_procs)" ] && break
    sleep 0.2
    i=$((i + 1))
  done
  left=$(live_procs)
  if [ -n "$left" ]; then
    fail "$1" "Dora processes still running 30 s after destroy: $(echo "$left" | tr '\n' ';')"
    return
  fi
  if pid1_reaps; then
    i=0
    while [ $i -lt 50 ]; do
      [ -z "$(procs)" ] && break
      sleep 0.2
      i=$((i + 1))
    done
    zombies=$(procs)
    if [ -n "$zombies" ]; then
      fail "$1" "zombies left (pid state ppid comm): $(echo "$zombies" | tr '\n' ';')"
      return
    fi
    ok "$1"
  else
    if [ -f /etc/axle/cmd ]; then
      fail "$1" "pid 1 does not reap orphaned processes"
    else
      note "$1" "pid 1 of this machine does not reap orphans: zombies not checked"
      ok "$1"
    fi
  fi
}

# ---------------------------------------------------------------------------------------
# Dora commands. Everything runs with stdin from /dev/null and output to files: `dora up`'s
# coordinator and daemon inherit the CLI's stdout/stderr and keep them open, so a pipe
# there would never see its end.

# run_dora LOG TIMEOUT ARGS...: runs `dora ARGS` with a time limit; returns its status.
run_dora() {
  log=$1; limit=$2; shift 2
  echo "\$ dora $*" >>"$log"
  timeout "$limit" "$DORA" "$@" >>"$log" 2>&1 </dev/null
}

# prepare NAME FLOW: a fresh copy of the dataflow FLOW in $WORK/NAME, made the cwd.
prepare() {
  dir=$WORK/$1
  rm -rf "$dir"
  mkdir -p "$dir" && cp -p "$DATAFLOWS/$2"/* "$dir"/ && cd "$dir" || { fail "$1-setup" "cannot copy $DATAFLOWS/$2 to $dir"; return 1; }
}

# up NAME: `dora up` must return 0 with coordinator and daemon left running.
up() {
  if run_dora up.log 120 up; then
    if [ -n "$(live_procs)" ]; then ok "$1-up"; else fail "$1-up" "dora up returned 0 but no coordinator/daemon is running"; fi
  else
    fail "$1-up" "dora up exited with status $?"; show up.log
    return 1
  fi
}

# list NAME CHECK WANT [DATAFLOW]: `dora list` exits 0 and shows no dataflow (WANT=none),
# or DATAFLOW with status WANT (Running, Succeeded, Failed). Waits up to 60 s for WANT.
list() {
  i=0
  while :; do
    : >list.out
    if ! run_dora list.out 60 list; then
      fail "$1-$2" "dora list exited with status $?"; show list.out; return 1
    fi
    rows=$(grep -v '^\$ dora' list.out | grep -v '^UUID' | grep -v '^[[:space:]]*$')
    if [ "$3" = none ]; then
      [ -z "$rows" ] && { ok "$1-$2"; return 0; }
    else
      echo "$rows" | grep -q "[[:space:]]$4[[:space:]][[:space:]]*$3[[:space:]]*\$" && { ok "$1-$2"; return 0; }
    fi
    i=$((i + 1))
    if [ $i -ge 60 ]; then
      fail "$1-$2" "dora list does not show ${4:-no dataflow} ${3#none}"; show list.out; return 1
    fi
    sleep 1
  done
}

destroy() {
  if run_dora destroy.log 120 destroy && grep -q 'Send destroy command' destroy.log; then
    ok "$1-destroy"
  else
    fail "$1-destroy" "dora destroy failed"; show destroy.log
  fi
  wait_gone "$1-gone"
}

# A failed step leaves Dora running: destroy it before the next step (and at the end).
cleanup_dora() {
  if [ -n "$(live_procs)" ]; then
    run_dora "$WORK/cleanup.log" 60 destroy
    i=0
    while [ $i -lt 50 ] && [ -n "$(live_procs)" ]; do sleep 0.2; i=$((i + 1)); done
  fi
}

# node_log NAME NODE PATTERN CHECK: out/<uuid>/log_NODE.txt exists and contains PATTERN.
node_log() {
  f=$(ls out/*/log_"$2".txt 2>/dev/null | head -n 1)
  if [ -z "$f" ]; then
    fail "$1-$4" "no out/<uuid>/log_$2.txt"; ls -R out 2>&1 | sed 's/^/    | /' | head -n 20
  elif grep -q "$3" "$f"; then
    ok "$1-$4"
  else
    fail "$1-$4" "$f has no line /$3/"; show "$f"
  fi
}

# The sink's and the other nodes' verdicts in their logs.
rust_dataflow_logs() {
  node_log "$1" sink '^sink: all 100 messages checked$' sink
  node_log "$1" node '^node: sent 100 ' node-log
  node_log "$1" status-node '^status-node: sent 100 statuses$' status-node-log
}

step_attach() {
  yml=${1:-dataflow.yml}
  case "$yml" in dataflow.yml) name=small ;; *) name=${yml#dataflow-}; name=${name%.yml} ;; esac
  prepare "$name" rust-dataflow || return
  up "$name" || { cleanup_dora; return; }
  list "$name" list-empty none
  if run_dora start.log "$T" start "$yml" --attach --name "$name"; then
    ok "$name-start-attach"
  else
    fail "$name-start-attach" "dora start --attach exited with status $?"; show start.log 40
  fi
  rust_dataflow_logs "$name"
  list "$name" list-succeeded Succeeded "$name"
  destroy "$name"
  cleanup_dora
}

step_stop() {
  name=stop
  prepare "$name" rust-dataflow || return
  up "$name" || { cleanup_dora; return; }
  if run_dora start.log 120 start dataflow-endless.yml --detach --name endless; then
    ok "$name-start-detach"
  else
    fail "$name-start-detach" "dora start --detach exited with status $?"; show start.log
  fi
  list "$name" list-running Running endless
  # Let some messages flow before stopping.
  i=0
  while [ $i -lt 60 ] && ! grep -q . out/*/log_sink.txt 2>/dev/null; do sleep 1; i=$((i + 1)); done
  sleep 2
  if run_dora stop.log 120 stop --name endless; then
    ok "$name-stop"
  else
    fail "$name-stop" "dora stop exited with status $?"; show stop.log
  fi
  list "$name" list-stopped Succeeded endless
  node_log "$name" sink '^sink: stopped after [1-9][0-9]* values, [1-9][0-9]* statuses, all matched$' sink
  destroy "$name"
  cleanup_dora
}

step_sigint() {
  name=sigint
  prepare "$name" rust-dataflow || return
  up "$name" || { cleanup_dora; return; }
  echo "\$ dora start dataflow-endless.yml --attach --name endless" >start.log
  "$DORA" start dataflow-endless.yml --attach --name endless >>start.log 2>&1 </dev/null &
  cli=$!
  list "$name" list-running Running endless
  i=0
  while [ $i -lt 60 ] && ! grep -q . out/*/log_sink.txt 2>/dev/null; do sleep 1; i=$((i + 1)); done
  sleep 2
  kill -INT "$cli"
  # The CLI must stop the dataflow and exit by itself (60 s), with status 0.
  i=0
  while [ $i -lt 300 ] && kill -0 "$cli" 2>/dev/null; do sleep 0.2; i=$((i + 1)); done
  if kill -0 "$cli" 2>/dev/null; then
    kill -KILL "$cli"; wait "$cli"
    fail "$name-cli-exit" "the attached CLI did not exit within 60 s of SIGINT"; show start.log
  elif wait "$cli"; then
    ok "$name-cli-exit"
  else
    fail "$name-cli-exit" "the attached CLI exited with status $? after SIGINT"; show start.log
  fi
  list "$name" list-stopped Succeeded endless
  node_log "$name" sink '^sink: stopped after [1-9][0-9]* values, [1-9][0-9]* statuses, all matched$' sink
  destroy "$name"
  cleanup_dora
}

step_daemon() {
  yml=${1:-dataflow.yml}
  case "$yml" in dataflow.yml) name=daemon ;; *) name=daemon-${yml#dataflow-}; name=${name%.yml} ;; esac
  prepare "$name" rust-dataflow || return
  if run_dora daemon.log "$T" daemon --run-dataflow "$yml"; then
    ok "$name-run-dataflow"
  else
    fail "$name-run-dataflow" "dora daemon --run-dataflow exited with status $?"; show daemon.log 40
  fi
  rust_dataflow_logs "$name"
  cleanup_dora
}

step_shmem() {
  name=shmem
  prepare "$name" rust-dataflow || return
  # A daemon caught in Dora's tight error loop must not fill the disk: `ulimit -f` (the
  # unit is 512 or 1024 bytes depending on the shell: 10-20 MB), and the log goes through
  # `head -c` (16 MB) as well, in case the file size limit is not enforced.
  ( ulimit -f 20000
    { timeout -s KILL "$T_SHMEM" "$DORA" daemon --run-dataflow dataflow-shmem.yml </dev/null; echo $? >rc; } 2>&1 \
      | head -c 16000000 >daemon.log )
  rc=$(cat rc 2>/dev/null || echo unknown)
  f=$(ls out/*/log_sink.txt 2>/dev/null | head -n 1)
  if [ "$rc" = 0 ] && [ -n "$f" ] && grep -q '^sink: all 100 messages checked$' "$f"; then
    note shmem "passed (dora daemon --run-dataflow dataflow-shmem.yml: status 0, sink checked all 100 messages)"
  else
    note shmem "did not pass (status $rc; not a gate: Dora 0.3.5's Shmem mode is buggy on Linux too)"
    head -n 12 daemon.log | sed 's/^/    | /'
    for log in out/*/log_*.txt; do
      [ -s "$log" ] && { echo "    | == $log"; head -n 6 "$log" | sed 's/^/    | /'; }
    done
  fi
  cleanup_dora
  # A hung Shmem daemon killed by the time limit leaves its nodes behind: end those we
  # started (their working directory is this step's directory), by pid.
  for pid in $(live_procs | awk '{print $1}'); do
    case "$(readlink "/proc/$pid/cwd" 2>/dev/null)" in
      "$WORK/$name"|"$WORK/$name"/*) kill -KILL "$pid" 2>/dev/null && say "ended leftover process $pid" ;;
    esac
  done
  cd "$WORK" && rm -rf "${WORK:?}/$name"
}

# thread_placement PID: one line per thread: "tid policy rt_priority last_cpu cpus rule".
thread_placement() {
  for t in /proc/$1/task/[0-9]*; do
    st=$(cat "$t/stat" 2>/dev/null) || continue
    rest=${st##*) }
    set -- $rest
    # After the comm: field 3 is the state; processor is field 39, rt_priority 40, policy 41.
    shift 36
    cpu=$1; prio=$2; pol=$3
    cpus=$(awk -F'\t' '$1 == "Cpus_allowed_list:" {print $2}' "$t/status" 2>/dev/null)
    rule=$(awk -F'\t' '$1 == "profile_rule:" {print $2}' "$t/status" 2>/dev/null)
    echo "${t##*/} $pol $prio $cpu $cpus ${rule:--}"
  done
}

# check_placement CHECK PID POLICY PRIO RULE CPU0: every thread of PID as the profile says;
# CPU0=yes: only CPU 0 (housekeeping); no: never CPU 0 (real-time CPUs).
check_placement() {
  out=$(thread_placement "$2")
  if [ -z "$out" ]; then fail "$1" "no threads under /proc/$2"; return; fi
  bad=$(echo "$out" | awk -v pol="$3" -v prio="$4" -v rule="$5" -v hk="$6" '
    { okcpu = (hk == "yes") ? ($5 == "0" && $4 == 0) : ($5 !~ /(^|,)0(-|,|$)/ && $4 != 0)
      if ($2 != pol || $3 != prio || $6 != rule || !okcpu) print }')
  n=$(echo "$out" | wc -l)
  if [ -z "$bad" ]; then
    ok "$1"
    say "$1: $n thread(s): $(echo "$out" | head -3 | tr '\n' ';')"
  else
    fail "$1" "threads not as the profile says (tid policy prio cpu cpus rule): $(echo "$bad" | head -4 | tr '\n' ';')"
  fi
}

# pid_of EXE [ARG]: the first live process whose executable's file name is EXE (and with
# ARG among its arguments).
pid_of() {
  for d in /proc/[0-9]*; do
    exe=$(readlink "$d/exe" 2>/dev/null) || continue
    [ "${exe##*/}" = "$1" ] || continue
    if [ -n "${2:-}" ] && ! tr '\0' ' ' < "$d/cmdline" 2>/dev/null | grep -q " $2"; then continue; fi
    echo "${d#/proc/}"
    return
  done
}

step_profiled() {
  name=profiled
  if ! grep -q 'profile `default`' /proc/axle/profile 2>/dev/null; then
    fail "$name" "no dataflow profile \`default\` (boot with PROFILE=default / --profile default)"
    return
  fi
  prepare "$name" rust-dataflow || return
  up "$name" || { cleanup_dora; return; }
  if run_dora start.log 120 start dataflow-endless.yml --detach --name profiled; then
    ok "$name-start"
  else
    fail "$name-start" "dora start --detach exited with status $?"; show start.log
  fi
  i=0
  while [ $i -lt 60 ] && ! grep -q . out/*/log_sink.txt 2>/dev/null; do sleep 1; i=$((i + 1)); done
  # Threads a node starts later are placed too: look after messages have flowed.
  sleep 3
  check_placement "$name-node" "$(pid_of rust-dataflow-node)" 1 50 node no
  check_placement "$name-status-node" "$(pid_of rust-dataflow-status-node)" 1 55 status-node no
  check_placement "$name-sink" "$(pid_of rust-dataflow-sink)" 1 60 sink no
  check_placement "$name-daemon" "$(pid_of dora daemon)" 1 40 daemon yes
  check_placement "$name-coordinator" "$(pid_of dora coordinator)" 0 0 coordinator yes
  run_dora stop.log 120 stop --name profiled || { fail "$name-stop" "dora stop exited with status $?"; show stop.log; }
  destroy "$name"
  cleanup_dora
}

# tool NAME: a helper program on PATH, else next to this script or the dataflows.
tool() {
  for t in "$(command -v "$1" 2>/dev/null)" "$HERE/$1" "$DATAFLOWS/$1"; do
    [ -n "$t" ] && [ -x "$t" ] && { echo "$t"; return 0; }
  done
  return 1
}

step_latency() {
  name=latency
  prepare "$name" rs-latency || return
  up "$name" || { cleanup_dora; return; }
  if [ -n "${LAT_DAEMON_RT:-}" ]; then
    chrt=$(tool axle-chrt) || { fail "$name-daemon-rt" "LAT_DAEMON_RT is set but there is no axle-chrt"; cleanup_dora; return; }
    daemon=$(pid_of dora daemon)
    if [ -n "$daemon" ] && "$chrt" -f "$LAT_DAEMON_RT" -p "$daemon" >chrt.log 2>&1; then
      ok "$name-daemon-rt"; sed 's/^/    /' chrt.log
    else
      fail "$name-daemon-rt" "cannot make the daemon (pid '$daemon') SCHED_FIFO $LAT_DAEMON_RT"; show chrt.log
    fi
  fi
  load_pid=
  if [ -n "${LAT_LOAD:-}" ]; then
    set -- $LAT_LOAD
    cmd=$(tool "$1") || cmd=$1
    shift
    "$cmd" "$@" >load.log 2>&1 &
    load_pid=$!
    sleep 1
    if kill -0 "$load_pid" 2>/dev/null; then
      ok "$name-load"; say "background load: $LAT_LOAD (pid $load_pid)"
    else
      fail "$name-load" "the load ($LAT_LOAD) did not start"; show load.log; load_pid=
    fi
  fi
  if run_dora start.log "$T" start dataflow.yml --attach --name rs-latency; then
    ok "$name-start-attach"
  else
    fail "$name-start-attach" "dora start --attach exited with status $?"; show start.log 40
  fi
  if [ -n "$load_pid" ]; then
    kill "$load_pid" 2>/dev/null; wait "$load_pid" 2>/dev/null
    tail -n 3 load.log | sed 's/^/    load: /'
  fi
  node_log "$name" sink '^rs-latency sink: all [0-9]* messages received$' sink
  grep -h '^rs-latency sink: ' out/*/log_sink.txt 2>/dev/null | sed 's/^/    /'
  grep -h '^rs-latency node: ' out/*/log_node.txt 2>/dev/null | sed 's/^/    /'
  destroy "$name"
  cleanup_dora
  if [ ! -s latency-raw.csv ]; then
    fail "$name-csv" "no latency-raw.csv"
    return
  fi
  {
    echo "# system: $(uname -sr 2>/dev/null)"
    echo "# machine: $(uname -m 2>/dev/null); $(grep -c '^processor' /proc/cpuinfo 2>/dev/null || echo '?') CPUs"
    echo "# load: ${LAT_LOAD:-none}"
    if [ -n "${LAT_DAEMON_RT:-}" ]; then echo "# daemon_rt: SCHED_FIFO $LAT_DAEMON_RT on the daemon's main thread"
    else echo "# daemon_rt: none"; fi
    prof=$(sed -n 's/^profile `\([^`]*\)`.*/\1/p' /proc/axle/profile 2>/dev/null | head -n 1)
    echo "# axle_profile: ${prof:-none}"
    cat latency-raw.csv
  } >latency-raw.labelled.csv
  ok "$name-csv"
  echo "----- BEGIN latency-raw.csv -----"
  cat latency-raw.labelled.csv
  echo "----- END latency-raw.csv -----"
  report=$(command -v latency-report 2>/dev/null)
  [ -x "$DATAFLOWS/rs-latency/latency-report" ] && report=$DATAFLOWS/rs-latency/latency-report
  if [ -n "$report" ]; then
    if "$report" --run "this=latency-raw.labelled.csv" --out report --verify >report.log 2>&1; then
      ok "$name-report"
      sed 's/^/    /' report/latency.md
      grep '^latency-report: verified' report.log
    else
      fail "$name-report" "latency-report failed"; show report.log
    fi
  else
    note "$name-report" "no latency-report program: report not made here"
  fi
}

while [ $# -gt 0 ]; do
  step=$1; shift
  yml=
  case "${1:-}" in *.yml) yml=$1; shift ;; esac
  cd "$WORK" || exit 1
  say "step $step ${yml}"
  case "$step" in
    attach) step_attach $yml ;;
    stop) step_stop ;;
    sigint) step_sigint ;;
    daemon) step_daemon $yml ;;
    shmem) step_shmem ;;
    latency) step_latency ;;
    profiled) step_profiled ;;
    *) fail "$step" "unknown step" ;;
  esac
done

cd /
if [ $FAILED = 0 ] && [ $KEEP = 0 ]; then
  rm -rf "$WORK"
else
  say "work dir kept: $WORK"
fi
echo "$SUITE: $PASSED passed, $FAILED failed"
[ $FAILED = 0 ]
