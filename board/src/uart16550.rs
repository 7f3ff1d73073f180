//! 16550-compatible UART (COM1..COM4) driven through port I/O.
//!
//! Datasheet: TI PC16550D, "Universal Asynchronous Receiver/Transmitter with FIFOs".
//! Only what a console needs: 115200 8N1, FIFOs on, transmit by polling the line status
//! register (THR empty), receive-data-available interrupts.

use x86_64::instructions::port::Port;

/// I/O base of COM1..COM4 on a PC.
pub const COM_PORTS: [u16; 4] = [0x3f8, 0x2f8, 0x3e8, 0x2e8];
/// ISA IRQ lines of COM1..COM4.
pub const COM_IRQS: [u8; 4] = [4, 3, 4, 3];

const LSR_DATA_READY: u8 = 0x01;
const LSR_THR_EMPTY: u8 = 0x20;

/// One UART at an I/O port base.
pub struct Uart16550 {
    base: u16,
}

impl Uart16550 {
    /// A UART at `base` (not yet initialised).
    pub const fn new(base: u16) -> Self {
        Self { base }
    }

    fn out(&self, reg: u16, val: u8) {
        // SAFETY: the base is one of the PC's COM port blocks; writing its registers has no
        // effect on memory safety.
        unsafe { Port::<u8>::new(self.base + reg).write(val) }
    }

    fn inp(&self, reg: u16) -> u8 {
        // SAFETY: as in `out`: reading a UART register only affects the device.
        unsafe { Port::<u8>::new(self.base + reg).read() }
    }

    /// Programs 115200 baud, 8N1, FIFOs on; receive interrupts on if `rx_irq`.
    /// Returns false if no UART answers at this base (scratch register test).
    pub fn init(&self, rx_irq: bool) -> bool {
        self.out(7, 0x5a);
        if self.inp(7) != 0x5a {
            return false;
        }
        self.out(1, 0x00); // IER off
        self.out(3, 0x80); // DLAB
        self.out(0, 0x01); // divisor 1 -> 115200
        self.out(1, 0x00);
        self.out(3, 0x03); // 8N1
        self.out(2, 0xc7); // FIFO on, clear, 14-byte threshold
        self.out(4, 0x0b); // DTR | RTS | OUT2 (OUT2 gates the IRQ line)
        self.out(1, if rx_irq { 0x01 } else { 0x00 });
        true
    }

    /// Turns the received-data interrupt on or off.
    pub fn set_rx_interrupt(&self, on: bool) {
        self.out(1, if on { 0x01 } else { 0x00 });
    }

    /// Writes one byte, waiting for the transmit holding register to empty.
    pub fn write_byte(&self, b: u8) {
        while self.inp(5) & LSR_THR_EMPTY == 0 {
            core::hint::spin_loop();
        }
        self.out(0, b);
    }

    /// Writes bytes, turning `\n` into `\r\n` when `crlf`.
    pub fn write_bytes(&self, bytes: &[u8], crlf: bool) {
        for &b in bytes {
            if crlf && b == b'\n' {
                self.write_byte(b'\r');
            }
            self.write_byte(b);
        }
    }

    /// One received byte, if any is waiting.
    pub fn try_read_byte(&self) -> Option<u8> {
        if self.inp(5) & LSR_DATA_READY != 0 {
            Some(self.inp(0))
        } else {
            None
        }
    }
}
