//! The vocabulary the ferrovs crates share: transport protocol, forwarding method, scheduler and
//! its flags, TOA mode, PROXY protocol version, service key, MAC address, and the snapshot's
//! service and backend indices.
//!
//! One definition each, so that `config` (the file), `admin` (the ipvsadm grammar and the admin
//! protocol) and `dataplane` (the snapshot workers read) name the same values with the same type,
//! and moving a value from one to another is a plain copy the compiler checks, not a round trip
//! through a name. Where text needs a name (the config file, ipvsadm's command line and listings,
//! the admin protocol's JSON, metric labels), the type itself has one `as_str` and one
//! [`FromStr`](core::str::FromStr), and (feature `serde`) serializes as that name.
//!
//! The small methods the dataplane's workers call per packet (`Protocol::from_number`,
//! `Forward::sees_replies`, `SchedFlags::contains`...) are `#[inline]`, so that they inline
//! across the crate boundary as they did inside `dataplane` (builds without LTO included).
//!
//! A leaf: no dependency on any other crate of the workspace, and only optional ones outside it.
#![forbid(unsafe_code)]

#[macro_use]
mod names;
mod forward;
mod ids;
mod protocol;
mod sched;
mod service;

pub use forward::{Forward, ProxyProtocol, Toa};
pub use ids::{BackendIdx, IdxOutOfRange, ServiceIdx};
pub use names::UnknownName;
pub use protocol::Protocol;
pub use sched::{SchedFlag, SchedFlags, SchedFlagsError, SchedulerKind};
pub use service::ServiceKey;

/// An Ethernet address, as the frames carry it.
pub type Mac = [u8; 6];
