//! Indices into the published snapshot: a service's and a backend's, each its own type so that
//! one cannot be passed where the other is expected.
//!
//! Both are a `u16` underneath (`#[repr(transparent)]`), so records that hold them keep their
//! layout, and every method is a `const fn` that inlines to nothing on the per-packet path.

use core::fmt;

/// The error of a `TryFrom<usize>` for an index: the number does not fit in 16 bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdxOutOfRange(pub usize);

impl fmt::Display for IdxOutOfRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "index {} does not fit in 16 bits", self.0)
    }
}

impl std::error::Error for IdxOutOfRange {}

macro_rules! index {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr(transparent)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
        #[cfg_attr(feature = "serde", serde(transparent))]
        pub struct $name(u16);

        impl $name {
            /// The largest index (65535).
            pub const MAX: Self = Self(u16::MAX);

            /// The index numbered `n`.
            #[inline]
            #[must_use]
            pub const fn new(n: u16) -> Self {
                Self(n)
            }

            /// The number.
            #[inline]
            #[must_use]
            pub const fn get(self) -> u16 {
                self.0
            }

            /// The number as a slice position.
            #[inline]
            #[must_use]
            pub const fn index(self) -> usize {
                self.0 as usize
            }
        }

        impl TryFrom<usize> for $name {
            type Error = IdxOutOfRange;

            #[inline]
            fn try_from(n: usize) -> Result<Self, IdxOutOfRange> {
                u16::try_from(n).map(Self).map_err(|_| IdxOutOfRange(n))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

index! {
    /// Index of a virtual service in the published snapshot.
    ServiceIdx
}

index! {
    /// Index of a real server (backend) in the published snapshot; global across services.
    BackendIdx
}

// The records that hold them (the session record, the persistence template) count on this.
const _: () = assert!(size_of::<ServiceIdx>() == 2 && align_of::<ServiceIdx>() == 2);
const _: () = assert!(size_of::<BackendIdx>() == 2 && align_of::<BackendIdx>() == 2);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_and_bounds() {
        let s = ServiceIdx::new(7);
        assert_eq!((s.get(), s.index(), s.to_string()), (7, 7, "7".to_string()));
        assert_eq!(BackendIdx::try_from(65_535), Ok(BackendIdx::MAX));
        let e = BackendIdx::try_from(65_536).unwrap_err();
        assert_eq!(e, IdxOutOfRange(65_536));
        assert_eq!(e.to_string(), "index 65536 does not fit in 16 bits");
        assert!(ServiceIdx::new(1) < ServiceIdx::new(2));
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serializes_as_the_number() {
        let b = BackendIdx::new(300);
        assert_eq!(serde_json::to_string(&b).unwrap(), "300");
        assert_eq!(serde_json::from_str::<BackendIdx>("300").unwrap(), b);
        assert!(serde_json::from_str::<ServiceIdx>("70000").is_err());
    }
}
