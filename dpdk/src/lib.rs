//! Safe DPDK wrappers.
#![allow(unsafe_code)]
/// Return the DPDK version string.
pub fn version() -> &'static str {
    "unknown"
}
