//! Which worker owns a flow, where more than one runs: a packet that reaches another worker
//! than its session's (or its flow's, for NAT and persistent services) is redirected there
//! (DESIGN §5). With one worker every answer is `None`.

use core::net::IpAddr;

use crate::rewrite::Family;
use crate::snapshot::{Service, Snapshot};
use crate::types::{FlowKey, L4Proto};
use crate::wire::IcmpInner;

use super::{nat_owner, persist_owner, Worker};

impl Worker {
    /// Another worker that owns the flows of `client` to `svc`, when a NAT or persistent
    /// service decides it (by the client address, or its network).
    #[inline]
    pub(super) fn new_flow_owner(&self, svc: &Service, client: IpAddr) -> Option<u16> {
        self.decided_owner(svc, client)
            .filter(|&o| o != self.cfg.id)
    }

    /// The worker that owns the flows of `client` to `svc` when a NAT or persistent service
    /// decides it (other workers redirect there), with more than one worker.
    pub(super) fn decided_owner(&self, svc: &Service, client: IpAddr) -> Option<u16> {
        let n = self.cfg.workers;
        if n <= 1 {
            return None;
        }
        if svc.has_nat {
            Some(nat_owner(client, n))
        } else {
            svc.persistence
                .map(|ps| persist_owner(client, ps.prefix_len, n))
        }
    }

    /// Another worker that owns the session of a reply `key` that has none here: a FullNAT
    /// reply to a local address (by its local port), or a NAT reply (by the client address).
    pub(super) fn reply_owner<A: Family>(
        &self,
        laddr: bool,
        nat_reply: bool,
        key: &FlowKey<A>,
    ) -> Option<u16> {
        let w = self.cfg.workers;
        if w <= 1 {
            return None;
        }
        let (src, dst) = (key.src.ip(), key.dst.ip());
        let owner = if laddr {
            // A reply backend:bport -> laddr:lport.
            Some(
                self.cfg
                    .reply_steering
                    .owner(src, key.sport, dst, key.dport, w),
            )
        } else if nat_reply {
            Some(nat_owner(dst, w))
        } else {
            None
        };
        owner.filter(|&o| o != self.cfg.id)
    }

    /// Another worker that owns the flow an ICMP error quotes, when the quote shows it: a
    /// FullNAT packet we sent to a backend (its local port), or a NAT packet either way (its
    /// client endpoint). `None` for FullNAT client-side errors (that session lives where RSS
    /// put the client's SYN, which the quote cannot tell).
    pub(super) fn icmp_owner<A: Family>(
        &self,
        snap: &Snapshot,
        inner: &IcmpInner<A>,
        proto: L4Proto,
    ) -> Option<u16> {
        let workers = self.cfg.workers;
        if workers <= 1 {
            return None;
        }
        let (src, dst) = (inner.src.ip(), inner.dst.ip());
        let owner = if snap.is_laddr(src) {
            // laddr:lport -> backend: its replies are backend:bport -> laddr:lport.
            let steer = &self.cfg.reply_steering;
            Some(steer.owner(dst, inner.dst_port, src, inner.src_port, workers))
        } else if snap.is_nat_backend(dst, inner.dst_port, proto) {
            // client:cport -> backend.
            Some(nat_owner(src, workers))
        } else {
            let nat_vip = snap
                .service_for(src, inner.src_port, proto)
                .and_then(|sid| snap.service(sid))
                .is_some_and(|svc| svc.has_nat);
            // VIP:vport -> client:cport, a NAT reply.
            nat_vip.then(|| nat_owner(dst, workers))
        };
        owner.filter(|&o| o != self.cfg.id)
    }
}
