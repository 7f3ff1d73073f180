//! rust-dataflow `node`: on every `tick` input (the dataflow wires it to
//! `dora/timer/millis/10`) sends one message on its `random` output, `--count N` times
//! (default 100, env RUST_DATAFLOW_COUNT), then exits 0.
//!
//! - default: a random u64 (a one-element UInt64 Arrow array), as in Dora's own example;
//! - `--large`: a byte payload of 4 KiB to 3 MiB ([`flowcheck::pattern`]), which Dora passes
//!   through a /dev/shm region; its header carries the message number and a random seed.
//!
//! A Stop event or the end of the event stream before all messages are sent is an error
//! (exit 1), so a dataflow stopped early never looks successful. With `--endless` the node
//! sends until it is stopped and then exits 0 (dataflow-endless.yml, for `dora stop`).
#![deny(unsafe_code)]

use dora_node_api::{dora_core::config::DataId, dora_core::message::ArrowTypeInfo, DoraNode, Event, IntoArrow};
use eyre::{bail, eyre};
use flowcheck::{args, pattern};

fn main() -> eyre::Result<()> {
    let argv: Vec<String> = std::env::args().collect();
    let count = args::positive(&argv, "count", "RUST_DATAFLOW_COUNT", 100).map_err(|e| eyre!(e))?;
    let large = args::flag(&argv, "large");
    let endless = args::flag(&argv, "endless");
    let count = if endless { u64::MAX } else { count };
    let seed: u64 = rand::random();

    let (mut node, mut events) = DoraNode::init_from_env()?;
    let output = DataId::from("random".to_owned());
    let mut sent: u64 = 0;
    let mut bytes: u64 = 0;
    while sent < count {
        let Some(event) = events.recv() else {
            bail!("event stream ended after {sent} of {count} messages");
        };
        match event {
            Event::Input { id, .. } if id.as_str() == "tick" => {
                sent += 1;
                if large {
                    let len = pattern::large_size(sent - 1);
                    let mut sample = node.allocate_data_sample(len)?;
                    pattern::fill(&mut sample, sent, seed);
                    node.send_output_sample(
                        output.clone(),
                        ArrowTypeInfo::byte_array(len),
                        Default::default(),
                        Some(sample),
                    )?;
                    bytes += len as u64;
                } else {
                    let value: u64 = rand::random();
                    node.send_output(output.clone(), Default::default(), value.into_arrow())?;
                    bytes += 8;
                }
            }
            Event::Input { id, .. } => bail!("unexpected input '{id}'"),
            Event::InputClosed { id } => bail!("input '{id}' closed after {sent} of {count} messages"),
            Event::Stop if endless => break,
            Event::Stop => bail!("stopped after {sent} of {count} messages"),
            other => eprintln!("node: ignoring event {other:?}"),
        }
    }
    println!("node: sent {sent} {} messages ({bytes} bytes)", if large { "large" } else { "u64" });
    Ok(())
}
