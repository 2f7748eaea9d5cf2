//! The per-device secret key.
//!
//! Each device gets a random key when it is created. The server uses it as
//! the `openssl enc -k` passphrase (AES-256-CBC) or the RFC 8188 aes128gcm
//! input keying material for that device's profiles (R-FMT-7), and the same
//! value is put into the device's own configuration so it can decrypt them.
//! It is a secret: [`DeviceKey`] has no `Display`, its `Debug` is redacted and
//! it is not serialized with the device, so it cannot leak through `{:?}`,
//! tracing fields or JSON by accident. Reading it takes an explicit
//! [`DeviceKey::expose_secret`].

use base64::Engine as _;
use rand::RngCore as _;

/// Number of random bytes in a generated key (192 bits). base64url without
/// padding turns 24 bytes into exactly 32 characters, all of them safe in a
/// profile rule's `--key` option, a shell argument and XML.
pub const KEY_BYTES: usize = 24;

/// Shortest key [`DeviceKey::from_imported`] accepts.
pub const MIN_IMPORTED: usize = 8;
/// Longest key [`DeviceKey::from_imported`] accepts.
pub const MAX_IMPORTED: usize = 128;

/// A device's secret key: 32 characters of base64url (`A-Z a-z 0-9 - _`).
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceKey(String);

impl DeviceKey {
    /// Draws a new key from the thread-local CSPRNG (ChaCha12 seeded from
    /// the OS; cheap enough for a million keys in one import).
    pub fn generate() -> Self {
        let mut raw = [0u8; KEY_BYTES];
        rand::thread_rng().fill_bytes(&mut raw);
        DeviceKey(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw))
    }

    /// A key a phone already holds, carried over by `device import`'s
    /// `key` column (migrating a fleet from another server): 8 to 128
    /// characters of `A-Z a-z 0-9 - _ . + / =` (base64 and hex keys fit),
    /// which are safe as an `openssl enc -k` passphrase, in a rule's
    /// `--key` option and in XML. The error says what is wrong without
    /// repeating the key.
    pub fn from_imported(s: &str) -> Result<Self, String> {
        let n = s.chars().count();
        if !(MIN_IMPORTED..=MAX_IMPORTED).contains(&n) {
            return Err(format!(
                "key is {n} characters long; an imported key has {MIN_IMPORTED} to {MAX_IMPORTED}"
            ));
        }
        if let Some(pos) = s.chars().position(|c| {
            !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+' | '/' | '='))
        }) {
            return Err(format!(
                "key has a character outside A-Z a-z 0-9 - _ . + / = at position {}",
                pos + 1
            ));
        }
        Ok(DeviceKey(s.to_string()))
    }

    /// Wraps a key read back from storage.
    pub(crate) fn from_stored(s: String) -> Self {
        DeviceKey(s)
    }

    /// The key text, for the profile encoder and `device show`. Call sites
    /// are easy to audit by searching for this name.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_32_base64url_chars_and_differ() {
        let a = DeviceKey::generate();
        let b = DeviceKey::generate();
        assert_eq!(a.expose_secret().len(), 32);
        assert!(a
            .expose_secret()
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_ne!(a, b);
    }

    #[test]
    fn imported_keys_are_checked_without_echoing_them() {
        let k = DeviceKey::from_imported("0123456789abcdef+/==").unwrap();
        assert_eq!(k.expose_secret(), "0123456789abcdef+/==");
        let short = DeviceKey::from_imported("s3cr").unwrap_err();
        assert!(short.contains("4 characters"), "{short}");
        let bad = DeviceKey::from_imported("secret key with spaces").unwrap_err();
        assert!(
            bad.contains("position 7") && !bad.contains("secret"),
            "{bad}"
        );
        assert!(DeviceKey::from_imported(&"x".repeat(129)).is_err());
    }

    #[test]
    fn debug_never_shows_the_key() {
        let k = DeviceKey::generate();
        let dbg = format!("{k:?} {:#?}", Some(&k));
        assert!(!dbg.contains(k.expose_secret()), "{dbg}");
        assert!(dbg.contains("redacted"));
    }
}
