//! The APIs a composite sub-request may call, and how many records each may touch: the v8
//! "Composite API" page's "Allowed APIs" table
//! (https://www.zoho.com/crm/developer/docs/api/v8/composite-api.html; zoho/crm-oas v8.0
//! composite_requests createCompositeRequest operation.md). Anything else is NOT_SUPPORTED,
//! the composite API itself included (no nesting), and so is a bulk delete ("All Delete APIs
//! (except Notification APIs) are only supported with ID support in the URL").

/// How many records a sub-request of an allowed API may create, change, delete or read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// "No restriction": Get Org, metadata, convert, counts, tags of a record, attachments list, ...
    Any,
    /// One record: "Create/Update/Upsert/Delete Records", notes, users, related records, ...
    One,
    /// 25 records: "Get/Search Records", related records, COQL, deleted records, users, notes.
    TwentyFive,
}

/// The services named in a NOT_SUPPORTED answer's `allowed_services`.
pub const SERVICES: [&str; 12] = ["org", "settings", "records", "search", "upsert", "coql", "deleted", "count", "tags", "notes", "related_records", "users"];

/// What Zoho allows `method` on the segments after `/crm/v8`, or None (NOT_SUPPORTED).
pub fn reach(method: &str, segments: &[&str]) -> Option<Reach> {
    use Reach::{Any, One, TwentyFive};
    let reach = match (method, segments) {
        (_, ["__composite_requests", ..]) | (_, ["__apis", ..]) => return None,
        ("GET", ["org"]) => Any,
        ("GET", ["settings", ..]) => Any,
        ("GET", ["users"] | ["users", _]) => TwentyFive,
        ("POST" | "PUT", ["users"]) | ("PUT" | "DELETE", ["users", _]) => One,
        ("GET", ["actions", "watch"]) => TwentyFive,
        ("POST" | "PUT" | "PATCH", ["actions", "watch"]) => One,
        ("DELETE", ["actions", "watch"]) => Any,
        ("POST", ["coql"]) => TwentyFive,
        ("GET", ["Notes"]) => TwentyFive,
        ("POST" | "PUT", ["Notes"]) | ("PUT" | "DELETE", ["Notes", _]) => One,
        ("GET", [_]) | ("GET", [_, "search" | "deleted"]) => TwentyFive,
        ("GET", [_, "actions", "count"]) => Any,
        ("POST", [_, "actions", "add_tags" | "remove_tags"]) | ("POST", [_, _, "actions", "add_tags" | "remove_tags"]) => Any,
        ("POST", [_, _, "actions", "convert"]) => Any,
        ("POST" | "PUT", [_]) | ("POST", [_, "upsert"]) => One,
        ("GET", [_, _]) => TwentyFive,
        ("PUT" | "DELETE", [_, _]) => One,
        ("GET", [_, _, "Attachments"]) => Any,
        ("POST", [_, _, "Notes"]) => One,
        ("GET", [_, _, _]) => TwentyFive,
        ("PUT" | "DELETE", [_, _, _, _]) => One,
        _ => return None,
    };
    Some(reach)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zohos_table_decides_what_a_sub_request_may_call() {
        for (method, path, expected) in [
            ("POST", "Leads", Some(Reach::One)),
            ("GET", "Leads", Some(Reach::TwentyFive)),
            ("PUT", "Leads/1", Some(Reach::One)),
            ("DELETE", "Leads/1", Some(Reach::One)),
            ("DELETE", "Leads", None),
            ("POST", "__composite_requests", None),
            ("GET", "__apis", None),
            ("POST", "Leads/1/Attachments", None),
            ("GET", "Leads/1/Attachments/2", None),
            ("POST", "Leads/1/actions/convert", Some(Reach::Any)),
            ("GET", "org", Some(Reach::Any)),
            ("POST", "coql", Some(Reach::TwentyFive)),
            ("DELETE", "actions/watch", Some(Reach::Any)),
        ] {
            let segments: Vec<&str> = path.split('/').collect();
            assert_eq!(reach(method, &segments), expected, "{method} {path}");
        }
    }
}
