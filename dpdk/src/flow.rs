//! `rte_flow`: probe whether a port can steer by destination address and port bits, and install
//! such rules (used for FullNAT reply steering, DESIGN §5).
//!
//! One rule shape only: `eth / ipv4 or ipv6 dst is ADDR / tcp or udp dst port spec PORT mask
//! MASK -> queue Q`. The gateway validates one per local address at start; most virtual devices
//! refuse (`ENOTSUP`), which is how a port without flow support is found.

use std::ffi::CStr;
use std::net::IpAddr;
use std::os::raw::c_void;
use std::ptr::NonNull;

use crate::error::{Error, Result};
use crate::ethdev::Port;

/// A steering rule: IPv4 or IPv6 TCP or UDP packets to `dst` whose destination port matches
/// `port_spec` under `port_mask` go to RX queue `queue`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SteerRule {
    /// Destination address (a FullNAT local address).
    pub dst: IpAddr,
    /// Destination port value after masking.
    pub port_spec: u16,
    /// Which destination-port bits are compared.
    pub port_mask: u16,
    /// TCP (true) or UDP (false).
    pub tcp: bool,
    /// Target RX queue.
    pub queue: u16,
}

/// An installed flow rule, destroyed on drop.
#[derive(Debug)]
pub struct FlowRule {
    port: u16,
    flow: NonNull<dpdk_sys::rte_flow>,
}

// SAFETY: the rule handle is an opaque token DPDK lets any thread destroy (rte_flow calls are
// thread-safe unless the PMD says otherwise, and we only destroy from the control thread).
unsafe impl Send for FlowRule {}

impl Drop for FlowRule {
    fn drop(&mut self) {
        let mut err = dpdk_sys::rte_flow_error::default();
        // SAFETY: flow was created on this port and is destroyed once.
        unsafe { dpdk_sys::rte_flow_destroy(self.port, self.flow.as_ptr(), &mut err) };
    }
}

fn flow_error(op: &'static str, ret: i32, err: &dpdk_sys::rte_flow_error) -> Error {
    let msg = if err.message.is_null() {
        crate::error::strerror(-ret)
    } else {
        // SAFETY: the PMD sets message to a static NUL-terminated string.
        unsafe { CStr::from_ptr(err.message) }
            .to_string_lossy()
            .into_owned()
    };
    Error::Dpdk {
        op,
        errno: ret.abs(),
        msg,
    }
}

/// Validate (`create == false`) or create a rule.
fn apply(port: &Port, rule: &SteerRule, create: bool) -> Result<Option<FlowRule>> {
    // Ingress rule in group 0, priority 0.
    let attr = dpdk_sys::rte_flow_attr {
        group: 0,
        priority: 0,
        _bitfield_align_1: [],
        _bitfield_1: dpdk_sys::rte_flow_attr::new_bitfield_1(1, 0, 0, 0),
    };
    let mut ip4_spec = dpdk_sys::rte_flow_item_ipv4::default();
    let mut ip4_mask = dpdk_sys::rte_flow_item_ipv4::default();
    let mut ip6_spec = dpdk_sys::rte_flow_item_ipv6::default();
    let mut ip6_mask = dpdk_sys::rte_flow_item_ipv6::default();
    let (ip_type, ip_spec, ip_mask) = match rule.dst {
        IpAddr::V4(a) => {
            ip4_spec.hdr.dst_addr = u32::from(a).to_be();
            ip4_mask.hdr.dst_addr = u32::MAX;
            (
                dpdk_sys::RTE_FLOW_ITEM_TYPE_IPV4,
                std::ptr::from_ref(&ip4_spec).cast::<c_void>(),
                std::ptr::from_ref(&ip4_mask).cast::<c_void>(),
            )
        }
        IpAddr::V6(a) => {
            ip6_spec.hdr.dst_addr = a.octets();
            ip6_mask.hdr.dst_addr = [0xff; 16];
            (
                dpdk_sys::RTE_FLOW_ITEM_TYPE_IPV6,
                std::ptr::from_ref(&ip6_spec).cast::<c_void>(),
                std::ptr::from_ref(&ip6_mask).cast::<c_void>(),
            )
        }
    };
    let mut tcp_spec = dpdk_sys::rte_flow_item_tcp::default();
    let mut tcp_mask = dpdk_sys::rte_flow_item_tcp::default();
    let mut udp_spec = dpdk_sys::rte_flow_item_udp::default();
    let mut udp_mask = dpdk_sys::rte_flow_item_udp::default();
    tcp_spec.hdr.dst_port = rule.port_spec.to_be();
    tcp_mask.hdr.dst_port = rule.port_mask.to_be();
    udp_spec.hdr.dst_port = rule.port_spec.to_be();
    udp_mask.hdr.dst_port = rule.port_mask.to_be();
    let (l4_type, l4_spec, l4_mask) = if rule.tcp {
        (
            dpdk_sys::RTE_FLOW_ITEM_TYPE_TCP,
            std::ptr::from_ref(&tcp_spec).cast::<c_void>(),
            std::ptr::from_ref(&tcp_mask).cast::<c_void>(),
        )
    } else {
        (
            dpdk_sys::RTE_FLOW_ITEM_TYPE_UDP,
            std::ptr::from_ref(&udp_spec).cast::<c_void>(),
            std::ptr::from_ref(&udp_mask).cast::<c_void>(),
        )
    };
    let null = std::ptr::null();
    let pattern = [
        dpdk_sys::rte_flow_item {
            type_: dpdk_sys::RTE_FLOW_ITEM_TYPE_ETH,
            spec: null,
            last: null,
            mask: null,
        },
        dpdk_sys::rte_flow_item {
            type_: ip_type,
            spec: ip_spec,
            last: null,
            mask: ip_mask,
        },
        dpdk_sys::rte_flow_item {
            type_: l4_type,
            spec: l4_spec,
            last: null,
            mask: l4_mask,
        },
        dpdk_sys::rte_flow_item {
            type_: dpdk_sys::RTE_FLOW_ITEM_TYPE_END,
            spec: null,
            last: null,
            mask: null,
        },
    ];
    let queue = dpdk_sys::rte_flow_action_queue { index: rule.queue };
    let actions = [
        dpdk_sys::rte_flow_action {
            type_: dpdk_sys::RTE_FLOW_ACTION_TYPE_QUEUE,
            conf: std::ptr::from_ref(&queue).cast(),
        },
        dpdk_sys::rte_flow_action {
            type_: dpdk_sys::RTE_FLOW_ACTION_TYPE_END,
            conf: null,
        },
    ];
    let mut err = dpdk_sys::rte_flow_error::default();
    let id = port.id().0;
    if create {
        // SAFETY: attr, pattern (END-terminated) and actions (END-terminated) and the specs
        // they point to live across the call; DPDK copies what it keeps.
        let f = unsafe {
            dpdk_sys::rte_flow_create(id, &attr, pattern.as_ptr(), actions.as_ptr(), &mut err)
        };
        match NonNull::new(f) {
            Some(flow) => Ok(Some(FlowRule { port: id, flow })),
            None => Err(flow_error(
                "rte_flow_create",
                -crate::error::rte_errno(),
                &err,
            )),
        }
    } else {
        // SAFETY: as above; validate only reads.
        let ret = unsafe {
            dpdk_sys::rte_flow_validate(id, &attr, pattern.as_ptr(), actions.as_ptr(), &mut err)
        };
        if ret < 0 {
            Err(flow_error("rte_flow_validate", ret, &err))
        } else {
            Ok(None)
        }
    }
}

/// Ask the port whether it would accept `rule` (without installing it).
///
/// # Errors
/// The PMD's reason when it would not (most virtual devices have no `rte_flow` support).
#[doc(alias = "rte_flow_validate")]
pub fn validate(port: &Port, rule: &SteerRule) -> Result<()> {
    apply(port, rule, false).map(|_| ())
}

/// Install `rule` on the port; the rule is destroyed when the returned handle drops.
///
/// # Errors
/// The PMD's reason when it refuses the rule.
#[doc(alias = "rte_flow_create")]
pub fn create(port: &Port, rule: &SteerRule) -> Result<FlowRule> {
    apply(port, rule, true)?.ok_or_else(|| Error::Dpdk {
        op: "rte_flow_create",
        errno: 0,
        msg: "no rule returned".into(),
    })
}

/// Destroy every flow rule on the port (handles of rules it had become stale: forget them
/// with [`FlowRule::forget`] rather than dropping them after this).
///
/// # Errors
/// The PMD's reason when it cannot.
#[doc(alias = "rte_flow_flush")]
pub fn flush(port: &Port) -> Result<()> {
    let mut err = dpdk_sys::rte_flow_error::default();
    // SAFETY: port.id() is a valid port (Port exists); err is a valid out-parameter.
    let ret = unsafe { dpdk_sys::rte_flow_flush(port.id().0, &mut err) };
    if ret < 0 {
        Err(flow_error("rte_flow_flush", ret, &err))
    } else {
        Ok(())
    }
}

impl FlowRule {
    /// Drop the handle without destroying the rule (after [`flush`] destroyed it).
    pub fn forget(self) {
        std::mem::forget(self);
    }
}
