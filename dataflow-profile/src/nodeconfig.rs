//! The dataflow node id of a Dora node process, from its `DORA_NODE_CONFIG` environment
//! variable.
//!
//! Dora's daemon starts every node with `DORA_NODE_CONFIG` set to its `NodeConfig`
//! (dora-core's `daemon_messages.rs` in 0.3.5) serialized as YAML: a top-level mapping with
//! the keys `dataflow_id`, `node_id`, `run_config`, `daemon_communication`,
//! `dataflow_descriptor` and `dynamic`. Dora 0.3.5's daemon serializes with serde_yaml 0.8
//! (a `---` line first, strings double-quoted where plain would be ambiguous); later
//! versions use serde_yaml 0.9 (no `---`, single quotes). Only the scalar value of the
//! top-level `node_id` key is needed, so this is a small scanner, not a YAML parser: it
//! reads top-level lines (no indentation), skips quoted multi-line values of other keys, and
//! decodes a plain, single-quoted or double-quoted scalar (with YAML's escapes and line
//! folding). Block scalars, flow collections, aliases and nulls give `None`.

use alloc::string::String;

/// The environment variable Dora's daemon sets for each node.
pub const ENV_NAME: &str = "DORA_NODE_CONFIG";

/// The node id from an environment (`KEY=VALUE` entries); the first `DORA_NODE_CONFIG`
/// counts, as for `getenv`.
pub fn node_id_from_env(env: &[&[u8]]) -> Option<String> {
    let value = env.iter().find_map(|e| e.strip_prefix(ENV_NAME.as_bytes())?.strip_prefix(b"="))?;
    node_id_from_yaml(core::str::from_utf8(value).ok()?)
}

/// The value of the top-level `node_id` key of a YAML document.
pub fn node_id_from_yaml(yaml: &str) -> Option<String> {
    let mut pos = 0;
    while pos < yaml.len() {
        let line_end = yaml[pos..].find('\n').map_or(yaml.len(), |i| pos + i);
        let line = &yaml[pos..line_end];
        let mut next = line_end + 1;
        if let Some((key, value_at)) = top_level_key(line) {
            let value_pos = pos + value_at;
            if key == "node_id" {
                return node_value(yaml, value_pos);
            }
            // Skip a quoted value of another key, which may span lines.
            let v = skip_blanks(yaml, value_pos);
            if matches!(yaml[v..].chars().next(), Some('"' | '\'')) {
                if let Some((_, end)) = quoted(yaml, v) {
                    next = yaml[end..].find('\n').map_or(yaml.len(), |i| end + i) + 1;
                }
            }
        }
        pos = next;
    }
    None
}

/// For a line that starts a top-level mapping entry, the key and the offset in the line just
/// after its `:`.
fn top_level_key(line: &str) -> Option<(String, usize)> {
    let first = line.chars().next()?;
    if matches!(first, ' ' | '\t' | '#' | '-' | '.' | '\r' | '{' | '[' | '|' | '>' | '%') {
        return None;
    }
    if first == '"' || first == '\'' {
        let (key, end) = quoted(line, 0)?;
        let rest = &line[end..];
        let after = rest.trim_start_matches([' ', '\t']);
        let colon = end + (rest.len() - after.len());
        return after.starts_with(':').then(|| (key, colon + 1));
    }
    // A plain key ends at the first `:` followed by a blank or the end of the line.
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b':' && (i + 1 == bytes.len() || matches!(bytes[i + 1], b' ' | b'\t' | b'\r')) {
            return Some((String::from(line[..i].trim_end()), i + 1));
        }
        i += 1;
    }
    None
}

fn skip_blanks(text: &str, mut pos: usize) -> usize {
    while pos < text.len() && matches!(text.as_bytes()[pos], b' ' | b'\t') {
        pos += 1;
    }
    pos
}

/// The scalar value of a top-level key whose value starts at `pos` (just after the `:`).
fn node_value(yaml: &str, pos: usize) -> Option<String> {
    let mut v = skip_blanks(yaml, pos);
    // Tags (`!!str`) and anchors (`&a`) before the scalar.
    while matches!(yaml[v..].chars().next(), Some('!' | '&')) {
        let end = yaml[v..].find([' ', '\t', '\n']).map_or(yaml.len(), |i| v + i);
        v = skip_blanks(yaml, end);
    }
    let rest_of_line = &yaml[v..yaml[v..].find('\n').map_or(yaml.len(), |i| v + i)];
    let trimmed = rest_of_line.trim_end_matches(['\r', ' ', '\t']);
    if trimmed.is_empty() || trimmed.starts_with('#') {
        // The value is on the next line(s), indented.
        let nl = yaml[v..].find('\n')? + v + 1;
        let indented = skip_blanks(yaml, nl);
        if indented == nl {
            return None;
        }
        return scalar(yaml, indented);
    }
    scalar(yaml, v)
}

fn scalar(yaml: &str, v: usize) -> Option<String> {
    let value = match yaml[v..].chars().next()? {
        '"' | '\'' => quoted(yaml, v)?.0,
        '|' | '>' | '{' | '[' | '*' | '\n' | '\r' => return None,
        _ => plain(yaml, v),
    };
    match value.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => None,
        _ => Some(value),
    }
}

/// A plain scalar from `v`: up to a ` #` comment, continued by more-indented lines (folded
/// with a space, an empty line becomes a line break).
fn plain(yaml: &str, v: usize) -> String {
    let mut out = String::new();
    let mut pending_breaks = 0;
    let mut pos = v;
    let mut first = true;
    loop {
        let end = yaml[pos..].find('\n').map_or(yaml.len(), |i| pos + i);
        let line = &yaml[pos..end];
        let content = match line.find(" #").or_else(|| line.find("\t#")) {
            Some(i) => &line[..i],
            None => line,
        };
        let content = content.trim_matches([' ', '\t', '\r']);
        if !first && (line.starts_with('#') || content.starts_with('#')) {
            break;
        }
        if content.is_empty() {
            pending_breaks += 1;
        } else {
            if !first {
                if pending_breaks == 0 {
                    out.push(' ');
                }
                for _ in 0..pending_breaks {
                    out.push('\n');
                }
            }
            pending_breaks = 0;
            out.push_str(content);
        }
        first = false;
        if end >= yaml.len() {
            break;
        }
        pos = end + 1;
        // Continuation lines are indented (or empty); a top-level line ends the scalar.
        if !matches!(yaml.as_bytes().get(pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            break;
        }
    }
    out
}

/// A single- or double-quoted scalar starting at `start`; returns it and the offset just
/// after the closing quote. `None` when unterminated or badly escaped.
fn quoted(text: &str, start: usize) -> Option<(String, usize)> {
    let quote = text[start..].chars().next()?;
    let mut out = String::new();
    let mut it = text[start + 1..].char_indices().map(|(i, c)| (i + start + 1, c)).peekable();
    while let Some((i, c)) = it.next() {
        match c {
            '\'' if quote == '\'' => {
                if it.peek().map(|p| p.1) == Some('\'') {
                    it.next();
                    out.push('\'');
                } else {
                    return Some((out, i + 1));
                }
            }
            '"' if quote == '"' => return Some((out, i + 1)),
            '\\' if quote == '"' => {
                let (_, e) = it.next()?;
                match e {
                    '0' => out.push('\0'),
                    'a' => out.push('\x07'),
                    'b' => out.push('\x08'),
                    't' | '\t' => out.push('\t'),
                    'n' => out.push('\n'),
                    'v' => out.push('\x0b'),
                    'f' => out.push('\x0c'),
                    'r' => out.push('\r'),
                    'e' => out.push('\x1b'),
                    ' ' => out.push(' '),
                    '"' => out.push('"'),
                    '/' => out.push('/'),
                    '\\' => out.push('\\'),
                    'N' => out.push('\u{85}'),
                    '_' => out.push('\u{a0}'),
                    'L' => out.push('\u{2028}'),
                    'P' => out.push('\u{2029}'),
                    'x' | 'u' | 'U' => {
                        let digits = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let mut code = 0u32;
                        for _ in 0..digits {
                            code = code * 16 + it.next()?.1.to_digit(16)?;
                        }
                        out.push(char::from_u32(code)?);
                    }
                    '\r' | '\n' => {
                        // An escaped line break: the lines join with nothing between them.
                        if e == '\r' && it.peek().map(|p| p.1) == Some('\n') {
                            it.next();
                        }
                        while matches!(it.peek().map(|p| p.1), Some(' ' | '\t')) {
                            it.next();
                        }
                    }
                    _ => return None,
                }
            }
            '\r' | '\n' => {
                // Line folding: trailing blanks go, one break is a space, n+1 breaks are n
                // newlines, leading blanks of the next line go.
                if c == '\r' && it.peek().map(|p| p.1) == Some('\n') {
                    it.next();
                }
                while out.ends_with([' ', '\t']) {
                    out.pop();
                }
                let mut breaks = 0;
                loop {
                    while matches!(it.peek().map(|p| p.1), Some(' ' | '\t')) {
                        it.next();
                    }
                    match it.peek().map(|p| p.1) {
                        Some('\n') => {
                            it.next();
                            breaks += 1;
                        }
                        Some('\r') => {
                            it.next();
                        }
                        _ => break,
                    }
                }
                if breaks == 0 {
                    out.push(' ');
                }
                for _ in 0..breaks {
                    out.push('\n');
                }
            }
            _ => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape Dora 0.3.5's daemon writes (serde_yaml 0.8): `---`, then the NodeConfig.
    const DORA_035: &str = "---
dataflow_id: 0190f4c2-7e3a-7d61-9e4e-0d6c3f1b2a90
node_id: rust-status-node
run_config:
  inputs:
    random:
      source: rust-node
      output: random
      queue_size: ~
    tick:
      source: dora
      output: timer/millis/100
      queue_size: ~
  outputs:
    - status
daemon_communication:
  Tcp:
    socket_addr: \"127.0.0.1:39417\"
dataflow_descriptor:
  communication:
    _unstable_local: Tcp
  nodes:
    - id: rust-node
      name: ~
      path: ../../target/debug/rust-dataflow-example-node
    - id: rust-status-node
      custom:
        source: ../../target/debug/rust-dataflow-example-status-node
dynamic: false
";

    fn id(yaml: &str) -> Option<String> {
        node_id_from_yaml(yaml)
    }

    #[test]
    fn dora_035_node_config() {
        assert_eq!(id(DORA_035).as_deref(), Some("rust-status-node"));
    }

    #[test]
    fn serde_yaml_09_shape_and_crlf() {
        let y = "dataflow_id: 0190f4c2-7e3a-7d61-9e4e-0d6c3f1b2a90\r\nnode_id: sink\r\nrun_config: {}\r\n";
        assert_eq!(id(y).as_deref(), Some("sink"));
    }

    #[test]
    fn nested_node_ids_are_not_the_node_id() {
        // Only the top-level key counts; `id:` and indented `node_id:` in the descriptor do not.
        let y = "dataflow_descriptor:\n  nodes:\n    - id: other\n      node_id: nested\nnode_id: real\n";
        assert_eq!(id(y).as_deref(), Some("real"));
        assert_eq!(id("dataflow_descriptor:\n  node_id: nested\n"), None);
    }

    #[test]
    fn quoted_ids() {
        assert_eq!(id("node_id: \"123\"\n").as_deref(), Some("123"));
        assert_eq!(id("node_id: 'it''s'\n").as_deref(), Some("it's"));
        assert_eq!(id("node_id: \"a\\tb\\x41\\u00e9\\\"\"\n").as_deref(), Some("a\tbAé\""));
        assert_eq!(id("node_id: \"true\" # quoted bool\n").as_deref(), Some("true"));
        assert_eq!(id("\"node_id\": quoted-key\n").as_deref(), Some("quoted-key"));
        assert_eq!(id("'node_id' : single-key\n").as_deref(), Some("single-key"));
    }

    #[test]
    fn multi_line_scalars_fold() {
        assert_eq!(id("node_id: \"long\n  name\"\n").as_deref(), Some("long name"));
        assert_eq!(id("node_id: \"a\\\n  b\"\n").as_deref(), Some("ab"));
        assert_eq!(id("node_id: 'x\n\n  y'\n").as_deref(), Some("x\ny"));
        assert_eq!(id("node_id: plain\n  continued\nnext: 1\n").as_deref(), Some("plain continued"));
        assert_eq!(id("node_id:\n  on-next-line\n").as_deref(), Some("on-next-line"));
    }

    #[test]
    fn quoted_values_of_other_keys_are_skipped() {
        // A multi-line quoted value whose second line looks like a key.
        let y = "dataflow_id: \"x\nnode_id: fake\"\nnode_id: real\n";
        assert_eq!(id(y).as_deref(), Some("real"));
    }

    #[test]
    fn plain_with_comment_tag_and_anchor() {
        assert_eq!(id("node_id: camera # the camera\n").as_deref(), Some("camera"));
        assert_eq!(id("node_id: !!str 42\n").as_deref(), Some("42"));
        assert_eq!(id("node_id: &n lidar\n").as_deref(), Some("lidar"));
        assert_eq!(id("node_id: a:b\n").as_deref(), Some("a:b"));
        assert_eq!(id("node_id: sink").as_deref(), Some("sink"));
    }

    #[test]
    fn absent_or_unusable() {
        assert_eq!(id(""), None);
        assert_eq!(id("dataflow_id: x\n"), None);
        assert_eq!(id("node_id: ~\n"), None);
        assert_eq!(id("node_id: null\n"), None);
        assert_eq!(id("node_id:\n"), None);
        assert_eq!(id("node_id:\nnext: 1\n"), None);
        assert_eq!(id("node_id: |\n  block\n"), None);
        assert_eq!(id("node_id: [a]\n"), None);
        assert_eq!(id("node_id: *alias\n"), None);
        assert_eq!(id("node_id: \"unterminated\n"), None);
        assert_eq!(id("node_id: \"bad \\q escape\"\n"), None);
        assert_eq!(id("node_idx: no\n"), None);
        assert_eq!(id("node_id:no-space\n"), None);
        assert_eq!(id("{node_id: flow}\n"), None);
    }

    #[test]
    fn from_environment() {
        let cfg = alloc::format!("{ENV_NAME}={DORA_035}");
        let env: [&[u8]; 3] = [b"PATH=/bin", cfg.as_bytes(), b"DORA_NODE_CONFIG=node_id: second\n"];
        assert_eq!(node_id_from_env(&env).as_deref(), Some("rust-status-node"));
        assert_eq!(node_id_from_env(&[b"DORA_NODE_CONFIGX=node_id: x"]), None);
        assert_eq!(node_id_from_env(&[b"DORA_NODE_CONFIG=node_id: \xff\n"]), None);
        assert_eq!(node_id_from_env(&[]), None);
    }
}
