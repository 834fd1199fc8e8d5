//! `ferrovsadm`: the ipvsadm-compatible administration tool.
#![forbid(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!(
        "ferrovsadm: the admin API is not built yet (ferrovs {})",
        env!("CARGO_PKG_VERSION")
    );
    ExitCode::from(2)
}
