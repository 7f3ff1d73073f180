//! rs-latency's sender (`node`): sends, for each payload size of the plan, `count` messages
//! on its `latency` output at a fixed nominal period, each stamped with its send time, size
//! index and sequence number ([`flowcheck::stamp`]). Its first output, `plan`, is the plan
//! itself as text, so the sink checks the run against it.
//!
//! Plan: `--sizes 8,40960,...` / LAT_SIZES (bytes; default 8 B, 40 KB, 400 KB, 4 MB, 40 MB),
//! `--count N` / LAT_COUNT (default 100), `--period-ms P` / LAT_PERIOD_MS (default 20).
//!
//! Message k (over all sizes) is due at start + k x period, on an absolute schedule (a late
//! message does not shift the later ones). Its payload is prepared before the wait
//! (allocated, the index marker written and every 4 KiB page touched), then the node sleeps
//! until the due time, reads CLOCK_MONOTONIC and sends at once: the stamp is the moment of
//! the send, so the latency is Dora's transport alone and the difference between
//! consecutive stamps is the send period actually achieved (timer wake-up jitter included).
//! A Stop event ends the run early with exit status 1.
#![deny(unsafe_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dora_node_api::{
    dora_core::config::DataId, dora_core::message::ArrowTypeInfo, DoraNode, Event, IntoArrow, MetadataParameters,
};
use eyre::{bail, eyre};
use flowcheck::plan::{size_label, Plan};
use flowcheck::stamp::{monotonic_ns, Stamp};

const PAGE: usize = 4096;

fn main() -> eyre::Result<()> {
    let argv: Vec<String> = std::env::args().collect();
    let plan = Plan::from_args(&argv).map_err(|e| eyre!(e))?;
    let (mut node, mut events) = DoraNode::init_from_env()?;

    // Events (only Stop matters: this node has no inputs) are watched by a thread so the
    // sending loop can sleep with the plain clock_nanosleep of std::thread::sleep.
    let stopped = Arc::new(AtomicBool::new(false));
    let stop_flag = stopped.clone();
    std::thread::spawn(move || {
        while let Some(event) = events.recv() {
            if let Event::Stop = event {
                stop_flag.store(true, Ordering::SeqCst);
                break;
            }
        }
    });

    node.send_output(DataId::from("plan".to_owned()), Default::default(), plan.to_text().as_str().into_arrow())?;
    println!("rs-latency node: plan {}", plan.to_text());

    let output = DataId::from("latency".to_owned());
    let start_ns = monotonic_ns() + plan.period_ns;
    let mut k: u64 = 0;
    let mut late = 0u64;
    for (size_index, &size) in plan.sizes.iter().enumerate() {
        let len = usize::try_from(size).map_err(|_| eyre!("size {size} too large"))?;
        for seq in 0..plan.count {
            let stamp_index = Stamp { send_ns: 0, size_index: size_index as u32, seq };
            let mut sample = node.allocate_data_sample(len)?;
            let marker = stamp_index.marker(len);
            sample[..marker.len()].copy_from_slice(&marker);
            for page in (PAGE..len).step_by(PAGE) {
                sample[page] = seq as u8;
            }

            let due_ns = start_ns + k * plan.period_ns;
            let now = monotonic_ns();
            if now < due_ns {
                std::thread::sleep(Duration::from_nanos(due_ns - now));
            } else {
                late += 1;
            }
            if stopped.load(Ordering::SeqCst) {
                bail!("stopped after {k} of {} messages", plan.total());
            }
            let send_ns = monotonic_ns();
            let (watermark, deadline) = Stamp { send_ns, ..stamp_index }.to_params();
            let params = MetadataParameters { watermark, deadline, open_telemetry_context: String::new() };
            node.send_output_sample(output.clone(), ArrowTypeInfo::byte_array(len), params, Some(sample))?;
            k += 1;
        }
        println!("rs-latency node: sent {} x {}", plan.count, size_label(size));
    }
    println!("rs-latency node: sent {k} messages ({late} prepared after their due time)");
    Ok(())
}
