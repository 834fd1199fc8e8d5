//! The ferrovs packet pipeline, free of DPDK.
//!
//! Everything a worker does to a packet lives here and works on plain byte frames (the
//! [`frame::Frame`] trait), so it is testable, benchmarkable and fuzzable on any machine. The
//! `dpdk` crate implements [`frame::Frame`] for its mbuf; tests use [`frame::VecFrame`].
//!
//! Layout: [`wire`] (typed views over headers, checksums), [`session`] (per-worker connection
//! table, TCP states, timers, persistence), [`sched`] (the ipvsadm schedulers and Maglev),
//! [`types`] (flow keys and ids shared by all of them); [`worker`] (what a worker does to a
//! frame: classify, new flows, ICMP, accounting, session sync) and `forward` (the four modes'
//! rewrites, one module each); [`worker_loop`] the loop every worker runs, over the queue and
//! ring traits of [`io`].
#![forbid(unsafe_code)]

pub mod admission;
pub mod counters;
mod forward;
pub mod frame;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod io;
pub mod owner;
mod rewrite;
pub mod rss;
pub mod sched;
pub mod session;
pub mod snapshot;
pub mod synauto;
pub mod sync;
pub mod types;
pub mod wire;

/// SYN cookies (the SYN proxy's keys, for control to build snapshots with).
pub use forward::syncookie;
pub mod worker;
pub mod worker_loop;
