//! Safe wrappers over the parts of DPDK ferrovs uses.
//!
//! The contract DPDK imposes is encoded in types where it can be: the EAL initialises once per
//! process ([`eal::Eal::init`]); a queue is polled by exactly one lcore ([`ethdev::RxQueue`] and
//! [`ethdev::TxQueue`] are `Send` but not `Sync` and not `Clone`); a port cannot be stopped while
//! a queue handle is alive; an [`mbuf::Mbuf`] is freed when dropped; a mempool with mbufs still
//! out is never freed. Errors carry DPDK's errno text ([`Error`]).
//!
//! `unsafe` is allowed here and in `dpdk-sys` only; every block says why it is sound.
#![allow(unsafe_code)]

pub mod devargs;
pub mod eal;
mod error;
pub mod ethdev;
pub mod flow;
pub mod lcore;
pub mod mbuf;
pub mod mempool;
pub mod ring;
pub mod thash;

pub use dpdk_huge as huge;
pub use error::{Error, Result};

use std::ffi::CStr;

/// Return the version of the DPDK library linked at run time (e.g. `DPDK 22.11.11`).
#[doc(alias = "rte_version")]
pub fn version() -> &'static str {
    // SAFETY: rte_version() returns a pointer to a static NUL-terminated string and needs no EAL.
    let s = unsafe { CStr::from_ptr(dpdk_sys::ferrovs_version()) };
    s.to_str().unwrap_or("DPDK (non-UTF-8 version)")
}

/// Return the DPDK version the bindings were generated from (`pkg-config --modversion libdpdk`).
pub const fn build_version() -> &'static str {
    dpdk_sys::DPDK_VERSION
}
