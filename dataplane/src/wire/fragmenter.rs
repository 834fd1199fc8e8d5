//! Splitting an IP datagram into fragments that fit an MTU (RFC 791 §3.2, RFC 8200 §4.5), for
//! the few packets the gateway may fragment: a TUN packet whose client cleared Don't Fragment
//! and that the outer header pushes past the MTU (RFC 2003 §5.1), and the gateway's own echo
//! replies to large pings of a VIP.
//!
//! Only simple headers are split: IPv4 without options and IPv6 whose next header is the
//! payload (no extension headers, so no Fragment header yet). Anything else is refused with
//! [`DropReason::CannotFragment`]: the datagrams that get here are the gateway's own or a
//! client's packet inside a header the gateway built.

use super::{ethernet, ipv4, ipv6, DropReason, IpProtocol, Ipv4Packet, Ipv6Packet};

/// Length of an IPv6 Fragment header.
pub const IPV6_FRAG_HEADER_LEN: usize = 8;

/// The longest head a fragment gets: Ethernet with one VLAN tag, then an IPv4 header without
/// options, or IPv6 with its Fragment header.
pub const MAX_HEAD_LEN: usize = 18 + ipv6::HEADER_LEN + IPV6_FRAG_HEADER_LEN;

/// Split the IP datagram in `frame` (an Ethernet frame) into fragments whose IP packets are at
/// most `mtu` bytes. For each fragment, in order, call `emit(head, payload)`: `head` is the
/// Ethernet header and the fragment's IP header(s), `payload` its slice of the datagram's
/// payload; `emit` returns false to stop (no room, no buffer), which fails the whole call.
/// `id` is the identification of an IPv4 datagram that has none (zero; TUN's outer header) and
/// of the IPv6 Fragment header. A datagram that already fits is one fragment, unchanged.
///
/// # Errors
/// [`DropReason::CannotFragment`] for a header this does not split (see the module), an IPv4
/// datagram with Don't Fragment set, or an MTU below the minimum (68 for IPv4, 1280 for
/// IPv6); the parse reasons for a malformed frame; [`DropReason::FragmentNoBuffer`] when
/// `emit` stops.
pub fn fragment(
    frame: &[u8],
    mtu: u16,
    id: u32,
    emit: impl FnMut(&[u8], &[u8]) -> bool,
) -> Result<usize, DropReason> {
    let eth = ethernet::Frame::new_checked(frame)?;
    let l2 = eth.header_len();
    match eth.ethertype() {
        ethernet::EtherType::Ipv4 => fragment_v4(frame, l2, mtu, id, emit),
        ethernet::EtherType::Ipv6 => fragment_v6(frame, l2, mtu, id, emit),
        _ => Err(DropReason::CannotFragment),
    }
}

/// A datagram that fits: one fragment, the frame as it is.
fn whole(frame: &[u8], mut emit: impl FnMut(&[u8], &[u8]) -> bool) -> Result<usize, DropReason> {
    if emit(frame, &[]) {
        Ok(1)
    } else {
        Err(DropReason::FragmentNoBuffer)
    }
}

fn fragment_v4(
    frame: &[u8],
    l2: usize,
    mtu: u16,
    id: u32,
    mut emit: impl FnMut(&[u8], &[u8]) -> bool,
) -> Result<usize, DropReason> {
    let ip = Ipv4Packet::new_checked(&frame[l2..])?;
    let hl = ip.header_len();
    let total = usize::from(ip.total_len());
    if total <= usize::from(mtu) {
        return whole(&frame[..l2 + total], emit);
    }
    if hl != ipv4::HEADER_LEN || ip.dont_frag() || mtu < 68 {
        return Err(DropReason::CannotFragment);
    }
    // Re-fragmenting a fragment keeps its place in the original datagram.
    let (base, last_more) = (ip.frag_offset(), ip.more_frags());
    let ident = if ip.ident() == 0 {
        id as u16
    } else {
        ip.ident()
    };
    let payload = ip.payload();
    let chunk = (usize::from(mtu) - hl) & !7;
    let mut head = [0u8; MAX_HEAD_LEN];
    head[..l2 + hl].copy_from_slice(&frame[..l2 + hl]);
    let mut n = 0;
    for (i, part) in payload.chunks(chunk).enumerate() {
        let more = last_more || (i + 1) * chunk < payload.len();
        // Offsets stay below 65535: the payload came from one datagram of at most that size.
        let offset = base + (i * chunk) as u16;
        let mut h = Ipv4Packet::new_unchecked(&mut head[l2..l2 + hl]);
        h.set_total_len((hl + part.len()) as u16);
        h.set_ident(ident);
        h.set_frag(false, more, offset);
        h.fill_checksum();
        if !emit(&head[..l2 + hl], part) {
            return Err(DropReason::FragmentNoBuffer);
        }
        n += 1;
    }
    Ok(n)
}

fn fragment_v6(
    frame: &[u8],
    l2: usize,
    mtu: u16,
    id: u32,
    mut emit: impl FnMut(&[u8], &[u8]) -> bool,
) -> Result<usize, DropReason> {
    let ip = Ipv6Packet::new_checked(&frame[l2..])?;
    let hl = ipv6::HEADER_LEN;
    let total = hl + usize::from(ip.payload_len());
    if total <= usize::from(mtu) {
        return whole(&frame[..l2 + total], emit);
    }
    let nh = ip.next_header();
    let is_ext = matches!(
        nh,
        IpProtocol::HopByHop | IpProtocol::Ipv6Route | IpProtocol::Ipv6Opts | IpProtocol::Ipv6Frag
    );
    if is_ext || mtu < 1280 {
        return Err(DropReason::CannotFragment);
    }
    let payload = ip.payload();
    let chunk = (usize::from(mtu) - hl - IPV6_FRAG_HEADER_LEN) & !7;
    let fh = l2 + hl;
    let mut head = [0u8; MAX_HEAD_LEN];
    head[..fh].copy_from_slice(&frame[..fh]);
    Ipv6Packet::new_unchecked(&mut head[l2..fh]).set_next_header(IpProtocol::Ipv6Frag.into());
    head[fh] = ip.next_header_raw();
    head[fh + 4..fh + 8].copy_from_slice(&id.to_be_bytes());
    let mut n = 0;
    for (i, part) in payload.chunks(chunk).enumerate() {
        let more = (i + 1) * chunk < payload.len();
        let offset = (i * chunk) as u16;
        Ipv6Packet::new_unchecked(&mut head[l2..fh])
            .set_payload_len((IPV6_FRAG_HEADER_LEN + part.len()) as u16);
        head[fh + 2..fh + 4].copy_from_slice(&(offset | u16::from(more)).to_be_bytes());
        if !emit(&head[..fh + IPV6_FRAG_HEADER_LEN], part) {
            return Err(DropReason::FragmentNoBuffer);
        }
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Ethernet frame holding an IPv4 datagram of `payload` bytes (protocol UDP, DF `df`).
    fn v4(payload: usize, df: bool, ident: u16) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + payload];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f[14] = 0x45;
        let mut ip = Ipv4Packet::new_unchecked(&mut f[14..]);
        ip.set_total_len((20 + payload) as u16);
        ip.set_ident(ident);
        ip.set_frag(df, false, 0);
        ip.set_ttl(64);
        ip.set_protocol(17);
        ip.set_src_addr([198, 18, 0, 1].into());
        ip.set_dst_addr([198, 18, 1, 1].into());
        ip.fill_checksum();
        for (i, b) in f[34..].iter_mut().enumerate() {
            *b = i as u8;
        }
        f
    }

    fn v6(payload: usize) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 40 + payload];
        f[12..14].copy_from_slice(&[0x86, 0xdd]);
        f[14] = 0x60;
        let mut ip = Ipv6Packet::new_unchecked(&mut f[14..]);
        ip.set_payload_len(payload as u16);
        ip.set_next_header(58);
        ip.set_hop_limit(64);
        f[22..38].copy_from_slice(&"2001:2::1".parse::<core::net::Ipv6Addr>().unwrap().octets());
        f[38..54].copy_from_slice(&"2001:2::2".parse::<core::net::Ipv6Addr>().unwrap().octets());
        for (i, b) in f[54..].iter_mut().enumerate() {
            *b = (i * 7) as u8;
        }
        f
    }

    fn split(frame: &[u8], mtu: u16, id: u32) -> Result<Vec<Vec<u8>>, DropReason> {
        let mut out = Vec::new();
        fragment(frame, mtu, id, |h, p| {
            out.push([h, p].concat());
            true
        })?;
        Ok(out)
    }

    #[test]
    fn test_ipv4_split_fits_mtu_and_reassembles_to_the_original() {
        let f = v4(2980, false, 0x1234);
        let frags = split(&f, 1500, 7).unwrap();
        assert_eq!(frags.len(), 3);
        let mut whole = vec![0u8; 2980];
        for (i, fr) in frags.iter().enumerate() {
            let ip = Ipv4Packet::new_checked(&fr[14..]).unwrap();
            assert!(usize::from(ip.total_len()) <= 1500);
            assert_eq!(fr.len(), 14 + usize::from(ip.total_len()));
            assert!(ip.verify_checksum());
            assert_eq!(
                ip.ident(),
                0x1234,
                "the datagram's own identification is kept"
            );
            assert!(!ip.dont_frag());
            assert_eq!(ip.more_frags(), i + 1 < frags.len());
            let off = usize::from(ip.frag_offset());
            if ip.more_frags() {
                assert_eq!(ip.payload().len() % 8, 0);
            }
            whole[off..off + ip.payload().len()].copy_from_slice(ip.payload());
            assert_eq!(&fr[..14], &f[..14]);
        }
        assert_eq!(&whole[..], &f[34..]);
    }

    #[test]
    fn test_ipv4_without_identification_gets_the_callers() {
        let frags = split(&v4(2000, false, 0), 1500, 0xabcd_0042).unwrap();
        for fr in &frags {
            assert_eq!(Ipv4Packet::new_checked(&fr[14..]).unwrap().ident(), 0x0042);
        }
    }

    #[test]
    fn test_ipv4_fragment_split_again_keeps_its_place() {
        // The first 1480 bytes of a larger datagram (MF set), split for an MTU of 576.
        let mut f = v4(1480, false, 9);
        let mut ip = Ipv4Packet::new_unchecked(&mut f[14..]);
        ip.set_frag(false, true, 0);
        ip.fill_checksum();
        let frags = split(&f, 576, 1).unwrap();
        let last = Ipv4Packet::new_checked(&frags[frags.len() - 1][14..]).unwrap();
        assert!(last.more_frags(), "more fragments of the datagram follow");
    }

    #[test]
    fn test_refused_df_options_small_mtu_and_fits_unchanged() {
        assert_eq!(
            split(&v4(2000, true, 1), 1500, 1),
            Err(DropReason::CannotFragment)
        );
        assert_eq!(
            split(&v4(2000, false, 1), 60, 1),
            Err(DropReason::CannotFragment)
        );
        let mut opt = v4(2000, false, 1);
        opt[14] = 0x46;
        assert_eq!(split(&opt, 1500, 1), Err(DropReason::CannotFragment));
        let small = v4(100, true, 1);
        assert_eq!(split(&small, 1500, 1).unwrap(), vec![small.clone()]);
        let v6small = v6(100);
        assert_eq!(split(&v6small, 1500, 1).unwrap(), vec![v6small.clone()]);
        assert_eq!(split(&v6(3000), 1200, 1), Err(DropReason::CannotFragment));
        // emit refusing: the call fails.
        let r = fragment(&v4(3000, false, 1), 1500, 1, |_, _| false);
        assert_eq!(r, Err(DropReason::FragmentNoBuffer));
    }

    #[test]
    fn test_ipv6_split_adds_fragment_headers_and_reassembles() {
        let f = v6(2960);
        let frags = split(&f, 1500, 0x0102_0304).unwrap();
        assert_eq!(frags.len(), 3);
        let mut whole = vec![0u8; 2960];
        for (i, fr) in frags.iter().enumerate() {
            let ip = Ipv6Packet::new_checked(&fr[14..]).unwrap();
            assert!(40 + usize::from(ip.payload_len()) <= 1500);
            assert_eq!(ip.next_header_raw(), 44);
            let fh = &fr[54..62];
            assert_eq!(
                fh[0], 58,
                "the Fragment header names the original next header"
            );
            assert_eq!(&fh[4..8], &[1, 2, 3, 4]);
            let flo = u16::from_be_bytes([fh[2], fh[3]]);
            assert_eq!(flo & 1 == 1, i + 1 < frags.len());
            let off = usize::from(flo & 0xfff8);
            let data = &fr[62..];
            whole[off..off + data.len()].copy_from_slice(data);
        }
        assert_eq!(&whole[..], &f[54..]);
    }
}
