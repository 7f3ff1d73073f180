//! The text status that rust-dataflow's `status-node` sends for every message it gets and
//! that `sink` checks. Two forms:
//!
//! - `message 7/100: random value 0x00c0ffee12345678` (a u64 from `node`),
//! - `message 7/100: 4097 bytes, fnv1a 0x1234abcd1234abcd, payload ok` (a large payload
//!   from `node --large`, whose every byte status-node verified).
//!
//! Parsing is strict: a line is accepted only if formatting what was parsed gives the very
//! same text, so any deviation in form (spacing, case, digits) is a bad message.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Value { seq: u64, total: u64, value: u64 },
    Payload { seq: u64, total: u64, len: u64, hash: u64 },
}

impl Status {
    pub fn seq(&self) -> u64 {
        match *self {
            Status::Value { seq, .. } | Status::Payload { seq, .. } => seq,
        }
    }

    pub fn total(&self) -> u64 {
        match *self {
            Status::Value { total, .. } | Status::Payload { total, .. } => total,
        }
    }

    pub fn format(&self) -> String {
        match *self {
            Status::Value { seq, total, value } => format!("message {seq}/{total}: random value {value:#018x}"),
            Status::Payload { seq, total, len, hash } => {
                format!("message {seq}/{total}: {len} bytes, fnv1a {hash:#018x}, payload ok")
            }
        }
    }

    pub fn parse(text: &str) -> Result<Status, String> {
        let bad = || format!("malformed status {text:?}");
        let rest = text.strip_prefix("message ").ok_or_else(bad)?;
        let (counter, body) = rest.split_once(": ").ok_or_else(bad)?;
        let (seq, total) = counter.split_once('/').ok_or_else(bad)?;
        let seq: u64 = seq.parse().map_err(|_| bad())?;
        let total: u64 = total.parse().map_err(|_| bad())?;
        let status = if let Some(hex) = body.strip_prefix("random value 0x") {
            Status::Value { seq, total, value: u64::from_str_radix(hex, 16).map_err(|_| bad())? }
        } else {
            let (len, rest) = body.split_once(" bytes, fnv1a 0x").ok_or_else(bad)?;
            let hex = rest.strip_suffix(", payload ok").ok_or_else(bad)?;
            Status::Payload {
                seq,
                total,
                len: len.parse().map_err(|_| bad())?,
                hash: u64::from_str_radix(hex, 16).map_err(|_| bad())?,
            }
        };
        if status.format() != text {
            return Err(bad());
        }
        Ok(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let a = Status::Value { seq: 7, total: 100, value: 0x00c0_ffee_1234_5678 };
        assert_eq!(a.format(), "message 7/100: random value 0x00c0ffee12345678");
        assert_eq!(Status::parse(&a.format()).unwrap(), a);
        let b = Status::Payload { seq: 1, total: 100, len: 4097, hash: u64::MAX };
        assert_eq!(b.format(), "message 1/100: 4097 bytes, fnv1a 0xffffffffffffffff, payload ok");
        assert_eq!(Status::parse(&b.format()).unwrap(), b);
    }

    #[test]
    fn rejects_any_other_form() {
        for bad in [
            "",
            "message 7/100: random value 0xc0ffee",           // not 16 digits
            "message 7/100: random value 0x00C0FFEE12345678", // upper case
            "message 07/100: random value 0x00c0ffee12345678",
            "message 7/100:  random value 0x00c0ffee12345678",
            "message 7/100: random value 0x00c0ffee12345678 ",
            "Message 7/100: random value 0x00c0ffee12345678",
            "message 7: random value 0x00c0ffee12345678",
            "message 1/100: 4097 bytes, fnv1a 0xffffffffffffffff",
            "message 1/100: x bytes, fnv1a 0xffffffffffffffff, payload ok",
        ] {
            assert!(Status::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
