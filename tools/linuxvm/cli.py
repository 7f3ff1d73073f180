"""tools/linuxvm/run-linux: the command line (docs/linux-vm.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from axletools import newc, runner

from . import image, vm


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="run-linux",
        description="Boot Debian's Linux kernel in the QEMU machine Axle uses, run CMD, exit with its status "
                    "(128+N for signal N; 125 kernel panic or no status; 124 timeout; 126 the run could not "
                    "start). The Linux counterpart of tools/run-qemu; see docs/linux-vm.md.",
        usage="%(prog)s [options] [--] [CMD [ARG...]]",
    )
    p.add_argument("--smp", type=int, default=2, help="number of CPUs (default 2)")
    p.add_argument("--mem", default="2G", help="guest memory, QEMU syntax: 512M, 2G (default 2G)")
    p.add_argument("--accel", choices=("auto", "kvm", "tcg"), default="auto",
                   help="auto (default): KVM if Linux works under it (a cached probe), else TCG")
    p.add_argument("--add", type=Path, metavar="DIR", help="files under DIR appear under /add in the guest")
    p.add_argument("--timeout", type=float, metavar="SECS", default=0,
                   help="stop the run after SECS seconds from QEMU's start (exit 124); 0 = none (default)")
    p.add_argument("--result", type=Path, metavar="FILE.json", help="write the run's result as JSON")
    p.add_argument("--net", choices=runner.NET_MODES, default="none",
                   help="guest network: none (default) or user (QEMU user networking on a virtio-net-pci card, "
                        "as tools/run-qemu: guest 10.0.2.15, gateway 10.0.2.2)")
    p.add_argument("--fwd", action="append", default=[], metavar="PROTO:HOSTPORT[:GUESTPORT]",
                   help="forward a host port (on 127.0.0.1) into the guest (repeatable; implies --net user)")
    p.add_argument("--kernel", type=Path, help=f"kernel image (default: the newest {vm.KERNEL_GLOB})")
    p.add_argument("--log", choices=runner.LOG_LEVELS, default=runner.DEFAULT_LOG,
                   help="kernel messages: error/warn = quiet loglevel=3 (default), info = loglevel=7, "
                        "debug = loglevel=8, trace = everything plus initcall_debug")
    p.add_argument("--append", default="", metavar="EXTRA", help="extra kernel command line words")
    p.add_argument("--command", metavar="STRING",
                   help="the command as one string, run by /bin/sh -c as tools/run-qemu --command does")
    p.add_argument("--qemu-arg", action="append", default=[], metavar="ARG", help="extra QEMU argument (repeatable)")
    p.add_argument("--host-rt", type=int, nargs="?", const=1, default=0, metavar="PRIO",
                   help="QEMU's main loop at host SCHED_FIFO PRIO (default 1) and -mem-prealloc, as run-qemu --host-rt")
    p.add_argument("--probe-kvm", action="store_true",
                   help="only run the KVM probe (cached; with --reprobe: fresh); exit 0 if KVM works, 1 if not")
    p.add_argument("--reprobe", action="store_true", help="with --probe-kvm: ignore the cached verdict")
    p.add_argument("-v", "--verbose", action="store_true", help="say the QEMU command and the result on stderr")
    p.add_argument("cmd", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.cmd and args.cmd[0] == "--":
        args.cmd = args.cmd[1:]
    if args.cmd and args.command:
        p.error("give the command either with --command or after --, not both")
    if args.smp < 1 or args.smp > 255:
        p.error("--smp must be 1..255")
    if not runner.MEM_RE.match(args.mem):
        p.error(f"--mem {args.mem!r}: expected a size such as 512M or 2G")
    if args.timeout < 0:
        p.error("--timeout must be >= 0")
    return args


def resolve_kernel(given: Path | None) -> Path:
    if given is not None:
        kernel = given.resolve()
        if not kernel.is_file():
            raise runner.RunError(f"kernel image not found: {kernel}")
        return kernel
    kernel = vm.find_kernel()
    if kernel is None:
        raise runner.RunError(f"no Linux kernel ({vm.KERNEL_GLOB}): install the Debian package linux-image-amd64 "
                              "(tools/setup.sh)")
    return kernel


def main(argv: list[str] | None = None) -> int:
    runner._plug_closed_std_fds()
    args = parse_args(sys.argv[1:] if argv is None else argv)

    def say(msg: str) -> None:
        print(f"run-linux: {msg}", file=sys.stderr, flush=True)

    qemu = runner.qemu_binary()
    cmd_argv: list[str] | None = None
    if args.cmd:
        cmd_argv = list(args.cmd)
    elif args.command and args.command.strip():
        try:
            cmd_argv = runner.command_argv(args.command)
        except ValueError as e:
            say(f"cannot split the command {args.command!r}: {e}")
            return 2

    result = runner.Result(smp=args.smp, mem=args.mem)
    try:
        kernel = resolve_kernel(args.kernel)
        try:
            base = image.ensure_base(kernel=kernel)
        except (image.ImageError, newc.CpioError, OSError) as e:
            raise runner.RunError(f"cannot build the base initramfs: {e}") from None
        if args.probe_kvm:
            ok, reason, cached = vm.kvm_probe(kernel, base, qemu, refresh=args.reprobe)
            print(f"kvm: {'usable' if ok else 'not usable'} for Linux: {reason}{' (cached)' if cached else ''}")
            return 0 if ok else 1
        accel = vm.choose_accel(args.accel, kernel, base, qemu, say)
        cfg = vm.LinuxRunConfig(
            kernel=kernel, initrd=base, smp=args.smp, mem=args.mem, accel=accel, log=args.log,
            append=args.append.strip(), argv=cmd_argv, add=args.add.resolve() if args.add else None,
            timeout_s=args.timeout or None, interactive=cmd_argv is None and runner.stdin_is_tty(), qemu=qemu,
            qemu_args=args.qemu_arg, verbose=args.verbose, net="user" if args.fwd else args.net, fwd=args.fwd,
            host_rt=args.host_rt,
        )
        if args.verbose:
            say(f"kernel: {kernel}; base initramfs: {base}")
        if cfg.interactive:
            say("interactive console: `exit` or Ctrl-A x ends it, Ctrl-A h lists the other keys")
        result = vm.run(cfg, say=say)
    except runner.RunError as e:
        say(f"error: {e}")
        result.qemu_failed = True
        result.error = str(e)
    except runner.Interrupted as e:
        if args.probe_kvm:
            return 128 + e.signum
        result.interrupted = e.signum
        result.error = f"{e} (during the KVM probe)"
    except OSError as e:
        say(f"error: {e}")
        result.qemu_failed = True
        result.error = str(e)
    status = result.exit_status()
    if result.error and not result.qemu_failed:
        say(result.error)
    elif result.qemu_failed and result.error and result.qemu_exit is not None:
        say(result.error)
    try:
        runner.write_result(args.result, result)
    except OSError as e:
        say(f"cannot write {args.result}: {e}")
    if args.verbose:
        boot = f"{result.boot_to_user_ms:.1f} ms" if result.boot_to_user_ms is not None else "n/a"
        say(f"exit {status} (boot to user {boot}, wall {result.wall_ms:.0f} ms)")
    return status
