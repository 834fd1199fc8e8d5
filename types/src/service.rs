//! What identifies a virtual service.

use core::net::IpAddr;

use crate::Protocol;

/// A virtual service's identity: protocol, VIP and port (ipvsadm's `-t VIP:PORT`), as the
/// config, the admin protocol, the metrics labels and the stable-id table key it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ServiceKey {
    /// TCP or UDP.
    pub protocol: Protocol,
    /// The virtual IP.
    pub vip: IpAddr,
    /// The virtual port (0 for a persistent all-ports service).
    pub port: u16,
}

#[cfg(all(test, feature = "serde"))]
mod tests {
    use super::*;
    use crate::{Forward, SchedFlag, SchedulerKind, Toa};

    #[test]
    fn serializes_by_name() {
        let k = ServiceKey {
            protocol: Protocol::Udp,
            vip: "198.18.0.1".parse().unwrap(),
            port: 53,
        };
        let json = serde_json::to_string(&k).unwrap();
        assert_eq!(json, r#"{"protocol":"udp","vip":"198.18.0.1","port":53}"#);
        assert_eq!(serde_json::from_str::<ServiceKey>(&json).unwrap(), k);
        for f in Forward::ALL {
            let j = serde_json::to_string(&f).unwrap();
            assert_eq!(j, format!("\"{f}\""));
            assert_eq!(serde_json::from_str::<Forward>(&j).unwrap(), f);
        }
        for k in SchedulerKind::ALL {
            let j = serde_json::to_string(&k).unwrap();
            assert_eq!(serde_json::from_str::<SchedulerKind>(&j).unwrap(), k);
        }
        for f in SchedFlag::ALL {
            let j = serde_json::to_string(&f).unwrap();
            assert_eq!(serde_json::from_str::<SchedFlag>(&j).unwrap(), f);
        }
        for t in Toa::ALL {
            let j = serde_json::to_string(&t).unwrap();
            assert_eq!(serde_json::from_str::<Toa>(&j).unwrap(), t);
        }
        let e = serde_json::from_str::<Protocol>("\"sctp\"").unwrap_err();
        assert!(e.to_string().contains("unknown protocol \"sctp\""), "{e}");
    }
}
