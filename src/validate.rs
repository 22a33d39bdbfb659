//! Checks on names and ids that become parts of a Zoho URL; a bad one never reaches the wire.

use crate::error::{Result, ZohoError};

/// A module API name: Leads, Contacts, Foo__c ... letters, digits, underscore, at most 25.
pub fn module_name(name: &str) -> Result<&str> {
    if is_api_name(name, 25) {
        Ok(name)
    } else {
        Err(ZohoError::invalid_input(format!(
            "record-type {name:?} is not a Zoho module API name: use the API name (e.g. Leads, Contacts, Deals, My_Module__c): letters, digits and underscores, at most 25 characters"
        )))
    }
}

/// A record id: Zoho's 64-bit number carried as a string.
pub fn record_id(id: &str) -> Result<&str> {
    if !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit()) && id.parse::<u64>().is_ok() {
        Ok(id)
    } else {
        Err(ZohoError::invalid_input(format!("record-id {id:?} is not a Zoho record id: ids are numbers such as 5725767000000524157")))
    }
}

/// A checked record id as the number Zoho reads it as (0 for what [`record_id`] refuses).
pub fn record_number(id: &str) -> u64 {
    id.parse().unwrap_or(0)
}

/// Record ids for a many-record step: 1 to `max`, each a Zoho id, none twice (Zoho answers one
/// outcome per id given, so a repeat would leave a record's outcome ambiguous).
pub fn distinct_record_ids(ids: &[String], max: usize) -> Result<Vec<&str>> {
    if ids.is_empty() || ids.len() > max {
        return Err(ZohoError::invalid_input(format!("record-ids holds {} ids; Zoho takes 1 to {max} per request: split the records into several steps", ids.len())));
    }
    let mut seen = std::collections::HashSet::with_capacity(ids.len());
    for id in ids {
        let id = record_id(id)?;
        // Zoho reads an id as a number: "0001" and "1" name the same record.
        if !seen.insert(record_number(id)) {
            return Err(ZohoError::invalid_input(format!("record-ids names {id} twice: give each record once")));
        }
    }
    Ok(ids.iter().map(String::as_str).collect())
}

/// A comma-separated list of field API names, trimmed; empty entries dropped.
pub fn field_names(fields: &str) -> Result<Vec<String>> {
    fields
        .split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(|f| {
            let ok = f.len() <= 100 && f.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
            if ok {
                Ok(f.to_string())
            } else {
                Err(ZohoError::invalid_input(format!("field {f:?} is not a field API name: list API names separated by commas, e.g. Last_Name,Email")))
            }
        })
        .collect()
}

/// A list input of field API names (`input` names it in messages): each entry one name, blanks
/// and repeats dropped, at most `max` (`why` says what bounds it), stopping at the first name past it.
pub fn field_name_list(input: &str, given: Option<&[String]>, max: usize, why: &str) -> Result<Vec<String>> {
    let mut fields: Vec<String> = Vec::new();
    for entry in given.unwrap_or_default() {
        let names = field_names(entry).map_err(|e| ZohoError::invalid_input(format!("{input}: {}", e.message)))?;
        if names.len() > 1 {
            return Err(ZohoError::invalid_input(format!("{input} entry {entry:?} names several fields: give one field API name per entry, e.g. [\"Email\",\"Phone\"]")));
        }
        for name in names {
            if !fields.contains(&name) {
                fields.push(name);
            }
        }
        if fields.len() > max {
            return Err(ZohoError::invalid_input(format!("{input} names more than {max} fields; {why}")));
        }
    }
    Ok(fields)
}

/// Records per page of a list: 1 to 200 (Zoho's range), 200 when not given.
pub fn per_page(per_page: Option<u32>) -> Result<u32> {
    match per_page.unwrap_or(200) {
        n @ 1..=200 => Ok(n),
        n => Err(ZohoError::invalid_input(format!("per-page {n} is out of range: Zoho returns 1 to 200 records per page"))),
    }
}

/// A page number: from 1, 1 when not given.
pub fn page(page: Option<u32>) -> Result<u32> {
    match page.unwrap_or(1) {
        0 => Err(ZohoError::invalid_input("page starts at 1")),
        n => Ok(n),
    }
}

/// A related list's API name (Contacts, Deals, Notes, a custom one): letters, digits and
/// underscores, as module names are, at most [`MAX_RELATED_LIST_CHARS`].
pub fn related_list(name: &str) -> Result<&str> {
    if is_api_name(name, MAX_RELATED_LIST_CHARS) {
        Ok(name)
    } else {
        Err(ZohoError::invalid_input(format!(
            "related-list {name:?} is not a related list API name: use its API name (e.g. Contacts, Deals, Notes, Attachments): letters, digits and underscores, at most {MAX_RELATED_LIST_CHARS} characters"
        )))
    }
}

/// Letters, digits and underscores, a letter first, 1 to `max` characters.
fn is_api_name(name: &str, max: usize) -> bool {
    (1..=max).contains(&name.len()) && name.starts_with(|c: char| c.is_ascii_alphabetic()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Longest related-list API name accepted: Zoho's API names of custom items run to 50.
pub const MAX_RELATED_LIST_CHARS: usize = 50;

/// Characters that show nothing or reorder what follows (Unicode format characters and line
/// separators): refused in names a person reads (tags) and dropped from file names, so
/// `inv\u{202e}fdp.exe` cannot pose as a PDF.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{ad}' | '\u{600}'..='\u{605}' | '\u{61c}' | '\u{6dd}' | '\u{70f}' | '\u{180e}'
        | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206f}'
        | '\u{feff}' | '\u{fff9}'..='\u{fffb}' | '\u{e0001}' | '\u{e0020}'..='\u{e007f}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids() {
        assert!(module_name("Leads").is_ok());
        assert!(module_name("My_Module__c").is_ok());
        for bad in ["", "Leads/../x", "Le ads", "1Leads", "L%2e", "AAAAAAAAAAAAAAAAAAAAAAAAAA"] {
            assert!(module_name(bad).is_err(), "{bad}");
        }
        assert!(record_id("5725767000000524157").is_ok());
        for bad in ["", "12a", "-1", "99999999999999999999", "1?x=1"] {
            assert!(record_id(bad).is_err(), "{bad}");
        }
        assert_eq!(field_names(" Last_Name, Email ,,").unwrap(), vec!["Last_Name", "Email"]);
        assert!(field_names("Email&x=1").is_err());
    }
}
