//! The transport protocols ferrovs load-balances.

/// Transport protocol of a virtual service, a flow or a session.
///
/// Orders as the IP protocol numbers do (TCP before UDP), as ipvsadm lists services.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Protocol {
    /// TCP (ipvsadm `-t`), IP protocol 6.
    Tcp = 6,
    /// UDP (ipvsadm `-u`), IP protocol 17.
    Udp = 17,
}

names!(Protocol, "protocol", { Tcp => "tcp", Udp => "udp" });

impl Protocol {
    /// Return the IP protocol number.
    #[inline]
    pub const fn number(self) -> u8 {
        self as u8
    }

    /// Map an IP protocol number to a load-balanced protocol, if it is one.
    #[inline]
    pub const fn from_number(n: u8) -> Option<Self> {
        match n {
            6 => Some(Self::Tcp),
            17 => Some(Self::Udp),
            _ => None,
        }
    }

    /// Return ipvsadm's listing name: `TCP` or `UDP`.
    pub const fn upper(self) -> &'static str {
        match self {
            Self::Tcp => "TCP",
            Self::Udp => "UDP",
        }
    }

    /// Return ipvsadm's service switch: `-t` or `-u`.
    pub const fn switch(self) -> &'static str {
        match self {
            Self::Tcp => "-t",
            Self::Udp => "-u",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_round_trip() {
        for p in Protocol::ALL {
            assert_eq!(p.as_str().parse(), Ok(p));
            assert_eq!(p.to_string(), p.as_str());
            assert_eq!(Protocol::from_number(p.number()), Some(p));
            assert_eq!(p.upper().to_lowercase(), p.as_str());
        }
        assert_eq!(Protocol::Tcp.number(), 6);
        assert_eq!(Protocol::Udp.number(), 17);
        assert_eq!(Protocol::from_number(132), None);
        assert!("TCP".parse::<Protocol>().is_err(), "names are lower case");
        assert!(Protocol::Tcp < Protocol::Udp);
    }
}
