//! Defaults ferrovs adds to a device's arguments where DPDK's own would cost it per packet.
//!
//! One so far: a `net_memif` client (the side that lays out the shared memory) gets buffers of
//! [`MEMIF_CLIENT_BSIZE`] bytes instead of memif's 2048. With 2048-byte buffers every slot's
//! first line sits at the same offset modulo 4 KiB, so the lines a burst of small frames
//! touches compete for a few cache sets; one line more per buffer spreads them over all the
//! sets. On the 2-vCPU VM of `benches/README.md` ("memif buffers that do not alias") this took
//! 25-48 cycles off each ferrovs packet at 64 bytes. A server takes the client's layout, so it
//! is left alone, and so is any device whose arguments already say `bsize` or ask for
//! zero-copy (whose buffers are the client's mbufs).

/// Buffer size a `net_memif` client gets when its arguments name none: 2048 + 64, still one
/// buffer for a 1518-byte frame.
pub const MEMIF_CLIENT_BSIZE: u16 = 2112;

/// `spec` (a `--vdev` string) with ferrovs's defaults added, or `None` when it needs none.
pub fn with_defaults(spec: &str) -> Option<String> {
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
            ("role", v) => server = v.eq_ignore_ascii_case("server"),
            _ => {}
        }
    }
    (!server).then(|| format!("{spec},bsize={MEMIF_CLIENT_BSIZE}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_memif_client_gets_the_buffer_size() {
        let want = |s: &str| Some(format!("{s},bsize={MEMIF_CLIENT_BSIZE}"));
        // memif's default role is client.
        for s in [
            "net_memif0",
            "net_memif0,role=client,socket=/run/a.sock",
            "net_memif1,id=3,role=client,zero-copy=no",
        ] {
            assert_eq!(with_defaults(s), want(s), "{s}");
        }
    }

    #[test]
    fn test_what_is_left_alone() {
        for s in [
            "net_memif0,role=server,socket=/run/a.sock",
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
