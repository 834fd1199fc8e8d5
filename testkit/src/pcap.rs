//! Classic pcap files: the frames a test feeds DPDK's `net_pcap` and reads back from it.

use std::io::{self, Read, Write};
use std::path::Path;

/// Classic pcap magic (microsecond timestamps), written little-endian.
const PCAP_MAGIC: u32 = 0xa1b2_c3d4;
/// Link type Ethernet.
const LINKTYPE_ETHERNET: u32 = 1;
/// Snap length written in the header.
const SNAPLEN: u32 = 65535;

/// Write `frames` as a classic pcap file (version 2.4, microsecond timestamps, link type 1,
/// little-endian), one record per frame, record `i` stamped `i` microseconds after 1 s.
///
/// # Errors
/// Any I/O error; a frame longer than the snap length.
pub fn write_pcap(path: impl AsRef<Path>, frames: &[Vec<u8>]) -> io::Result<()> {
    let mut out = Vec::new();
    out.extend_from_slice(&PCAP_MAGIC.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes()); // thiszone
    out.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
    out.extend_from_slice(&SNAPLEN.to_le_bytes());
    out.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
    for (i, f) in frames.iter().enumerate() {
        let len = u32::try_from(f.len())
            .ok()
            .filter(|&l| l <= SNAPLEN)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "frame too long"))?;
        let usec = u32::try_from(i % 1_000_000).unwrap_or(0);
        let sec = 1 + u32::try_from(i / 1_000_000).unwrap_or(0);
        out.extend_from_slice(&sec.to_le_bytes());
        out.extend_from_slice(&usec.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(f);
    }
    std::fs::File::create(path)?.write_all(&out)
}

/// Read the frames of a classic pcap file (either byte order, micro- or nanosecond magic).
///
/// # Errors
/// Any I/O error; not a pcap file; a truncated record.
pub fn read_pcap(path: impl AsRef<Path>) -> io::Result<Vec<Vec<u8>>> {
    let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_string());
    let mut data = Vec::new();
    std::fs::File::open(path)?.read_to_end(&mut data)?;
    if data.len() < 24 {
        return Err(bad("short pcap header"));
    }
    let magic = [data[0], data[1], data[2], data[3]];
    let le = match u32::from_le_bytes(magic) {
        0xa1b2_c3d4 | 0xa1b2_3c4d => true,
        _ if matches!(u32::from_be_bytes(magic), 0xa1b2_c3d4 | 0xa1b2_3c4d) => false,
        _ => return Err(bad("not a pcap file")),
    };
    let rd = |b: &[u8]| {
        let w = [b[0], b[1], b[2], b[3]];
        if le {
            u32::from_le_bytes(w)
        } else {
            u32::from_be_bytes(w)
        }
    };
    let mut frames = Vec::new();
    let mut at = 24;
    while at < data.len() {
        let hdr = data.get(at..at + 16).ok_or_else(|| bad("short record"))?;
        let incl = usize::try_from(rd(&hdr[8..12])).map_err(|_| bad("length"))?;
        let body = data
            .get(at + 16..at + 16 + incl)
            .ok_or_else(|| bad("short record"))?;
        frames.push(body.to_vec());
        at += 16 + incl;
    }
    Ok(frames)
}
