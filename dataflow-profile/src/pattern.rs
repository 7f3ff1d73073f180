//! Glob patterns for executable paths and thread names: `*` matches any run of bytes
//! (including `/`), `?` one byte, `\x` the byte `x` literally; everything else matches itself.

/// Whether `text` matches the glob `pattern` (byte-wise).
pub fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    // Where to resume after the last `*`: (pattern index after it, text index it matched to).
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    star = Some((p + 1, t));
                    p += 1;
                    continue;
                }
                b'?' => {
                    p += 1;
                    t += 1;
                    continue;
                }
                b'\\' if p + 1 < pattern.len() && pattern[p + 1] == text[t] => {
                    p += 2;
                    t += 1;
                    continue;
                }
                // An escaped byte that differs: a mismatch (never a literal backslash).
                b'\\' if p + 1 < pattern.len() => {}
                c if c == text[t] => {
                    p += 1;
                    t += 1;
                    continue;
                }
                _ => {}
            }
        }
        // Mismatch: let the last `*` swallow one more byte, or fail.
        match star {
            Some((sp, st)) => {
                p = sp;
                t = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|c| *c == b'*')
}

/// The fewest bytes any text matching `pattern` has.
pub fn min_match_len(pattern: &[u8]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            b'*' => {}
            b'\\' if i + 1 < pattern.len() => {
                n += 1;
                i += 1;
            }
            _ => n += 1,
        }
        i += 1;
    }
    n
}

/// Whether the pattern matches every text (it is made of `*` only).
pub fn matches_everything(pattern: &[u8]) -> bool {
    !pattern.is_empty() && pattern.iter().all(|c| *c == b'*')
}

/// The last `/`-separated component of a path (the whole path when it has no `/`).
pub fn basename(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|c| *c == b'/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, t: &str) -> bool {
        glob_match(p.as_bytes(), t.as_bytes())
    }

    #[test]
    fn literals_and_wildcards() {
        assert!(m("sink", "sink"));
        assert!(!m("sink", "sinks"));
        assert!(!m("sink", "sin"));
        assert!(m("*", ""));
        assert!(m("*", "anything/at all"));
        assert!(m("tokio-*", "tokio-runtime-w"));
        assert!(!m("tokio-*", "tokio"));
        assert!(m("*/target/*/rust-*", "/add/target/release/rust-node"));
        assert!(!m("*/target/*/rust-*", "/add/target/release/sink"));
        assert!(m("s?nk", "sank"));
        assert!(!m("s?nk", "snk"));
        assert!(m("a*b*c", "axxbyyc"));
        assert!(m("a*b*c", "abcbc"));
        assert!(!m("a*b*c", "acb"));
        assert!(m("**a", "a"));
    }

    #[test]
    fn escapes() {
        assert!(m("a\\*b", "a*b"));
        assert!(!m("a\\*b", "axb"));
        assert!(m("a\\?", "a?"));
        assert!(!m("a\\?", "ab"));
        assert!(!m("\\a", "\\"));
        assert!(m("\\\\", "\\"));
    }

    #[test]
    fn minimum_length() {
        assert_eq!(min_match_len(b"tokio-*"), 6);
        assert_eq!(min_match_len(b"a\\*b?"), 4);
        assert_eq!(min_match_len(b"***"), 0);
        assert!(matches_everything(b"**"));
        assert!(!matches_everything(b""));
        assert!(!matches_everything(b"*a"));
    }

    #[test]
    fn basenames() {
        assert_eq!(basename(b"/usr/bin/dora"), b"dora");
        assert_eq!(basename(b"dora"), b"dora");
        assert_eq!(basename(b"/dir/"), b"");
    }
}
