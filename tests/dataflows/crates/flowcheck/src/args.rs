//! Tiny command-line helpers: `--name VALUE` options with an environment fallback, so every
//! node can be configured from the dataflow YAML (`args:` or `env:`) or the environment of
//! `dora up`/`dora daemon` (nodes inherit it).

/// The value of `--name VALUE` or `--name=VALUE` in `args`, else the environment variable
/// `env`, else None. A `--name` without a value is an error.
pub fn option(args: &[String], name: &str, env: &str) -> Result<Option<String>, String> {
    let flag = format!("--{name}");
    let prefix = format!("--{name}=");
    let mut i = 0;
    while i < args.len() {
        if args[i] == flag {
            return match args.get(i + 1) {
                Some(v) => Ok(Some(v.clone())),
                None => Err(format!("{flag} needs a value")),
            };
        }
        if let Some(v) = args[i].strip_prefix(&prefix) {
            return Ok(Some(v.to_string()));
        }
        i += 1;
    }
    Ok(std::env::var(env).ok().filter(|v| !v.is_empty()))
}

/// Whether the bare flag `--name` is present.
pub fn flag(args: &[String], name: &str) -> bool {
    let flag = format!("--{name}");
    args.iter().any(|a| *a == flag)
}

/// Parses a positive integer option (see [`option`]) with a default.
pub fn positive(args: &[String], name: &str, env: &str, default: u64) -> Result<u64, String> {
    match option(args, name, env)? {
        None => Ok(default),
        Some(text) => match text.trim().parse::<u64>() {
            Ok(v) if v > 0 => Ok(v),
            _ => Err(format!("--{name} / {env}: '{text}' is not a positive integer")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn option_forms() {
        let a = v(&["prog", "--count", "7", "--mode=large"]);
        assert_eq!(option(&a, "count", "FLOWCHECK_TEST_UNSET_1").unwrap(), Some("7".into()));
        assert_eq!(option(&a, "mode", "FLOWCHECK_TEST_UNSET_2").unwrap(), Some("large".into()));
        assert_eq!(option(&a, "other", "FLOWCHECK_TEST_UNSET_3").unwrap(), None);
        assert!(option(&v(&["--count"]), "count", "FLOWCHECK_TEST_UNSET_4").is_err());
        assert!(flag(&v(&["x", "--large"]), "large"));
        assert!(!flag(&v(&["x", "--larger"]), "large"));
    }

    #[test]
    fn positive_values() {
        assert_eq!(positive(&v(&[]), "n", "FLOWCHECK_TEST_UNSET_5", 100).unwrap(), 100);
        assert_eq!(positive(&v(&["--n", "3"]), "n", "FLOWCHECK_TEST_UNSET_6", 100).unwrap(), 3);
        assert!(positive(&v(&["--n", "0"]), "n", "FLOWCHECK_TEST_UNSET_7", 100).is_err());
        assert!(positive(&v(&["--n", "x"]), "n", "FLOWCHECK_TEST_UNSET_8", 100).is_err());
    }
}
