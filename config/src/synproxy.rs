//! The SYN proxy's configuration: per service `syn_proxy = "off" | "on" | "auto"` and the
//! `[syn_proxy]` section with the cookie secrets (what they do: `dataplane::forward::synproxy`
//! and `docs/config.md`).
//!
//! The secrets live in the file so that every gateway of an HA pair or an ECMP group given the
//! same file validates any gateway's cookies; `previous_secret` stays valid beside `secret`, so
//! a reload that rotates (old `secret` becomes `previous_secret`) breaks no cookie in flight.
//! `Debug` never prints a secret (configurations get logged); `Config::to_toml` writes it (the
//! file is its home; reloads re-read it), `Config::to_toml_redacted` (the admin socket's
//! answer, which `ferrovs config export` prints) does not.

use core::fmt;

use crate::error::Sink;
use crate::walk::Tab;

/// A service's `syn_proxy` setting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SynProxyMode {
    /// No SYN proxy (the default): SYNs go to the real server.
    #[default]
    Off,
    /// Every SYN is answered by the gateway with a SYN cookie.
    On,
    /// Each worker turns it on for the service above a SYN rate or a session-table fill and
    /// off again below lower levels held for a while ([`SynProxyAuto`]).
    Auto,
}

impl SynProxyMode {
    /// The config name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::On => "on",
            Self::Auto => "auto",
        }
    }
}

/// Bytes of a cookie secret (a SipHash-2-4 key: 128 bits).
pub const SYN_PROXY_SECRET_BYTES: usize = 16;
/// Fewest distinct byte values a secret must have (refuses `00..00`, `4141..41`, counters).
pub const SYN_PROXY_SECRET_MIN_DISTINCT: usize = 8;

/// A cookie secret. `Debug` prints no byte of it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SynProxySecret(pub [u8; SYN_PROXY_SECRET_BYTES]);

impl fmt::Debug for SynProxySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SynProxySecret(<redacted>)")
    }
}

impl SynProxySecret {
    /// Parse 32 hex digits (`openssl rand -hex 16`) and refuse weak values.
    ///
    /// # Errors
    ///
    /// A message for the user that never quotes the secret.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.len() != 2 * SYN_PROXY_SECRET_BYTES || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "a cookie secret is {} hex digits (128 bits; make one with: openssl rand -hex {})",
                2 * SYN_PROXY_SECRET_BYTES,
                SYN_PROXY_SECRET_BYTES
            ));
        }
        let mut out = [0u8; SYN_PROXY_SECRET_BYTES];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|e| e.to_string())?;
        }
        let mut seen = [false; 256];
        for &b in &out {
            seen[usize::from(b)] = true;
        }
        if seen.iter().filter(|&&x| x).count() < SYN_PROXY_SECRET_MIN_DISTINCT {
            return Err(format!(
                "the cookie secret is weak (fewer than {SYN_PROXY_SECRET_MIN_DISTINCT} distinct \
                 bytes); use a random one: openssl rand -hex {SYN_PROXY_SECRET_BYTES}"
            ));
        }
        Ok(Self(out))
    }

    /// The secret as lowercase hex (how `Config::to_toml` writes it).
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// `[syn_proxy]`: the cookie secrets every gateway of a group shares, and the levels of
/// `syn_proxy = "auto"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SynProxyKeys {
    /// `secret`: cookies are made with it and validated with it.
    pub secret: Option<SynProxySecret>,
    /// `previous_secret`: cookies made with it are still validated (rotation).
    pub previous_secret: Option<SynProxySecret>,
    /// The `auto_*` keys.
    pub auto: SynProxyAuto,
}

/// Default `auto_on_syn_rate`: new SYNs a second, per worker and service, that engage the
/// proxy (a busy legitimate service on one core stays below; a flood is far above).
pub const DEFAULT_AUTO_ON_SYN_RATE: u32 = 10_000;
/// Default `auto_on_table_fill`: percent of a worker's session table (the service's family).
pub const DEFAULT_AUTO_ON_TABLE_FILL: u8 = 75;
/// Default `auto_off_table_fill`.
pub const DEFAULT_AUTO_OFF_TABLE_FILL: u8 = 50;
/// Default `auto_hold`: seconds below both off levels before the proxy disengages.
pub const DEFAULT_AUTO_HOLD_S: u32 = 30;
/// Highest `auto_hold` (an hour).
pub const MAX_AUTO_HOLD_S: u32 = 3600;
/// Highest SYN rate key (per worker: far above what one core answers).
pub const MAX_AUTO_SYN_RATE: u32 = 100_000_000;

/// When `syn_proxy = "auto"` engages and disengages, per worker and per service, measured once
/// a second by each worker on its own counters. Engage: SYN rate >= `on_syn_rate` or table
/// fill >= `on_table_fill`. Disengage: rate < `off_syn_rate` and fill < `off_table_fill`, held
/// for `hold_s` seconds in a row (hysteresis: a flood that pauses does not flap the proxy).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SynProxyAuto {
    /// `auto_on_syn_rate`: SYNs a second, per worker and service.
    pub on_syn_rate: u32,
    /// `auto_off_syn_rate`: below `on_syn_rate` (default: half of it).
    pub off_syn_rate: u32,
    /// `auto_on_table_fill`: percent, 1..=100.
    pub on_table_fill: u8,
    /// `auto_off_table_fill`: percent, below `on_table_fill`.
    pub off_table_fill: u8,
    /// `auto_hold`: seconds.
    pub hold_s: u32,
}

impl Default for SynProxyAuto {
    fn default() -> Self {
        Self {
            on_syn_rate: DEFAULT_AUTO_ON_SYN_RATE,
            off_syn_rate: DEFAULT_AUTO_ON_SYN_RATE / 2,
            on_table_fill: DEFAULT_AUTO_ON_TABLE_FILL,
            off_table_fill: DEFAULT_AUTO_OFF_TABLE_FILL,
            hold_s: DEFAULT_AUTO_HOLD_S,
        }
    }
}

/// Read the `auto_*` keys of `[syn_proxy]`; an off level not below its on level is refused.
fn read_auto(t: &mut Tab<'_, '_>, sink: &mut Sink<'_>) -> SynProxyAuto {
    let mut a = SynProxyAuto::default();
    let on_rate = t.u32(sink, "auto_on_syn_rate", 1, MAX_AUTO_SYN_RATE);
    if let Some(v) = &on_rate {
        a.on_syn_rate = v.v;
        a.off_syn_rate = v.v / 2;
    }
    if let Some(v) = t.u32(sink, "auto_off_syn_rate", 0, MAX_AUTO_SYN_RATE) {
        if v.v >= a.on_syn_rate {
            sink.error(
                &v.span,
                &t.key_path("auto_off_syn_rate"),
                format!(
                    "auto_off_syn_rate {} must be below auto_on_syn_rate {} (the hysteresis band)",
                    v.v, a.on_syn_rate
                ),
            );
        } else {
            a.off_syn_rate = v.v;
        }
    }
    let on_fill = t.u32(sink, "auto_on_table_fill", 1, 100);
    if let Some(v) = &on_fill {
        a.on_table_fill = v.v as u8;
    }
    let off_fill = t.u32(sink, "auto_off_table_fill", 0, 99);
    match off_fill {
        Some(v) if v.v as u8 >= a.on_table_fill => sink.error(
            &v.span,
            &t.key_path("auto_off_table_fill"),
            format!(
                "auto_off_table_fill {}% must be below auto_on_table_fill {}% (the hysteresis band)",
                v.v, a.on_table_fill
            ),
        ),
        Some(v) => a.off_table_fill = v.v as u8,
        // Only the on level given: keep the default band's width below it.
        None if a.off_table_fill >= a.on_table_fill => {
            a.off_table_fill = a.on_table_fill.saturating_sub(
                DEFAULT_AUTO_ON_TABLE_FILL - DEFAULT_AUTO_OFF_TABLE_FILL,
            );
        }
        None => {}
    }
    if let Some(v) = t.u32(sink, "auto_hold", 1, MAX_AUTO_HOLD_S) {
        a.hold_s = v.v;
    }
    a
}

/// Read `[syn_proxy]`; `uses` is the span and key path of the first service that sets
/// `syn_proxy` to something but `off` (a secret is then required).
pub(crate) fn read_syn_proxy(
    t: Option<Tab<'_, '_>>,
    sink: &mut Sink<'_>,
    uses: Option<(core::ops::Range<usize>, String)>,
) -> SynProxyKeys {
    let mut keys = SynProxyKeys::default();
    let Some(mut t) = t else {
        if let Some((span, path)) = uses {
            sink.error(
                &span,
                &path,
                "syn_proxy needs the cookie secret: add [syn_proxy] secret = \"<32 hex digits>\" \
                 (the same on every gateway of the group; openssl rand -hex 16)",
            );
        }
        return keys;
    };
    for (key, slot) in [
        ("secret", &mut keys.secret),
        ("previous_secret", &mut keys.previous_secret),
    ] {
        if let Some(a) = t.str(sink, key) {
            match SynProxySecret::parse(a.v) {
                Ok(s) => *slot = Some(s),
                Err(m) => sink.error(&a.span, &t.key_path(key), m),
            }
        }
    }
    keys.auto = read_auto(&mut t, sink);
    if keys.secret.is_none() && !t.has("secret") {
        if keys.previous_secret.is_some() {
            sink.error(
                &t.span(),
                &t.key_path("secret"),
                "previous_secret needs a current secret beside it",
            );
        } else if let Some((span, path)) = uses {
            sink.error(
                &span,
                &path,
                "syn_proxy needs the cookie secret: [syn_proxy] has no secret",
            );
        }
    }
    t.finish(sink);
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_secrets_parse_and_weak_ones_are_refused() {
        let s = SynProxySecret::parse("00112233445566778899aabbccddeeff").unwrap();
        assert_eq!(s.to_hex(), "00112233445566778899aabbccddeeff");
        assert_eq!(format!("{s:?}"), "SynProxySecret(<redacted>)");
        assert!(SynProxySecret::parse("0011").is_err());
        assert!(SynProxySecret::parse("zz112233445566778899aabbccddeeff").is_err());
        let weak = SynProxySecret::parse("41414141414141414141414141414141").unwrap_err();
        assert!(weak.contains("weak"), "{weak}");
        assert!(!weak.contains("4141"), "{weak}");
    }
}
