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
    fn debug_never_shows_the_key() {
        let k = DeviceKey::generate();
        let dbg = format!("{k:?} {:#?}", Some(&k));
        assert!(!dbg.contains(k.expose_secret()), "{dbg}");
        assert!(dbg.contains("redacted"));
    }
}
