//! The ferrovs admin API: ipvsadm's grammar, semantics and output formats over a Unix socket,
//! and the keepalived.conf / ipvsadm-save importers.
//!
//! - [`proto`]: the typed, versioned request/response protocol (JSON lines).
//! - [`ipvsadm`]: argv -> [`ipvsadm::Command`] exactly as ipvsadm 1.31 parses it, with its
//!   messages and exit statuses.
//! - [`apply`]: an [`proto::Op`] applied to a `config::Config` with the kernel's semantics and
//!   `ipvs_strerror` messages; batches are validated as a whole.
//! - [`laddr`]: DPVS's `--add-laddr`, `--del-laddr`, `--get-laddr` on local address pools.
//! - [`format`]: `-L`, `--stats`, `--rate`, `-c`, `--timeout`, `-S` byte for byte.
//! - [`server`] / [`client`]: the socket; [`handler`]: the [`handler::AdminState`] seam the
//!   gateway implements and [`handler::handle`] that serves a request against it.
//! - [`daemon`]: ipvsadm's sync daemons (`--start-daemon`, `--stop-daemon`, `-L --daemon`) on
//!   the running `[sync]`.
//! - [`cli`]: the `ferrovsadm` program; [`import`]: keepalived.conf and ipvsadm-save -> TOML.
//!
//! The crate has no DPDK dependency: everything here runs and is tested without a NIC.
#![forbid(unsafe_code)]

pub mod apply;
pub mod cli;
pub mod client;
pub mod daemon;
pub mod format;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod handler;
pub mod import;
pub mod ipvsadm;
pub mod laddr;
pub mod manual;
pub mod names;
pub mod proto;
pub mod server;
