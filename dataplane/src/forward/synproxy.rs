//! The SYN proxy for NAT and FullNAT TCP services (`syn_proxy = "on"`): the gateway answers a
//! SYN itself with a SYN-ACK carrying a SYN cookie ([`super::syncookie`]), so a SYN flood makes
//! no session and never reaches a real server; a valid ACK opens the session and the server
//! leg; from then on the gateway translates between the two handshakes' numbers.
//!
//! How, and why it is correct:
//! - **SYN** (no session): answered in place, out of the port it came in on: a SYN-ACK from the
//!   VIP with ISN = cookie, our MSS (the port's MTU - 40/60, at most `mss_clamp`), and, when the
//!   client sent timestamps, SACK-permitted and window scale [`OUR_WSCALE`] as the client
//!   offered them, its options in the low bits of our TSval (Linux's layout). Without
//!   timestamps the SYN-ACK carries the MSS only (Linux does the same: nothing else fits in a
//!   cookie). Data in the SYN is not acknowledged (the client sends it again).
//! - **ACK** (no session): the cookie must decode under the current or the previous secret
//!   within its lifetime, else the ACK is dropped and counted (`syn_proxy_cookie_bad`,
//!   `syn_proxy_cookie_stale`). A valid one goes through the normal new-flow path (owner
//!   redirect, admission, scheduler, FullNAT local port) and its session starts in SYN_RECV;
//!   the frame becomes the client's SYN again (its ISN, the cookie's MSS, its window scale,
//!   SACK-permitted and timestamps, TSval = the ACK's) and goes to the server as the session's
//!   first packet (TOA `syn` lands on it). Data the ACK carried is held (below).
//! - **Holding**: each worker keeps [`HELD`] frames of up to [`HELD_BYTES`] bytes (fixed,
//!   allocated at start): the first client segment with data while the server leg opens is
//!   copied there; the server's SYN-ACK frame is replaced by it, which both completes the
//!   server's handshake (it acknowledges the SYN-ACK) and delivers the data. Without held data
//!   the SYN-ACK frame becomes the client's pure ACK. A second data segment before that, or one
//!   when the pool is full, is dropped (`syn_proxy_pending`) and the client's TCP sends it again;
//!   an entry not claimed within [`HELD_SECONDS`] is reused.
//! - **Lost SYN or SYN-ACK**: every client segment while the leg opens sends the SYN again, at
//!   most once a second (the others: `syn_proxy_pending`). A client that sends nothing after its
//!   ACK (a server-first protocol) and whose SYN was lost is not retried: its session ends
//!   after the SYN_RECV timeout (60 s).
//! - **Server RST** to our SYN: the client gets a RST from the VIP at our ISN + 1 (exactly its
//!   `rcv_nxt`, so RFC 5961 accepts it) and the session is removed (`..._server_refused_total`).
//! - **Translation** once open (sessions with [`Session::FLAG_SYNPROXY_OPEN`]): client -> server
//!   acknowledgements, SACK edges (client SACKs name server bytes) and TSecr get `+ delta`;
//!   server -> client sequence numbers and TSval `- delta` (so the client's PAWS sees our clock
//!   go on), and the window is rescaled when the server's window scale differs from the one we
//!   advertised (rounded down, but never to 0 from a non-zero window; at most 65535). The
//!   server's SACK blocks name client bytes, which keep their numbers. TOA (FullNAT) is an
//!   option and moves no sequence number, so the two compose.
//! - Not translated: sequence numbers inside ICMP errors' quotes. Not combined with PROXY
//!   (`ferrovs check` refuses both on one service). Session sync does not carry the deltas yet:
//!   a SYN-proxied connection does not survive a failover.
//!
//! Only sessions with [`Session::FLAG_SYNPROXY`] come here; the others pay the flag test they
//! already paid for PROXY (one mask).

use core::net::IpAddr;

use crate::frame::Frame;
use crate::rewrite::Family;
use crate::session::{Session, SynProxyState};
use crate::wire::{checksum, tcp, DropReason, TcpPacket};

use super::syncookie::{self, ClientOpts, NO_WSCALE};

/// The window scale the SYN-ACK offers a client that offered one (Linux's usual 7).
pub const OUR_WSCALE: u8 = 7;
/// Frames a worker holds while server legs open.
pub const HELD: usize = 256;
/// Largest frame held (a 1500-byte MTU frame with a VLAN tag).
pub const HELD_BYTES: usize = 1536;
/// Seconds a held frame waits for its server before the entry is reused.
pub const HELD_SECONDS: u32 = 3;

/// `opts` bit: SACK permitted.
pub(crate) const OPT_SACK: u8 = 1 << 4;
/// `opts` bit: timestamps.
pub(crate) const OPT_TS: u8 = 1 << 5;

/// TCP flag bits.
pub(crate) mod flag {
    pub(crate) const SYN: u8 = 0x02;
    pub(crate) const RST: u8 = 0x04;
    pub(crate) const ACK: u8 = 0x10;
}

/// The options of a SYN (or an ACK's timestamps) that matter here.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SynOpts {
    pub(crate) mss: Option<u16>,
    pub(crate) wscale: Option<u8>,
    pub(crate) sack: bool,
    pub(crate) ts: Option<(u32, u32)>,
}

/// Read the options of the TCP header at `l4`; a malformed list counts up to where it breaks.
/// The two lists a flood and most clients send take a shortcut: none, and Linux's SYN layout
/// (MSS, SACK-permitted, timestamps, NOP, window scale), read at fixed offsets with the same
/// result as the walk (`test_option_shortcuts_read_like_the_walk`).
#[inline]
pub(crate) fn read_opts(d: &[u8], l4: usize) -> SynOpts {
    let t = TcpPacket::new_unchecked(&d[l4..]);
    let o = t.options_raw();
    if o.is_empty() {
        return SynOpts::default();
    }
    if let [2, 4, m0, m1, 4, 2, 8, 10, v0, v1, v2, v3, e0, e1, e2, e3, 1, 3, 3, w] = *o {
        return SynOpts {
            mss: Some(u16::from_be_bytes([m0, m1])),
            wscale: Some(w.min(14)),
            sack: true,
            ts: Some((
                u32::from_be_bytes([v0, v1, v2, v3]),
                u32::from_be_bytes([e0, e1, e2, e3]),
            )),
        };
    }
    walk_read_opts(t.options())
}

/// [`read_opts`] by the option walk.
fn walk_read_opts(opts: tcp::TcpOptions<'_>) -> SynOpts {
    let mut o = SynOpts::default();
    for opt in opts.map_while(Result::ok) {
        match opt {
            tcp::TcpOption::Mss(m) => o.mss = Some(m),
            tcp::TcpOption::WindowScale(w) => o.wscale = Some(w.min(14)),
            tcp::TcpOption::SackPermitted => o.sack = true,
            tcp::TcpOption::Timestamps { tsval, tsecr } => o.ts = Some((tsval, tsecr)),
            _ => {}
        }
    }
    o
}

/// A TCP segment to write from scratch (no payload).
pub(crate) struct Seg<'a, A> {
    pub(crate) src: A,
    pub(crate) dst: A,
    pub(crate) sport: u16,
    pub(crate) dport: u16,
    pub(crate) seq: u32,
    pub(crate) ack: u32,
    pub(crate) flags: u8,
    pub(crate) window: u16,
    /// Options, a multiple of 4 bytes.
    pub(crate) opts: &'a [u8],
}

/// Write `s` as the frame's IP packet at `l3` (the Ethernet header, VLAN tag included, stays),
/// resizing the frame; TTL 64, IPv4 DF. Returns `(l4, l3_end)`.
pub(crate) fn write_segment<A: Family, F: Frame>(
    frame: &mut F,
    l3: usize,
    s: &Seg<'_, A>,
) -> Result<(usize, usize), DropReason> {
    let ip_len = if A::V6 { 40 } else { 20 };
    let l4 = l3 + ip_len;
    let tcp_len = tcp::HEADER_LEN + s.opts.len();
    let end = l4 + tcp_len;
    let have = frame.len();
    if have > end {
        if !frame.trim(have - end) {
            return Err(DropReason::TcpOptionSpaceFull);
        }
    } else if have < end && frame.append(end - have).is_none() {
        return Err(DropReason::TcpOptionSpaceFull);
    }
    let d = frame.data_mut();
    let ip = &mut d[l3..l4];
    if A::V6 {
        ip[..4].copy_from_slice(&[0x60, 0, 0, 0]);
        ip[4..6].copy_from_slice(&(tcp_len as u16).to_be_bytes());
        ip[6] = 6;
        ip[7] = super::ORIGIN_TTL;
        s.src.write_bytes(&mut ip[8..]);
        s.dst.write_bytes(&mut ip[24..]);
    } else {
        ip[0] = 0x45;
        ip[1] = 0;
        ip[2..4].copy_from_slice(&((ip_len + tcp_len) as u16).to_be_bytes());
        ip[4..8].copy_from_slice(&[0, 0, 0x40, 0]);
        ip[8] = super::ORIGIN_TTL;
        ip[9] = 6;
        s.src.write_bytes(&mut ip[12..]);
        s.dst.write_bytes(&mut ip[16..]);
        // From the values just written (no read back): the constant words, length, addresses.
        let words =
            0x4500 + (ip_len + tcp_len) as u64 + 0x4000 + (u64::from(super::ORIGIN_TTL) << 8 | 6);
        let c = !fold32(words + addr_sum(s.src) + addr_sum(s.dst));
        ip[10..12].copy_from_slice(&c.to_be_bytes());
    }
    let t = &mut d[l4..end];
    t[0..2].copy_from_slice(&s.sport.to_be_bytes());
    t[2..4].copy_from_slice(&s.dport.to_be_bytes());
    t[4..8].copy_from_slice(&s.seq.to_be_bytes());
    t[8..12].copy_from_slice(&s.ack.to_be_bytes());
    t[12] = ((tcp_len / 4) as u8) << 4;
    t[13] = s.flags;
    t[14..16].copy_from_slice(&s.window.to_be_bytes());
    t[16..20].copy_from_slice(&[0, 0, 0, 0]);
    t[20..].copy_from_slice(s.opts);
    let c = tcp_checksum(s, tcp_len);
    t[16..18].copy_from_slice(&c.to_be_bytes());
    Ok((l4, end))
}

/// The TCP checksum of segment `s` (`tcp_len` bytes, no payload), summed from its fields rather
/// than read back from the frame: pseudo-header, ports, numbers, offset and flags, window,
/// options (the urgent pointer is 0). One wide accumulator, folded once.
#[inline]
fn tcp_checksum<A: Family>(s: &Seg<'_, A>, tcp_len: usize) -> u16 {
    let mut acc = addr_sum(s.src) + addr_sum(s.dst) + 6 + tcp_len as u64;
    acc += u64::from(s.sport) + u64::from(s.dport);
    acc += u64::from(s.seq) + u64::from(s.ack);
    acc += ((tcp_len / 4) as u64) << 12 | u64::from(s.flags);
    acc += u64::from(s.window);
    for w in s.opts.chunks_exact(4) {
        acc += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    }
    !fold32(acc)
}

/// An address as big-endian 32-bit words, added (for a one's-complement sum: 2^16 = 1).
#[inline]
fn addr_sum<A: Family>(a: A) -> u64 {
    match a.ip() {
        IpAddr::V4(a) => u64::from(a.to_bits()),
        IpAddr::V6(a) => {
            let v = a.to_bits();
            (0..4).map(|i| (v >> (32 * i)) as u64 & 0xffff_ffff).sum()
        }
    }
}

/// Fold a sum of fewer than 2^32 32-bit words to 16 bits, without a loop.
#[inline]
fn fold32(acc: u64) -> u16 {
    let a = (acc & 0xffff_ffff) + (acc >> 32);
    let a = (a & 0xffff) + (a >> 16);
    let a = (a & 0xffff) + (a >> 16);
    ((a & 0xffff) + (a >> 16)) as u16
}

/// Options of up to 20 bytes, written 4-aligned.
pub(crate) struct Opts {
    buf: [u8; 20],
    len: usize,
}

impl Opts {
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// The options of a SYN or SYN-ACK, in Linux's layout: MSS; SACK-permitted and timestamps
/// (NOP NOP before the timestamps without SACK, NOP NOP SACK-permitted without timestamps);
/// NOP and the window scale.
pub(crate) fn syn_opts(mss: u16, sack: bool, ts: Option<(u32, u32)>, ws: Option<u8>) -> Opts {
    let mut b = [0u8; 20];
    b[..4].copy_from_slice(&[tcp::kind::MSS, 4, (mss >> 8) as u8, mss as u8]);
    let mut n = 4;
    match (sack, ts) {
        (s, Some((v, e))) => {
            if s {
                b[n..n + 2].copy_from_slice(&[tcp::kind::SACK_PERMITTED, 2]);
            } else {
                b[n..n + 2].copy_from_slice(&[tcp::kind::NOP, tcp::kind::NOP]);
            }
            b[n + 2..n + 4].copy_from_slice(&[tcp::kind::TIMESTAMPS, 10]);
            b[n + 4..n + 8].copy_from_slice(&v.to_be_bytes());
            b[n + 8..n + 12].copy_from_slice(&e.to_be_bytes());
            n += 12;
        }
        (true, None) => {
            b[n..n + 4].copy_from_slice(&[tcp::kind::NOP, tcp::kind::NOP, 4, 2]);
            n += 4;
        }
        (false, None) => {}
    }
    if let Some(w) = ws {
        b[n..n + 4].copy_from_slice(&[tcp::kind::NOP, tcp::kind::WINDOW_SCALE, 3, w]);
        n += 4;
    }
    Opts { buf: b, len: n }
}

/// What the SYN-ACK to a client's SYN says: our TSval (0 without timestamps) and its options.
pub(crate) fn synack_opts(mss: u16, client: &SynOpts, ts_ms: u32) -> (u32, Opts) {
    match client.ts {
        Some((tsval, _)) => {
            let co = ClientOpts {
                wscale: client.wscale.unwrap_or(NO_WSCALE),
                sack: client.sack,
            };
            let ours = syncookie::encode_ts(ts_ms, co).max(1);
            let ws = client.wscale.map(|_| OUR_WSCALE);
            (ours, syn_opts(mss, client.sack, Some((ours, tsval)), ws))
        }
        None => (0, syn_opts(mss, false, None, None)),
    }
}

/// The state a valid cookie ACK opens: cookie ISN, client ISN, MSS, and the options from the
/// echoed timestamp.
pub(crate) fn opening_state<A: Family>(
    cookie: u32,
    client_isn: u32,
    mssi: u32,
    ack: &SynOpts,
) -> SynProxyState {
    let (opts, ts, ours) = match ack.ts {
        Some((_, tsecr)) if tsecr != 0 => {
            let co = syncookie::decode_ts(tsecr);
            let mut o = co.wscale | OPT_TS;
            if co.sack {
                o |= OPT_SACK;
            }
            let ours = if co.wscale == NO_WSCALE {
                0
            } else {
                OUR_WSCALE
            };
            (o, tsecr, ours)
        }
        _ => (NO_WSCALE, 0, 0),
    };
    SynProxyState {
        seq: cookie,
        ts,
        client_isn,
        mss: syncookie::mss_of::<A>(mssi),
        opts,
        ws: ours << 4,
    }
}

/// The SYN towards the server for an opening session: its options.
pub(crate) fn server_syn_opts(st: &SynProxyState, tsval: u32) -> Opts {
    let ws = st.opts & 0xf;
    let ts = (st.opts & OPT_TS != 0).then_some((tsval, 0));
    syn_opts(
        st.mss,
        st.opts & OPT_SACK != 0,
        ts,
        (ws != NO_WSCALE).then_some(ws),
    )
}

/// Open the state with the server's SYN-ACK (its ISN, TSval, window scale): deltas from here.
pub(crate) fn open_state(st: &mut SynProxyState, server_isn: u32, srv: &SynOpts) {
    st.seq = server_isn.wrapping_sub(st.seq);
    st.ts = match srv.ts {
        Some((v, _)) if st.opts & OPT_TS != 0 => v.wrapping_sub(st.ts),
        _ => 0,
    };
    // The server scales its windows only if both sides offered it.
    let ws = if st.opts & 0xf != NO_WSCALE {
        srv.wscale.unwrap_or(0)
    } else {
        0
    };
    st.ws = (st.ws & 0xf0) | ws;
}

/// A 16-bit value at byte offset `at` of the TCP header: checksum update.
fn fix16(csum: u16, at: usize, old: u16, new: u16) -> u16 {
    super::mss::fix_u16_at(csum, at, old, new)
}

/// A 32-bit value at byte offset `at`: checksum update (odd offsets rotate, as in PROXY's).
fn fix32(csum: u16, at: usize, old: u32, new: u32) -> u16 {
    if at.is_multiple_of(2) {
        checksum::update32(csum, old, new)
    } else {
        checksum::update32(csum, old.rotate_right(8), new.rotate_right(8))
    }
}

fn rd32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Rewrite the 32-bit value at `at` of `t` (a TCP header) with `f`; return the checksum.
fn map32(t: &mut [u8], at: usize, csum: u16, f: impl Fn(u32) -> u32) -> u16 {
    let old = rd32(t, at);
    let new = f(old);
    t[at..at + 4].copy_from_slice(&new.to_be_bytes());
    fix32(csum, at, old, new)
}

/// A client segment of an open session, towards the server (addresses already rewritten or
/// not: only TCP fields change): acknowledgement, SACK edges and TSecr `+ delta`.
pub(crate) fn to_server(d: &mut [u8], l4: usize, st: &SynProxyState) {
    let t = TcpPacket::new_unchecked(&d[l4..]);
    let (hl, fl, mut csum) = (t.header_len(), t.flags(), t.checksum());
    let t = &mut d[l4..l4 + hl];
    if fl & flag::ACK != 0 {
        csum = map32(t, 8, csum, |a| a.wrapping_add(st.seq));
    }
    csum = walk_opts(t, csum, |kind, at, t, csum| match kind {
        tcp::kind::SACK => sack_edges(t, at, csum, st.seq),
        tcp::kind::TIMESTAMPS if st.ts != 0 => map32(t, at + 6, csum, |e| e.wrapping_add(st.ts)),
        _ => csum,
    });
    t[16..18].copy_from_slice(&csum.to_be_bytes());
}

/// A server segment of an open session, towards the client: sequence number and TSval
/// `- delta`, the window rescaled.
pub(crate) fn to_client(d: &mut [u8], l4: usize, st: &SynProxyState) {
    let t = TcpPacket::new_unchecked(&d[l4..]);
    let (hl, fl, mut csum) = (t.header_len(), t.flags(), t.checksum());
    let t = &mut d[l4..l4 + hl];
    csum = map32(t, 4, csum, |s| s.wrapping_sub(st.seq));
    let (ours, srv) = (st.ws >> 4, st.ws & 0xf);
    if ours != srv && fl & flag::SYN == 0 {
        let old = u16::from_be_bytes([t[14], t[15]]);
        let new = rescale(old, srv, ours);
        t[14..16].copy_from_slice(&new.to_be_bytes());
        csum = fix16(csum, 14, old, new);
    }
    if st.ts != 0 {
        csum = walk_opts(t, csum, |kind, at, t, csum| match kind {
            tcp::kind::TIMESTAMPS => map32(t, at + 2, csum, |v| v.wrapping_sub(st.ts)),
            _ => csum,
        });
    }
    t[16..18].copy_from_slice(&csum.to_be_bytes());
}

/// The TCP segment quoted in an ICMP error about an open session (`q`), put in the terms of
/// the end the error goes to. Towards the
/// server (`to_server`: the quote is a segment we sent the client) the sequence number goes
/// back to the server's: its stack checks that the quote's sequence number is one it sent
/// (Linux: `between(seq, snd_una, snd_nxt)`) and ignores the error otherwise, so a path MTU
/// towards the client would never be learnt. Towards the client (the quote is a segment we
/// sent the server) the acknowledgement goes back to the client's. The quoted checksum is
/// updated when the quote holds it; options are left as they are.
pub(crate) fn quote(d: &mut [u8], q: &super::Quote, st: &SynProxyState, to_server: bool) {
    let (at, delta) = if to_server {
        (4, st.seq)
    } else {
        (8, st.seq.wrapping_neg())
    };
    let Some(t) = d.get_mut(q.l4..q.l4 + q.l4_len) else {
        return;
    };
    if t.len() < at + 4 || (!to_server && t.len() > 13 && t[13] & flag::ACK == 0) {
        return;
    }
    let old = rd32(t, at);
    let new = old.wrapping_add(delta);
    t[at..at + 4].copy_from_slice(&new.to_be_bytes());
    if t.len() >= 18 {
        let csum = fix32(u16::from_be_bytes([t[16], t[17]]), at, old, new);
        t[16..18].copy_from_slice(&csum.to_be_bytes());
    }
}

/// A window `w` scaled by `from` expressed in scale `to`: at most 65535, and not 0 unless `w`
/// is.
pub(crate) fn rescale(w: u16, from: u8, to: u8) -> u16 {
    let bytes = u64::from(w) << from.min(14);
    let v = (bytes >> to.min(14)).min(65535) as u16;
    if v == 0 && w != 0 {
        1
    } else {
        v
    }
}

/// Add `delta` to every edge of the SACK option at `at` of `t`.
fn sack_edges(t: &mut [u8], at: usize, mut csum: u16, delta: u32) -> u16 {
    let len = usize::from(t[at + 1]);
    let mut e = at + 2;
    while e + 4 <= at + len {
        csum = map32(t, e, csum, |x| x.wrapping_add(delta));
        e += 4;
    }
    csum
}

/// Call `f(kind, offset, header, csum)` for each well-formed option of the TCP header `t`;
/// return the checksum it leaves. A malformed list is left alone from where it breaks.
fn walk_opts(t: &mut [u8], mut csum: u16, f: impl Fn(u8, usize, &mut [u8], u16) -> u16) -> u16 {
    let mut i = tcp::HEADER_LEN;
    while i < t.len() {
        match t[i] {
            tcp::kind::EOL => break,
            tcp::kind::NOP => i += 1,
            kind => {
                let Some(&len) = t.get(i + 1) else { break };
                let len = usize::from(len);
                if len < 2 || i + len > t.len() {
                    break;
                }
                let ok = match kind {
                    tcp::kind::SACK => len >= 10 && (len - 2).is_multiple_of(8),
                    tcp::kind::TIMESTAMPS => len == 10,
                    _ => false,
                };
                if ok {
                    csum = f(kind, i, t, csum);
                }
                i += len;
            }
        }
    }
    csum
}

/// Whether session `s` is a SYN proxy session whose server leg is still opening.
#[inline]
pub(crate) fn opening<A: Family>(s: &Session<A>) -> bool {
    s.flags & (Session::<A>::FLAG_SYNPROXY | Session::<A>::FLAG_SYNPROXY_OPEN)
        == Session::<A>::FLAG_SYNPROXY
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `write_segment`'s checksums, summed from the fields, against the ones computed over
    /// the bytes written, both families, every option layout, frames grown and cut.
    #[test]
    fn test_written_segments_checksum_like_a_full_computation() {
        use core::net::{Ipv4Addr, Ipv6Addr};

        use crate::frame::VecFrame;

        fn check<A: Family>(src: A, dst: A, start_len: usize, opts: &Opts, n: u32) {
            let mut f = VecFrame::with_room(&vec![0xa5; start_len], 64, 256);
            let seg = Seg {
                src,
                dst,
                sport: 40000 + n as u16,
                dport: 80,
                seq: n.wrapping_mul(0x9e37_79b9),
                ack: !n.wrapping_mul(0x85eb_ca6b),
                flags: flag::SYN | flag::ACK,
                window: 65535 - n as u16,
                opts: opts.as_slice(),
            };
            let (l4, end) = write_segment::<A, VecFrame>(&mut f, 14, &seg).unwrap();
            let d = f.data();
            assert_eq!(d.len(), end);
            assert_eq!(end - l4, 20 + opts.as_slice().len());
            let stored = u16::from_be_bytes([d[l4 + 16], d[l4 + 17]]);
            let mut z = d.to_vec();
            z[l4 + 16..l4 + 18].copy_from_slice(&[0, 0]);
            A::fill_tcp_checksum(&mut z, 14, l4, end);
            assert_eq!(stored, u16::from_be_bytes([z[l4 + 16], z[l4 + 17]]));
            if !A::V6 {
                assert!(checksum::ipv4_header_ok(&d[14..l4]));
            }
        }
        let layouts = [
            syn_opts(1460, true, Some((0x0102_0304, 0xfffe_fdfc)), Some(7)),
            syn_opts(536, false, None, None),
            syn_opts(8940, false, Some((1, 0)), None),
            syn_opts(1220, true, None, Some(14)),
            Opts {
                buf: [0; 20],
                len: 0,
            },
        ];
        for n in 0..64u32 {
            let o = &layouts[n as usize % layouts.len()];
            let len = 54 + (n as usize * 7) % 80;
            let a4 = Ipv4Addr::from_bits(0xc612_0000 | n);
            check(a4, Ipv4Addr::new(198, 18, 1, 100), len, o, n);
            let a6 = Ipv6Addr::from_bits(0x2001_0002_u128 << 96 | u128::from(n) << 40 | 0xffff);
            check(a6, "2001:2::1:100".parse().unwrap(), len + 20, o, n);
        }
    }

    #[test]
    fn test_option_shortcuts_read_like_the_walk() {
        fn both(opts: &[u8]) {
            let mut seg = vec![0u8; 20];
            seg[12] = (((20 + opts.len()) / 4) as u8) << 4;
            seg.extend_from_slice(opts);
            let walked = walk_read_opts(tcp::TcpOptions::new(opts));
            assert_eq!(read_opts(&seg, 0), walked, "{opts:?}");
        }
        let linux = syn_opts(1460, true, Some((0x0102_0304, 0xa0b0_c0d0)), Some(7));
        let linux = linux.as_slice();
        assert_eq!(linux.len(), 20);
        both(linux);
        both(&[]);
        // Every single-byte change of Linux's layout (a window scale above 14 included), and
        // the other layouts: the shortcut and the walk agree.
        for i in 0..linux.len() {
            for v in [0u8, 1, 2, 3, 4, 8, 10, 15, 0xff] {
                let mut o = linux.to_vec();
                o[i] = v;
                both(&o);
            }
        }
        both(syn_opts(536, false, None, None).as_slice());
        both(syn_opts(1460, false, Some((5, 6)), Some(2)).as_slice());
        both(syn_opts(1460, true, None, Some(2)).as_slice());
        let r = read_opts(
            &[&[0u8; 12][..], &[0xa0, 0, 0, 0, 0, 0, 0, 0], linux].concat(),
            0,
        );
        assert_eq!(r.mss, Some(1460));
        assert_eq!(r.wscale, Some(7));
        assert!(r.sack);
        assert_eq!(r.ts, Some((0x0102_0304, 0xa0b0_c0d0)));
    }

    #[test]
    fn test_rescale_windows() {
        assert_eq!(rescale(1000, 7, 7), 1000);
        assert_eq!(rescale(1000, 9, 7), 4000);
        assert_eq!(rescale(60000, 9, 7), 65535);
        assert_eq!(rescale(1000, 0, 7), 7);
        assert_eq!(rescale(100, 0, 7), 1);
        assert_eq!(rescale(0, 0, 7), 0);
    }

    #[test]
    fn test_syn_option_layouts() {
        let o = syn_opts(1460, true, Some((1, 2)), Some(7));
        assert_eq!(o.as_slice().len(), 20);
        assert_eq!(&o.as_slice()[..6], &[2, 4, 0x05, 0xb4, 4, 2]);
        assert_eq!(&o.as_slice()[16..], &[1, 3, 3, 7]);
        assert_eq!(syn_opts(536, false, None, None).as_slice(), &[2, 4, 2, 24]);
        let o = syn_opts(1460, false, Some((1, 2)), None);
        assert_eq!(o.as_slice().len(), 16);
        let o = syn_opts(1460, true, None, Some(2));
        assert_eq!(o.as_slice(), &[2, 4, 5, 0xb4, 1, 1, 4, 2, 1, 3, 3, 2]);
    }

    #[test]
    fn test_timestamps_decode_into_the_opening_state() {
        type V4 = core::net::Ipv4Addr;
        let client = SynOpts {
            mss: Some(1460),
            wscale: Some(9),
            sack: true,
            ts: Some((111, 0)),
        };
        let (ours, _) = synack_opts(1460, &client, 0x1234_5678);
        let ack = SynOpts {
            ts: Some((112, ours)),
            ..SynOpts::default()
        };
        let st = opening_state::<V4>(77, 55, 3, &ack);
        assert_eq!(st.opts & 0xf, 9);
        assert!(st.opts & OPT_SACK != 0 && st.opts & OPT_TS != 0);
        assert_eq!(st.mss, 1460);
        assert_eq!(st.ws >> 4, OUR_WSCALE);
        let syn = server_syn_opts(&st, 112);
        assert_eq!(syn.as_slice().len(), 20);
        // No timestamps: MSS only, no scaling.
        let st = opening_state::<V4>(77, 55, 0, &SynOpts::default());
        assert_eq!(st.opts, NO_WSCALE);
        assert_eq!(server_syn_opts(&st, 0).as_slice(), &[2, 4, 2, 24]);
    }
}
