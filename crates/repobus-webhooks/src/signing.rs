//! Standard Webhooks signing: `whsec_` secrets and `v1,` HMAC-SHA256
//! signatures of `"<id>.<timestamp>.<body>"`.
//!
//! The HMAC and base64 come from the RustCrypto `hmac`/`sha2` crates and
//! the `base64` crate; nothing here is hand-written crypto.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The prefix of a Standard Webhooks secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// Shortest accepted key (the spec asks for 24 to 64 bytes).
pub const MIN_KEY_BYTES: usize = 24;
/// Longest accepted key.
pub const MAX_KEY_BYTES: usize = 64;

/// Why a secret was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SecretError(String);

/// A signing secret: `whsec_` followed by the base64 of 24 to 64 random
/// bytes. Its `Debug` never shows the key.
///
/// # Examples
///
/// ```
/// use repobus_webhooks::signing::Secret;
///
/// let secret = Secret::generate();
/// assert!(secret.to_string().starts_with("whsec_"));
/// let again: Secret = secret.to_string().parse()?;
/// assert_eq!(again, secret);
/// assert!("whsec_not base64!".parse::<Secret>().is_err());
/// assert!(!format!("{secret:?}").contains(&secret.to_string()[6..]));
/// # Ok::<(), repobus_webhooks::signing::SecretError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// A fresh secret of 32 random bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus_webhooks::signing::Secret;
    /// assert_ne!(Secret::generate(), Secret::generate());
    /// ```
    pub fn generate() -> Secret {
        use rand::RngCore;
        let mut key = vec![0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        Secret(key)
    }

    /// The key bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus_webhooks::signing::Secret;
    /// assert_eq!(Secret::generate().key().len(), 32);
    /// ```
    pub fn key(&self) -> &[u8] {
        &self.0
    }

    /// The `v1,<base64>` signature of `body` sent as message `id` at Unix
    /// second `timestamp`.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus_webhooks::signing::Secret;
    ///
    /// // The Standard Webhooks specification's test vector:
    /// let secret: Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse()?;
    /// let body = br#"{"test": 2432232314}"#;
    /// assert_eq!(
    ///     secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
    ///     "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    /// );
    /// # Ok::<(), repobus_webhooks::signing::SecretError>(())
    /// ```
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        // HMAC accepts keys of any length: this cannot fail.
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// The `webhook-signature` header value: one `v1,` signature per secret,
/// space-separated (the current secret first, then those being rotated out).
///
/// # Examples
///
/// ```
/// use repobus_webhooks::signing::{signature_header, Secret};
/// let (new, old) = (Secret::generate(), Secret::generate());
/// let header = signature_header([&new, &old], "evt-1", 1_700_000_000, b"{}");
/// assert_eq!(header.split(' ').count(), 2);
/// ```
pub fn signature_header<'a>(
    secrets: impl IntoIterator<Item = &'a Secret>,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .into_iter()
        .map(|s| s.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

impl std::str::FromStr for Secret {
    type Err = SecretError;

    fn from_str(text: &str) -> Result<Secret, SecretError> {
        let encoded = text
            .strip_prefix(SECRET_PREFIX)
            .ok_or_else(|| SecretError(format!("a secret must start with {SECRET_PREFIX:?}")))?;
        let key = STANDARD.decode(encoded).map_err(|e| {
            SecretError(format!(
                "the part after {SECRET_PREFIX:?} is not standard base64: {e}"
            ))
        })?;
        if !(MIN_KEY_BYTES..=MAX_KEY_BYTES).contains(&key.len()) {
            return Err(SecretError(format!(
                "the key is {} bytes; it must be {MIN_KEY_BYTES} to {MAX_KEY_BYTES}",
                key.len()
            )));
        }
        Ok(Secret(key))
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SECRET_PREFIX}{}", STANDARD.encode(&self.0))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(whsec_…)")
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}
