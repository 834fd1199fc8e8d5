//! `ferrovs`: the gateway daemon and its offline tools.
#![forbid(unsafe_code)]

use std::process::ExitCode;

const USAGE: &str = "usage: ferrovs <command> [args]

commands:
  version            print the version and the DPDK it was built against
  help               this text
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("version" | "--version" | "-V") => {
            println!(
                "ferrovs {} (DPDK {})",
                env!("CARGO_PKG_VERSION"),
                dpdk::version()
            );
            ExitCode::SUCCESS
        }
        Some("help" | "--help" | "-h") | None => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("ferrovs: unknown command '{other}'\n{USAGE}");
            ExitCode::from(2)
        }
    }
}
