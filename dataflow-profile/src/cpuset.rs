//! CPU sets: a fixed bitmap of up to [`MAX_CPUS`] CPUs, written in Linux's cpulist syntax
//! (`0`, `1-3`, `0,2-3`; `none` for the empty set).

use alloc::string::String;
use core::fmt;

/// The highest CPU count a profile can describe.
pub const MAX_CPUS: u32 = 256;

const WORDS: usize = (MAX_CPUS as usize) / 64;

/// A set of CPU numbers `0..MAX_CPUS`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CpuSet {
    words: [u64; WORDS],
}

/// Why a cpulist string did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CpuListError {
    /// An empty element, e.g. `1,,2` or a trailing comma.
    EmptyElement,
    /// Not a decimal CPU number.
    NotANumber(String),
    /// `a-b` with `a > b`.
    Reversed(u32, u32),
    /// A CPU number of `MAX_CPUS` or more.
    TooLarge(u64),
}

impl fmt::Display for CpuListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CpuListError::EmptyElement => write!(f, "empty element in CPU list"),
            CpuListError::NotANumber(s) => write!(f, "`{s}` is not a CPU number"),
            CpuListError::Reversed(a, b) => write!(f, "range {a}-{b} is reversed"),
            CpuListError::TooLarge(n) => write!(f, "CPU {n} is beyond the {MAX_CPUS} CPUs a profile can name"),
        }
    }
}

impl CpuSet {
    /// The empty set.
    pub const fn new() -> Self {
        CpuSet { words: [0; WORDS] }
    }

    /// CPUs `0..n` (clamped to `MAX_CPUS`).
    pub fn first_n(n: u32) -> Self {
        let mut s = CpuSet::new();
        for cpu in 0..n.min(MAX_CPUS) {
            s.insert(cpu);
        }
        s
    }

    /// A set from CPU numbers; numbers of `MAX_CPUS` or more are ignored.
    pub fn from_cpus(cpus: &[u32]) -> Self {
        let mut s = CpuSet::new();
        for &c in cpus {
            s.insert(c);
        }
        s
    }

    /// Adds `cpu`; returns false (and does nothing) when `cpu >= MAX_CPUS`.
    pub fn insert(&mut self, cpu: u32) -> bool {
        if cpu >= MAX_CPUS {
            return false;
        }
        self.words[(cpu / 64) as usize] |= 1 << (cpu % 64);
        true
    }

    pub fn remove(&mut self, cpu: u32) {
        if cpu < MAX_CPUS {
            self.words[(cpu / 64) as usize] &= !(1 << (cpu % 64));
        }
    }

    pub fn contains(&self, cpu: u32) -> bool {
        cpu < MAX_CPUS && self.words[(cpu / 64) as usize] & (1 << (cpu % 64)) != 0
    }

    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|w| *w == 0)
    }

    pub fn count(&self) -> u32 {
        self.words.iter().map(|w| w.count_ones()).sum()
    }

    /// The CPUs in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        (0..MAX_CPUS).filter(move |c| self.contains(*c))
    }

    pub fn union(&self, other: &CpuSet) -> CpuSet {
        let mut out = *self;
        for (o, w) in out.words.iter_mut().zip(other.words.iter()) {
            *o |= *w;
        }
        out
    }

    pub fn intersection(&self, other: &CpuSet) -> CpuSet {
        let mut out = *self;
        for (o, w) in out.words.iter_mut().zip(other.words.iter()) {
            *o &= *w;
        }
        out
    }

    /// The CPUs of `self` that are not in `other`.
    pub fn difference(&self, other: &CpuSet) -> CpuSet {
        let mut out = *self;
        for (o, w) in out.words.iter_mut().zip(other.words.iter()) {
            *o &= !*w;
        }
        out
    }

    pub fn is_subset(&self, other: &CpuSet) -> bool {
        self.difference(other).is_empty()
    }

    /// The 64-bit words of the bitmap, CPU 0 in bit 0 of word 0 (the layout of Linux's
    /// `cpu_set_t` on a little-endian 64-bit machine).
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// Parses a cpulist: comma-separated CPU numbers and `a-b` ranges; `none` is the empty
    /// set. Spaces around elements are allowed.
    pub fn parse_list(text: &str) -> Result<CpuSet, CpuListError> {
        let text = text.trim();
        let mut s = CpuSet::new();
        if text == "none" {
            return Ok(s);
        }
        for element in text.split(',') {
            let element = element.trim();
            if element.is_empty() {
                return Err(CpuListError::EmptyElement);
            }
            let (lo, hi) = match element.split_once('-') {
                Some((a, b)) => (parse_cpu(a.trim())?, parse_cpu(b.trim())?),
                None => {
                    let c = parse_cpu(element)?;
                    (c, c)
                }
            };
            if lo > hi {
                return Err(CpuListError::Reversed(lo, hi));
            }
            for cpu in lo..=hi {
                s.insert(cpu);
            }
        }
        Ok(s)
    }
}

fn parse_cpu(text: &str) -> Result<u32, CpuListError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CpuListError::NotANumber(text.into()));
    }
    let n: u64 = text.parse().map_err(|_| CpuListError::TooLarge(u64::MAX))?;
    if n >= MAX_CPUS as u64 {
        return Err(CpuListError::TooLarge(n));
    }
    Ok(n as u32)
}

/// Linux cpulist form: `0,2-3`; `none` when empty.
impl fmt::Display for CpuSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return write!(f, "none");
        }
        let mut first = true;
        let mut cpu = 0;
        while cpu < MAX_CPUS {
            if !self.contains(cpu) {
                cpu += 1;
                continue;
            }
            let start = cpu;
            while cpu + 1 < MAX_CPUS && self.contains(cpu + 1) {
                cpu += 1;
            }
            if !first {
                write!(f, ",")?;
            }
            first = false;
            if start == cpu {
                write!(f, "{start}")?;
            } else {
                write!(f, "{start}-{cpu}")?;
            }
            cpu += 1;
        }
        Ok(())
    }
}

impl fmt::Debug for CpuSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CpuSet({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn parse_and_format_round_trip() {
        let s = CpuSet::parse_list("0, 2-4,7,8").unwrap();
        assert_eq!(s.iter().collect::<alloc::vec::Vec<_>>(), [0, 2, 3, 4, 7, 8]);
        assert_eq!(s.to_string(), "0,2-4,7-8");
        assert_eq!(CpuSet::parse_list(&s.to_string()).unwrap(), s);
        assert_eq!(s.count(), 6);
    }

    #[test]
    fn none_is_empty() {
        assert!(CpuSet::parse_list("none").unwrap().is_empty());
        assert_eq!(CpuSet::new().to_string(), "none");
    }

    #[test]
    fn parse_errors() {
        assert_eq!(CpuSet::parse_list(""), Err(CpuListError::EmptyElement));
        assert_eq!(CpuSet::parse_list("1,,2"), Err(CpuListError::EmptyElement));
        assert_eq!(CpuSet::parse_list("3-1"), Err(CpuListError::Reversed(3, 1)));
        assert_eq!(CpuSet::parse_list("x"), Err(CpuListError::NotANumber("x".into())));
        assert_eq!(CpuSet::parse_list("-1"), Err(CpuListError::NotANumber("".into())));
        assert_eq!(CpuSet::parse_list("256"), Err(CpuListError::TooLarge(256)));
        assert_eq!(CpuSet::parse_list("255").unwrap().iter().next(), Some(255));
    }

    #[test]
    fn set_operations() {
        let a = CpuSet::parse_list("0-3").unwrap();
        let b = CpuSet::parse_list("2-5").unwrap();
        assert_eq!(a.union(&b).to_string(), "0-5");
        assert_eq!(a.intersection(&b).to_string(), "2-3");
        assert_eq!(a.difference(&b).to_string(), "0-1");
        assert!(CpuSet::parse_list("1-2").unwrap().is_subset(&a));
        assert!(!b.is_subset(&a));
        assert_eq!(CpuSet::first_n(3).to_string(), "0-2");
        let mut c = CpuSet::from_cpus(&[1, 65, 300]);
        assert_eq!(c.to_string(), "1,65");
        assert_eq!(c.words()[1], 2);
        c.remove(1);
        assert_eq!(c.to_string(), "65");
        assert!(!c.insert(MAX_CPUS));
    }
}
