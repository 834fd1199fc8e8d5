//! Who may change things: HTTP basic auth against the users' SHA-crypt hashes, and the CSRF
//! checks every change must also pass.
//!
//! A browser sends remembered basic-auth credentials with any request to the console, also one
//! a page of another site makes it send; so a change needs, besides the credentials, the CSRF
//! token of its user: an HMAC of the user name under a key drawn at start, which only a page
//! of the console can read (`GET /api/session`, same-origin: no CORS headers are ever sent) and
//! sends back in the `X-CSRF-Token` header (a header no cross-site form can set). A request
//! whose `Origin` is not the console's, or whose `Sec-Fetch-Site` says another site, is refused
//! before the token is looked at.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine as _;
use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};
use sha_crypt::{PasswordVerifier, ShaCrypt};

use super::http::Request;

/// The header the CSRF token travels in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Why a request is not authenticated.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("log in first: changes need a user of control.console_users")]
    Missing,
    /// An `Authorization` header that is not basic auth.
    #[error("malformed Authorization header (HTTP basic auth expected)")]
    Malformed,
    /// Unknown user or wrong password (one message for both).
    #[error("wrong user name or password")]
    Wrong,
    /// The console has no users: it is read-only.
    #[error("this console is read-only: control.console_users is empty")]
    ReadOnly,
}

/// Why a change was refused as a possible cross-site request.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum CsrfError {
    /// `Sec-Fetch-Site` names another site.
    #[error("refused: a cross-site request (Sec-Fetch-Site: {0})")]
    CrossSite(String),
    /// `Origin` is not the console's own.
    #[error("refused: Origin {0} is not this console's")]
    Origin(String),
    /// No `X-CSRF-Token`, or the wrong one.
    #[error("refused: missing or wrong CSRF token (reload the page)")]
    Token,
}

/// The users and the CSRF key.
pub struct Auth {
    users: Vec<config::ConsoleUser>,
    key: [u8; 32],
    /// SHA-256 of the password each user last logged in with: the SHA-crypt check (thousands
    /// of rounds, on purpose) runs once per user and password, not once per request.
    verified: Mutex<HashMap<String, [u8; 32]>>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("users", &self.users.len())
            .finish_non_exhaustive()
    }
}

impl Auth {
    /// `users` with a CSRF key of `key` (random at start: [`Auth::random_key`]).
    pub fn new(users: Vec<config::ConsoleUser>, key: [u8; 32]) -> Self {
        Self {
            users,
            key,
            verified: Mutex::new(HashMap::new()),
        }
    }

    /// A key from the OS's random source.
    ///
    /// # Errors
    ///
    /// When the OS has no randomness to give.
    pub fn random_key() -> Result<[u8; 32], getrandom::Error> {
        let mut k = [0u8; 32];
        getrandom::fill(&mut k)?;
        Ok(k)
    }

    /// Whether any user may log in (else the console is read-only).
    pub fn has_users(&self) -> bool {
        !self.users.is_empty()
    }

    /// Check the request's basic-auth credentials; return the user name.
    ///
    /// # Errors
    ///
    /// See [`AuthError`].
    pub fn user(&self, req: &Request) -> Result<String, AuthError> {
        if self.users.is_empty() {
            return Err(AuthError::ReadOnly);
        }
        let h = req.header("authorization").ok_or(AuthError::Missing)?;
        let (scheme, b64) = h.split_once(' ').ok_or(AuthError::Malformed)?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(AuthError::Malformed);
        }
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|_| AuthError::Malformed)?;
        let text = String::from_utf8(raw).map_err(|_| AuthError::Malformed)?;
        let (name, password) = text.split_once(':').ok_or(AuthError::Malformed)?;
        let Some(user) = self.users.iter().find(|u| u.name == name) else {
            // As slow as a wrong password, so the time taken does not tell which names exist.
            let _ = ShaCrypt::default()
                .verify_password(password.as_bytes(), self.users[0].hash.as_str());
            return Err(AuthError::Wrong);
        };
        let digest: [u8; 32] = Sha256::digest(password.as_bytes()).into();
        let mut verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        if verified.get(name).is_some_and(|d| ct_eq(d, &digest)) {
            return Ok(name.to_owned());
        }
        ShaCrypt::default()
            .verify_password(password.as_bytes(), user.hash.as_str())
            .map_err(|_| AuthError::Wrong)?;
        verified.insert(name.to_owned(), digest);
        Ok(name.to_owned())
    }

    /// The CSRF token of `user`: hex HMAC-SHA256 of the name under the key.
    pub fn csrf_token(&self, user: &str) -> String {
        let mut mac = hmac::Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        mac.update(b"ferrovs console csrf\0");
        mac.update(user.as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Check that a change by `user` comes from the console's own page.
    ///
    /// # Errors
    ///
    /// See [`CsrfError`].
    pub fn check_csrf(&self, user: &str, req: &Request) -> Result<(), CsrfError> {
        if let Some(site) = req.header("sec-fetch-site") {
            if site != "same-origin" && site != "none" {
                return Err(CsrfError::CrossSite(site.to_owned()));
            }
        }
        if let Some(origin) = req.header("origin") {
            let own = req.header("host").map(|h| format!("http://{h}"));
            if own.as_deref() != Some(origin) {
                return Err(CsrfError::Origin(origin.to_owned()));
            }
        }
        let sent = req.header(CSRF_HEADER).ok_or(CsrfError::Token)?;
        if ct_eq(sent.as_bytes(), self.csrf_token(user).as_bytes()) {
            Ok(())
        } else {
            Err(CsrfError::Token)
        }
    }
}

/// Compare without an early exit, so the time taken does not tell how much matched.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `openssl passwd -5 -salt saltsalt secret`.
    const SECRET_HASH: &str = "$5$saltsalt$0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5sA";

    fn auth() -> Auth {
        let u = config::ConsoleUser::parse(&format!("admin:{SECRET_HASH}")).expect("user");
        Auth::new(vec![u], [7; 32])
    }

    fn req(headers: &[(&str, &str)]) -> Request {
        Request {
            method: "POST".into(),
            path: "/api/action".into(),
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            body: Vec::new(),
        }
    }

    fn basic(user: &str, pw: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"))
        )
    }

    #[test]
    fn test_basic_auth_checks_the_sha_crypt_hash() {
        let a = auth();
        let ok = basic("admin", "secret");
        assert_eq!(a.user(&req(&[("authorization", &ok)])), Ok("admin".into()));
        // Again: from the cache, same answer.
        assert_eq!(a.user(&req(&[("authorization", &ok)])), Ok("admin".into()));
        let wrong = basic("admin", "Secret");
        assert_eq!(
            a.user(&req(&[("authorization", &wrong)])),
            Err(AuthError::Wrong)
        );
        let nobody = basic("root", "secret");
        assert_eq!(
            a.user(&req(&[("authorization", &nobody)])),
            Err(AuthError::Wrong)
        );
        assert_eq!(a.user(&req(&[])), Err(AuthError::Missing));
        for bad in ["Bearer abc", "Basic !!!", "Basic", "Basic YWRtaW4="] {
            assert_eq!(
                a.user(&req(&[("authorization", bad)])),
                Err(AuthError::Malformed),
                "{bad}"
            );
        }
        let ro = Auth::new(Vec::new(), [0; 32]);
        assert_eq!(
            ro.user(&req(&[("authorization", &ok)])),
            Err(AuthError::ReadOnly)
        );
        assert!(!ro.has_users());
    }

    #[test]
    fn test_csrf_needs_the_users_token_and_the_same_origin() {
        let a = auth();
        let t = a.csrf_token("admin");
        assert_eq!(t.len(), 64);
        assert_ne!(t, a.csrf_token("other"), "per user");
        assert_ne!(
            t,
            Auth::new(Vec::new(), [8; 32]).csrf_token("admin"),
            "per key (per process)"
        );
        let host = ("host", "127.0.0.1:8081");
        assert_eq!(
            a.check_csrf(
                "admin",
                &req(&[
                    host,
                    (CSRF_HEADER, &t),
                    ("origin", "http://127.0.0.1:8081"),
                    ("sec-fetch-site", "same-origin")
                ])
            ),
            Ok(())
        );
        assert_eq!(
            a.check_csrf("admin", &req(&[host, (CSRF_HEADER, &t)])),
            Ok(())
        );
        assert_eq!(a.check_csrf("admin", &req(&[host])), Err(CsrfError::Token));
        assert_eq!(
            a.check_csrf("admin", &req(&[host, (CSRF_HEADER, "00")])),
            Err(CsrfError::Token)
        );
        assert_eq!(
            a.check_csrf("other", &req(&[host, (CSRF_HEADER, &t)])),
            Err(CsrfError::Token),
            "another user's token"
        );
        assert_eq!(
            a.check_csrf(
                "admin",
                &req(&[host, (CSRF_HEADER, &t), ("origin", "http://evil.example")])
            ),
            Err(CsrfError::Origin("http://evil.example".into()))
        );
        assert_eq!(
            a.check_csrf(
                "admin",
                &req(&[host, (CSRF_HEADER, &t), ("sec-fetch-site", "cross-site")])
            ),
            Err(CsrfError::CrossSite("cross-site".into()))
        );
    }
}
