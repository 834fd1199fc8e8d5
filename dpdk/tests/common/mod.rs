//! What the DPDK test binaries share: their EAL arguments, and whether a missing tool or CPU
//! fails a test or skips it.
#![allow(dead_code)] // each test binary uses its part

/// EAL arguments for a test process: no huge pages, no PCI, no shared configuration, 256 MiB,
/// lcores `lcores`, its own file prefix, EAL logs from warnings up.
pub fn eal_args(program: &str, lcores: &str, prefix: &str) -> Vec<String> {
    [
        program,
        "--no-huge",
        "--no-pci",
        "--no-shconf",
        "--no-telemetry",
        "-m",
        "256",
        "-l",
        lcores,
        "--file-prefix",
        prefix,
        "--log-level",
        "lib.eal:warning",
    ]
    .map(String::from)
    .to_vec()
}

/// Whether what a test needs must be there (`CI=true` or `FERROVS_REQUIRE_ALL=1`, set by
/// `.ci/run` after `make deps`): then its absence fails the test instead of skipping it.
pub fn required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var("FERROVS_REQUIRE_ALL").is_ok_and(|v| v == "1")
}
