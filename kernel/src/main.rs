//! The Axle kernel image: wires the kernel core (`rtos`) to its main function.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

extern crate alloc;

use rtos::boot::info::BootInfo;

rtos::entry_point!(kernel_main);

fn kernel_main(boot: &'static BootInfo) {
    log::info!("kernel main running on CPU {}; cmdline {:?}", rtos::percpu::this().id, boot.cmdline.as_str());
    board::debug_exit::debugcon_write(b"axle: exit 0\n");
    board::debug_exit::qemu_exit(0);
}
