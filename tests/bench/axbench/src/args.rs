//! Command-line options of one benchmark: `--key value` pairs, looked up by name.

use crate::measure::Budget;

/// The `--key value` options given after the benchmark's name.
pub struct Args {
    pairs: Vec<(String, String)>,
}

impl Args {
    /// Parses `--key value` pairs; anything else is an error.
    pub fn parse(words: &[String]) -> Result<Args, String> {
        let mut pairs = Vec::new();
        let mut it = words.iter();
        while let Some(w) = it.next() {
            let key = w.strip_prefix("--").ok_or_else(|| format!("unexpected argument {w:?} (options are --key value)"))?;
            let value = it.next().ok_or_else(|| format!("option --{key} needs a value"))?;
            pairs.push((key.to_string(), value.clone()));
        }
        Ok(Args { pairs })
    }

    /// The value of `--key`, if given (the last one wins).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// `--key` as a number, or `default`.
    pub fn num(&self, key: &str, default: u64) -> Result<u64, String> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| format!("--{key} {v:?}: expected a whole number")),
        }
    }

    /// The measuring budget: `--ms` (total milliseconds, default 1000) split into
    /// `--batches` (default 5) after a warm-up of a fifth of it.
    pub fn budget(&self) -> Result<Budget, String> {
        let ms = self.num("ms", 1000)?.max(10);
        let batches = self.num("batches", 5)?.clamp(1, 1000) as u32;
        Ok(Budget { total_ns: ms * 1_000_000, batches })
    }
}
