//! A channel's token: generated from the host's cryptographic randomness, and compared with
//! what a delivery carries in constant time.

/// Random bytes in a generated token: 160 bits, written as 40 hex characters (Zoho keeps 50).
const TOKEN_BYTES: usize = 20;

/// Bytes from wasi:random's `get-random-bytes`, the host's cryptographic source. waki already
/// binds the wasi:http proxy world, which imports it: no new dependency, a few bytes of code.
#[cfg(target_arch = "wasm32")]
fn random_bytes(len: usize) -> Vec<u8> {
    waki::bindings::wasi::random::random::get_random_bytes(len as u64)
}

/// Natively (unit tests only) std's `RandomState`, seeded by the OS, hashed with a counter.
#[cfg(not(target_arch = "wasm32"))]
fn random_bytes(len: usize) -> Vec<u8> {
    use std::hash::{BuildHasher, Hasher};
    let state = std::collections::hash_map::RandomState::new();
    let mut out = Vec::with_capacity(len + 8);
    let mut n = 0u64;
    while out.len() < len {
        let mut hasher = state.build_hasher();
        hasher.write_u64(n);
        out.extend_from_slice(&hasher.finish().to_le_bytes());
        n += 1;
    }
    out.truncate(len);
    out
}

/// A new channel token: 40 lowercase hex characters.
pub fn generate() -> String {
    random_bytes(TOKEN_BYTES).iter().map(|b| format!("{b:02x}")).collect()
}

/// A new channel id: a positive number that fits Zoho's long (up to 19 digits).
pub fn generate_channel_id() -> String {
    let mut bytes = [0u8; 8];
    for (slot, byte) in bytes.iter_mut().zip(random_bytes(8)) {
        *slot = byte;
    }
    // 10^12 and above, so ids look like Zoho's own (1000000068001) and never collide with small ones.
    let floor = 1_000_000_000_000u64;
    let span = (i64::MAX as u64) - floor;
    (floor + u64::from_le_bytes(bytes) % span).to_string()
}

/// Whether `given` equals `expected`, in time that depends only on the lengths: every byte
/// of the longer one is read whatever differs, and a length mismatch is folded in at the end
/// rather than returned early.
pub fn same(given: &[u8], expected: &[u8]) -> bool {
    let longest = given.len().max(expected.len());
    let mut difference: u8 = 0;
    for i in 0..longest {
        let a = given.get(i).copied().unwrap_or(0);
        let b = expected.get(i).copied().unwrap_or(0);
        difference |= std::hint::black_box(a ^ b);
    }
    let lengths_differ = u8::from(given.len() != expected.len());
    std::hint::black_box(difference | lengths_differ) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_forty_hex_characters_and_differ() {
        let (a, b) = (generate(), generate());
        assert_eq!(a.len(), 40);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, b);
        let id = generate_channel_id();
        assert!((13..=19).contains(&id.len()) && id.parse::<i64>().is_ok(), "{id}");
        assert_ne!(id, generate_channel_id());
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same(b"secret-token", b"secret-token"));
        assert!(same(b"", b""));
        for forged in [&b"secret-tokeN"[..], b"Secret-token", b"secret-toke", b"secret-token\0", b"", "secret-tok\u{e9}".as_bytes()] {
            assert!(!same(forged, b"secret-token"), "{forged:?}");
        }
        // A prefix of zeros past the end is not taken for the end.
        assert!(!same(b"ab\0", b"ab"));
        assert!(!same(b"ab", b"ab\0"));
    }
}
