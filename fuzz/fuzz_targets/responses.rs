//! Zoho's answers, arbitrary: every parser returns a value or a typed error, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zoho_connector::books::envelope;
use zoho_connector::crm::response;
use zoho_connector::http::Response;

fuzz_target!(|data: &[u8]| {
    let Some((&status, body)) = data.split_first() else { return };
    let answer = Response { status: 100 + u16::from(status) * 2, headers: vec![("retry-after".into(), String::from_utf8_lossy(body).into_owned())], body: body.to_vec() };
    let _ = response::error_from_response(&answer);
    let _ = response::write_items(&answer);
    let _ = response::single_outcome(&answer);
    let _ = response::body_json(&answer);
    if let Ok(map) = envelope::open(&answer) {
        let _ = envelope::take(map, "contact");
    }
    let text = String::from_utf8_lossy(body);
    let _ = zoho_connector::zoho_time::parse_iso(&text);
    let _ = zoho_connector::zoho_time::parse_http_date(&text);
    let _ = zoho_connector::decode_base64(&text);
    let _ = zoho_connector::connection::data_center_of(&text);
    let _ = zoho_connector::validate::field_names(&text);
});
