//! HMAC-SHA256 over every sync message, with the shared key of `[sync]`.
//!
//! The MAC covers every byte before it (header and body), so a message cannot be forged,
//! altered or re-addressed to another sync group without the key. Verification compares in
//! constant time (`hmac`'s `verify_slice`). Replays of authentic messages are the window's and
//! the epochs' business (`window.rs`, `peer.rs`), not this file's.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Length of the MAC trailer.
pub const MAC_LEN: usize = 32;

type HmacSha256 = Hmac<Sha256>;

/// A keyed HMAC-SHA256, ready to sign and verify. The key's inner and outer pads are computed
/// once; each message clones that state.
#[derive(Clone)]
pub struct Auth {
    keyed: HmacSha256,
}

impl core::fmt::Debug for Auth {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Auth(HMAC-SHA256, key hidden)")
    }
}

impl Auth {
    /// Key an HMAC-SHA256 with `key` (HMAC takes any length; `[sync]` demands 16 bytes or more).
    pub fn new(key: &[u8]) -> Self {
        Self {
            // Infallible for HMAC: any key length is valid (long keys are hashed first).
            keyed: <HmacSha256 as KeyInit>::new_from_slice(key)
                .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length")),
        }
    }

    /// Return the MAC of `data`.
    pub fn sign(&self, data: &[u8]) -> [u8; MAC_LEN] {
        let mut m = self.keyed.clone();
        m.update(data);
        let mut out = [0; MAC_LEN];
        out.copy_from_slice(&m.finalize().into_bytes());
        out
    }

    /// Return true when the last [`MAC_LEN`] bytes of `dgram` are the MAC of the bytes before
    /// them (false for anything shorter than a MAC).
    pub fn verify(&self, dgram: &[u8]) -> bool {
        let Some(split) = dgram.len().checked_sub(MAC_LEN) else {
            return false;
        };
        let (data, mac) = dgram.split_at(split);
        let mut m = self.keyed.clone();
        m.update(data);
        m.verify_slice(mac).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4231_case_2() {
        // RFC 4231 §4.3: key "Jefe", data "what do ya want for nothing?".
        let mac = Auth::new(b"Jefe").sign(b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn verify_rejects_other_keys_flips_and_short_input() {
        let a = Auth::new(&[7; 32]);
        let mut d = b"some message".to_vec();
        let mac = a.sign(&d);
        d.extend_from_slice(&mac);
        assert!(a.verify(&d));
        assert!(!Auth::new(&[8; 32]).verify(&d), "another key");
        for i in 0..d.len() {
            for bit in 0..8 {
                let mut x = d.clone();
                x[i] ^= 1 << bit;
                assert!(!a.verify(&x), "flip of bit {bit} of byte {i} accepted");
            }
        }
        assert!(!a.verify(&d[..MAC_LEN - 1]));
        assert!(!a.verify(&d[..d.len() - 1]), "truncated");
    }
}
