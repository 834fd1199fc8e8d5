//! `ferrovs realserver`: the commands that prepare (or undo) a Linux real server for each
//! forwarding mode, as the LVS guides give them (seeds 000-004).
//!
//! DR: the VIP on `lo` as a host address, and `arp_ignore=1` / `arp_announce=2` so the real
//! server neither answers ARP for the VIP nor uses it as an ARP source. TUN: the VIP on the
//! tunnel device with reverse-path filtering off (the tunnelled packet arrives on the tunnel,
//! the client is routed elsewhere). NAT: the default route through the gateway. FullNAT needs
//! nothing; the TOA kernel module shows client addresses to applications.

use std::net::IpAddr;

/// The real server's forwarding mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Direct routing.
    Dr,
    /// IPIP tunnelling.
    Tun,
    /// NAT.
    Nat,
    /// Full NAT.
    FullNat,
}

/// What to set up.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The mode.
    pub mode: Mode,
    /// The virtual IP (DR, TUN).
    pub vip: Option<IpAddr>,
    /// The gateway's address on the real server's network (NAT).
    pub gateway: Option<IpAddr>,
    /// The tunnel device (TUN); `None` creates `tunl0` with `ip tunnel add`.
    pub tunnel_dev: Option<String>,
}

/// One command line.
pub type Cmd = Vec<String>;

fn cmd(words: &[&str]) -> Cmd {
    words.iter().map(|w| (*w).to_owned()).collect()
}

fn host_prefix(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(_) => format!("{ip}/32"),
        IpAddr::V6(_) => format!("{ip}/128"),
    }
}

fn arp_sysctls(on: bool) -> Vec<Cmd> {
    let (ignore, announce) = if on { ("1", "2") } else { ("0", "0") };
    ["all", "lo"]
        .iter()
        .flat_map(|i| {
            [
                cmd(&[
                    "sysctl",
                    "-w",
                    &format!("net.ipv4.conf.{i}.arp_ignore={ignore}"),
                ]),
                cmd(&[
                    "sysctl",
                    "-w",
                    &format!("net.ipv4.conf.{i}.arp_announce={announce}"),
                ]),
            ]
        })
        .collect()
}

impl Plan {
    /// Check that the plan has what its mode needs.
    ///
    /// # Errors
    /// A message naming the missing option.
    pub fn validate(&self) -> Result<(), String> {
        match self.mode {
            Mode::Dr | Mode::Tun if self.vip.is_none() => {
                Err("--vip ADDRESS is required for dr and tun".into())
            }
            Mode::Tun if self.vip.is_some_and(|v| v.is_ipv6()) => Err(
                "tun: IPv6 over IPIP is not supported (ferrovs tunnels IPv4 only); use dr or fullnat for IPv6"
                    .into(),
            ),
            Mode::Nat if self.gateway.is_none() => {
                Err("--gateway ADDRESS (the gateway's address on this network) is required for nat".into())
            }
            _ => Ok(()),
        }
    }

    /// Return the commands that set the real server up.
    pub fn apply(&self) -> Vec<Cmd> {
        let mut out = Vec::new();
        match self.mode {
            Mode::Dr => {
                let Some(vip) = self.vip else { return out };
                out.extend(arp_sysctls(true));
                let mut add = cmd(&["ip", "addr", "add", &host_prefix(vip), "dev", "lo"]);
                if vip.is_ipv6() {
                    add.push("nodad".into());
                }
                out.push(add);
            }
            Mode::Tun => {
                let Some(vip) = self.vip else { return out };
                let dev = self.tunnel_dev.as_deref().unwrap_or("tunl0");
                if self.tunnel_dev.is_none() {
                    out.push(cmd(&["ip", "tunnel", "add", "tunl0", "mode", "ipip"]));
                }
                out.push(cmd(&["ip", "link", "set", dev, "up"]));
                out.push(cmd(&["ip", "addr", "add", &host_prefix(vip), "dev", dev]));
                out.extend(arp_sysctls(true));
                for i in ["all", dev] {
                    out.push(cmd(&[
                        "sysctl",
                        "-w",
                        &format!("net.ipv4.conf.{i}.rp_filter=0"),
                    ]));
                }
            }
            Mode::Nat => {
                let Some(gw) = self.gateway else { return out };
                let mut c = cmd(&["ip"]);
                if gw.is_ipv6() {
                    c.push("-6".into());
                }
                c.extend(cmd(&[
                    "route",
                    "replace",
                    "default",
                    "via",
                    &gw.to_string(),
                ]));
                out.push(c);
            }
            Mode::FullNat => {}
        }
        out
    }

    /// Return the commands that undo [`Plan::apply`].
    pub fn remove(&self) -> Vec<Cmd> {
        let mut out = Vec::new();
        match self.mode {
            Mode::Dr => {
                let Some(vip) = self.vip else { return out };
                out.push(cmd(&["ip", "addr", "del", &host_prefix(vip), "dev", "lo"]));
                out.extend(arp_sysctls(false));
            }
            Mode::Tun => {
                let Some(vip) = self.vip else { return out };
                let dev = self.tunnel_dev.as_deref().unwrap_or("tunl0");
                out.push(cmd(&["ip", "addr", "del", &host_prefix(vip), "dev", dev]));
                if self.tunnel_dev.is_none() {
                    out.push(cmd(&["ip", "tunnel", "del", "tunl0"]));
                }
                out.extend(arp_sysctls(false));
                out.push(cmd(&["sysctl", "-w", "net.ipv4.conf.all.rp_filter=1"]));
            }
            Mode::Nat => {
                let Some(gw) = self.gateway else { return out };
                let mut c = cmd(&["ip"]);
                if gw.is_ipv6() {
                    c.push("-6".into());
                }
                c.extend(cmd(&["route", "del", "default", "via", &gw.to_string()]));
                out.push(c);
            }
            Mode::FullNat => {}
        }
        out
    }

    /// Return what to tell the user beyond the commands.
    pub fn notes(&self) -> Vec<&'static str> {
        match self.mode {
            Mode::Dr => vec![
                "DR: the real server must be on the gateway's LAN and serve on the virtual port",
            ],
            Mode::Tun => vec![
                "TUN: the real server answers clients directly, from the VIP; its path to them must allow that source",
            ],
            Mode::Nat => vec!["NAT: replies must return through the gateway (default route)"],
            Mode::FullNat => vec![
                "FullNAT: nothing to set up; replies go back to the gateway's local address",
                "to see client addresses, load the TOA kernel module (TCP option 254), or use the proxy protocol",
            ],
        }
    }
}

/// Render a command for a shell.
pub fn shell_line(c: &Cmd) -> String {
    c.join(" ")
}

/// Run each command in turn, stopping at the first failure. Re-running `--apply`, or `--remove`
/// of what is already gone (`removing`), is harmless.
///
/// # Errors
/// The failed command and its stderr.
pub fn run(cmds: &[Cmd], removing: bool) -> Result<(), String> {
    for c in cmds {
        let out = std::process::Command::new(&c[0])
            .args(&c[1..])
            .output()
            .map_err(|e| format!("{}: cannot run: {e}", shell_line(c)))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr).trim().to_owned();
            // Idempotence: applying twice, or removing what is not there, is not an error.
            let benign = err.contains("File exists")
                || (removing
                    && (err.contains("Cannot assign requested address")
                        || err.contains("No such process")
                        || err.contains("No such device")));
            if !benign {
                return Err(format!("{}: {err}", shell_line(c)));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(cmds: &[Cmd]) -> Vec<String> {
        cmds.iter().map(shell_line).collect()
    }

    #[test]
    fn test_dr_is_the_seeds_setup_and_undoes() {
        let p = Plan {
            mode: Mode::Dr,
            vip: Some("198.18.1.100".parse().unwrap()),
            gateway: None,
            tunnel_dev: None,
        };
        p.validate().unwrap();
        let a = lines(&p.apply());
        assert!(a.contains(&"ip addr add 198.18.1.100/32 dev lo".to_owned()));
        for s in [
            "sysctl -w net.ipv4.conf.all.arp_ignore=1",
            "sysctl -w net.ipv4.conf.all.arp_announce=2",
            "sysctl -w net.ipv4.conf.lo.arp_ignore=1",
            "sysctl -w net.ipv4.conf.lo.arp_announce=2",
        ] {
            assert!(a.contains(&s.to_owned()), "{s} missing from {a:?}");
        }
        let r = lines(&p.remove());
        assert!(r.contains(&"ip addr del 198.18.1.100/32 dev lo".to_owned()));
        assert!(r.contains(&"sysctl -w net.ipv4.conf.all.arp_ignore=0".to_owned()));
    }

    #[test]
    fn test_tun_nat_and_errors() {
        let vip = Some("198.18.1.100".parse().unwrap());
        let t = Plan {
            mode: Mode::Tun,
            vip,
            gateway: None,
            tunnel_dev: None,
        };
        let a = lines(&t.apply());
        assert_eq!(a[0], "ip tunnel add tunl0 mode ipip");
        assert!(a.contains(&"ip addr add 198.18.1.100/32 dev tunl0".to_owned()));
        assert!(a.contains(&"sysctl -w net.ipv4.conf.tunl0.rp_filter=0".to_owned()));
        let own = Plan {
            tunnel_dev: Some("fvtun0".into()),
            ..t.clone()
        };
        assert!(!lines(&own.apply()).iter().any(|l| l.contains("ip tunnel")));
        let n = Plan {
            mode: Mode::Nat,
            vip: None,
            gateway: Some("198.18.2.1".parse().unwrap()),
            tunnel_dev: None,
        };
        assert_eq!(
            lines(&n.apply()),
            ["ip route replace default via 198.18.2.1"]
        );
        assert!(Plan {
            gateway: None,
            ..n.clone()
        }
        .validate()
        .unwrap_err()
        .contains("--gateway"));
        assert!(Plan { vip: None, ..t }
            .validate()
            .unwrap_err()
            .contains("--vip"));
        let f = Plan {
            mode: Mode::FullNat,
            vip: None,
            gateway: None,
            tunnel_dev: None,
        };
        assert!(f.apply().is_empty());
        assert!(f.notes().iter().any(|n| n.contains("TOA")));
    }
}
