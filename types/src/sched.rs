//! The ipvsadm schedulers by name, and the flags some of them take.

use core::fmt;

/// The scheduling algorithm of a virtual service, named as ipvsadm names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum SchedulerKind {
    /// Round robin (`rr`).
    Rr,
    /// Weighted round robin (`wrr`).
    Wrr,
    /// Least connection (`lc`).
    Lc,
    /// Weighted least connection (`wlc`), ipvsadm's default.
    #[default]
    Wlc,
    /// Shortest expected delay (`sed`).
    Sed,
    /// Never queue (`nq`).
    Nq,
    /// Source hashing (`sh`).
    Sh,
    /// Destination hashing (`dh`).
    Dh,
    /// Locality-based least connection (`lblc`).
    Lblc,
    /// Locality-based least connection with replication (`lblcr`).
    Lblcr,
    /// Weighted failover (`fo`).
    Fo,
    /// Weighted overflow (`ovf`).
    Ovf,
    /// Maglev hashing (`mh`).
    Mh,
}

names!(SchedulerKind, "scheduler", {
    Rr => "rr",
    Wrr => "wrr",
    Lc => "lc",
    Wlc => "wlc",
    Lblc => "lblc",
    Lblcr => "lblcr",
    Dh => "dh",
    Sh => "sh",
    Sed => "sed",
    Nq => "nq",
    Fo => "fo",
    Ovf => "ovf",
    Mh => "mh",
});

impl SchedulerKind {
    /// Whether this scheduler reads the backends' connection counts, which the workers then
    /// publish for it.
    #[inline]
    pub const fn uses_loads(self) -> bool {
        matches!(
            self,
            Self::Lc | Self::Wlc | Self::Sed | Self::Nq | Self::Lblc | Self::Lblcr | Self::Ovf
        )
    }

    /// Whether the choice is a pure function of the packet's addresses (and port) and the
    /// configured backends: `sh`, `dh` and `mh`. Every gateway with the same configuration then
    /// picks the same backend for a flow, so any of them can schedule a packet from the middle
    /// of a flow that another one started (`ServiceSpec::sloppy_tcp`). The others depend on a
    /// cursor, on connection counts or on a cache, all local to one gateway (and worker).
    /// Thresholds (`-x`/`-y`) and health make `sh`/`dh`/`mh` local too while they refuse a
    /// backend; `docs/consistent-scheduling.md` has the details.
    #[inline]
    pub const fn is_consistent(self) -> bool {
        matches!(self, Self::Sh | Self::Dh | Self::Mh)
    }
}

/// One scheduler flag as given to `ipvsadm -b` (`--sched-flags`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SchedFlag {
    /// `sh-fallback`: when the hashed backend is not eligible, use the next eligible bucket.
    ShFallback,
    /// `sh-port`: include the client's source port in the `sh` hash.
    ShPort,
    /// `mh-fallback`: when the hashed backend is not eligible, rehash to another slot.
    MhFallback,
    /// `mh-port`: include the client's source port in the `mh` hash.
    MhPort,
}

names!(SchedFlag, "scheduler flag", {
    ShFallback => "sh-fallback",
    ShPort => "sh-port",
    MhFallback => "mh-fallback",
    MhPort => "mh-port",
});

impl SchedFlag {
    /// Return the only scheduler this flag is legal with.
    #[inline]
    pub const fn scheduler(self) -> SchedulerKind {
        match self {
            Self::ShFallback | Self::ShPort => SchedulerKind::Sh,
            Self::MhFallback | Self::MhPort => SchedulerKind::Mh,
        }
    }
}

/// A validated set of scheduler flags: `sh-*` only with `sh`, `mh-*` only with `mh`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct SchedFlags {
    sh_fallback: bool,
    sh_port: bool,
    mh_fallback: bool,
    mh_port: bool,
}

/// Why a set of scheduler flags was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SchedFlagsError {
    /// A name that is not a scheduler flag.
    Unknown(String),
    /// A flag used with a scheduler it does not belong to (ipvsadm: "incompatible scheduler flag").
    Incompatible {
        /// The offending flag.
        flag: SchedFlag,
        /// The service's scheduler.
        kind: SchedulerKind,
    },
}

impl fmt::Display for SchedFlagsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unknown(name) => write!(f, "unknown scheduler flag `{name}'"),
            Self::Incompatible { flag, kind } => write!(
                f,
                "incompatible scheduler flag `{flag}' for scheduler `{kind}' (only for `{}')",
                flag.scheduler()
            ),
        }
    }
}

impl std::error::Error for SchedFlagsError {}

impl SchedFlags {
    /// No flags.
    pub const NONE: Self = Self {
        sh_fallback: false,
        sh_port: false,
        mh_fallback: false,
        mh_port: false,
    };

    /// Validate `flags` for a service scheduled by `kind`.
    ///
    /// # Errors
    ///
    /// [`SchedFlagsError::Incompatible`] when a flag belongs to another scheduler.
    pub fn new(kind: SchedulerKind, flags: &[SchedFlag]) -> Result<Self, SchedFlagsError> {
        let mut out = Self::NONE;
        for &flag in flags {
            if flag.scheduler() != kind {
                return Err(SchedFlagsError::Incompatible { flag, kind });
            }
            match flag {
                SchedFlag::ShFallback => out.sh_fallback = true,
                SchedFlag::ShPort => out.sh_port = true,
                SchedFlag::MhFallback => out.mh_fallback = true,
                SchedFlag::MhPort => out.mh_port = true,
            }
        }
        Ok(out)
    }

    /// Parse and validate ipvsadm's comma-separated list (`"sh-fallback,sh-port"`; empty = none).
    ///
    /// # Errors
    ///
    /// [`SchedFlagsError::Unknown`] for a name that is not a flag, else as [`SchedFlags::new`].
    pub fn parse(kind: SchedulerKind, list: &str) -> Result<Self, SchedFlagsError> {
        let mut out = Self::NONE;
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let flag = name
                .parse()
                .map_err(|_| SchedFlagsError::Unknown(name.into()))?;
            let one = Self::new(kind, &[flag])?;
            out = out.union(one);
        }
        Ok(out)
    }

    /// Return whether `flag` is set.
    #[inline]
    pub const fn contains(self, flag: SchedFlag) -> bool {
        match flag {
            SchedFlag::ShFallback => self.sh_fallback,
            SchedFlag::ShPort => self.sh_port,
            SchedFlag::MhFallback => self.mh_fallback,
            SchedFlag::MhPort => self.mh_port,
        }
    }

    /// Return the union of two validated sets.
    const fn union(self, o: Self) -> Self {
        Self {
            sh_fallback: self.sh_fallback || o.sh_fallback,
            sh_port: self.sh_port || o.sh_port,
            mh_fallback: self.mh_fallback || o.mh_fallback,
            mh_port: self.mh_port || o.mh_port,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in SchedulerKind::ALL {
            assert_eq!(k.as_str().parse(), Ok(k));
            assert_eq!(k.to_string(), k.as_str());
        }
        assert_eq!("wlc".parse(), Ok(SchedulerKind::Wlc));
        assert!(
            "WLC".parse::<SchedulerKind>().is_err(),
            "case-sensitive like ipvsadm"
        );
        assert!("twos".parse::<SchedulerKind>().is_err());
        assert_eq!(SchedulerKind::default(), SchedulerKind::Wlc);
        for f in SchedFlag::ALL {
            assert_eq!(f.as_str().parse(), Ok(f));
            assert_eq!(f.to_string(), f.as_str());
        }
    }

    #[test]
    fn flags_are_legal_only_with_their_scheduler() {
        use SchedFlag::*;
        let sh = SchedFlags::new(SchedulerKind::Sh, &[ShFallback, ShPort]).unwrap();
        assert!(sh.contains(ShFallback) && sh.contains(ShPort) && !sh.contains(MhPort));
        let mh = SchedFlags::new(SchedulerKind::Mh, &[MhPort]).unwrap();
        assert!(mh.contains(MhPort) && !mh.contains(MhFallback));
        assert_eq!(
            SchedFlags::new(SchedulerKind::Mh, &[ShPort]),
            Err(SchedFlagsError::Incompatible {
                flag: ShPort,
                kind: SchedulerKind::Mh
            })
        );
        assert!(SchedFlags::new(SchedulerKind::Wlc, &[MhFallback]).is_err());
        assert!(SchedFlags::new(SchedulerKind::Rr, &[]).is_ok());
        assert_eq!(
            SchedFlags::parse(SchedulerKind::Sh, "sh-fallback, sh-port").unwrap(),
            sh
        );
        assert_eq!(
            SchedFlags::parse(SchedulerKind::Sh, "").unwrap(),
            SchedFlags::NONE
        );
        let err = SchedFlags::parse(SchedulerKind::Sh, "sh-bogus").unwrap_err();
        assert_eq!(err, SchedFlagsError::Unknown("sh-bogus".into()));
        let err = SchedFlags::parse(SchedulerKind::Rr, "mh-port").unwrap_err();
        assert!(err
            .to_string()
            .contains("incompatible scheduler flag `mh-port'"));
    }
}
