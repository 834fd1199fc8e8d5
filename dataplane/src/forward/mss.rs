//! The per-service TCP MSS clamp (`mss_clamp` in the config): the MSS option of a SYN the
//! gateway forwards is lowered to the service's limit, never raised, with an incremental
//! checksum update. A SYN without an MSS option is left without one (adding one would grow the
//! header; the peer then assumes 536, or 1220 over IPv6, which is below any limit allowed).
//!
//! Which SYN, by mode (an MSS limits the segments its *receiver's peer* sends):
//! - the client's SYN towards the real server, in every mode: the real server's segments to
//!   the client are then small enough (DR and TUN replies bypass the gateway, so their path is
//!   the one this helps);
//! - the server's SYN-ACK towards the client, NAT and FullNAT only (DR/TUN SYN-ACKs bypass the
//!   gateway): the client's segments are then small enough, e.g. to leave room for FullNAT's
//!   8-byte TOA option. For TUN the client->server direction (the tunnel's 20/40-byte outer
//!   header) cannot be clamped here; the real server's advertised MSS must do it.
//!
//! The PROXY protocol's own lowering of the SYN-ACK MSS ([`super::proxy`]) runs first and this
//! clamp after it, so the two compose as the smaller of both.

use crate::rewrite::rd16;
use crate::wire::{checksum, tcp, TcpPacket};

/// Lower the MSS option of the TCP segment at `l4` in `d` to at most `max`; a segment without
/// one, or with a malformed option list, is left as it is.
pub(crate) fn clamp(d: &mut [u8], l4: usize, max: u16) {
    let Some(seg) = d.get_mut(l4..) else { return };
    let t = TcpPacket::new_unchecked(&*seg);
    let (hl, csum) = (t.header_len(), t.checksum());
    let Some(opts) = seg.get_mut(tcp::HEADER_LEN..hl) else {
        return;
    };
    let Some(i) = find(opts) else { return };
    let csum = lower(opts, i, csum, max);
    TcpPacket::new_unchecked(seg).set_checksum(csum);
}

/// The offset of the MSS option (kind 2, length 4) in the option list `opts`, if any.
fn find(opts: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < opts.len() {
        match opts[i] {
            tcp::kind::EOL => return None,
            tcp::kind::NOP => i += 1,
            kind => {
                let len = usize::from(*opts.get(i + 1)?);
                if len < 2 || i + len > opts.len() {
                    return None;
                }
                if kind == tcp::kind::MSS && len == 4 {
                    return Some(i);
                }
                i += len;
            }
        }
    }
    None
}

/// Lower the MSS option at `opts[i..i + 4]` to at most `max` (never raise it); return the TCP
/// checksum `csum` updated for the change.
pub(crate) fn lower(opts: &mut [u8], i: usize, csum: u16, max: u16) -> u16 {
    let old = rd16(opts, i + 2);
    if old <= max {
        return csum;
    }
    opts[i + 2..i + 4].copy_from_slice(&max.to_be_bytes());
    // The option may sit at an odd offset: update over the whole word pair.
    fix_u16_at(csum, i + 2, old, max)
}

/// Checksum update for a 16-bit value at option offset `at` (options start 20 bytes into the
/// TCP header, an even offset, so `at`'s parity is the value's parity in the segment).
pub(crate) fn fix_u16_at(csum: u16, at: usize, old: u16, new: u16) -> u16 {
    if at.is_multiple_of(2) {
        checksum::update32(csum, u32::from(old), u32::from(new))
    } else {
        // At an odd offset the bytes straddle two words: swap them into word order.
        checksum::update32(
            csum,
            u32::from(old.swap_bytes()),
            u32::from(new.swap_bytes()),
        )
    }
}
