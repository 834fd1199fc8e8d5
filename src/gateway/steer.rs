//! FullNAT reply steering, chosen at start per port (DESIGN §5): NIC flow rules, else RSS-aware
//! local ports, else software redirect rings, each port saying which and why.
//!
//! Ownership is one function for all workers and ports, so the choice is made over every port:
//! - **flow** when every port that carries replies (one a local address pool lives on) accepts
//!   `rte_flow` rules `dst laddr / dst port & (W-1) == w -> queue w` (W workers, a power of
//!   two): ownership stays `lport % W`, the NIC does the steering;
//! - else **rss** when every port has RSS over TCP/UDP ports with our key and our redirection
//!   table (read back to check): workers pick local ports whose replies RSS sends to them;
//! - else **redirect**: ownership `lport % W`, ports that accepted flow rules keep them, the
//!   others redirect in software.
//!
//! Rules cover the local addresses present at start; one added by a reload gets none, and its
//! replies are redirected in software (still correct: ownership does not change).

use std::net::IpAddr;
use std::sync::Arc;

use config::Config;
use control::metrics::PortSteeringRow;
use dataplane::rss::RssSteer;
use dataplane::worker::ReplySteering;
use dpdk::ethdev::{DevInfo, Port};
use dpdk::flow::{self, FlowRule, SteerRule};

use super::RSS_KEY;

/// RSS hash types the RSS-aware choice needs: the NIC must hash TCP and UDP ports, both
/// families, or it cannot be predicted from the reply tuple.
pub(super) fn rss_hash_types() -> u64 {
    use dpdk::ethdev::{RSS_IPV4_TCP, RSS_IPV4_UDP, RSS_IPV6_TCP, RSS_IPV6_UDP};
    RSS_IPV4_TCP | RSS_IPV4_UDP | RSS_IPV6_TCP | RSS_IPV6_UDP
}

/// What one port can do, found at start.
#[derive(Debug)]
pub(super) struct Probe {
    /// The rules to install (validated), or why not.
    flow: Result<Vec<SteerRule>, String>,
    /// The redirection table as worker ids (read back from the port), or why not.
    rss: Result<Vec<u16>, String>,
}

/// The local addresses of the pools that live on port `name`.
pub(super) fn laddrs_on(cfg: &Config, name: &str) -> Vec<IpAddr> {
    cfg.local_address_pools
        .iter()
        .filter(|p| p.port == name)
        .flat_map(|p| p.addresses.iter().copied())
        .collect()
}

/// Probe a started port: validate a flow rule per local address and protocol, and check that
/// RSS runs with our key and the redirection table `reta_set` (None if none was set).
pub(super) fn probe(
    port: &Port,
    info: &DevInfo,
    laddrs: &[IpAddr],
    workers: u16,
    reta_set: Option<&[u16]>,
) -> Probe {
    Probe {
        flow: probe_flow(port, laddrs, workers),
        rss: probe_rss(port, info, workers, reta_set),
    }
}

fn probe_flow(port: &Port, laddrs: &[IpAddr], workers: u16) -> Result<Vec<SteerRule>, String> {
    if !workers.is_power_of_two() {
        return Err(format!(
            "{workers} workers is not a power of two (rules match local-port bits)"
        ));
    }
    if laddrs.is_empty() {
        return Err("no local address pool on this port".into());
    }
    let mut rules = Vec::new();
    for &dst in laddrs {
        for tcp in [true, false] {
            for w in 0..workers {
                let rule = SteerRule {
                    dst,
                    port_spec: w,
                    port_mask: workers - 1,
                    tcp,
                    queue: w,
                };
                // One validation per address and protocol: the rest differ in values only.
                if w == 0 {
                    flow::validate(port, &rule).map_err(|e| e.to_string())?;
                }
                // Some PMDs validate in software and refuse at creation (net_tap without the
                // kernel's tc classifiers): create the first rule once and remove it again.
                if rules.is_empty() {
                    drop(flow::create(port, &rule).map_err(|e| e.to_string())?);
                }
                rules.push(rule);
            }
        }
    }
    Ok(rules)
}

fn probe_rss(
    port: &Port,
    info: &DevInfo,
    workers: u16,
    reta_set: Option<&[u16]>,
) -> Result<Vec<u16>, String> {
    let need = rss_hash_types();
    if info.flow_type_rss_offloads == 0 {
        return Err("no RSS on this device".into());
    }
    if info.flow_type_rss_offloads & need != need {
        return Err(format!(
            "RSS cannot hash TCP/UDP ports of both families (offloads {:#x})",
            info.flow_type_rss_offloads
        ));
    }
    if usize::from(info.hash_key_size) != RSS_KEY.len() {
        return Err(format!(
            "RSS key of {} bytes, ours has {}",
            info.hash_key_size,
            RSS_KEY.len()
        ));
    }
    let Some(reta) = reta_set else {
        return Err("no RSS redirection table".into());
    };
    if !reta.len().is_power_of_two() {
        return Err(format!(
            "redirection table of {} entries, not a power of two",
            reta.len()
        ));
    }
    let (key, hf) = port
        .rss_hash_conf(info.hash_key_size)
        .map_err(|e| format!("cannot read the RSS key back: {e}"))?;
    if key != RSS_KEY {
        return Err("the port does not report our RSS key".into());
    }
    if hf & need != need {
        return Err(format!("RSS hash types {hf:#x} leave out TCP/UDP ports"));
    }
    let back = port
        .reta(u16::try_from(reta.len()).unwrap_or(u16::MAX))
        .map_err(|e| format!("cannot read the redirection table back: {e}"))?;
    if back != reta {
        return Err("the redirection table read back differs from ours".into());
    }
    if back.iter().any(|&q| q >= workers) {
        return Err("the redirection table names a non-worker queue".into());
    }
    Ok(back)
}

/// The steering chosen for every port.
#[derive(Debug)]
pub(super) struct Plan {
    /// What the workers use to pick local ports and find owners.
    pub steering: ReplySteering,
    /// Per port: the rules to create (flow mode only).
    rules: Vec<Vec<SteerRule>>,
    /// Per port: mode and the reason line.
    modes: Vec<(&'static str, String)>,
    /// Per port: why RSS-aware steering is not used (for a late fall-back line).
    rss_why: Vec<String>,
}

/// Decide from every port's probe (in port order); `carries[i]` says whether a local address
/// pool lives on port i (its replies arrive there).
pub(super) fn decide(probes: &[Probe], carries: &[bool], workers: u16) -> Plan {
    let n = probes.len();
    let rss_why: Vec<String> = probes
        .iter()
        .map(|p| match &p.rss {
            Ok(_) => "not every port has it".to_owned(),
            Err(e) => e.clone(),
        })
        .collect();
    if workers <= 1 {
        return Plan {
            steering: ReplySteering::Modulo,
            rss_why,
            rules: vec![Vec::new(); n],
            modes: (0..n)
                .map(|_| ("single", "one worker, nothing to steer".to_owned()))
                .collect(),
        };
    }
    let why_not = |r: &Result<Vec<SteerRule>, String>| match r {
        Ok(_) => String::new(),
        Err(e) => e.clone(),
    };
    let rss_unused = |p: &Probe| match &p.rss {
        Ok(_) => "not used: flow rules cover the ports that carry replies".to_owned(),
        Err(e) => e.clone(),
    };
    let any_carrier = carries.iter().any(|&c| c);
    let all_flow = any_carrier
        && probes
            .iter()
            .zip(carries)
            .all(|(p, &c)| !c || p.flow.is_ok());
    let rss_all: Option<&Vec<u16>> = probes
        .iter()
        .map(|p| p.rss.as_ref().ok())
        .collect::<Option<Vec<_>>>()
        .and_then(|tables| {
            // Every port must spread by the same table for one ownership function.
            let first = *tables.first()?;
            tables.iter().all(|t| *t == first).then_some(first)
        });
    if !all_flow {
        if let Some(reta) = rss_all {
            if let Ok(rs) = RssSteer::new(&RSS_KEY, reta) {
                return Plan {
                    steering: ReplySteering::Rss(Arc::new(rs)),
                    rss_why,
                    rules: vec![Vec::new(); n],
                    modes: probes
                        .iter()
                        .map(|p| {
                            let f = why_not(&p.flow);
                            let why = if f.is_empty() {
                                "rte_flow: usable here but not on every port that carries replies"
                                    .to_owned()
                            } else {
                                format!("rte_flow: {f}")
                            };
                            (
                                "rss",
                                format!(
                                    "local ports chosen so RSS (our key, {} buckets) returns replies to their worker; {why}",
                                    reta.len()
                                ),
                            )
                        })
                        .collect(),
                };
            }
        }
    }
    let mut rules = Vec::with_capacity(n);
    let mut modes = Vec::with_capacity(n);
    for (p, &c) in probes.iter().zip(carries) {
        match &p.flow {
            Ok(r) if c => {
                rules.push(r.clone());
                modes.push((
                    "flow",
                    format!(
                        "{} rte_flow rules: local address, local port & {} -> queue; RSS-aware: {}",
                        r.len(),
                        workers - 1,
                        rss_unused(p)
                    ),
                ));
            }
            f => {
                rules.push(Vec::new());
                let f = match f {
                    Ok(_) => "no local address pool on this port".to_owned(),
                    Err(e) => e.clone(),
                };
                let rss = match &p.rss {
                    Ok(_) if rss_all.is_none() => "not every port has it".to_owned(),
                    Ok(_) => "not used: flow rules cover the ports that carry replies".to_owned(),
                    Err(e) => e.clone(),
                };
                modes.push((
                    "redirect",
                    format!(
                        "replies reaching another worker go through redirect rings; rte_flow: {f}; RSS-aware: {rss}"
                    ),
                ));
            }
        }
    }
    Plan {
        steering: ReplySteering::Modulo,
        rules,
        modes,
        rss_why,
    }
}

impl Plan {
    /// Create the flow rules on the ports that use them; a port that refuses one falls back to
    /// redirect (ownership is `lport % W` either way). Print one line per port.
    pub(super) fn install(&mut self, ports: &[Port], names: &[String]) -> Vec<Vec<FlowRule>> {
        let mut installed = Vec::with_capacity(ports.len());
        for (i, port) in ports.iter().enumerate() {
            let mut made = Vec::new();
            for rule in self.rules.get(i).map_or(&[][..], Vec::as_slice) {
                match flow::create(port, rule) {
                    Ok(r) => made.push(r),
                    Err(e) => {
                        made.clear();
                        self.modes[i] = (
                            "redirect",
                            format!(
                                "replies reaching another worker go through redirect rings; rte_flow: rule for {} refused at creation ({e}); RSS-aware: {}",
                                rule.dst, self.rss_why[i]
                            ),
                        );
                        break;
                    }
                }
            }
            installed.push(made);
        }
        for (name, (mode, why)) in names.iter().zip(&self.modes) {
            println!("ferrovs: port {name} reply steering: {mode} ({why})");
        }
        installed
    }

    /// The metric rows.
    pub(super) fn rows(&self, names: &[String]) -> Vec<PortSteeringRow> {
        names
            .iter()
            .zip(&self.modes)
            .map(|(n, (m, _))| PortSteeringRow {
                port: n.clone(),
                mode: (*m).to_owned(),
            })
            .collect()
    }
}

/// Remove the rules before the ports stop: one flush per port that has any, else rule by rule.
pub(super) fn remove(ports: &[Port], rules: Vec<Vec<FlowRule>>) {
    for (port, rs) in ports.iter().zip(rules) {
        if rs.is_empty() {
            continue;
        }
        match flow::flush(port) {
            Ok(()) => rs.into_iter().for_each(FlowRule::forget),
            Err(e) => {
                eprintln!(
                    "ferrovs: port {}: {e}; destroying rules one by one",
                    port.name()
                );
                drop(rs);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> SteerRule {
        SteerRule {
            dst: "198.18.1.200".parse().unwrap(),
            port_spec: 0,
            port_mask: 1,
            tcp: true,
            queue: 0,
        }
    }

    fn probe(flow: bool, rss: Option<Vec<u16>>) -> Probe {
        Probe {
            flow: if flow {
                Ok(vec![rule()])
            } else {
                Err("rte_flow_validate: Function not implemented".into())
            },
            rss: rss.ok_or_else(|| "no RSS on this device".to_owned()),
        }
    }

    fn modes(p: &Plan) -> Vec<&str> {
        p.modes.iter().map(|(m, _)| *m).collect()
    }

    #[test]
    fn test_steer_virtual_ports_fall_back_to_redirect() {
        let p = decide(&[probe(false, None), probe(false, None)], &[false, true], 2);
        assert_eq!(modes(&p), ["redirect", "redirect"]);
        assert!(matches!(p.steering, ReplySteering::Modulo));
        assert!(
            p.modes[1].1.contains("Function not implemented"),
            "{:?}",
            p.modes
        );
        assert!(
            p.modes[1].1.contains("no RSS on this device"),
            "{:?}",
            p.modes
        );
    }

    #[test]
    fn test_steer_flow_on_every_carrier_wins() {
        let reta = RssSteer::round_robin_reta(128, 2);
        let p = decide(
            &[probe(false, Some(reta.clone())), probe(true, Some(reta))],
            &[false, true],
            2,
        );
        assert_eq!(modes(&p), ["redirect", "flow"]);
        assert!(matches!(p.steering, ReplySteering::Modulo));
        assert_eq!(p.rules[1].len(), 1);
    }

    #[test]
    fn test_steer_rss_when_every_port_has_it_and_flow_is_missing() {
        let reta = RssSteer::round_robin_reta(64, 4);
        let p = decide(
            &[probe(false, Some(reta.clone())), probe(false, Some(reta))],
            &[false, true],
            4,
        );
        assert_eq!(modes(&p), ["rss", "rss"]);
        assert!(matches!(p.steering, ReplySteering::Rss(_)));
        // One port without RSS: everything falls back.
        let p = decide(
            &[
                probe(false, None),
                probe(false, Some(RssSteer::round_robin_reta(64, 4))),
            ],
            &[false, true],
            4,
        );
        assert_eq!(modes(&p), ["redirect", "redirect"]);
        assert!(p.modes[1].1.contains("not every port"), "{:?}", p.modes);
    }

    #[test]
    fn test_steer_single_worker() {
        let p = decide(&[probe(true, None)], &[true], 1);
        assert_eq!(modes(&p), ["single"]);
    }
}
