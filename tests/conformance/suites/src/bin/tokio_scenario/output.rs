//! What a program writes (to a pipe or a terminal), read as it comes and searched for
//! expected text with deadlines. A cursor remembers where the last match ended, so that
//! a series of `expect` calls checks the order of the output too.

use std::cell::RefCell;
use std::os::fd::{AsRawFd, OwnedFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// The bytes read so far, shared with the scenario's transcript.
pub type Log = Rc<RefCell<Vec<u8>>>;

/// Default deadline of an expectation (QEMU under TCG and debug builds are slow).
pub const PATIENCE: Duration = Duration::from_secs(40);

pub struct Output {
    fd: OwnedFd,
    label: String,
    log: Log,
    cursor: usize,
    eof: bool,
}

impl Output {
    /// Reads from `fd` (made non-blocking here).
    pub fn new(fd: OwnedFd, label: &str) -> Output {
        // SAFETY: fcntl on a descriptor we own.
        unsafe {
            let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
            libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
        Output { fd, label: label.to_string(), log: Rc::new(RefCell::new(Vec::new())), cursor: 0, eof: false }
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn log(&self) -> Log {
        self.log.clone()
    }

    /// Everything read so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.log.borrow()).into_owned()
    }

    /// Everything read after the cursor, as text.
    pub fn unmatched(&self) -> String {
        String::from_utf8_lossy(&self.log.borrow()[self.cursor..]).into_owned()
    }

    /// Waits up to `wait` for data and reads what is there; false at end of file (or
    /// EIO: a terminal whose slave side is closed everywhere).
    fn pump(&mut self, wait: Duration) -> bool {
        if self.eof {
            return false;
        }
        let mut pfd = libc::pollfd { fd: self.fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        let ms = wait.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n <= 0 {
            return true;
        }
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: reads into a local buffer of the given size.
            let got = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if got > 0 {
                self.log.borrow_mut().extend_from_slice(&buf[..got as usize]);
                continue;
            }
            let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
            if got == 0 || (got < 0 && errno == libc::EIO) {
                self.eof = true;
                return false;
            }
            return true; // EAGAIN (or EINTR): nothing more for now
        }
    }

    /// Reads whatever arrives within `wait` (no expectation).
    pub fn drain(&mut self, wait: Duration) {
        let end = Instant::now() + wait;
        while self.pump(end.saturating_duration_since(Instant::now())) && Instant::now() < end {}
    }

    /// Waits until `needle` appears after the cursor; moves the cursor past it and
    /// returns the byte offset where it starts.
    pub fn expect(&mut self, needle: &str) -> Result<usize, String> {
        self.expect_within(needle, PATIENCE)
    }

    pub fn expect_within(&mut self, needle: &str, patience: Duration) -> Result<usize, String> {
        let end = Instant::now() + patience;
        loop {
            if let Some(at) = find(&self.log.borrow()[self.cursor..], needle.as_bytes()) {
                let start = self.cursor + at;
                self.cursor = start + needle.len();
                return Ok(start);
            }
            let now = Instant::now();
            if now >= end || !self.pump(end - now) {
                if let Some(at) = find(&self.log.borrow()[self.cursor..], needle.as_bytes()) {
                    let start = self.cursor + at;
                    self.cursor = start + needle.len();
                    return Ok(start);
                }
                let why = if self.eof { "the output ended" } else { "timed out" };
                return Err(format!(
                    "{}: {why} without {:?}; output after the last match: {:?}",
                    self.label,
                    needle,
                    tail(&self.unmatched(), 300)
                ));
            }
        }
    }

    /// Waits until every needle appears after the cursor (in any order), then moves the
    /// cursor to the end of what was read.
    pub fn expect_all(&mut self, needles: &[&str]) -> Result<(), String> {
        let end = Instant::now() + PATIENCE;
        loop {
            let missing: Vec<&str> = {
                let log = self.log.borrow();
                needles.iter().copied().filter(|n| find(&log[self.cursor..], n.as_bytes()).is_none()).collect()
            };
            if missing.is_empty() {
                self.cursor = self.log.borrow().len();
                return Ok(());
            }
            let now = Instant::now();
            if now >= end || !self.pump(end - now) {
                let why = if self.eof { "the output ended" } else { "timed out" };
                return Err(format!(
                    "{}: {why} without {missing:?}; output: {:?}",
                    self.label,
                    tail(&self.unmatched(), 300)
                ));
            }
        }
    }

    /// The byte at `offset` of the output, if any.
    pub fn byte_at(&self, offset: usize) -> Option<u8> {
        self.log.borrow().get(offset).copied()
    }

    /// How many times `needle` occurs in the whole output.
    pub fn count(&self, needle: &str) -> usize {
        let log = self.log.borrow();
        let mut n = 0;
        let mut from = 0;
        while let Some(at) = find(&log[from..], needle.as_bytes()) {
            n += 1;
            from += at + needle.len().max(1);
        }
        n
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The last `max` characters of `text`.
pub fn tail(text: &str, max: usize) -> &str {
    let n = text.chars().count();
    if n <= max {
        return text;
    }
    let skip = text.char_indices().nth(n - max).map_or(0, |(i, _)| i);
    &text[skip..]
}
