//! The kernel command line: `key=value` words, and everything after `--` for init.
//!
//! Known keys: `log=<error|warn|info|debug|trace>` (console log level),
//! `init=<path>` (first program, default `/sbin/init`), `nosmp`, `bench` (boot markers).

/// A parsed view of the command line.
#[derive(Clone, Copy, Debug)]
pub struct Cmdline<'a> {
    text: &'a str,
}

impl<'a> Cmdline<'a> {
    /// Wraps a command line string.
    pub fn new(text: &'a str) -> Self {
        Self { text }
    }

    fn kernel_part(&self) -> &'a str {
        match self.text.find(" -- ") {
            Some(i) => &self.text[..i],
            None => self.text.strip_suffix(" --").unwrap_or(self.text),
        }
    }

    /// The value of `key=value`, if present (last one wins).
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.kernel_part()
            .split_ascii_whitespace()
            .filter_map(|w| w.split_once('='))
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v)
            .last()
    }

    /// True if the bare word `flag` is present.
    pub fn has(&self, flag: &str) -> bool {
        self.kernel_part().split_ascii_whitespace().any(|w| w == flag)
    }

    /// The words after `--`, passed to init.
    pub fn init_args(&self) -> impl Iterator<Item = &'a str> {
        let rest = match self.text.find(" -- ") {
            Some(i) => &self.text[i + 4..],
            None => "",
        };
        rest.split_ascii_whitespace()
    }

    /// The log level filter named by `log=`.
    pub fn log_level(&self) -> log::LevelFilter {
        match self.get("log") {
            Some("off") => log::LevelFilter::Off,
            Some("error") => log::LevelFilter::Error,
            Some("warn") => log::LevelFilter::Warn,
            Some("debug") => log::LevelFilter::Debug,
            Some("trace") => log::LevelFilter::Trace,
            _ => log::LevelFilter::Info,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_flags_and_init_args() {
        let c = Cmdline::new("log=debug nosmp init=/bin/x log=trace -- a b=c  d");
        assert_eq!(c.get("log"), Some("trace"));
        assert_eq!(c.log_level(), log::LevelFilter::Trace);
        assert_eq!(c.get("init"), Some("/bin/x"));
        assert!(c.has("nosmp"));
        assert!(!c.has("bench"));
        assert_eq!(c.get("b"), None, "words after -- are not kernel keys");
        assert_eq!(c.init_args().collect::<Vec<_>>(), ["a", "b=c", "d"]);
        assert_eq!(Cmdline::new("").log_level(), log::LevelFilter::Info);
        assert_eq!(Cmdline::new("x").init_args().count(), 0);
    }
}
