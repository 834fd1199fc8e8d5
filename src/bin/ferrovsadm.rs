//! `ferrovsadm`: the ipvsadm-compatible administration tool. Wiring only: the grammar, formats
//! and socket client are in the `admin` crate (`admin::cli`).
#![forbid(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    // ipvsadm takes bytes; a non-UTF-8 word cannot be an address or option we know, so a lossy
    // conversion only changes the text of the error it gets.
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let names = admin::names::SystemNames::load();
    let code = admin::cli::run(
        argv,
        &mut std::io::stdin().lock(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
        &names,
        &mut admin::cli::socket_send,
    );
    ExitCode::from(code)
}
