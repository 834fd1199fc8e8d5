//! Defaults ferrovs adds to a device's arguments where DPDK's own would cost it per packet.
//!
//! One so far: a `net_memif` client (the side that lays out the shared memory) gets buffers of
//! [`MEMIF_CLIENT_BSIZE`] bytes instead of memif's 2048. With 2048-byte buffers the slots'
//! first lines sit at one of two offsets modulo 4 KiB, so the lines a burst of small frames
//! touches compete for 2 of the L1's 64 sets; one line more per buffer spreads them over all
//! the sets. On the 2-vCPU VM of `benches/README.md` ("memif buffers that do not alias") this
//! took 32-50 cycles off each FullNAT packet at 64 bytes. A server takes the client's layout, so
//! it is left alone, and so is any device whose arguments already say `bsize` or ask for
//! zero-copy (whose buffers are the client's mbufs).

/// Buffer size a `net_memif` client gets when its arguments name none: 2048 + 64, still one
/// buffer for a 1518-byte frame.
pub const MEMIF_CLIENT_BSIZE: u16 = 2112;

/// A device's arguments with ferrovs's defaults added, and what was added, in words for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defaulted {
    /// The `--vdev` string to probe.
    pub spec: String,
    /// What was added and why, for the start-up log.
    pub why: String,
}

/// `spec` (a `--vdev` string) with ferrovs's defaults added, or `None` when it needs none.
pub fn with_defaults(spec: &str) -> Option<Defaulted> {
    let mut parts = spec.split(',');
    let name = parts.next().unwrap_or("").trim();
    if !name.starts_with("net_memif") {
        return None;
    }
    let mut server = false;
    for kv in parts {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        match (k.trim(), v.trim()) {
            ("bsize", _) => return None,
            ("zero-copy", v) if v.eq_ignore_ascii_case("yes") => return None,
            // DPDK still takes the old names: master is the server, slave the client.
            ("role", v) => {
                server = v.eq_ignore_ascii_case("server") || v.eq_ignore_ascii_case("master");
            }
            _ => {}
        }
    }
    (!server).then(|| Defaulted {
        spec: format!("{},bsize={MEMIF_CLIENT_BSIZE}", spec.trim_end_matches(',')),
        why: format!(
            "memif client buffers of {MEMIF_CLIENT_BSIZE} bytes, not memif's 2048 (whose slots \
             share cache sets); set bsize in its device to choose"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_memif_client_gets_the_buffer_size() {
        let want = |s: &str| format!("{s},bsize={MEMIF_CLIENT_BSIZE}");
        // memif's default role is client; slave is its old name.
        for s in [
            "net_memif",
            "net_memif0",
            "net_memif0,role=client,socket=/run/a.sock",
            "net_memif1,id=3,role=client,zero-copy=no",
            "net_memif0,role=slave",
        ] {
            let d = with_defaults(s).expect(s);
            assert_eq!(d.spec, want(s), "{s}");
            assert!(d.why.contains("2112"), "{}", d.why);
        }
        let d = with_defaults("net_memif0,role=client,").expect("trailing comma");
        assert_eq!(d.spec, want("net_memif0,role=client"));
    }

    #[test]
    fn test_what_is_left_alone() {
        for s in [
            "net_memif0,role=server,socket=/run/a.sock",
            "net_memif0,role=master",
            "net_memif0,role=client,bsize=4096",
            "net_memif0,bsize=2048",
            "net_memif0,role=client,zero-copy=yes",
            "net_ring0",
            "net_af_packet0,iface=eth0",
            "0000:03:00.0",
            "",
        ] {
            assert_eq!(with_defaults(s), None, "{s}");
        }
    }
}
