//! The ferrovs control plane: snapshots, neighbours, health checks, metrics, admin API, reload,
//! session sync between directors.
//!
//! It owns everything slow and publishes immutable snapshots to the workers; it never touches a
//! worker's state otherwise (see `DESIGN.md` §2 and §7).
#![forbid(unsafe_code)]

pub mod announce;
pub mod console;
pub mod doctor;
pub mod echo;
pub mod ha;
pub mod health;
pub mod metrics;
pub mod neigh;
pub mod plane;
pub mod stats;
pub mod sync;
pub mod topology;
