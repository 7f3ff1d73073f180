//! The TOML front end (feature `std`): reads a profile file of `configs/profiles/` into a
//! [`ProfileSpec`], reporting unknown keys and values of the wrong type by rule and field.
//! Ranges and consistency are [`crate::validate()`]'s job. The format is documented in
//! docs/profiles.md.

use crate::duration::parse_ns;
use crate::error::{ErrorKind, Location, ProfileError};
use crate::spec::{Class, CpuSpec, ProfileSpec, Role, RuleSpec, Threads};
use crate::cpuset::CpuSet;
use toml::{Table, Value};

struct Reader {
    errors: Vec<ProfileError>,
}

impl Reader {
    fn error(&mut self, kind: ErrorKind, loc: &Location, field: &str, message: String) {
        self.errors.push(ProfileError::new(kind, loc.clone(), field, message));
    }

    fn string(&mut self, v: &Value, loc: &Location, field: &str) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            other => {
                self.error(ErrorKind::BadValue, loc, field, format!("expected a string, found {}", other.type_str()));
                None
            }
        }
    }

    fn integer(&mut self, v: &Value, loc: &Location, field: &str) -> Option<i64> {
        match v {
            Value::Integer(i) => Some(*i),
            other => {
                self.error(ErrorKind::BadValue, loc, field, format!("expected an integer, found {}", other.type_str()));
                None
            }
        }
    }

    fn duration(&mut self, v: &Value, loc: &Location, field: &str) -> Option<u64> {
        match v {
            Value::String(s) => match parse_ns(s) {
                Ok(ns) => Some(ns),
                Err(e) => {
                    self.error(ErrorKind::BadValue, loc, field, e);
                    None
                }
            },
            Value::Integer(i) => {
                self.error(
                    ErrorKind::BadValue,
                    loc,
                    field,
                    format!("{i} has no unit: write a string such as \"{i}us\""),
                );
                None
            }
            other => {
                self.error(ErrorKind::BadValue, loc, field, format!("expected a duration such as \"500us\", found {}", other.type_str()));
                None
            }
        }
    }

    /// A CPU set: a string (cpulist or keyword) or an array of CPU numbers.
    fn cpus(&mut self, v: &Value, loc: &Location, field: &str) -> Option<CpuSpec> {
        match v {
            Value::String(s) => match CpuSpec::parse(s) {
                Ok(c) => Some(c),
                Err(e) => {
                    self.error(ErrorKind::BadValue, loc, field, format!("{e}"));
                    None
                }
            },
            Value::Array(items) => {
                let mut set = CpuSet::new();
                for item in items {
                    match item {
                        Value::Integer(c) if (0..crate::MAX_CPUS as i64).contains(c) => {
                            set.insert(*c as u32);
                        }
                        other => {
                            let shown = match other {
                                Value::Integer(i) => i.to_string(),
                                v => format!("a {}", v.type_str()),
                            };
                            self.error(
                                ErrorKind::BadValue,
                                loc,
                                field,
                                format!("{shown} is not a CPU number 0..{}", crate::MAX_CPUS),
                            );
                            return None;
                        }
                    }
                }
                Some(CpuSpec::List(set))
            }
            other => {
                self.error(
                    ErrorKind::BadValue,
                    loc,
                    field,
                    format!("expected a CPU list such as \"1-3\" or [1, 2, 3], found {}", other.type_str()),
                );
                None
            }
        }
    }

    fn table<'a>(&mut self, v: &'a Value, loc: &Location, field: &str) -> Option<&'a Table> {
        match v {
            Value::Table(t) => Some(t),
            other => {
                self.error(ErrorKind::BadValue, loc, field, format!("expected a table, found {}", other.type_str()));
                None
            }
        }
    }
}

/// The line (from 1) of byte offset `at`.
fn line_of(text: &str, at: usize) -> usize {
    text[..at.min(text.len())].bytes().filter(|b| *b == b'\n').count() + 1
}

/// Parses a TOML profile.
pub fn parse(text: &str) -> Result<ProfileSpec, Vec<ProfileError>> {
    let doc: Table = match text.parse() {
        Ok(t) => t,
        Err(e) => {
            let e: toml::de::Error = e;
            let line = e.span().map_or(1, |s| line_of(text, s.start));
            let message = e.message().trim().to_string();
            return Err(vec![ProfileError::new(ErrorKind::Syntax, Location::Line(line), "", message)]);
        }
    };
    let mut rd = Reader { errors: Vec::new() };
    let top = Location::Profile;
    let mut spec = ProfileSpec::new("");
    for (key, value) in &doc {
        match key.as_str() {
            "name" => spec.name = rd.string(value, &top, "name").unwrap_or_default(),
            "description" => {
                rd.string(value, &top, "description");
            }
            "cpus" => {
                if let Some(t) = rd.table(value, &top, "cpus") {
                    read_cpus(&mut rd, t, &mut spec);
                }
            }
            "dora" => {
                if let Some(t) = rd.table(value, &top, "dora") {
                    for (k, v) in t {
                        match k.as_str() {
                            "exe" => {
                                if let Some(s) = rd.string(v, &top, "dora.exe") {
                                    spec.dora_exe = s;
                                }
                            }
                            _ => rd.error(ErrorKind::UnknownField, &top, &format!("dora.{k}"), "unknown key (known: exe)".into()),
                        }
                    }
                }
            }
            "default" => {
                if let Some(t) = rd.table(value, &top, "default") {
                    let mut rule = RuleSpec::new("default", Class::Other);
                    read_rule(&mut rd, t, &Location::Default, &mut rule, false);
                    spec.default = rule;
                }
            }
            "rule" => match value {
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        let name = match item.get("name") {
                            Some(Value::String(s)) => s.clone(),
                            _ => String::new(),
                        };
                        let loc = Location::Rule { index: i + 1, name };
                        if let Some(t) = rd.table(item, &loc, "") {
                            let mut rule = RuleSpec::new("", Class::Other);
                            read_rule(&mut rd, t, &loc, &mut rule, true);
                            spec.rules.push(rule);
                        }
                    }
                }
                other => rd.error(
                    ErrorKind::BadValue,
                    &top,
                    "rule",
                    format!("rules are an array of tables ([[rule]]), found {}", other.type_str()),
                ),
            },
            other => rd.error(
                ErrorKind::UnknownField,
                &top,
                other,
                "unknown key (known: name, description, [cpus], [dora], [default], [[rule]])".into(),
            ),
        }
    }
    if !doc.contains_key("name") {
        rd.error(ErrorKind::Missing, &top, "name", "the profile needs a name".into());
    }
    if rd.errors.is_empty() {
        Ok(spec)
    } else {
        Err(rd.errors)
    }
}

fn read_cpus(rd: &mut Reader, t: &Table, spec: &mut ProfileSpec) {
    let top = Location::Profile;
    for (k, v) in t {
        match k.as_str() {
            "housekeeping" => spec.housekeeping = rd.cpus(v, &top, "cpus.housekeeping"),
            "realtime" => spec.realtime = rd.cpus(v, &top, "cpus.realtime"),
            "deadline_bound_percent" => {
                let field = "cpus.deadline_bound_percent";
                let percent = match v {
                    Value::Integer(i) => Some(*i as f64),
                    Value::Float(f) => Some(*f),
                    other => {
                        rd.error(ErrorKind::BadValue, &top, field, format!("expected a number, found {}", other.type_str()));
                        None
                    }
                };
                if let Some(p) = percent {
                    // Kept as parts per million; validation checks the range.
                    spec.deadline_bound_ppm = if p.is_finite() { (p * 10_000.0).round() as i64 } else { -1 };
                }
            }
            "idle_poll" => spec.idle_poll = rd.cpus(v, &top, "cpus.idle_poll"),
            _ => rd.error(
                ErrorKind::UnknownField,
                &top,
                &format!("cpus.{k}"),
                "unknown key (known: housekeeping, realtime, deadline_bound_percent, idle_poll)".into(),
            ),
        }
    }
}

fn read_rule(rd: &mut Reader, t: &Table, loc: &Location, rule: &mut RuleSpec, is_rule: bool) {
    let mut has_class = false;
    for (k, v) in t {
        let key = k.as_str();
        match key {
            "name" if is_rule => rule.name = rd.string(v, loc, key).unwrap_or_default(),
            "role" if is_rule => {
                if let Some(s) = rd.string(v, loc, key) {
                    match Role::parse(&s) {
                        Some(r) => rule.role = Some(r),
                        None => rd.error(ErrorKind::BadValue, loc, key, format!("`{s}` is not \"coordinator\" or \"daemon\"")),
                    }
                }
            }
            "node" if is_rule => rule.node = rd.string(v, loc, key),
            "exe" if is_rule => rule.exe = rd.string(v, loc, key),
            "thread_name" if is_rule => rule.thread_name = rd.string(v, loc, key),
            "threads" if is_rule => {
                if let Some(s) = rd.string(v, loc, key) {
                    match Threads::parse(&s) {
                        Some(th) => rule.threads = th,
                        None => rd.error(ErrorKind::BadValue, loc, key, format!("`{s}` is not \"all\" or \"main\"")),
                    }
                }
            }
            "class" => {
                if let Some(s) = rd.string(v, loc, key) {
                    match Class::parse(&s) {
                        Some(c) => {
                            rule.class = c;
                            has_class = true;
                        }
                        None => rd.error(
                            ErrorKind::BadValue,
                            loc,
                            key,
                            format!("unknown class `{s}` (fifo, rr, deadline, other, batch, idle)"),
                        ),
                    }
                }
            }
            "priority" => rule.priority = rd.integer(v, loc, key),
            "nice" => rule.nice = rd.integer(v, loc, key),
            "max_threads" => rule.max_threads = rd.integer(v, loc, key),
            "runtime" => rule.runtime_ns = rd.duration(v, loc, key),
            "deadline" => rule.deadline_ns = rd.duration(v, loc, key),
            "period" => rule.period_ns = rd.duration(v, loc, key),
            "cpus" => rule.cpus = rd.cpus(v, loc, key),
            _ => {
                let known = if is_rule {
                    "name, role, node, exe, thread_name, threads, class, priority, nice, runtime, deadline, period, max_threads, cpus"
                } else {
                    "class, nice, cpus"
                };
                rd.error(ErrorKind::UnknownField, loc, key, format!("unknown key (known: {known})"));
            }
        }
    }
    if is_rule && !t.contains_key("name") {
        rd.error(ErrorKind::Missing, loc, "name", "every rule needs a name".into());
    }
    if is_rule && !has_class && !t.contains_key("class") {
        rd.error(ErrorKind::Missing, loc, "class", "every rule needs a class (fifo, rr, deadline, other, batch, idle)".into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "demo"
description = "a test profile"

[cpus]
housekeeping = "0"
realtime = [1, 2, 3]
deadline_bound_percent = 92.5
idle_poll = "realtime"

[dora]
exe = "dora*"

[default]
class = "batch"
nice = 5

[[rule]]
name = "daemon"
role = "daemon"
class = "SCHED_FIFO"
priority = 50
cpus = "housekeeping"

[[rule]]
name = "lidar"
node = "lidar"
thread_name = "tokio-*"
threads = "main"
class = "deadline"
runtime = "500us"
deadline = "2ms"
period = "10ms"
max_threads = 2
cpus = "1-2"
"#;

    #[test]
    fn reads_every_field() {
        let s = parse(GOOD).unwrap();
        assert_eq!(s.name, "demo");
        assert_eq!(s.housekeeping, Some(CpuSpec::List(CpuSet::from_cpus(&[0]))));
        assert_eq!(s.realtime, Some(CpuSpec::List(CpuSet::from_cpus(&[1, 2, 3]))));
        assert_eq!(s.deadline_bound_ppm, 925_000);
        assert_eq!(s.idle_poll, Some(CpuSpec::Realtime));
        assert_eq!(s.dora_exe, "dora*");
        assert_eq!((s.default.class, s.default.nice), (Class::Batch, Some(5)));
        assert_eq!(s.rules.len(), 2);
        let d = &s.rules[0];
        assert_eq!((d.name.as_str(), d.role, d.class, d.priority), ("daemon", Some(Role::Daemon), Class::Fifo, Some(50)));
        assert_eq!(d.cpus, Some(CpuSpec::Housekeeping));
        let l = &s.rules[1];
        assert_eq!(l.node.as_deref(), Some("lidar"));
        assert_eq!(l.thread_name.as_deref(), Some("tokio-*"));
        assert_eq!(l.threads, Threads::Main);
        assert_eq!((l.runtime_ns, l.deadline_ns, l.period_ns), (Some(500_000), Some(2_000_000), Some(10_000_000)));
        assert_eq!(l.max_threads, Some(2));
        assert!(crate::validate(&s, 4).is_ok());
    }

    fn first_error(text: &str) -> ProfileError {
        parse(text).unwrap_err().remove(0)
    }

    #[test]
    fn syntax_errors_have_lines() {
        let e = first_error("name = \"x\"\n[cpus\n");
        assert_eq!((e.kind, &e.location), (ErrorKind::Syntax, &Location::Line(2)));
    }

    #[test]
    fn unknown_keys_are_errors() {
        let e = first_error("name = \"x\"\ncolour = 1\n");
        assert_eq!((e.kind, e.field.as_str()), (ErrorKind::UnknownField, "colour"));
        let e = first_error("name = \"x\"\n[cpus]\nisolated = \"1\"\n");
        assert_eq!((e.kind, e.field.as_str()), (ErrorKind::UnknownField, "cpus.isolated"));
        let e = first_error("name = \"x\"\n[dora]\npath = \"/bin/dora\"\n");
        assert_eq!((e.kind, e.field.as_str()), (ErrorKind::UnknownField, "dora.path"));
        let e = first_error("name = \"x\"\n[default]\nnode = \"a\"\n");
        assert_eq!((e.kind, &e.location, e.field.as_str()), (ErrorKind::UnknownField, &Location::Default, "node"));
        let e = first_error("name = \"x\"\n[[rule]]\nname = \"a\"\nnode = \"a\"\nclass = \"idle\"\nprio = 3\n");
        assert_eq!(e.kind, ErrorKind::UnknownField);
        assert_eq!(e.location, Location::Rule { index: 1, name: "a".into() });
        assert_eq!(e.to_string(), "rule #1 `a`, field `prio`: unknown key (known: name, role, node, exe, thread_name, threads, class, priority, nice, runtime, deadline, period, max_threads, cpus)");
    }

    #[test]
    fn wrong_types_and_spellings() {
        let rule = |body: &str| first_error(&format!("name = \"x\"\n[[rule]]\nname = \"r\"\nnode = \"n\"\n{body}\n"));
        let e = rule("class = \"fifo\"\npriority = \"high\"");
        assert_eq!((e.kind, e.field.as_str()), (ErrorKind::BadValue, "priority"));
        assert!(e.message.contains("expected an integer"));
        let e = rule("class = \"edf\"");
        assert_eq!((e.kind, e.field.as_str()), (ErrorKind::BadValue, "class"));
        let e = rule("class = \"deadline\"\nruntime = 500");
        assert_eq!((e.kind, e.field.as_str()), (ErrorKind::BadValue, "runtime"));
        assert!(e.message.contains("no unit"));
        let e = rule("class = \"deadline\"\nperiod = \"10 minutes\"");
        assert_eq!((e.kind, e.field.as_str()), (ErrorKind::BadValue, "period"));
        let e = rule("class = \"deadline\"\ndeadline = true");
        assert_eq!((e.kind, e.field.as_str()), (ErrorKind::BadValue, "deadline"));
        let e = rule("class = \"idle\"\ncpus = \"1-x\"");
        assert_eq!((e.kind, e.field.as_str()), (ErrorKind::BadValue, "cpus"));
        let e = rule("class = \"idle\"\ncpus = [1, -2]");
        assert_eq!((e.kind, e.field.as_str()), (ErrorKind::BadValue, "cpus"));
        let e = rule("class = \"idle\"\ncpus = 3");
        assert_eq!((e.kind, e.field.as_str()), (ErrorKind::BadValue, "cpus"));
        let e = rule("class = \"idle\"\nrole = \"cli\"");
        assert_eq!((e.kind, e.field.as_str()), (ErrorKind::BadValue, "role"));
        let e = rule("class = \"idle\"\nthreads = \"some\"");
        assert_eq!((e.kind, e.field.as_str()), (ErrorKind::BadValue, "threads"));
        let e = rule("class = 3");
        assert_eq!((e.kind, e.field.as_str()), (ErrorKind::BadValue, "class"));
        let e = first_error("name = \"x\"\n[cpus]\nidle_poll = \"sometimes\"\n");
        assert_eq!((e.kind, e.field.as_str()), (ErrorKind::BadValue, "cpus.idle_poll"));
        let e = first_error("name = \"x\"\n[cpus]\nidle_poll = true\n");
        assert_eq!((e.kind, e.field.as_str()), (ErrorKind::BadValue, "cpus.idle_poll"));
        let e = first_error("name = \"x\"\n[cpus]\ndeadline_bound_percent = \"95%\"\n");
        assert_eq!((e.kind, e.field.as_str()), (ErrorKind::BadValue, "cpus.deadline_bound_percent"));
        let e = first_error("name = \"x\"\ncpus = 3\n");
        assert_eq!((e.kind, e.field.as_str()), (ErrorKind::BadValue, "cpus"));
        let e = first_error("name = \"x\"\nrule = 3\n");
        assert_eq!((e.kind, e.field.as_str()), (ErrorKind::BadValue, "rule"));
        let e = first_error("name = 7\n");
        assert_eq!((e.kind, e.field.as_str()), (ErrorKind::BadValue, "name"));
    }

    #[test]
    fn missing_name_and_class() {
        let e = first_error("[cpus]\nhousekeeping = \"0\"\n");
        assert_eq!((e.kind, e.field.as_str()), (ErrorKind::Missing, "name"));
        let e = first_error("name = \"x\"\n[[rule]]\nnode = \"a\"\nclass = \"idle\"\n");
        assert_eq!((e.kind, e.field.as_str()), (ErrorKind::Missing, "name"));
        assert_eq!(e.location, Location::Rule { index: 1, name: String::new() });
        let e = first_error("name = \"x\"\n[[rule]]\nname = \"a\"\nnode = \"a\"\n");
        assert_eq!((e.kind, e.field.as_str()), (ErrorKind::Missing, "class"));
    }

    #[test]
    fn compiles_to_the_same_spec() {
        let s = parse(GOOD).unwrap();
        let text = crate::compiled::write(&s);
        assert_eq!(crate::compiled::parse(&text).unwrap(), s);
    }
}
