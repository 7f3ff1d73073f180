//! The `entry_point!` macro: how the kernel binary names its main function.

/// Declares the kernel's main function, run in a kernel thread once every CPU is up:
/// `rtos::entry_point!(main);` with `fn main(boot: &'static rtos::boot::info::BootInfo)`.
#[macro_export]
macro_rules! entry_point {
    ($main:path) => {
        #[no_mangle]
        extern "C" fn axle_kernel_main_hook() {
            $crate::arch::x86_64::entry::set_main($main);
        }
    };
}
