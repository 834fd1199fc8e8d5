//! How a real server is reached, and where FullNAT puts the client's address.

/// Forwarding method of a real server (ipvsadm's `-g`, `-m`, `-i`, DPVS's FullNAT).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum Forward {
    /// Direct routing (`-g`, ipvsadm's default): rewrite the destination MAC only; replies
    /// bypass the gateway.
    #[default]
    Dr = 0,
    /// NAT (`-m`, masquerading): rewrite the destination; replies come back through the gateway.
    Nat = 1,
    /// IP-in-IP tunnelling (`-i`); replies bypass the gateway.
    Tun = 2,
    /// FullNAT (`--fullnat`, DPVS's `-b`): rewrite source (to a local address) and
    /// destination; replies come back.
    FullNat = 3,
}

names!(Forward, "forwarding method", {
    Dr => "dr",
    Nat => "nat",
    Tun => "tun",
    FullNat => "fullnat",
});

impl Forward {
    /// Whether the backend's replies pass through the gateway (so the reply key is indexed).
    #[inline]
    pub const fn sees_replies(self) -> bool {
        matches!(self, Self::Nat | Self::FullNat)
    }

    /// Return the Forward column of `ipvsadm -L` (`FullNat` as DPVS lists it).
    pub const fn column(self) -> &'static str {
        match self {
            Self::Dr => "Route",
            Self::Nat => "Masq",
            Self::Tun => "Tunnel",
            Self::FullNat => "FullNat",
        }
    }

    /// Return the switch `ipvsadm -S` writes.
    pub const fn switch(self) -> &'static str {
        match self {
            Self::Dr => "-g",
            Self::Nat => "-m",
            Self::Tun => "-i",
            Self::FullNat => "--fullnat",
        }
    }
}

/// Where FullNAT TCP puts the client address option (TOA, TCP option 254).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Toa {
    /// Never.
    Off,
    /// On the client's SYN.
    Syn,
    /// On the client's first ACK of the handshake (what the TOA kernel module reads by default).
    #[default]
    Ack,
}

names!(Toa, "TOA mode", { Off => "off", Syn => "syn", Ack => "ack" });

/// Whether NAT/FullNAT TCP puts a PROXY protocol header (HAProxy's `proxy-protocol.txt`) in
/// front of the client's first bytes towards the real server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ProxyProtocol {
    /// Never.
    #[default]
    Off,
    /// Version 1: the text line `PROXY TCP4 src dst sport dport\r\n`.
    V1,
    /// Version 2: the binary header (PROXY command, TCP over IPv4 or IPv6).
    V2,
}

names!(ProxyProtocol, "PROXY protocol version", { Off => "off", V1 => "v1", V2 => "v2" });

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for f in Forward::ALL {
            assert_eq!(f.as_str().parse(), Ok(f));
            assert_eq!(f.to_string(), f.as_str());
        }
        for t in Toa::ALL {
            assert_eq!(t.as_str().parse(), Ok(t));
        }
        for p in ProxyProtocol::ALL {
            assert_eq!(p.as_str().parse(), Ok(p));
        }
        assert_eq!(ProxyProtocol::default(), ProxyProtocol::Off);
        let e = "FullNat".parse::<Forward>().unwrap_err();
        assert_eq!(e.to_string(), "unknown forwarding method \"FullNat\"");
        assert_eq!(Forward::default(), Forward::Dr);
        assert_eq!(Toa::default(), Toa::Ack);
    }

    #[test]
    fn only_nat_and_fullnat_see_replies() {
        let seen: Vec<_> = Forward::ALL
            .into_iter()
            .filter(|f| f.sees_replies())
            .collect();
        assert_eq!(seen, [Forward::Nat, Forward::FullNat]);
    }
}
