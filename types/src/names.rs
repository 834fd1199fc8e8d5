//! One table of names per enum: `as_str`, `ALL`, `FromStr`, `Display` and (feature `serde`)
//! serialization by name, all generated from the same list so they cannot disagree.

use core::fmt;

/// A name that is not one of the type's values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownName {
    /// What was being named (`"scheduler"`).
    pub what: &'static str,
    /// The name given.
    pub name: String,
}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} \"{}\"", self.what, self.name)
    }
}

impl std::error::Error for UnknownName {}

/// `names!(Type, "what", { Variant => "name", ... })`: the list's order is `ALL`'s order.
macro_rules! names {
    ($ty:ident, $what:literal, { $($v:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Every value, in the order listings and messages show them.
            pub const ALL: [Self; [$(stringify!($v)),+].len()] = [$(Self::$v),+];

            /// Return the name (config file, ipvsadm, admin protocol, metric labels).
            #[inline]
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$v => $name),+
                }
            }
        }

        impl core::str::FromStr for $ty {
            type Err = $crate::UnknownName;

            /// Parse a name, case-sensitively (as ipvsadm does).
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($name => Ok(Self::$v),)+
                    _ => Err($crate::UnknownName { what: $what, name: s.into() }),
                }
            }
        }

        impl core::fmt::Display for $ty {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        #[cfg(feature = "serde")]
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        #[cfg(feature = "serde")]
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <String as serde::Deserialize>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
