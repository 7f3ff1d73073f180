//! The Axle kernel image: wires the kernel core (`rtos`) and the Linux personality
//! (`linux-abi`) together and starts the first program.
//!
//! The first program is `/etc/axle/cmd` from the initramfs when present (argv as
//! NUL-terminated strings, environment from `/etc/axle/env`; written by `tools/run-qemu`),
//! else `init=` from the command line (default `/sbin/init`) with the words after `--`.
//! `selftest` on the command line runs the kernel self-test instead.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

extern crate alloc;

mod selftest;

use alloc::vec::Vec;

use rtos::boot::cmdline::Cmdline;
use rtos::boot::info::BootInfo;

rtos::entry_point!(kernel_main);

fn split_nul(data: &[u8]) -> Vec<Vec<u8>> {
    data.split(|&b| b == 0).filter(|s| !s.is_empty()).map(|s| s.to_vec()).collect()
}

fn read_file(path: &str) -> Option<Vec<u8>> {
    let root = linux_abi::fs::root_location();
    let loc = linux_abi::fs::path::resolve(&root, &root, path, linux_abi::fs::path::Follow::Yes).ok()?;
    let size = loc.inode().stat().size as usize;
    let mut buf = alloc::vec![0u8; size];
    let n = loc.inode().read_at(0, &mut buf).ok()?;
    buf.truncate(n);
    Some(buf)
}

fn kernel_main(boot: &'static BootInfo) {
    let cmd = Cmdline::new(boot.cmdline.as_str());
    if cmd.has("selftest") {
        let failures = selftest::run();
        board::debug_exit::debugcon_write(alloc::format!("axle: exit {}\n", u32::from(failures > 0)).as_bytes());
        board::debug_exit::qemu_exit(0);
        return;
    }
    let initrd = boot.modules.first().map(|m| rtos::mm::phys_bytes(m.start, m.size)).unwrap_or(&[]);
    match linux_abi::init(initrd) {
        Ok(n) => log::info!("initramfs: {n} files ({} KiB)", initrd.len() / 1024),
        Err(e) => log::error!("initramfs unusable: {e:?}"),
    }
    if let Some(m) = boot.modules.first() {
        rtos::mm::release_boot_range(m.start, m.size);
    }
    rtos::console::set_input_hook(linux_abi::fs::tty::console_input, rtos::percpu::this().apic_id);
    let (argv, envp) = match read_file("/etc/axle/cmd") {
        Some(c) => (split_nul(&c), read_file("/etc/axle/env").map(|e| split_nul(&e)).unwrap_or_default()),
        None => {
            let init = cmd.get("init").unwrap_or("/sbin/init");
            let mut argv: Vec<Vec<u8>> = alloc::vec![init.as_bytes().to_vec()];
            argv.extend(cmd.init_args().map(|a| a.as_bytes().to_vec()));
            let envp = ["PATH=/bin:/sbin:/usr/bin:/usr/sbin", "HOME=/root", "TERM=linux"].iter().map(|s| s.as_bytes().to_vec()).collect();
            (argv, envp)
        }
    };
    let envp = if envp.is_empty() { ["PATH=/bin:/sbin:/usr/bin:/usr/sbin:/add", "HOME=/root", "TERM=linux"].iter().map(|s| s.as_bytes().to_vec()).collect() } else { envp };
    let name = alloc::string::String::from_utf8_lossy(&argv[0]).into_owned();
    if let Err(e) = linux_abi::spawn_init(argv, envp) {
        log::error!("cannot start {name}: {e:?}");
        rtos::console::write_text(&alloc::format!("axle: cannot start {name}: {e:?}\n"));
        board::debug_exit::debugcon_write(b"axle: exit 127\n");
        board::debug_exit::qemu_exit(0);
    }
}
