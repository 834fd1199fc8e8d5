//! What ferrovs's tests and benches share, in one place: the golden table ([`golden`]), the
//! two-armed test topology ([`topology`]), frame builders ([`packet`]), pcap files ([`pcap`])
//! and the report of a frame that differs ([`diff`]).
//!
//! A dev-dependency only. It depends on `dataplane` (the table and the topology are made of its
//! types), so `dataplane` takes it only in its integration tests and benches (`tests/`,
//! `benches/`), never in `src/`: there the `dataplane` this crate links would be a second copy
//! of the crate under test, whose types do not match.
#![forbid(unsafe_code)]

pub mod corpus;
pub mod diff;
pub mod golden;
pub mod packet;
pub mod pcap;
pub mod topology;
