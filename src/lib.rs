//! Zoho CRM and Zoho Books connector, a WebAssembly component.
//!
//! The Zoho protocol logic (URLs, paging, error mapping) lives in plain Rust modules behind
//! two seams, [`http::Transport`] and [`storage::Storage`], so it is unit-tested natively;
//! `wasi` plugs in wasi:http and wasi:keyvalue and maps the WIT exports onto it.
//!
//! Modules are crate-private unless the host, the tests or the fuzz target use them, so the
//! compiler finds dead code. It judges on the wasm32 build (which `build.sh` and CI run): natively
//! the WIT exports in `wasi` are not compiled, and every action would look unused.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

pub(crate) mod auth;
pub mod books;
pub(crate) mod budget;
pub mod bulk;
pub(crate) mod client;
pub mod connection;
pub(crate) mod credits;
pub mod crm;
pub(crate) mod download;
pub mod error;
pub mod http;
pub(crate) mod incremental;
pub mod json;
pub(crate) mod limits;
pub(crate) mod multipart;
pub mod notifications;
pub(crate) mod options;
pub(crate) mod raw;
pub mod redact;
pub mod scopes;
pub mod storage;
pub(crate) mod sync;
#[cfg(test)]
pub(crate) mod testing;
pub mod validate;
pub mod wit;
pub mod zoho_time;

#[cfg(target_arch = "wasm32")]
mod wasi;

/// Largest file decoded from base64 text: Zoho's attachment limit (100 MB).
pub const MAX_DECODED_BYTES: usize = 100 * 1024 * 1024;

/// Standard base64 (padding optional, whitespace ignored), for binary content given as text.
/// The decoded size is computed first and a file over [`MAX_DECODED_BYTES`] is refused before
/// anything is allocated; the text is decoded in chunks straight into one buffer of the exact
/// size, so a 60 MB text with line breaks is never copied.
pub fn decode_base64(text: &str) -> std::result::Result<Vec<u8>, String> {
    decode_base64_within(text, MAX_DECODED_BYTES)
}

/// [`decode_base64`] with a chosen limit on the decoded size.
pub fn decode_base64_within(text: &str, max_bytes: usize) -> std::result::Result<Vec<u8>, String> {
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::STANDARD_NO_PAD;
    let significant = text.bytes().filter(|b| !b.is_ascii_whitespace()).count();
    let padding = text.bytes().rev().filter(|b| !b.is_ascii_whitespace()).take_while(|&b| b == b'=').count();
    let data = significant - padding;
    let decoded = match data % 4 {
        1 => return Err("not valid base64 (its length is not a whole number of bytes)".into()),
        rest => data / 4 * 3 + rest.saturating_sub(1),
    };
    if decoded > max_bytes {
        return Err(format!("the file is {decoded} bytes once decoded, more than the {max_bytes} bytes accepted"));
    }
    let mut out = vec![0u8; decoded];
    let mut written = 0;
    // 4,096 characters decode to whole bytes; only the last chunk may be shorter.
    let mut chunk = [0u8; 4096];
    let mut filled = 0;
    let mut taken = 0;
    for b in text.bytes().filter(|b| !b.is_ascii_whitespace()) {
        if taken == data {
            break;
        }
        if let Some(slot) = chunk.get_mut(filled) {
            *slot = b;
        }
        filled += 1;
        taken += 1;
        if filled == chunk.len() || taken == data {
            let target = out.get_mut(written..).unwrap_or_default();
            let input = chunk.get(..filled).unwrap_or_default();
            written += engine.decode_slice(input, target).map_err(|e| format!("not valid base64 ({e})"))?;
            filled = 0;
        }
    }
    out.truncate(written);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_with_line_breaks_and_padding_decodes_into_an_exact_buffer() {
        let text = "SGVs\nbG8g\r\nd29y bGQ=\n";
        let bytes = decode_base64(text).unwrap();
        assert_eq!(bytes, b"Hello world");
        assert_eq!(bytes.capacity(), 11);
        assert_eq!(decode_base64("SGVsbG8gd29ybGQ").unwrap(), b"Hello world");
        assert_eq!(decode_base64("").unwrap(), b"");
        assert_eq!(decode_base64(" \n==").unwrap(), b"");
        assert_eq!(decode_base64("YQ==").unwrap(), b"a");
        assert_eq!(decode_base64("YWI=").unwrap(), b"ab");
        // Longer than one chunk, with a line break every 76 characters.
        let long: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD.encode(&long);
        let wrapped: Vec<&str> = encoded.as_bytes().chunks(76).map(|c| std::str::from_utf8(c).unwrap()).collect();
        assert_eq!(decode_base64(&wrapped.join("\r\n")).unwrap(), long);
    }

    #[test]
    fn bad_base64_is_an_error_not_a_crash() {
        for bad in ["Y", "YQ=a", "Y Q = = =x", "a=bc", "é\u{0}", "YQ==YQ=="] {
            assert!(decode_base64(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_decoded_size_is_refused_before_decoding() {
        // 8 characters are 6 bytes: at the limit decodes, one byte under refuses; invalid
        // characters past the size check show nothing was decoded before refusing.
        assert_eq!(decode_base64_within("AAAAAAAA", 6).unwrap().len(), 6);
        let e = decode_base64_within("!!!!!!!!", 5).unwrap_err();
        assert!(e.contains("6 bytes once decoded, more than the 5"), "{e}");
        assert_eq!(decode_base64_within("AAAAAAA", 5).unwrap().len(), 5);
        let e = decode_base64_within("AAAAAAA", 4).unwrap_err();
        assert!(e.contains("5 bytes"), "{e}");
    }
}
