//! Boundary de-duplication. The next sweep starts at the committed cursor, a little before the
//! last sweep's end, so it reads again what the last sweep delivered in that window. A record
//! is a duplicate only when its id AND its content (a digest of its text as delivered) match:
//! a record modified again within the same `Modified_Time` second differs in content and is
//! delivered again, so no update is lost.

use super::state::Boundary;
use sha2::{Digest, Sha256};

/// Ids remembered for the next sweep's duplicate drop (past it, duplicates are allowed).
pub const MAX_BOUNDARY_IDS: usize = 2_000;

/// A short digest of a record's text as delivered (128 bits: a collision would need effort).
pub fn digest(text: &str) -> String {
    // Hex by table: a sweep of records just changed digests every one of them.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(32);
    for b in Sha256::digest(text.as_bytes()).iter().take(16) {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

/// Is this (id, text) what the last sweep delivered?
pub fn is_duplicate(boundary: &Boundary, id: &str, text: &str) -> bool {
    boundary.get(id).is_some_and(|seen| *seen == digest(text))
}

/// Remembers a delivered record, up to the cap.
pub fn remember(boundary: &mut Boundary, id: &str, text: &str) {
    if boundary.len() < MAX_BOUNDARY_IDS || boundary.contains_key(id) {
        boundary.insert(id.to_string(), digest(text));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// #7: same id and same second but new content is not a duplicate.
    #[test]
    fn the_digest_is_the_first_128_bits_of_sha256_in_hex() {
        // SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
        assert_eq!(digest("abc"), "ba7816bf8f01cfea414140de5dae2223");
    }

    #[test]
    fn only_the_same_content_is_a_duplicate() {
        let mut b = Boundary::new();
        let v1 = r#"{"id":"1","Modified_Time":"2024-01-01T00:00:00+00:00","Last_Name":"a"}"#;
        let v2 = r#"{"id":"1","Modified_Time":"2024-01-01T00:00:00+00:00","Last_Name":"b"}"#;
        remember(&mut b, "1", v1);
        assert!(is_duplicate(&b, "1", v1));
        assert!(!is_duplicate(&b, "1", v2));
        assert!(!is_duplicate(&b, "2", v1));
        for i in 0..3 * MAX_BOUNDARY_IDS {
            remember(&mut b, &i.to_string(), v1);
        }
        assert_eq!(b.len(), MAX_BOUNDARY_IDS);
    }
}
