//! The compiled profile: a small line-based text the kernel reads at boot (from
//! `/etc/axle/profile`) with the no_std core, then validates for the machine it runs on.
//!
//! ```text
//! axle-profile 1
//! name default
//! housekeeping 0
//! realtime rest
//! deadline-bound-ppm 950000
//! idle-poll realtime
//! dora-exe dora
//! default class=other nice=0
//! rule name=sink node=sink threads=all class=fifo priority=80 cpus=realtime
//! rule name=lidar exe=/opt/*/lidar threads=all class=deadline runtime-ns=500000 period-ns=10000000 max-threads=2
//! end
//! ```
//!
//! One item per line; `rule` and `default` lines are `key=value` words separated by single
//! spaces. Values are percent-encoded (`%20` for a space; `%`, `=`, `#`, blanks and
//! control bytes are always encoded). Blank lines and lines starting with `#` are ignored.
//! The `end` line guards against a truncated file. Times are integer nanoseconds, CPU sets
//! are cpulists or `rest`/`housekeeping`/`realtime`/`all`. The full description is in
//! docs/profiles.md.

use crate::error::{ErrorKind, Location, ProfileError};
use crate::spec::{Class, CpuSpec, ProfileSpec, Role, RuleSpec, Threads};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

/// The first line of every compiled profile.
pub const MAGIC: &str = "axle-profile 1";

/// Writes `spec` in the compiled form (any spec; validation is separate).
pub fn write(spec: &ProfileSpec) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{MAGIC}");
    let _ = writeln!(out, "name {}", encode(&spec.name));
    if let Some(h) = spec.housekeeping {
        let _ = writeln!(out, "housekeeping {h}");
    }
    if let Some(r) = spec.realtime {
        let _ = writeln!(out, "realtime {r}");
    }
    let _ = writeln!(out, "deadline-bound-ppm {}", spec.deadline_bound_ppm);
    if let Some(c) = spec.idle_poll {
        let _ = writeln!(out, "idle-poll {c}");
    }
    let _ = writeln!(out, "dora-exe {}", encode(&spec.dora_exe));
    let _ = write!(out, "default");
    write_policy(&mut out, &spec.default);
    let _ = writeln!(out);
    for r in &spec.rules {
        let _ = write!(out, "rule name={}", encode(&r.name));
        if let Some(role) = r.role {
            let _ = write!(out, " role={}", role.name());
        }
        for (key, value) in [("node", &r.node), ("exe", &r.exe), ("thread-name", &r.thread_name)] {
            if let Some(v) = value {
                let _ = write!(out, " {key}={}", encode(v));
            }
        }
        let _ = write!(out, " threads={}", r.threads.name());
        write_policy(&mut out, r);
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "end");
    out
}

fn write_policy(out: &mut String, r: &RuleSpec) {
    let _ = write!(out, " class={}", r.class.name());
    for (key, value) in [("priority", r.priority), ("nice", r.nice), ("max-threads", r.max_threads)] {
        if let Some(v) = value {
            let _ = write!(out, " {key}={v}");
        }
    }
    for (key, value) in [("runtime-ns", r.runtime_ns), ("deadline-ns", r.deadline_ns), ("period-ns", r.period_ns)] {
        if let Some(v) = value {
            let _ = write!(out, " {key}={v}");
        }
    }
    if let Some(c) = r.cpus {
        let _ = write!(out, " cpus={c}");
    }
}

/// Percent-encodes what would break the line format.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() && (c.is_ascii_control() || matches!(c, ' ' | '%' | '=' | '#')) {
            let _ = write!(out, "%{:02X}", c as u8);
        } else {
            out.push(c);
        }
    }
    out
}

/// Undoes [`encode`]; `None` for a bad `%` escape or bytes that are not UTF-8.
pub fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

struct Reader {
    errors: Vec<ProfileError>,
}

impl Reader {
    fn error(&mut self, line: usize, kind: ErrorKind, field: &str, message: String) {
        self.errors.push(ProfileError::new(kind, Location::Line(line), field, message));
    }
}

/// Parses the compiled form.
pub fn parse(text: &str) -> Result<ProfileSpec, Vec<ProfileError>> {
    let mut rd = Reader { errors: Vec::new() };
    let mut spec = ProfileSpec::new("");
    let mut seen_magic = false;
    let mut seen_end = false;
    let mut seen_name = false;
    for (i, raw) in text.split('\n').enumerate() {
        let n = i + 1;
        let line = raw.trim_end_matches('\r').trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if seen_end {
            rd.error(n, ErrorKind::Syntax, "", "text after the `end` line".into());
            break;
        }
        if !seen_magic {
            if line != MAGIC {
                rd.error(n, ErrorKind::Syntax, "", format!("not a compiled profile: the first line must be `{MAGIC}`"));
                return Err(rd.errors);
            }
            seen_magic = true;
            continue;
        }
        let (keyword, rest) = line.split_once(' ').unwrap_or((line, ""));
        match keyword {
            "name" => match decode(rest) {
                Some(name) => {
                    spec.name = name;
                    seen_name = true;
                }
                None => rd.error(n, ErrorKind::BadValue, "name", "bad %-escape or not UTF-8".into()),
            },
            "housekeeping" | "realtime" => match CpuSpec::parse(rest) {
                Ok(c) if keyword == "housekeeping" => spec.housekeeping = Some(c),
                Ok(c) => spec.realtime = Some(c),
                Err(e) => rd.error(n, ErrorKind::BadValue, keyword, format!("{e}")),
            },
            "deadline-bound-ppm" => match rest.parse::<i64>() {
                Ok(v) => spec.deadline_bound_ppm = v,
                Err(_) => rd.error(n, ErrorKind::BadValue, keyword, format!("`{rest}` is not an integer")),
            },
            "idle-poll" => match CpuSpec::parse(rest) {
                Ok(c) => spec.idle_poll = Some(c),
                Err(e) => rd.error(n, ErrorKind::BadValue, keyword, format!("{e}")),
            },
            "dora-exe" => match decode(rest) {
                Some(v) => spec.dora_exe = v,
                None => rd.error(n, ErrorKind::BadValue, keyword, "bad %-escape or not UTF-8".into()),
            },
            "default" => {
                let mut rule = RuleSpec::new("default", Class::Other);
                read_fields(&mut rd, n, rest, &mut rule, false);
                spec.default = rule;
            }
            "rule" => {
                let mut rule = RuleSpec::new("", Class::Other);
                if read_fields(&mut rd, n, rest, &mut rule, true) {
                    spec.rules.push(rule);
                }
            }
            "end" if rest.is_empty() => seen_end = true,
            _ => rd.error(n, ErrorKind::UnknownField, keyword, format!("unknown line `{keyword}`")),
        }
    }
    if !seen_magic {
        rd.error(1, ErrorKind::Syntax, "", format!("empty file: the first line must be `{MAGIC}`"));
    } else if !seen_end && rd.errors.is_empty() {
        let last = text.split('\n').count();
        rd.error(last, ErrorKind::Syntax, "", "no `end` line: the file is truncated".into());
    }
    if seen_magic && !seen_name {
        rd.error(1, ErrorKind::Missing, "name", "no `name` line".into());
    }
    if rd.errors.is_empty() {
        Ok(spec)
    } else {
        Err(rd.errors)
    }
}

/// Reads `key=value` words into `rule`. `is_rule`: match keys and `name` are allowed (and
/// `class` and `name` required). Returns whether the line had no error.
fn read_fields(rd: &mut Reader, n: usize, words: &str, rule: &mut RuleSpec, is_rule: bool) -> bool {
    let before = rd.errors.len();
    let (mut has_class, mut has_name) = (false, false);
    for word in words.split(' ').filter(|w| !w.is_empty()) {
        let Some((key, raw)) = word.split_once('=') else {
            rd.error(n, ErrorKind::Syntax, "", format!("`{word}` is not key=value"));
            continue;
        };
        let Some(value) = decode(raw) else {
            rd.error(n, ErrorKind::BadValue, key, "bad %-escape or not UTF-8".into());
            continue;
        };
        let int = |rd: &mut Reader, v: &str| -> Option<i64> {
            let r = v.parse::<i64>().ok();
            if r.is_none() {
                rd.error(n, ErrorKind::BadValue, key, format!("`{v}` is not an integer"));
            }
            r
        };
        let ns = |rd: &mut Reader, v: &str| -> Option<u64> {
            let r = v.parse::<u64>().ok();
            if r.is_none() {
                rd.error(n, ErrorKind::BadValue, key, format!("`{v}` is not a number of nanoseconds"));
            }
            r
        };
        match key {
            "name" if is_rule => {
                rule.name = value;
                has_name = true;
            }
            "role" if is_rule => match Role::parse(&value) {
                Some(r) => rule.role = Some(r),
                None => rd.error(n, ErrorKind::BadValue, key, format!("`{value}` is not coordinator or daemon")),
            },
            "node" if is_rule => rule.node = Some(value),
            "exe" if is_rule => rule.exe = Some(value),
            "thread-name" if is_rule => rule.thread_name = Some(value),
            "threads" if is_rule => match Threads::parse(&value) {
                Some(t) => rule.threads = t,
                None => rd.error(n, ErrorKind::BadValue, key, format!("`{value}` is not all or main")),
            },
            "class" => match Class::parse(&value) {
                Some(c) => {
                    rule.class = c;
                    has_class = true;
                }
                None => rd.error(n, ErrorKind::BadValue, key, format!("unknown class `{value}`")),
            },
            "priority" => rule.priority = int(rd, &value).or(rule.priority),
            "nice" => rule.nice = int(rd, &value).or(rule.nice),
            "max-threads" => rule.max_threads = int(rd, &value).or(rule.max_threads),
            "runtime-ns" => rule.runtime_ns = ns(rd, &value).or(rule.runtime_ns),
            "deadline-ns" => rule.deadline_ns = ns(rd, &value).or(rule.deadline_ns),
            "period-ns" => rule.period_ns = ns(rd, &value).or(rule.period_ns),
            "cpus" => match CpuSpec::parse(&value) {
                Ok(c) => rule.cpus = Some(c),
                Err(e) => rd.error(n, ErrorKind::BadValue, key, format!("{e}")),
            },
            _ => rd.error(n, ErrorKind::UnknownField, key, format!("unknown key `{key}`")),
        }
    }
    if is_rule && !has_name {
        rd.error(n, ErrorKind::Missing, "name", "a rule line needs name=".into());
    }
    if !has_class {
        rd.error(n, ErrorKind::Missing, "class", "needs class=".into());
    }
    rd.errors.len() == before
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpuset::CpuSet;

    fn sample() -> ProfileSpec {
        let mut spec = ProfileSpec::new("car demo");
        spec.housekeeping = Some(CpuSpec::List(CpuSet::from_cpus(&[0])));
        spec.realtime = Some(CpuSpec::Rest);
        spec.deadline_bound_ppm = 900_000;
        spec.idle_poll = Some(CpuSpec::Realtime);
        spec.dora_exe = "dora*".into();
        spec.default = RuleSpec::new("default", Class::Batch);
        spec.default.nice = Some(5);
        let mut a = RuleSpec::new("daemon", Class::Fifo);
        a.role = Some(Role::Daemon);
        a.priority = Some(50);
        a.cpus = Some(CpuSpec::Housekeeping);
        let mut b = RuleSpec::new("odd name=#%", Class::Deadline);
        b.node = Some("my node".into());
        b.exe = Some("/opt/*/lidar".into());
        b.thread_name = Some("tokio-*".into());
        b.threads = Threads::Main;
        b.runtime_ns = Some(500_000);
        b.deadline_ns = Some(2_000_000);
        b.period_ns = Some(10_000_000);
        b.max_threads = Some(3);
        b.cpus = Some(CpuSpec::List(CpuSet::from_cpus(&[1, 2, 3])));
        spec.rules = alloc::vec![a, b];
        spec
    }

    #[test]
    fn round_trip() {
        let spec = sample();
        let text = write(&spec);
        assert!(text.starts_with("axle-profile 1\nname car%20demo\n"), "{text}");
        assert!(text.contains("rule name=odd%20name%3D%23%25 node=my%20node exe=/opt/*/lidar"), "{text}");
        assert!(text.contains("\nidle-poll realtime\n"), "{text}");
        assert!(text.ends_with("end\n"));
        assert_eq!(parse(&text).unwrap(), spec);
    }

    #[test]
    fn comments_blank_lines_and_crlf() {
        let text = "# compiled\r\naxle-profile 1\r\n\r\nname x\r\nhousekeeping 0\r\nrealtime 1\r\n# a rule\r\nrule name=a node=n class=fifo priority=10\r\nend\r\n";
        let spec = parse(text).unwrap();
        assert_eq!(spec.name, "x");
        assert_eq!(spec.rules.len(), 1);
        assert_eq!(spec.rules[0].priority, Some(10));
        assert_eq!(spec.deadline_bound_ppm, 950_000);
        assert_eq!(spec.idle_poll, None, "idle CPUs halt unless the profile says poll");
        assert_eq!(spec.dora_exe, "dora");
    }

    fn errors(text: &str) -> Vec<ProfileError> {
        parse(text).unwrap_err()
    }

    #[test]
    fn rejects_bad_files() {
        let e = errors("name x\nend\n");
        assert_eq!((e[0].kind, &e[0].location), (ErrorKind::Syntax, &Location::Line(1)));
        assert!(e[0].message.contains("axle-profile 1"));
        assert_eq!(errors("")[0].kind, ErrorKind::Syntax);
        let e = errors("axle-profile 1\nname x\nrule name=a node=n class=fifo priority=1\n");
        assert!(e[0].message.contains("truncated"), "{e:?}");
        let e = errors("axle-profile 1\nname x\nend\nrule name=a class=idle\n");
        assert_eq!((e[0].kind, &e[0].location), (ErrorKind::Syntax, &Location::Line(4)));
        let e = errors("axle-profile 1\nend\n");
        assert_eq!((e[0].kind, e[0].field.as_str()), (ErrorKind::Missing, "name"));
    }

    #[test]
    fn rejects_bad_lines_and_fields() {
        let e = errors("axle-profile 1\nname x\ncolour red\nend\n");
        assert_eq!((e[0].kind, &e[0].location, e[0].field.as_str()), (ErrorKind::UnknownField, &Location::Line(3), "colour"));
        let e = errors("axle-profile 1\nname x\nrule name=a colour=red class=idle\nend\n");
        assert_eq!((e[0].kind, e[0].field.as_str()), (ErrorKind::UnknownField, "colour"));
        let e = errors("axle-profile 1\nname x\nrule name=a class=edf\nend\n");
        assert_eq!((e[0].kind, e[0].field.as_str()), (ErrorKind::BadValue, "class"));
        let e = errors("axle-profile 1\nname x\nrule name=a class=fifo priority=high\nend\n");
        assert_eq!((e[0].kind, e[0].field.as_str()), (ErrorKind::BadValue, "priority"));
        let e = errors("axle-profile 1\nname x\nrule name=a class=deadline runtime-ns=-1\nend\n");
        assert_eq!((e[0].kind, e[0].field.as_str()), (ErrorKind::BadValue, "runtime-ns"));
        let e = errors("axle-profile 1\nname x\nrule node=a class=idle\nend\n");
        assert_eq!((e[0].kind, e[0].field.as_str()), (ErrorKind::Missing, "name"));
        let e = errors("axle-profile 1\nname x\nrule name=a node=b\nend\n");
        assert_eq!((e[0].kind, e[0].field.as_str()), (ErrorKind::Missing, "class"));
        let e = errors("axle-profile 1\nname x\nrule name=a bare class=idle\nend\n");
        assert_eq!(e[0].kind, ErrorKind::Syntax);
        let e = errors("axle-profile 1\nname x\nrule name=a%zz class=idle\nend\n");
        assert_eq!((e[0].kind, e[0].field.as_str()), (ErrorKind::BadValue, "name"));
        let e = errors("axle-profile 1\nname x\nhousekeeping 0-x\nend\n");
        assert_eq!((e[0].kind, e[0].field.as_str()), (ErrorKind::BadValue, "housekeeping"));
        let e = errors("axle-profile 1\nname x\ndefault class=other node=x\nend\n");
        assert_eq!((e[0].kind, e[0].field.as_str()), (ErrorKind::UnknownField, "node"));
        let e = errors("axle-profile 1\nname x\nrule name=a role=cli class=idle\nend\n");
        assert_eq!((e[0].kind, e[0].field.as_str()), (ErrorKind::BadValue, "role"));
        let e = errors("axle-profile 1\nname x\nrule name=a threads=some class=idle\nend\n");
        assert_eq!((e[0].kind, e[0].field.as_str()), (ErrorKind::BadValue, "threads"));
        let e = errors("axle-profile 1\nname x\nidle-poll sometimes\nend\n");
        assert_eq!((e[0].kind, e[0].field.as_str()), (ErrorKind::BadValue, "idle-poll"));
        let e = errors("axle-profile 1\nname x\ndeadline-bound-ppm lots\nend\n");
        assert_eq!((e[0].kind, e[0].field.as_str()), (ErrorKind::BadValue, "deadline-bound-ppm"));
    }

    #[test]
    fn percent_coding() {
        assert_eq!(encode("a b=c#d%e\tf"), "a%20b%3Dc%23d%25e%09f");
        assert_eq!(decode("a%20b%3Dc%23d%25e%09f").as_deref(), Some("a b=c#d%e\tf"));
        assert_eq!(encode("héllo"), "héllo");
        assert_eq!(decode("%zz"), None);
        assert_eq!(decode("%2"), None);
        assert_eq!(decode("%ff"), None);
    }
}
