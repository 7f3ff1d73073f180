//! Networking: sockets of every family behind one socket layer.
//!
//! - `unix`: Unix-domain sockets (stream, seqpacket, datagram, descriptor passing).
//! - `inet`: IPv4/IPv6 TCP and UDP.
//! - `netlink`: `NETLINK_ROUTE` link/address dumps (`getifaddrs`).
//! - `stack`: smoltcp on the NIC for traffic to other hosts; `nic`: the driver interface.

pub mod addr;
pub mod ifaces;
pub mod inet;
pub mod netlink;
pub mod nic;
pub mod socket;
pub mod stack;
pub mod unix;
