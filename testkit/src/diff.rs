//! The report of a frame that differs from the expected one, field by field.

use std::fmt::Write as _;

/// Describe how `got` differs from the expected frame `want`: the lengths, the first differing
/// offset and the header field it falls in (Ethernet, IPv4/IPv6, TCP/UDP/ICMP, quoted and
/// tunnelled packets), and a hex dump of the differing 16-byte rows. Runners print it per case.
pub fn diff(want: &[u8], got: &[u8]) -> String {
    let mut s = String::new();
    if want.len() != got.len() {
        let _ = writeln!(s, "length: expected {}, got {}", want.len(), got.len());
    }
    if let Some(off) = (0..want.len().max(got.len())).find(|&i| want.get(i) != got.get(i)) {
        let _ = writeln!(
            s,
            "first difference at offset {off} (0x{off:x}): {}",
            field(want, off)
        );
    }
    let rows = want.len().max(got.len()).div_ceil(16);
    for r in 0..rows {
        let range = r * 16..(r + 1) * 16;
        let row = |b: &[u8]| {
            range
                .clone()
                .map(|i| b.get(i).map_or("  ".to_string(), |x| format!("{x:02x}")))
                .collect::<Vec<_>>()
                .join(" ")
        };
        if range.clone().any(|i| want.get(i) != got.get(i)) {
            let marks: Vec<&str> = range
                .clone()
                .map(|i| {
                    if want.get(i) != got.get(i) {
                        "^^"
                    } else {
                        "  "
                    }
                })
                .collect();
            let _ = writeln!(s, "{:04x} want {}", r * 16, row(want));
            let _ = writeln!(s, "     got  {}", row(got));
            let _ = writeln!(s, "          {}", marks.join(" "));
        }
    }
    s
}

/// Name the header field at `off` of an Ethernet frame laid out like `frame`.
fn field(frame: &[u8], off: usize) -> String {
    match off {
        0..=5 => "ethernet destination".into(),
        6..=11 => "ethernet source".into(),
        12..=13 => "ethertype".into(),
        _ if frame.len() < 14 => "past the end".into(),
        _ => match u16::from_be_bytes([frame[12], frame[13]]) {
            0x0800 => ip_field(&frame[14..], off - 14, "ipv4"),
            0x86dd => ip_field(&frame[14..], off - 14, "ipv6"),
            _ => format!("payload byte {}", off - 14),
        },
    }
}

fn ip_field(ip: &[u8], off: usize, prefix: &str) -> String {
    let v6 = ip.first().is_some_and(|b| b >> 4 == 6);
    let (hl, proto) = if v6 {
        (40, ip.get(6).copied().unwrap_or(0))
    } else {
        (
            usize::from(ip.first().copied().unwrap_or(0x45) & 0x0f) * 4,
            ip.get(9).copied().unwrap_or(0),
        )
    };
    if off < hl {
        let name = if v6 {
            match off {
                0..=3 => "version/class/flow",
                4..=5 => "payload length",
                6 => "next header",
                7 => "hop limit",
                8..=23 => "source address",
                _ => "destination address",
            }
        } else {
            match off {
                0 => "version/ihl",
                1 => "tos",
                2..=3 => "total length",
                4..=5 => "identification",
                6..=7 => "flags/fragment offset",
                8 => "ttl",
                9 => "protocol",
                10..=11 => "header checksum",
                12..=15 => "source address",
                16..=19 => "destination address",
                _ => "options",
            }
        };
        return format!("{prefix} {name}");
    }
    let l4 = &ip[hl.min(ip.len())..];
    let o = off - hl;
    match proto {
        6 => {
            let thl = l4.get(12).map_or(20, |b| usize::from(b >> 4) * 4);
            let name = match o {
                0..=1 => "source port",
                2..=3 => "destination port",
                4..=7 => "sequence",
                8..=11 => "acknowledgment",
                12 => "data offset",
                13 => "flags",
                14..=15 => "window",
                16..=17 => "checksum",
                18..=19 => "urgent pointer",
                _ if o < thl => "options",
                _ => "payload",
            };
            format!("{prefix} tcp {name}")
        }
        17 => {
            let name = match o {
                0..=1 => "source port",
                2..=3 => "destination port",
                4..=5 => "length",
                6..=7 => "checksum",
                _ => "payload",
            };
            format!("{prefix} udp {name}")
        }
        1 | 58 => match o {
            0 => format!("{prefix} icmp type"),
            1 => format!("{prefix} icmp code"),
            2..=3 => format!("{prefix} icmp checksum"),
            4..=7 => format!("{prefix} icmp rest of header"),
            _ => ip_field(&l4[8.min(l4.len())..], o - 8, &format!("{prefix} quoted")),
        },
        4 => ip_field(l4, o, &format!("{prefix} inner")),
        _ => format!("{prefix} payload"),
    }
}
