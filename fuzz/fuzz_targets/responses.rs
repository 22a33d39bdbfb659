//! Zoho's answers and the caller's texts, arbitrary: every parser returns a value or a typed
//! error, never panics, and what is valid is accepted. Inputs are any bytes (so any Unicode
//! after lossy decoding), and one input in 32 is padded to a size at or just past a limit.
#![no_main]

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use zoho_connector::books::envelope;
use zoho_connector::crm::response;
use zoho_connector::http::Response;
use zoho_connector::json;
use zoho_connector::zoho_time::{format_iso, parse_http_date, parse_iso};

/// Sizes an answer is padded to: at and one byte past the tree budget.
const LIMIT_SIZES: [usize; 4] = [json::MAX_TREE_BYTES - 1, json::MAX_TREE_BYTES, json::MAX_TREE_BYTES + 1, 64 << 10];

/// `body` grown with JSON whitespace (still the same document, if it was one) to `size` bytes.
fn padded(body: &[u8], size: usize) -> Vec<u8> {
    let mut grown = body.to_vec();
    grown.resize(size.max(body.len()), b' ');
    grown
}

fn answers(status: u16, body: &[u8]) {
    let answer = Response { status, headers: vec![("retry-after".into(), String::from_utf8_lossy(body).into_owned())], body: body.to_vec() };
    let _ = response::error_from_response(&answer);
    let _ = response::write_items(&answer);
    let _ = response::single_outcome(&answer);
    let _ = response::body_json(&answer);
    if let Ok(map) = envelope::open(&answer) {
        let _ = envelope::take(&map, "contact");
    }
    // Bounded readers agree with serde_json on what is JSON.
    let valid = serde_json::from_slice::<serde_json::Value>(body).is_ok();
    if valid && body.len() <= json::MAX_TREE_BYTES {
        assert!(json::tree(body).is_ok(), "a valid small document is read as a tree");
    }
    if body.len() > json::MAX_TREE_BYTES {
        assert!(json::tree(body).is_err(), "a document past the budget is refused unread");
    }
    let _ = json::is_json(body);
    let _ = json::listing(body, 200);
    let _ = json::items(body, 200);
}

fn texts(text: &str) {
    // Any instant parsed survives its own formatting (the cursor round trip).
    if let Some(at) = parse_iso(text).filter(|at| *at >= 0) {
        assert_eq!(parse_iso(&format_iso(at)), Some(at), "{text:?}");
    }
    let _ = parse_http_date(text);
    let _ = zoho_connector::decode_base64(text);
    let _ = zoho_connector::connection::data_center_of(text);
    let _ = zoho_connector::validate::field_names(text);
}

fuzz_target!(|data: &[u8]| {
    let Some((&status, rest)) = data.split_first() else { return };
    let Some((&size, body)) = rest.split_first() else { return };
    let status = 100 + u16::from(status) * 2;
    answers(status, body);
    if size % 32 == 0 {
        answers(status, &padded(body, LIMIT_SIZES[usize::from(size / 32) % LIMIT_SIZES.len()]));
    }
    texts(&String::from_utf8_lossy(body));
    // Valid input is accepted: the fuzzer's bytes as base64 decode back to themselves.
    let encoded = base64::engine::general_purpose::STANDARD.encode(body);
    assert_eq!(zoho_connector::decode_base64(&encoded).as_deref(), Ok(body), "base64 of {} bytes", body.len());
});
