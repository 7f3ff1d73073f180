//! rust-dataflow `status-node`: for every message on its `random` input sends one text status
//! on its `status` output ([`flowcheck::status`]): the value of a u64 message, or the size
//! and checksum of a large payload after checking every byte of it
//! ([`flowcheck::pattern::verify`]). `--count N` (default 100, env RUST_DATAFLOW_COUNT) is
//! the number of messages it expects; it fails (exit 1) on a message of the wrong form, on
//! one out of order, or when its input closes before N arrived. `--endless`: no count
//! (statuses say `/0`), the node runs until stopped and then exits 0.
#![deny(unsafe_code)]

use dora_node_api::{dora_core::config::DataId, DoraNode, Event, IntoArrow};
use eyre::{bail, eyre};
use flowcheck::{args, pattern, status::Status};

fn main() -> eyre::Result<()> {
    let argv: Vec<String> = std::env::args().collect();
    let count = args::positive(&argv, "count", "RUST_DATAFLOW_COUNT", 100).map_err(|e| eyre!(e))?;
    let endless = args::flag(&argv, "endless");
    let count = if endless { 0 } else { count };

    let (mut node, mut events) = DoraNode::init_from_env()?;
    let output = DataId::from("status".to_owned());
    let mut received: u64 = 0;
    while let Some(event) = events.recv() {
        match event {
            Event::Input { id, data, .. } if id.as_str() == "random" => {
                received += 1;
                let status = if let Ok(value) = u64::try_from(&data) {
                    Status::Value { seq: received, total: count, value }
                } else {
                    let bytes: &[u8] = (&data)
                        .try_into()
                        .map_err(|e| eyre!("message {received}: neither a u64 nor a byte array: {e}"))?;
                    let (seq, _seed) = pattern::verify(bytes).map_err(|e| eyre!("message {received}: {e}"))?;
                    if seq != received {
                        bail!("message {received}: payload says it is message {seq}");
                    }
                    Status::Payload { seq, total: count, len: bytes.len() as u64, hash: pattern::fnv1a64(bytes) }
                };
                node.send_output(output.clone(), Default::default(), status.format().as_str().into_arrow())?;
            }
            Event::Input { id, .. } => bail!("unexpected input '{id}'"),
            Event::InputClosed { id } => {
                eprintln!("status-node: input '{id}' closed after {received} messages");
            }
            Event::Stop => {
                eprintln!("status-node: stop after {received} messages");
                break;
            }
            other => eprintln!("status-node: ignoring event {other:?}"),
        }
    }
    if !endless && received != count {
        bail!("received {received} messages, expected {count}");
    }
    println!("status-node: sent {received} statuses");
    Ok(())
}
