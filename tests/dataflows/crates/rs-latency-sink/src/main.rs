//! rs-latency's sink: records the latency of every message of the `latency` input (send
//! stamp to the moment the sink got the event, CLOCK_MONOTONIC) and writes them all to a
//! raw CSV, with the send period actually observed; tools/report/ turns it into the jitter
//! report.
//!
//! Output: `--out PATH` / LAT_OUT (default `latency-raw.csv` in the working directory, which
//! is the dataflow's directory under Dora). Its format:
//!
//! ```text
//! # rs-latency raw samples; clock CLOCK_MONOTONIC; times in ns
//! # plan: sizes=8,40960;count=100;period_ns=20000000
//! size_index,size_bytes,seq,send_ns,recv_ns,latency_ns,period_ns
//! 0,8,0,123456789,123500000,43211,
//! 0,8,1,143456789,143499000,42211,20000000
//! ```
//!
//! One row per message received, in send order (size index, then sequence). `period_ns` is
//! this message's send time minus the previous message's (empty for the first, or when the
//! previous one is missing). Every sample is attributed by its stamp, never by arrival
//! order; the payload must have the plan's size for that index and start with the stamp's
//! marker. Exit status 1 (after writing the CSV) when a message is missing, duplicated,
//! malformed, or has a negative latency.
#![deny(unsafe_code)]

use std::collections::BTreeMap;
use std::fmt::Write as _;

use dora_node_api::{DoraNode, Event};
use eyre::{bail, eyre};
use flowcheck::args;
use flowcheck::plan::{size_label, Plan};
use flowcheck::stamp::{latency_ns, monotonic_ns, Stamp};

struct Sample {
    size_bytes: u64,
    send_ns: u64,
    recv_ns: u64,
}

fn main() -> eyre::Result<()> {
    let argv: Vec<String> = std::env::args().collect();
    let out = args::option(&argv, "out", "LAT_OUT").map_err(|e| eyre!(e))?.unwrap_or_else(|| "latency-raw.csv".into());

    let (_node, mut events) = DoraNode::init_from_env()?;
    let mut plan: Option<Plan> = None;
    let mut samples: BTreeMap<(u32, u32), Sample> = BTreeMap::new();
    let mut problems: Vec<String> = Vec::new();
    let mut open_inputs = 2;
    loop {
        let event = events.recv();
        let recv_ns = monotonic_ns();
        let Some(event) = event else { break };
        match event {
            Event::Input { id, metadata, data } => match id.as_str() {
                "latency" => {
                    let stamp = Stamp::from_params(metadata.parameters.watermark, metadata.parameters.deadline);
                    let bytes: &[u8] = (&data).try_into().map_err(|e| eyre!("latency input is not bytes: {e}"))?;
                    let key = (stamp.size_index, stamp.seq);
                    if !bytes.starts_with(&stamp.marker(bytes.len())) {
                        problems.push(format!("message {key:?}: payload does not start with its stamp's marker"));
                    }
                    let sample = Sample { size_bytes: bytes.len() as u64, send_ns: stamp.send_ns, recv_ns };
                    if samples.insert(key, sample).is_some() {
                        problems.push(format!("message {key:?} received twice"));
                    }
                }
                "plan" => {
                    let text: &str = (&data).try_into().map_err(|e| eyre!("plan is not text: {e}"))?;
                    plan = Some(Plan::from_text(text).map_err(|e| eyre!(e))?);
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
                problems.push("stopped before the inputs closed".into());
                break;
            }
            other => eprintln!("rs-latency sink: ignoring event {other:?}"),
        }
    }
    let Some(plan) = plan else { bail!("no plan received ({} samples)", samples.len()) };
    problems.extend(check(&plan, &samples));
    write_csv(&out, &plan, &samples)?;
    println!("rs-latency sink: wrote {} samples to {out}", samples.len());
    summarize(&plan, &samples);
    if !problems.is_empty() {
        for p in problems.iter().take(20) {
            eprintln!("rs-latency sink: {p}");
        }
        bail!("{} problems", problems.len());
    }
    println!("rs-latency sink: all {} messages received", plan.total());
    Ok(())
}

/// Sizes, ranges, completeness and signs of the samples against the plan.
fn check(plan: &Plan, samples: &BTreeMap<(u32, u32), Sample>) -> Vec<String> {
    let mut problems = Vec::new();
    for (&(size_index, seq), s) in samples {
        match plan.sizes.get(size_index as usize) {
            None => problems.push(format!("message ({size_index}, {seq}): no such size index")),
            Some(&want) if want != s.size_bytes => {
                problems.push(format!("message ({size_index}, {seq}): {} bytes, the plan says {want}", s.size_bytes))
            }
            Some(_) => {}
        }
        if seq >= plan.count {
            problems.push(format!("message ({size_index}, {seq}): sequence beyond the plan's {}", plan.count));
        }
        if latency_ns(s.send_ns, s.recv_ns) < 0 {
            problems.push(format!("message ({size_index}, {seq}): received before it was sent (clock error)"));
        }
    }
    for size_index in 0..plan.sizes.len() as u32 {
        let missing = (0..plan.count).filter(|&seq| !samples.contains_key(&(size_index, seq))).count();
        if missing > 0 {
            problems.push(format!("{missing} of {} messages of {} missing", plan.count, size_label(plan.sizes[size_index as usize])));
        }
    }
    problems
}

fn write_csv(path: &str, plan: &Plan, samples: &BTreeMap<(u32, u32), Sample>) -> eyre::Result<()> {
    let mut text = String::new();
    text.push_str("# rs-latency raw samples; clock CLOCK_MONOTONIC; times in ns\n");
    writeln!(text, "# plan: {}", plan.to_text())?;
    text.push_str("size_index,size_bytes,seq,send_ns,recv_ns,latency_ns,period_ns\n");
    let mut previous: Option<((u32, u32), u64)> = None;
    for (&(size_index, seq), s) in samples {
        // The previous message in send order is (same size, seq - 1), or the last of the
        // previous size for seq 0.
        let expected_prev = if seq > 0 {
            Some((size_index, seq - 1))
        } else if size_index > 0 {
            Some((size_index - 1, plan.count - 1))
        } else {
            None
        };
        let period = match (previous, expected_prev) {
            (Some((key, send)), Some(want)) if key == want => latency_ns(send, s.send_ns).to_string(),
            _ => String::new(),
        };
        writeln!(
            text,
            "{size_index},{},{seq},{},{},{},{period}",
            s.size_bytes,
            s.send_ns,
            s.recv_ns,
            latency_ns(s.send_ns, s.recv_ns)
        )?;
        previous = Some(((size_index, seq), s.send_ns));
    }
    let tmp = format!("{path}.tmp");
    std::fs::write(&tmp, text).map_err(|e| eyre!("cannot write {tmp}: {e}"))?;
    std::fs::rename(&tmp, path).map_err(|e| eyre!("cannot rename {tmp} to {path}: {e}"))?;
    Ok(())
}

/// A quick look on stdout (the report tool computes the real statistics).
fn summarize(plan: &Plan, samples: &BTreeMap<(u32, u32), Sample>) {
    for (i, &size) in plan.sizes.iter().enumerate() {
        let mut lat: Vec<i128> = samples
            .range((i as u32, 0)..=(i as u32, u32::MAX))
            .map(|(_, s)| latency_ns(s.send_ns, s.recv_ns))
            .collect();
        lat.sort_unstable();
        if lat.is_empty() {
            println!("rs-latency sink: {:>7}: no samples", size_label(size));
            continue;
        }
        let us = |v: i128| v as f64 / 1000.0;
        println!(
            "rs-latency sink: {:>7}: n={} min={:.1}us median={:.1}us max={:.1}us",
            size_label(size),
            lat.len(),
            us(lat[0]),
            us(lat[(lat.len() - 1) / 2]),
            us(lat[lat.len() - 1])
        );
    }
}
