//! Direct routing: the frame goes to the backend's MAC with its IP packet untouched (the
//! backend holds the VIP and answers the client directly). An ICMP error about a reply takes
//! the same way.

use crate::frame::Frame;
use crate::rewrite::{set_macs, Family};
use crate::session::Session;
use crate::snapshot::PortInfo;
use crate::worker::{Pkt, Verdict};

/// Send the client's frame to the backend's MAC out of `port`.
#[inline(always)]
pub(crate) fn to_backend<A: Family, F: Frame>(
    pkt: &mut Pkt<'_, F>,
    s: &Session<A>,
    port: &PortInfo,
) -> Verdict {
    set_macs(pkt.frame.data_mut(), &s.next_hop_mac, &port.mac);
    Verdict::Tx(s.backend_port)
}
