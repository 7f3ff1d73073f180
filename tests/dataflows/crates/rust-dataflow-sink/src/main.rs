//! rust-dataflow `sink`: the verdict of the dataflow. It gets the statuses of `status-node`
//! (`message` input) and, directly, the values of `node` (`random` input), and checks:
//!
//! - every status has exactly the form of [`flowcheck::status`] and the next number
//!   (1, 2, ... N, N from `--count`, default 100, env RUST_DATAFLOW_COUNT);
//! - every large payload is intact ([`flowcheck::pattern::verify`]) and in order;
//! - status i describes value i exactly (the u64, or the payload's size and checksum);
//! - exactly N of each arrived before the inputs closed (a missing message is an error).
//!
//! Any failure ends the sink with exit status 1 at once, and so the dataflow fails; on
//! success it prints `sink: all N messages checked`.
//!
//! `--endless` (dataflow-endless.yml): no count (statuses say `/0`); when the dataflow is
//! stopped, every status that arrived must match its value and at least one must have
//! arrived; then it prints `sink: stopped after N values, M statuses, all matched`.
#![deny(unsafe_code)]

use dora_node_api::{DoraNode, Event};
use eyre::{bail, eyre};
use flowcheck::{args, pattern, status::Status};

/// What `node` sent, as the sink saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sent {
    Value(u64),
    Payload { len: u64, hash: u64 },
}

fn main() -> eyre::Result<()> {
    let argv: Vec<String> = std::env::args().collect();
    let count = args::positive(&argv, "count", "RUST_DATAFLOW_COUNT", 100).map_err(|e| eyre!(e))?;
    let endless = args::flag(&argv, "endless");
    let count = if endless { 0 } else { count };

    let (_node, mut events) = DoraNode::init_from_env()?;
    let mut sent: Vec<Sent> = Vec::new();
    let mut statuses: Vec<Status> = Vec::new();
    let mut checked = 0usize;
    let mut open_inputs = 2;
    while let Some(event) = events.recv() {
        match event {
            Event::Input { id, data, .. } => match id.as_str() {
                "message" => {
                    let text: &str = (&data).try_into().map_err(|e| eyre!("status {}: not a string: {e}", statuses.len() + 1))?;
                    let status = Status::parse(text).map_err(|e| eyre!(e))?;
                    let want = statuses.len() as u64 + 1;
                    if (!endless && want > count) || status.seq() != want || status.total() != count {
                        bail!("status {text:?}: expected message {want}/{count}");
                    }
                    statuses.push(status);
                }
                "random" => {
                    let n = sent.len() + 1;
                    if !endless && n as u64 > count {
                        bail!("value {n}: more than the {count} expected");
                    }
                    let item = if let Ok(value) = u64::try_from(&data) {
                        Sent::Value(value)
                    } else {
                        let bytes: &[u8] = (&data).try_into().map_err(|e| eyre!("value {n}: neither a u64 nor bytes: {e}"))?;
                        let (seq, _) = pattern::verify(bytes).map_err(|e| eyre!("value {n}: {e}"))?;
                        if seq != n as u64 {
                            bail!("value {n}: payload says it is message {seq}");
                        }
                        Sent::Payload { len: bytes.len() as u64, hash: pattern::fnv1a64(bytes) }
                    };
                    sent.push(item);
                }
                other => bail!("unexpected input '{other}'"),
            },
            Event::InputClosed { .. } => {
                open_inputs -= 1;
                if open_inputs == 0 {
                    break;
                }
            }
            Event::Stop => {
                eprintln!("sink: stop event");
                break;
            }
            other => eprintln!("sink: ignoring event {other:?}"),
        }
        match_pending(&statuses, &sent, &mut checked)?;
    }
    match_pending(&statuses, &sent, &mut checked)?;
    if endless {
        if statuses.is_empty() {
            bail!("stopped before any status arrived ({} values)", sent.len());
        }
        println!("sink: stopped after {} values, {} statuses, all matched", sent.len(), statuses.len());
        return Ok(());
    }
    if sent.len() as u64 != count || statuses.len() as u64 != count || checked as u64 != count {
        bail!(
            "missing messages: {} of {count} values, {} of {count} statuses arrived, {checked} matched",
            sent.len(),
            statuses.len()
        );
    }
    println!("sink: all {count} messages checked");
    Ok(())
}

/// Matches statuses against values as far as both have arrived (status i describes value i).
fn match_pending(statuses: &[Status], sent: &[Sent], checked: &mut usize) -> eyre::Result<()> {
    while *checked < statuses.len().min(sent.len()) {
        let i = *checked;
        let ok = match (statuses[i], sent[i]) {
            (Status::Value { value, .. }, Sent::Value(v)) => value == v,
            (Status::Payload { len, hash, .. }, Sent::Payload { len: l, hash: h }) => len == l && hash == h,
            _ => false,
        };
        if !ok {
            bail!("status {:?} does not describe value {} ({:?})", statuses[i].format(), i + 1, sent[i]);
        }
        *checked += 1;
    }
    Ok(())
}
