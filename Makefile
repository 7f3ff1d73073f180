# Axle: build, run, test and benchmark. `make help` lists the targets.
#
# Variables (set them on the command line, e.g. make run-qemu CMD="/add/prog 3 x" ADD=./bins SMP=4):
#   CMD          command to run in Axle, one string run by the image's /bin/sh -c
#                (exact argv: use tools/run-qemu -- ARGV...). Empty: the image's /sbin/init,
#                interactive on this terminal.
#   ADD          host directory that appears in the guest as /add (modes kept)
#   SMP          number of CPUs                                      (default 2)
#   MEM          guest memory, QEMU syntax                           (default 2G)
#   ACCEL        auto | kvm | tcg; auto = KVM only if its probe passes (default auto)
#   NET          run-qemu's network: user (QEMU user networking: guest 10.0.2.15, host 10.0.2.2)
#                or none                                             (default user)
#   FWD          host ports forwarded into the guest, e.g. FWD=tcp:8080 or "tcp:18080:8080 udp:5353"
#   PROFILE      dataflow profile for run-qemu: a name in configs/profiles/ (e.g. default) or a file
#   LOG          kernel log level: error warn info debug trace       (default warn)
#   APPEND       extra kernel command line words (e.g. selftest)
#   TIMEOUT      seconds before a run-qemu run is stopped (status 124); 0 = none (default 0)
#   RESULT       run-qemu: also write the run's result JSON to this file
#   HOST_CRATES  crates whose unit tests `make test` runs on the host (default rtos board)
#   TEST_ARGS    extra arguments for tests/harness/run_tests.py, e.g. TEST_ARGS="-k basic --smp 1"
#   QUICK        `make bench QUICK=1`: the quick benchmark, a few minutes (default: the full one)
#   ROUNDS       `make bench` boots per kernel (Axle and Linux alternate) (default 5; QUICK=1: 3)
#   HOST_RT      `make bench`/`make report`: QEMU's main loop at this host SCHED_FIFO priority,
#                for both kernels (tools/axletools/hostrt.py; report RT=1 defaults to 1, 0 = off)
#   BENCH_ARGS   more tools/bench/run-bench options, e.g. BENCH_ARGS="--ms 500 --no-hooks"
#   SELFTEST_SMP CPU counts `make selftest` boots with               (default 1 2 4)
#
# Exit status: `make run-qemu` succeeds when the command exits 0. GNU make itself only
# exits 0 or 2, so on failure it shows the command's status as "Error N"; for the exact
# status as your own exit status run tools/run-qemu directly (docs/running.md).

SHELL := /bin/bash
PYTHON ?= python3
CARGO ?= cargo

CMD ?=
ADD ?=
SMP ?= 2
MEM ?= 2G
ACCEL ?= auto
NET ?= user
FWD ?=
PROFILE ?=
LOG ?= warn
APPEND ?=
TIMEOUT ?= 0
RESULT ?=
HOST_CRATES ?= rtos board linux-abi dataflow-profile
TEST_ARGS ?=
QUICK ?=
ROUNDS ?=
BENCH_ARGS ?=
SELFTEST_SMP ?= 1 2 4

# Strings go to the recipes through the environment, so no quoting can break them.
export CMD ADD APPEND RESULT FWD PROFILE

# rustup installs cargo here; a fresh non-login shell may not have it on PATH.
ifneq ($(wildcard $(HOME)/.cargo/bin),)
export PATH := $(HOME)/.cargo/bin:$(PATH)
endif

KERNEL_TARGET := x86_64-unknown-none
KERNEL := $(or $(CARGO_TARGET_DIR),target)/$(KERNEL_TARGET)/release/axle
INITRD := build/initramfs.cpio
RUNNER := tools/run-qemu

.DEFAULT_GOAL := all
.PHONY: all help setup kernel image run-qemu test test-host bench selftest clean

all: kernel image ## build the kernel and the base initramfs

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## /  make \1\t/' | expand -t 22

setup: ## install/check what building and running needs (tools/setup.sh)
	@tools/setup.sh

kernel: setup ## build the kernel image (target/x86_64-unknown-none/release/axle)
	$(CARGO) build --release -p kernel --target $(KERNEL_TARGET)

image: setup ## build the base initramfs (build/initramfs.cpio) from images/manifest.toml
	@$(PYTHON) images/build_initramfs.py -o $(INITRD)

run-qemu: kernel image ## boot Axle and run CMD (or the interactive init); fails when CMD's status is not 0
	@$(RUNNER) --smp $(SMP) --mem $(MEM) --accel $(ACCEL) --log $(LOG) --timeout $(TIMEOUT) \
	  --kernel $(KERNEL) --initrd $(INITRD) --net $(NET) $$(for f in $$FWD; do printf -- '--fwd %s ' "$$f"; done) \
	  $${ADD:+--add "$$ADD"} $${APPEND:+--append "$$APPEND"} $${RESULT:+--result "$$RESULT"} \
	  $${PROFILE:+--profile "$$PROFILE"} --command "$$CMD"

# tools/test.py runs, each even if an earlier one failed: cargo test for HOST_CRATES, the
# harness's and the tools' Python self-tests, the kernel and image builds, then
# tests/harness/run_tests.py. Its last line is the harness's `N passed, M failed` (the
# earlier stages added to the counts) and its status decides make's.
test: setup ## all tests: unit tests, kernel+image build, then the harness (host and Axle)
	@$(PYTHON) tools/test.py --host-crates "$(HOST_CRATES)" -- $(TEST_ARGS)

test-host: setup ## the host-side tests only (no kernel build, no QEMU)
	@$(PYTHON) tools/test.py --host-crates "$(HOST_CRATES)" --host-only -- $(TEST_ARGS)

# Axle and the Linux VM in the same QEMU (SMP, MEM; ACCEL auto = KVM only if both kernels'
# probes pass), alternating rounds; the table is printed and written to
# build/bench/<date>-<commit>/bench.{md,csv} (build/bench/latest). docs/benchmarks.md
bench: kernel image ## Axle side by side with Linux in the same QEMU: one table (QUICK=1: a few minutes)
	@$(PYTHON) tools/bench/run-bench $(if $(filter-out 0,$(QUICK)),--quick) $(if $(ROUNDS),--rounds $(ROUNDS)) \
	  --smp $(SMP) --mem $(MEM) --accel $(ACCEL) --kernel $(KERNEL) --initrd $(INITRD) $(if $(HOST_RT),--host-rt $(HOST_RT)) $(BENCH_ARGS)

# rs-latency (Dora 0.3.5) in Axle (SMP, ACCEL), on the host and in the Linux VM; report in
# build/report/<date>-smp<N>-<accel>/latency.{md,csv,svg} (build/report/latest). docs/dora.md
# RT=1: issue 7's comparison instead (Axle with and without the dataflow profile under
# axle-load, the Linux VM with the daemon at SCHED_FIFO 50 as Dora's --rt; 8G by default).
# HOST_RT=PRIO: QEMU's main loop at host SCHED_FIFO PRIO for both kernels (RT=1 sets 1; 0 = off).
REPORT_MEM ?=
.PHONY: report
report: kernel image ## rs-latency in Axle, on the host and in the Linux VM: the jitter report in build/report/
	@tools/report/make-report.sh --smp $(SMP) --accel $(ACCEL) $(if $(REPORT_MEM),--mem $(REPORT_MEM)) $(if $(filter 1,$(RT)),--rt) $(if $(HOST_RT),--host-rt $(HOST_RT))

selftest: kernel ## boot with the kernel's self-test under TCG for each of SELFTEST_SMP
	@failed=0; for n in $(SELFTEST_SMP); do \
	  echo "== selftest, SMP $$n, TCG"; \
	  $(RUNNER) --accel tcg --smp $$n --mem $(MEM) --log info --append selftest --timeout 120 --kernel $(KERNEL); \
	  s=$$?; if [ $$s = 0 ]; then echo "selftest SMP $$n: passed"; else echo "selftest SMP $$n: FAILED (status $$s)"; failed=1; fi; \
	done; exit $$failed

clean: ## remove build products (build/ and cargo's target/); caches stay in ~/.cache/axle
	rm -rf build
	$(CARGO) clean
