//! A hostile Zoho: answers an attacker controlling the server (or the path to it) could give.
//! Each is a `Fault` option, so a test plays one attack class on demand:
//! `Fault::status(1, 200, body).on_path("/crm/").hostile(Hostile::Trickle { .. })`.
//! Large bodies are generated chunk by chunk while sent, never held as one String.

use axum::body::{Body, Bytes};
use futures_util::stream::{self, StreamExt};
use std::time::Duration;

/// In a fault's body or header values: replaced by the request's Authorization header value.
pub const ECHO: &str = "{authorization}";
/// Replaced by the same value with every character `\u`-escaped, as JSON allows.
pub const ECHO_ESCAPED: &str = "{authorization-escaped}";

#[derive(Debug, Clone)]
pub enum Hostile {
    /// The request's credentials echoed back: `x-echo` and `set-cookie` headers carry the
    /// Authorization value, and `{authorization}` / `{authorization-escaped}` in the body or
    /// headers are replaced by it (plain, and `\u`-escaped).
    EchoAuthorization,
    /// `{"data":[0,0,...]}` of at least `bytes` bytes, generated while sent.
    Oversized { bytes: usize },
    /// `depth` nested arrays: `{"data":[[[...]]]}`.
    DeeplyNested { depth: usize },
    /// One header whose value is `bytes` long.
    HugeHeader { bytes: usize },
    /// `count` distinct headers.
    ManyHeaders { count: usize },
    /// The body one byte at a time, `every` apart.
    Trickle { every: Duration },
    /// The body, then the connection closes `missing` bytes short of its Content-Length.
    Truncated { missing: usize },
}

/// `text` with every character written as a JSON `\uXXXX` escape (surrogate pairs beyond the BMP).
pub fn u_escaped(text: &str) -> String {
    let mut units = [0u16; 2];
    text.chars().flat_map(|c| c.encode_utf16(&mut units).iter().map(|u| format!("\\u{u:04x}")).collect::<Vec<_>>()).collect()
}

/// Replaces the echo placeholders with the request's Authorization value.
pub fn echoed(text: &str, authorization: &str) -> String {
    text.replace(ECHO_ESCAPED, &u_escaped(authorization)).replace(ECHO, authorization)
}

const CHUNK: usize = 64 << 10;

/// `{"data":[0,0,...,0]}` of at least `bytes` bytes, in 64 KiB chunks made as they are sent.
pub fn oversized_body(bytes: usize) -> Body {
    let zeros = bytes.saturating_sub(10).div_ceil(2).max(1);
    let chunks = zeros.div_ceil(CHUNK / 2);
    let body = stream::iter(0..chunks).map(move |i| {
        let count = (zeros - i * (CHUNK / 2)).min(CHUNK / 2);
        let mut chunk = if i == 0 { String::from("{\"data\":[0") } else { String::new() };
        let skip_first = usize::from(i == 0);
        for _ in skip_first..count {
            chunk.push_str(",0");
        }
        if i + 1 == chunks {
            chunk.push_str("]}");
        }
        Ok::<_, std::io::Error>(Bytes::from(chunk))
    });
    Body::from_stream(body)
}

/// `{"data":` then `depth` opening brackets and as many closing ones.
pub fn nested_body(depth: usize) -> Body {
    let text = format!("{{\"data\":{}{}}}", "[".repeat(depth), "]".repeat(depth));
    Body::from(text)
}

/// `body` one byte per `every`.
pub fn trickled_body(body: String, every: Duration) -> Body {
    let bytes = body.into_bytes();
    let body = stream::iter(bytes).then(move |b| async move {
        tokio::time::sleep(every).await;
        Ok::<_, std::io::Error>(Bytes::from(vec![b]))
    });
    Body::from_stream(body)
}

/// `body`, then an error that breaks the connection; the caller declares a longer Content-Length.
pub fn truncated_body(body: String) -> Body {
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![Ok(Bytes::from(body)), Err(std::io::Error::other("truncated by the hostile sandbox"))];
    Body::from_stream(stream::iter(chunks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_sizes_are_what_they_say() {
        assert_eq!(u_escaped("a\u{1F600}"), "\\u0061\\ud83d\\ude00");
        let decoded: String = serde_json::from_str(&format!("\"{}\"", u_escaped("Zoho-oauthtoken 1000.x\"y"))).unwrap_or_default();
        assert_eq!(decoded, "Zoho-oauthtoken 1000.x\"y");
        assert_eq!(echoed("[{authorization}|{authorization-escaped}]", "t"), "[t|\\u0074]");
    }

    #[tokio::test]
    async fn generated_bodies_are_json_of_the_size_asked() {
        for bytes in [1, 12, 100, CHUNK, CHUNK + 1, 3 * CHUNK + 7] {
            let body = axum::body::to_bytes(oversized_body(bytes), usize::MAX).await.unwrap_or_default();
            assert!(body.len() >= bytes && body.len() <= bytes + 12, "{bytes}: {}", body.len());
            let value: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            assert!(value["data"].is_array(), "{bytes}");
        }
        let nested = axum::body::to_bytes(nested_body(3), usize::MAX).await.unwrap_or_default();
        assert_eq!(&nested[..], b"{\"data\":[[[]]]}");
    }
}
