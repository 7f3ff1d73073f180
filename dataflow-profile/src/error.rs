//! Profile errors: what is wrong ([`ErrorKind`]), where (the rule, the default section, the
//! profile itself, or a line of a file) and in which field, with a sentence for people.

use alloc::string::String;
use core::fmt;

/// Where an error is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A top-level field of the profile (`cpus.housekeeping`, `deadline_bound_percent`...).
    Profile,
    /// The `[default]` section (unmatched threads).
    Default,
    /// Rule number `index` (from 1, file order) named `name`.
    Rule { index: usize, name: String },
    /// Line `n` (from 1) of a file, before rules are known (syntax errors).
    Line(usize),
}

/// What is wrong; each validation rule has its own kind so tests can tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The text does not parse (TOML or compiled form).
    Syntax,
    /// A required field is missing.
    Missing,
    /// A field the format does not know.
    UnknownField,
    /// A value of the wrong type or spelling (e.g. `class = "edf"`, `cpus = "x"`).
    BadValue,
    /// A field that does not apply to the rule's class (e.g. `priority` for `other`).
    NotForClass,
    /// FIFO/RR priority outside 1..=99.
    PriorityRange,
    /// Nice value outside -20..=19.
    NiceRange,
    /// DEADLINE runtime below Linux's minimum (1024 ns).
    RuntimeTooSmall,
    /// DEADLINE runtime > deadline.
    RuntimeAboveDeadline,
    /// DEADLINE deadline > period.
    DeadlineAbovePeriod,
    /// DEADLINE period outside Linux's default bounds (100 us ..= 4.194304 s).
    PeriodRange,
    /// `max_threads` missing for a DEADLINE rule covering all threads, or not >= 1.
    MaxThreads,
    /// The deadline bound is not in (0, 100%].
    BoundRange,
    /// A CPU number the machine does not have.
    CpuOutsideMachine,
    /// A CPU set that resolves to no CPU.
    EmptyCpuSet,
    /// A CPU that is both housekeeping and real-time.
    PartitionOverlap,
    /// A CPU of the machine that is neither housekeeping nor real-time.
    CpuUnassigned,
    /// One DEADLINE thread's runtime/period exceeds the per-CPU bound.
    ReservationTooLarge,
    /// DEADLINE reservations exceed the bound on a set of CPUs.
    Overload,
    /// Two rules with the same name.
    DuplicateName,
    /// A rule with no criterion (`role`, `node`, `exe`, `thread_name`, `threads = "main"`).
    NoCriteria,
    /// A rule that no process or thread can ever match (contradictory criteria, or an
    /// earlier rule takes everything it would match).
    CannotMatch,
    /// The default section asks for a real-time class.
    DefaultRealtime,
}

/// One problem in a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileError {
    pub kind: ErrorKind,
    pub location: Location,
    /// The field, as spelled in the TOML form (`priority`, `cpus.realtime`...); empty when
    /// the error is about the whole rule or line.
    pub field: String,
    pub message: String,
}

impl ProfileError {
    pub fn new(kind: ErrorKind, location: Location, field: &str, message: String) -> ProfileError {
        ProfileError { kind, location, field: field.into(), message }
    }
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Location::Profile => write!(f, "profile")?,
            Location::Default => write!(f, "[default]")?,
            Location::Rule { index, name } => write!(f, "rule #{index} `{name}`")?,
            Location::Line(n) => write!(f, "line {n}")?,
        }
        if !self.field.is_empty() {
            write!(f, ", field `{}`", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ProfileError {}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn display_names_place_and_field() {
        let e = ProfileError::new(
            ErrorKind::PriorityRange,
            Location::Rule { index: 2, name: "sink".into() },
            "priority",
            "120 is outside 1..=99".into(),
        );
        assert_eq!(e.to_string(), "rule #2 `sink`, field `priority`: 120 is outside 1..=99");
        let e = ProfileError::new(ErrorKind::Syntax, Location::Line(4), "", "bad".into());
        assert_eq!(e.to_string(), "line 4: bad");
        let e = ProfileError::new(ErrorKind::Missing, Location::Profile, "cpus.realtime", "missing".into());
        assert_eq!(e.to_string(), "profile, field `cpus.realtime`: missing");
        let e = ProfileError::new(ErrorKind::DefaultRealtime, Location::Default, "class", "no".into());
        assert_eq!(e.to_string(), "[default], field `class`: no");
    }
}
