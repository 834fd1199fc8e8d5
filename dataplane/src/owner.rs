//! Which worker owns a flow's session. Control, sync's installer and the pipeline all steer by
//! these functions, so a session lands where its packets will arrive (DESIGN §5).

use core::net::IpAddr;
use std::sync::Arc;

use crate::rss::RssSteer;
use crate::sched::hash;

/// How FullNAT replies reach the worker that owns their session (DESIGN §5), which decides how
/// a worker picks local ports and which worker owns a reply it does not have a session for.
#[derive(Clone, Debug, Default)]
pub enum ReplySteering {
    /// The owner is [`fullnat_owner`]: `lport % workers`. NIC flow rules matching the local
    /// port's low bits implement it in hardware (workers a power of two); otherwise replies
    /// that land on another worker are redirected in software.
    #[default]
    Modulo,
    /// The owner is the worker the NIC's RSS delivers the reply to, with the key and
    /// redirection table ferrovs programmed on every port: each worker picks local ports whose
    /// reply tuple hashes to its own queue, so replies need no redirect.
    Rss(Arc<RssSteer>),
}

impl ReplySteering {
    /// Return the worker that owns the FullNAT session a reply `backend:bport -> laddr:lport`
    /// belongs to.
    #[inline]
    pub fn owner(
        &self,
        backend: IpAddr,
        bport: u16,
        laddr: IpAddr,
        lport: u16,
        workers: u16,
    ) -> u16 {
        match self {
            ReplySteering::Modulo => fullnat_owner(lport, workers),
            ReplySteering::Rss(rs) => rs
                .worker_of(backend, laddr, bport, lport)
                .unwrap_or_else(|| fullnat_owner(lport, workers)),
        }
    }
}

/// The worker that owns a NAT flow: a function of the client address, which NAT leaves
/// unchanged in both directions. The address, not the endpoint: a persistent NAT service's
/// template must be on the worker where all of that client's connections are.
#[inline]
pub fn nat_owner(client: IpAddr, workers: u16) -> u16 {
    (hash::mix(hash::addr(client), OWNER_SALT) % u64::from(workers)) as u16
}

/// The worker that owns the flows of a persistent (`-p`) DR, TUN or FullNAT service from
/// `client`: a function of the client network the template is keyed by (`-M`), so every
/// connection of that network is scheduled where its template lives.
#[inline]
pub fn persist_owner(client: IpAddr, prefix_len: u8, workers: u16) -> u16 {
    let net = match client {
        IpAddr::V4(a) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(prefix_len.min(32)))
                .unwrap_or(0);
            IpAddr::V4((a.to_bits() & mask).into())
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(prefix_len.min(128)))
                .unwrap_or(0);
            IpAddr::V6((a.to_bits() & mask).into())
        }
    };
    (hash::mix(hash::addr(net), OWNER_SALT) % u64::from(workers)) as u16
}

/// Separates the ownership hash from the schedulers' uses of the same address hash.
const OWNER_SALT: u64 = 0x6f77_6e65_7273;

/// The worker that owns a FullNAT flow, from its local port, under [`ReplySteering::Modulo`]
/// (under [`ReplySteering::Rss`] see [`ReplySteering::owner`]).
#[inline]
pub const fn fullnat_owner(lport: u16, workers: u16) -> u16 {
    lport % workers
}
