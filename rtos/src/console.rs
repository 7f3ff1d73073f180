//! The kernel console on COM1: kernel log output (the `log` crate, level from the command
//! line), raw output for the terminal layer, and received bytes handed to an input hook.
//!
//! A panic may happen while the console lock is held; `emergency_write` then writes
//! without it so the report always reaches the serial line.

use core::fmt::Write;
use core::sync::atomic::{AtomicUsize, Ordering};

use board::uart16550::{Uart16550, COM_IRQS, COM_PORTS};

use crate::sync::SpinLock;

static UART: SpinLock<Uart16550> = SpinLock::new(Uart16550::new(COM_PORTS[0]));
static INPUT_HOOK: AtomicUsize = AtomicUsize::new(0);

/// Receives bytes typed on the console (interrupt context).
pub type InputHook = fn(u8);

/// Sets up COM1 for output (early boot).
pub fn init() {
    UART.lock().init(false);
}

/// Writes bytes as they are (the terminal layer does its own newline handling).
pub fn write_raw(bytes: &[u8]) {
    UART.lock().write_bytes(bytes, false);
}

/// Writes kernel text, turning `\n` into `\r\n`.
pub fn write_text(s: &str) {
    UART.lock().write_bytes(s.as_bytes(), true);
}

/// Writes without taking the console lock (panic path only).
pub fn emergency_write(s: &str) {
    Uart16550::new(COM_PORTS[0]).write_bytes(s.as_bytes(), true);
}

/// Routes received bytes to `hook` and enables the receive interrupt on `cpu_apic_id`.
pub fn set_input_hook(hook: InputHook, cpu_apic_id: u32) {
    INPUT_HOOK.store(hook as usize, Ordering::Release);
    crate::irq::route_isa(COM_IRQS[0], crate::irq::COM1_VECTOR, cpu_apic_id, rx_interrupt, "ttyS0");
    UART.lock().set_rx_interrupt(true);
}

fn rx_interrupt(_: &mut crate::arch::x86_64::trap::TrapFrame) {
    loop {
        let b = UART.lock().try_read_byte();
        let Some(b) = b else { break };
        let h = INPUT_HOOK.load(Ordering::Acquire);
        if h != 0 {
            // SAFETY: only `set_input_hook` stores here, always an InputHook.
            let f: InputHook = unsafe { core::mem::transmute::<usize, InputHook>(h) };
            f(b);
        }
    }
}

struct TextWriter;

impl Write for TextWriter {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        write_text(s);
        Ok(())
    }
}

/// Formats to the console.
pub fn print(args: core::fmt::Arguments<'_>) {
    let _ = TextWriter.write_fmt(args);
}

struct Logger;

impl log::Log for Logger {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::max_level()
    }

    fn log(&self, r: &log::Record<'_>) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let ns = crate::time::now_ns();
        let mut line: heapless::String<512> = heapless::String::new();
        if write!(line, "[{:5}.{:06}] {:5} {}\n", ns / 1_000_000_000, (ns / 1000) % 1_000_000, r.level(), r.args()).is_err() {
            line.truncate(506);
            let _ = line.push_str("...\n");
        }
        write_text(&line);
    }

    fn flush(&self) {}
}

static LOGGER: Logger = Logger;

/// Installs the console logger at `level`.
pub fn init_log(level: log::LevelFilter) {
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}
