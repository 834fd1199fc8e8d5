//! The ferrovs gateway: DPDK ports wired to dataplane workers and the control plane.
//!
//! The binaries (`ferrovs`, `ferrovsadm`) are thin front ends over this and the workspace crates.
#![forbid(unsafe_code)]

pub mod cli;
pub mod gateway;
pub mod realserver;
