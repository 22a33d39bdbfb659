//! References between sub-requests, as the v8 "Composite API" page writes them:
//! `@{sub_request_id:JSONPath}`, e.g. `@{1:$.data[0].details.id}` reads the id of the record
//! sub-request 1 created. The JSONPath subset is what Zoho's samples use: `$`, `.name` and `[n]`.

use serde_json::Value;

/// Every reference in `text`: (the whole `@{...}`, its sub_request_id, its path).
pub fn find(text: &str) -> Vec<(&str, &str, &str)> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(start) = text[at..].find("@{").map(|s| s + at) {
        let Some(end) = text[start..].find('}').map(|e| e + start) else { break };
        let inner = &text[start + 2..end];
        let (id, path) = inner.split_once(':').unwrap_or((inner, ""));
        out.push((&text[start..=end], id, path));
        at = end + 1;
    }
    out
}

/// The value at `path` (`$.data[0].details.id`) in `body`, or None when it does not lead to one.
pub fn resolve<'a>(body: &'a Value, path: &str) -> Option<&'a Value> {
    let mut rest = path.strip_prefix('$')?;
    let mut at = body;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            at = at.get(&after[..end])?;
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']')?;
            at = at.get(after[..end].parse::<usize>().ok()?)?;
            rest = &after[end + 1..];
        } else {
            return None;
        }
    }
    (!at.is_null()).then_some(at)
}

/// A value as it is written into a uri, a parameter or a string: text as is, others as JSON.
pub fn as_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn references_read_zohos_json_paths() {
        let text = "/crm/v8/Leads/@{1:$.data[0].details.id}/x/@{b:$.info.count}";
        assert_eq!(find(text), vec![("@{1:$.data[0].details.id}", "1", "$.data[0].details.id"), ("@{b:$.info.count}", "b", "$.info.count")]);
        let body = json!({"data":[{"details":{"id":"42"}}],"info":{"count":3}});
        assert_eq!(resolve(&body, "$.data[0].details.id"), Some(&json!("42")));
        assert_eq!(resolve(&body, "$.info.count").map(as_text), Some("3".into()));
        for bad in ["$.data[1].details.id", "data", "$.nope", "$.data[x]"] {
            assert_eq!(resolve(&body, bad), None, "{bad}");
        }
    }
}
