//! The ferrovs configuration: one TOML file, its schema, validation and normalised form.
//!
//! - [`parse`] / [`load`] read a file into a validated [`Config`] or return [`Errors`]: **every**
//!   problem in the file, each as `FILE:LINE:COL: key.path: message` (the format `ferrovs check`
//!   prints). serde stops at the first error, so the loader walks the spanned tree
//!   (`toml::de::DeTable`) by hand; unknown keys are errors everywhere, like
//!   `#[serde(deny_unknown_fields)]`, but all of them are reported.
//! - Defaults and ranges follow ipvsadm 1.31's code (scheduler `wlc`, forwarding DR, weight 1 in
//!   0..=65535, persistence 360 s in 1..=2678400, timeouts 900/120/300) and keepalived for the
//!   health checks; `docs/config.md` is the reference for every key.
//! - [`Config::boot_only_diff`] lists the changes a live reload must refuse; [`Config::to_toml`]
//!   writes the configuration back, and `parse(&c.to_toml())` gives `c` again.
//!
//! The importers (keepalived.conf, ipvsadm-save) and reload machinery live elsewhere.
#![forbid(unsafe_code)]

mod admission;
mod announce;
mod diff;
mod emit;
mod error;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod model;
mod schema;
mod sync;
mod synproxy;
mod walk;

use std::path::Path;

pub use admission::*;
pub use announce::*;
pub use error::{ConfigError, Errors};
pub use model::*;
pub use schema::{format_lcore_list, parse_lcore_list};
pub use sync::*;
pub use synproxy::*;

use error::Sink;

/// Parse and validate configuration `text`; `file_name` is used in error locations.
///
/// # Errors
///
/// Returns every syntax error, or else every schema and validation error, sorted by position.
pub fn parse(text: &str, file_name: &str) -> Result<Config, Errors> {
    let mut sink = Sink::new(file_name, text);
    let (root, syntax) = toml::de::DeTable::parse_recoverable(text);
    if !syntax.is_empty() {
        for e in syntax {
            let span = e.span().unwrap_or(0..0);
            let msg = e.message().lines().collect::<Vec<_>>().join("; ");
            sink.error(&span, "", format!("TOML syntax: {msg}"));
        }
        return Err(sink.finish());
    }
    let span = root.span();
    let config = schema::read(root.get_ref(), span, &mut sink);
    if sink.has_errors() {
        Err(sink.finish())
    } else {
        Ok(config)
    }
}

/// Read and validate the configuration file at `path`.
///
/// # Errors
///
/// As [`parse`]; a file that cannot be read gives one error with line 0.
pub fn load(path: &Path) -> Result<Config, Errors> {
    let name = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text, &name),
        Err(e) => Err(Errors(vec![ConfigError {
            file: name,
            line: 0,
            col: 0,
            key_path: String::new(),
            message: format!("cannot read: {e}"),
        }])),
    }
}

/// Build an error about the value of the key at `path` (tables only, such as
/// `["announce", "table"]`) in configuration `text`, located like the loader's
/// (`FILE:LINE:COL: key.path: message`): for checks only the live box can make (`ferrovs check`
/// finding ferrovs's routing table used by something else). Without that key the error points
/// at line 0.
pub fn error_at(text: &str, file_name: &str, path: &[&str], message: String) -> ConfigError {
    let mut sink = Sink::new(file_name, text);
    let span = toml::de::DeTable::parse(text).ok().and_then(|root| {
        let mut table = root.get_ref();
        let (last, parents) = path.split_last()?;
        for k in parents {
            match table.get(*k)?.get_ref() {
                toml::de::DeValue::Table(t) => table = t,
                _ => return None,
            }
        }
        Some(table.get(*last)?.span())
    });
    let key_path = path.join(".");
    match span {
        Some(span) => {
            sink.error(&span, &key_path, message);
            sink.finish().0.remove(0)
        }
        None => ConfigError {
            file: file_name.to_owned(),
            line: 0,
            col: 0,
            key_path,
            message,
        },
    }
}

impl Config {
    /// Return one `key: old -> new` line per boot-only key that differs from `other` (`dpdk.*`,
    /// `port[NAME].*`, the `control` listeners, `ha.mode` and the addresses HA moves, whether
    /// `[announce]` is there and its `table`); empty when a live reload may apply `other`.
    pub fn boot_only_diff(&self, other: &Config) -> Vec<String> {
        diff::boot_only_diff(self, other)
    }

    /// Put the ports in `running`'s order, matched by name: a file whose `[[port]]` blocks only
    /// moved is no boot-only change, but the gateway numbers its ports by their place when it
    /// starts them (DPDK ports, queues, TAPs, the snapshot's port indices). Ports `running`
    /// lacks go last, in their order (a boot-only change, refused anyway).
    pub fn keep_port_order(&mut self, running: &Config) {
        self.ports.sort_by_key(|p| {
            running
                .ports
                .iter()
                .position(|r| r.name == p.name)
                .unwrap_or(usize::MAX)
        });
    }

    /// Write this configuration as TOML that [`parse`] reads back to an equal value.
    pub fn to_toml(&self) -> String {
        emit::to_toml(self)
    }

    /// [`Config::to_toml`] with the SYN cookie secrets replaced by `"<redacted>"` (for the
    /// admin socket: the secret stays in the file).
    pub fn to_toml_redacted(&self) -> String {
        emit::to_toml_with(self, true)
    }
}
