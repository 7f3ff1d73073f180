//! The Axle kernel image: wires the kernel core (`rtos`) and the Linux personality
//! (`linux-abi`) together and starts the first program.
//!
//! The first program (pid 1) is `init=` from the command line (default `/sbin/init`,
//! Axle's init, which runs `/etc/axle/cmd` written by `tools/run-qemu` or the shell), with
//! the words after `--` as arguments. `selftest` on the command line runs the kernel
//! self-test instead.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

extern crate alloc;

mod netdev;
mod nettest;
mod platform;
mod selftest;

use alloc::vec::Vec;

use rtos::boot::cmdline::Cmdline;
use rtos::boot::info::BootInfo;

rtos::entry_point!(kernel_main);

fn kernel_main(boot: &'static BootInfo) {
    let cmd = Cmdline::new(boot.cmdline.as_str());
    if cmd.has("selftest") {
        let failures = selftest::run();
        board::debug_exit::debugcon_write(alloc::format!("axle: exit {}\n", u32::from(failures > 0)).as_bytes());
        board::debug_exit::qemu_exit(0);
        return;
    }
    if cmd.has("nettest") {
        return nettest::run(boot);
    }
    if let Some(kind) = cmd.get("crashtest") {
        rtos::panic::crash_test(kind);
    }
    if cmd.get("idle") == Some("poll") {
        rtos::sched::core::set_idle_poll(u64::MAX);
    }
    if cmd.has("irqsoff") {
        rtos::sync::irqsoff::enable();
    }
    if cmd.has("wakelat") {
        rtos::sched::wakelat::enable();
    }
    if cmd.get("print-fatal-signals").is_some_and(|v| v != "0") {
        linux_abi::signal::deliver::print_fatal_signals(true);
    }
    if cmd.has("strace") {
        linux_abi::syscall::trace::enable(None);
    } else if let Some(name) = cmd.get("strace") {
        linux_abi::syscall::trace::enable(Some(name));
    }
    let initrd = boot.modules.first().map(|m| rtos::mm::phys_bytes(m.start, m.size)).unwrap_or(&[]);
    match linux_abi::init(initrd) {
        Ok(n) => log::info!("initramfs: {n} files ({} KiB)", initrd.len() / 1024),
        Err(e) => log::error!("initramfs unusable: {e:?}"),
    }
    if let Some(m) = boot.modules.first() {
        rtos::mm::release_boot_range(m.start, m.size);
    }
    netdev::init(boot, &cmd);
    rtos::console::set_input_hook(linux_abi::fs::tty::console_input, rtos::percpu::this().apic_id);
    // pid 1 is Axle's init (it runs /etc/axle/cmd or the shell and reaps orphans);
    // `init=` replaces it, with the words after `--` as its arguments.
    let init = cmd.get("init").unwrap_or("/sbin/init");
    let mut argv: Vec<Vec<u8>> = alloc::vec![init.as_bytes().to_vec()];
    argv.extend(cmd.init_args().map(|a| a.as_bytes().to_vec()));
    let envp: Vec<Vec<u8>> = ["PATH=/bin:/sbin:/usr/bin:/usr/sbin", "HOME=/", "TERM=linux"].iter().map(|s| s.as_bytes().to_vec()).collect();
    let name = alloc::string::String::from_utf8_lossy(&argv[0]).into_owned();
    if let Err(e) = linux_abi::spawn_init(argv, envp) {
        log::error!("cannot start {name}: {e:?}");
        rtos::console::write_text(&alloc::format!("axle: cannot start {name}: {e:?}\n"));
        board::debug_exit::debugcon_write(b"axle: exit 127\n");
        board::debug_exit::qemu_exit(0);
    }
}
