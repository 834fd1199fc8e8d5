//! PROXY protocol (HAProxy's `proxy-protocol.txt`, v1 text and v2 binary) for NAT and FullNAT
//! TCP: the real server learns the client's address from a header in front of the client's
//! first bytes, which nginx, HAProxy, Envoy and Postfix read without kernel modules.
//!
//! How (the choice, and why it is correct for retransmissions and server-first protocols):
//! - The header sits at the client's first data sequence number `isn1` (its SYN's + 1), so it
//!   occupies `[isn1, isn1 + len)` of the server's sequence space. Every client segment whose
//!   `seq == isn1` gets the header inserted as payload in front of its data, until the server
//!   has acknowledged `isn1 + len`: the handshake's final ACK (so a server that speaks first
//!   still gets the header), the first data segment, and any retransmission of either; each
//!   copy carries the header once, at the same sequence number, so the server's TCP keeps one.
//! - Every other client segment (but a SYN, and a RST at `isn1` before the header is
//!   acknowledged) has `len` added to its sequence number; every server segment has `len`
//!   taken from its acknowledgement number and its SACK block edges (an acknowledgement inside
//!   the header becomes `isn1`).
//! - The server's SYN-ACK has its MSS option lowered by `len`, so a full-sized first segment
//!   with the header in front still fits the path; a first segment that still would not fit
//!   the egress MTU (a client ignoring the MSS) is dropped and counted
//!   ([`DropReason::ProxyHeaderNoRoom`]), and its retransmission meets the same fate.
//! - Data in the client's SYN (TCP Fast Open) is cut from the SYN: the server acknowledges the
//!   SYN alone, and the client sends the data again after the handshake, behind the header.
//! - TOA and PROXY are not combined (`ferrovs check` refuses both on one service).
//! - Not translated: the sequence number in the TCP segment an ICMP error quotes.
//! - Session sync carries the [`ProxyState`] (and the PROXY flags) in its events and records,
//!   and its installer puts it back ([`crate::sync::SyncEvent::proxy`]), so a connection
//!   moved to another gateway is shifted there alike.
//!
//! Only sessions with [`Session::FLAG_PROXY`] come here; the others pay one flag test.

use core::fmt::Write as _;

use crate::counters::WorkerCounters;
use crate::frame::Frame;
use crate::rewrite::{rd16, Family};
use crate::session::{ProxyState, Session, TcpFlags};
use crate::snapshot::ProxyProtocol;
use crate::wire::{checksum, tcp, DropReason, TcpPacket};

use super::mss;

/// Longest header the spec allows (v1's 107 bytes; ours are at most 104: `PROXY TCP6 `, two
/// 39-character addresses, two 5-digit ports, separators, CRLF).
pub(crate) const MAX_LEN: usize = 107;

/// The v2 signature (12 bytes).
const V2_SIG: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

/// Write the header for client `src:sport` connecting to `dst:dport` into `out`; return its
/// length (0 for [`ProxyProtocol::Off`]).
pub(crate) fn write_header<A: Family>(
    v: ProxyProtocol,
    (src, sport): (A, u16),
    (dst, dport): (A, u16),
    out: &mut [u8; MAX_LEN],
) -> usize {
    match v {
        ProxyProtocol::Off => 0,
        ProxyProtocol::V1 => {
            let mut w = Cursor { buf: out, at: 0 };
            let fam = if A::V6 { "TCP6" } else { "TCP4" };
            // Cannot fail: MAX_LEN holds the longest line.
            let _ = write!(
                w,
                "PROXY {fam} {} {} {sport} {dport}\r\n",
                src.ip(),
                dst.ip()
            );
            w.at
        }
        ProxyProtocol::V2 => {
            let alen = if A::V6 { 16 } else { 4 };
            out[..12].copy_from_slice(&V2_SIG);
            out[12] = 0x21; // version 2, PROXY command
            out[13] = if A::V6 { 0x21 } else { 0x11 }; // AF_INET6 / AF_INET, STREAM
            let body = 2 * alen + 4;
            out[14..16].copy_from_slice(&(body as u16).to_be_bytes());
            src.write_bytes(&mut out[16..]);
            dst.write_bytes(&mut out[16 + alen..]);
            out[16 + 2 * alen..18 + 2 * alen].copy_from_slice(&sport.to_be_bytes());
            out[18 + 2 * alen..20 + 2 * alen].copy_from_slice(&dport.to_be_bytes());
            16 + body
        }
    }
}

/// The session's header: client and VIP (the address the client connected to).
pub(crate) fn session_header<A: Family>(
    v: ProxyProtocol,
    s: &Session<A>,
    out: &mut [u8; MAX_LEN],
) -> usize {
    write_header(v, (s.client(), s.cport()), (s.vip(), s.vport()), out)
}

/// A `fmt::Write` into a fixed buffer (no allocation); fails when it is full.
struct Cursor<'a> {
    buf: &'a mut [u8; MAX_LEN],
    at: usize,
}

impl core::fmt::Write for Cursor<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.at + s.len();
        let dst = self.buf.get_mut(self.at..end).ok_or(core::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.at = end;
        Ok(())
    }
}

/// Whether `a` is at or after `b` in sequence space.
#[inline]
const fn seq_ge(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) >= 0
}

/// A server-side acknowledgement (or SACK edge) in the client's terms.
#[inline]
const fn ack_to_client(ack: u32, st: ProxyState) -> u32 {
    let d = ack.wrapping_sub(st.isn1) as i32;
    let len = st.len as i32;
    if d >= len {
        ack.wrapping_sub(st.len as u32)
    } else if d > 0 {
        st.isn1
    } else {
        ack
    }
}

/// The client's segment (addresses already rewritten) for the server: insert the header or
/// shift the sequence number. `hdr` is the session's header (`st.len` bytes). Returns whether
/// the header was inserted.
pub(crate) fn client_segment<A: Family, F: Frame>(
    frame: &mut F,
    (l3, l4, l3_end): (usize, usize, usize),
    fl: TcpFlags,
    st: ProxyState,
    acked: bool,
    hdr: &[u8],
    mtu: u16,
) -> Result<bool, DropReason> {
    if fl.syn {
        drop_syn_data::<A, F>(frame, (l3, l4, l3_end));
        return Ok(false);
    }
    let d = frame.data_mut();
    let seq = TcpPacket::new_unchecked(&d[l4..]).seq_number();
    if seq == st.isn1 && !acked {
        if fl.rst {
            return Ok(false);
        }
        insert::<A, F>(frame, (l3, l4, l3_end), hdr, mtu)?;
        return Ok(true);
    }
    let new = seq.wrapping_add(u32::from(st.len));
    let mut t = TcpPacket::new_unchecked(&mut d[l4..]);
    t.set_checksum(checksum::update32(t.checksum(), seq, new));
    t.set_seq_number(new);
    Ok(false)
}

/// Data in a SYN (TCP Fast Open) would reach the server in front of the header: cut it, so
/// that the server acknowledges the SYN alone and the client sends the data again after the
/// handshake, where the header goes in front of it. The SYN's options (a Fast Open cookie
/// included) stay.
fn drop_syn_data<A: Family, F: Frame>(frame: &mut F, (l3, l4, l3_end): (usize, usize, usize)) {
    let at = l4 + TcpPacket::new_unchecked(&frame.data()[l4..]).header_len();
    if l3_end <= at || !frame.trim(frame.len() - at) {
        return;
    }
    let d = frame.data_mut();
    A::grow_len(d, l3, ((l3_end - at) as u16).wrapping_neg());
    A::fill_tcp_checksum(d, l3, l4, at);
}

/// Insert `hdr` in front of the segment's payload; fix the IP length and the TCP checksum.
fn insert<A: Family, F: Frame>(
    frame: &mut F,
    (l3, l4, l3_end): (usize, usize, usize),
    hdr: &[u8],
    mtu: u16,
) -> Result<(), DropReason> {
    let n = hdr.len();
    if l3_end - l3 + n > usize::from(mtu) {
        return Err(DropReason::ProxyHeaderNoRoom);
    }
    let at = l4 + TcpPacket::new_unchecked(&frame.data()[l4..]).header_len();
    // Drop Ethernet padding so the header goes right after the TCP header.
    let pad = frame.len() - l3_end;
    if pad > 0 && !frame.trim(pad) {
        return Err(DropReason::ProxyHeaderNoRoom);
    }
    let Some(d) = frame.append(n) else {
        return Err(DropReason::ProxyHeaderNoRoom);
    };
    d.copy_within(at..l3_end, at + n);
    d[at..at + n].copy_from_slice(hdr);
    A::grow_len(d, l3, n as u16);
    A::fill_tcp_checksum(d, l3, l4, l3_end + n);
    Ok(())
}

/// The server's segment for the client: acknowledgement and SACK edges back to the client's
/// numbering, the SYN-ACK's MSS lowered by the header's length. Returns whether the server has
/// now acknowledged the whole header.
pub(crate) fn server_segment(d: &mut [u8], l4: usize, fl: TcpFlags, st: ProxyState) -> bool {
    if !fl.ack {
        return false;
    }
    let mut t = TcpPacket::new_unchecked(&mut d[l4..]);
    let ack = t.ack_number();
    let acked = seq_ge(ack, st.isn1.wrapping_add(u32::from(st.len)));
    let new = ack_to_client(ack, st);
    let mut csum = checksum::update32(t.checksum(), ack, new);
    t.set_ack_number(new);
    let hl = t.header_len();
    if hl > tcp::HEADER_LEN {
        let opts = &mut d[l4 + tcp::HEADER_LEN..l4 + hl];
        csum = fix_options(opts, fl.syn, st, csum);
        TcpPacket::new_unchecked(&mut d[l4..]).set_checksum(csum);
    } else {
        t.set_checksum(csum);
    }
    acked
}

/// Translate the SACK blocks and (on a SYN-ACK) lower the MSS in the option list `opts`;
/// return the checksum updated for the changes. A malformed list is left as it is from there on.
fn fix_options(opts: &mut [u8], syn: bool, st: ProxyState, mut csum: u16) -> u16 {
    let mut i = 0;
    while i < opts.len() {
        match opts[i] {
            tcp::kind::EOL => break,
            tcp::kind::NOP => i += 1,
            kind => {
                let Some(&len) = opts.get(i + 1) else { break };
                let len = usize::from(len);
                if len < 2 || i + len > opts.len() {
                    break;
                }
                if kind == tcp::kind::MSS && len == 4 && syn {
                    let new = rd16(opts, i + 2).saturating_sub(st.len).max(64);
                    csum = mss::lower(opts, i, csum, new);
                } else if kind == tcp::kind::SACK {
                    let mut e = i + 2;
                    while e + 4 <= i + len {
                        let b = &mut opts[e..e + 4];
                        let old = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                        let new = ack_to_client(old, st);
                        b.copy_from_slice(&new.to_be_bytes());
                        csum = fix_u32_at(csum, e, old, new);
                        e += 4;
                    }
                }
                i += len;
            }
        }
    }
    csum
}

/// Checksum update for a 32-bit value at option offset `at` (see [`mss::fix_u16_at`]).
fn fix_u32_at(csum: u16, at: usize, old: u32, new: u32) -> u16 {
    if at.is_multiple_of(2) {
        checksum::update32(csum, old, new)
    } else {
        // Straddling: the one's-complement sum is byte-order independent, so rotating both by
        // a byte aligns them with the words they sit in.
        checksum::update32(csum, old.rotate_right(8), new.rotate_right(8))
    }
}

/// The per-packet step towards the backend for a PROXY session (the caller tested the flag):
/// build the header when this segment is due one, then [`client_segment`]. Returns whether a
/// header was inserted.
pub(crate) fn to_backend<A: Family, F: Frame>(
    frame: &mut F,
    offs: (usize, usize, usize),
    fl: TcpFlags,
    s: &Session<A>,
    st: ProxyState,
    mtu: u16,
    c: &WorkerCounters,
) -> Result<(), DropReason> {
    let v = if st.v2 {
        ProxyProtocol::V2
    } else {
        ProxyProtocol::V1
    };
    let acked = s.flags & Session::<A>::FLAG_PROXY_ACKED != 0;
    let mut hdr = [0u8; MAX_LEN];
    let n = if acked {
        0
    } else {
        session_header(v, s, &mut hdr)
    };
    if client_segment::<A, F>(frame, offs, fl, st, acked, &hdr[..n], mtu)? {
        c.proxy_inserted.inc();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use core::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    fn hdr<A: Family>(v: ProxyProtocol, src: (A, u16), dst: (A, u16)) -> Vec<u8> {
        let mut out = [0u8; MAX_LEN];
        let n = write_header(v, src, dst, &mut out);
        out[..n].to_vec()
    }

    #[test]
    fn test_v1_lines_are_the_specs() {
        // proxy-protocol.txt 2.1's examples.
        let (s, d) = (
            Ipv4Addr::new(192, 168, 0, 1),
            Ipv4Addr::new(192, 168, 0, 11),
        );
        assert_eq!(
            hdr(ProxyProtocol::V1, (s, 56324), (d, 443)),
            b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"
        );
        let s6: Ipv6Addr = "2001:2::1".parse().unwrap();
        let d6: Ipv6Addr = "2001:2:0:1::100".parse().unwrap();
        assert_eq!(
            hdr(ProxyProtocol::V1, (s6, 1), (d6, 80)),
            b"PROXY TCP6 2001:2::1 2001:2:0:1::100 1 80\r\n"
        );
        // The longest TCP6 line: 104 bytes, within the spec's 107.
        let m = Ipv6Addr::from([0xffff; 8]);
        let long = hdr(ProxyProtocol::V1, (m, 65535), (m, 65535));
        assert_eq!(long.len(), 104);
        let long4 = Ipv4Addr::new(255, 255, 255, 255);
        assert_eq!(
            hdr(ProxyProtocol::V1, (long4, 65535), (long4, 65535)).len(),
            56
        );
        assert!(hdr(ProxyProtocol::Off, (long4, 1), (long4, 2)).is_empty());
    }

    #[test]
    fn test_v2_headers_are_the_specs() {
        let (s, d) = (
            Ipv4Addr::new(198, 18, 0, 50),
            Ipv4Addr::new(198, 18, 0, 100),
        );
        let h = hdr(ProxyProtocol::V2, (s, 40000), (d, 8080));
        let mut want = b"\x0D\x0A\x0D\x0A\x00\x0D\x0A\x51\x55\x49\x54\x0A".to_vec();
        want.extend_from_slice(&[0x21, 0x11, 0, 12, 198, 18, 0, 50, 198, 18, 0, 100]);
        want.extend_from_slice(&[0x9c, 0x40, 0x1f, 0x90]);
        assert_eq!(h, want);
        assert_eq!(h.len(), 28);
        let s6: Ipv6Addr = "2001:2::32".parse().unwrap();
        let d6: Ipv6Addr = "2001:2::64".parse().unwrap();
        let h = hdr(ProxyProtocol::V2, (s6, 40000), (d6, 8080));
        assert_eq!(h.len(), 52);
        assert_eq!(&h[12..16], &[0x21, 0x21, 0, 36]);
        assert_eq!(&h[16..32], &s6.octets());
        assert_eq!(&h[32..48], &d6.octets());
        assert_eq!(&h[48..], &[0x9c, 0x40, 0x1f, 0x90]);
    }

    #[test]
    fn test_acks_map_back_to_the_clients_numbering() {
        let st = ProxyState {
            isn1: u32::MAX - 9,
            len: 28,
            v2: true,
        };
        // The SYN-ACK's (and older) acknowledgements stay; inside the header: the header's
        // start; past it: minus the length, across the wrap.
        assert_eq!(ack_to_client(st.isn1, st), st.isn1);
        assert_eq!(
            ack_to_client(st.isn1.wrapping_sub(5), st),
            st.isn1.wrapping_sub(5)
        );
        assert_eq!(ack_to_client(st.isn1.wrapping_add(27), st), st.isn1);
        assert_eq!(ack_to_client(st.isn1.wrapping_add(28), st), st.isn1);
        assert_eq!(
            ack_to_client(st.isn1.wrapping_add(128), st),
            st.isn1.wrapping_add(100)
        );
        assert!(seq_ge(st.isn1.wrapping_add(28), st.isn1));
        assert!(!seq_ge(st.isn1.wrapping_sub(1), st.isn1));
    }

    #[test]
    fn test_odd_offset_checksum_updates_match_a_full_sum() {
        // A value at every offset parity: the incremental update equals recomputing.
        for at in [0usize, 1, 2, 3] {
            let mut buf = [0x5au8; 16];
            let before = checksum::checksum(&buf);
            let old = u32::from_be_bytes(buf[at..at + 4].try_into().unwrap());
            let new = 0x1234_5678;
            buf[at..at + 4].copy_from_slice(&u32::to_be_bytes(new));
            assert_eq!(
                fix_u32_at(before, at, old, new),
                checksum::checksum(&buf),
                "at {at}"
            );
            let mut b2 = [0x3cu8; 16];
            let before = checksum::checksum(&b2);
            let old = rd16(&b2, at);
            b2[at..at + 2].copy_from_slice(&0xbeefu16.to_be_bytes());
            assert_eq!(
                mss::fix_u16_at(before, at, old, 0xbeef),
                checksum::checksum(&b2),
                "at {at}"
            );
        }
    }
}
