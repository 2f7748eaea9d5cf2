//! Helpers shared by the unit tests.

/// Decodes a hex string (fixtures pasted from `xxd -p` / `openssl -P`).
pub fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("fixture is hex"))
        .collect()
}
