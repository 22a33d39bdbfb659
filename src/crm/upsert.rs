//! Upsert (find or create): insert records or update the ones matching the duplicate-check fields.
//! Values, dynamic fields and trigger behave exactly as create ([`records`]); Zoho's outcomes keep
//! their `action` (insert/update) and `duplicate_field`.

use crate::client::{ApiCall, Client};
use crate::crm::field_checks::{self, Write};
use crate::crm::records::{self, MAX_RECORDS_PER_WRITE};
use crate::error::Result;
use crate::http::Method;
use crate::validate;
use crate::wit::crm::UpsertRecordsInput;

/// Most duplicate-check fields one upsert names. Zoho takes only a module's system-defined
/// duplicate-check field and its user-defined unique fields, a handful per module; Zoho's docs
/// give no number, so this bounds the request, not Zoho.
pub const MAX_DUPLICATE_CHECK_FIELDS: usize = 10;

/// The duplicate-check fields as given, each one field API name, blanks and repeats dropped.
fn duplicate_check_fields(given: Option<&[String]>) -> Result<Vec<String>> {
    validate::field_name_list(
        "duplicate-check-fields",
        given,
        MAX_DUPLICATE_CHECK_FIELDS,
        &format!("at most {MAX_DUPLICATE_CHECK_FIELDS}: Zoho checks only a module's unique fields (Email for Leads and Contacts, Account_Name for Accounts, fields marked \"Do not allow duplicate values\")"),
    )
}

pub fn upsert_records(client: &Client, input: &UpsertRecordsInput) -> Result<String> {
    let module = validate::module_name(&input.record_type)?;
    let fields = duplicate_check_fields(input.duplicate_check_fields.as_deref())?;
    let (records, single) = records::records_from_values(&input.values, input.dynamic_fields.as_deref())?;
    let sent = records.len().min(MAX_RECORDS_PER_WRITE);
    records::check_trigger(&input.trigger)?;
    field_checks::check(client, module, &records, Write::Upsert)?;
    let body = records::write_body_with(records, &input.trigger, &fields)?;
    let response = client.send(ApiCall::new(Method::Post, format!("/crm/v8/{module}/upsert")).body(body))?;
    // Zoho answers one outcome per record sent; a longer list is refused unread.
    records::write_outcome(&response, single, sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_check_fields_are_field_names() {
        let given = |v: &[&str]| duplicate_check_fields(Some(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>()));
        assert_eq!(given(&[" Email ", "", "Phone", "Email"]).unwrap(), ["Email", "Phone"]);
        assert!(given(&[]).unwrap().is_empty());
        assert!(duplicate_check_fields(None).unwrap().is_empty());
        for bad in ["E-mail", "Email,Phone", "Émail", "Email\u{0}", "Email\u{202e}", "Email&x=1"] {
            assert!(given(&[bad]).is_err(), "{bad:?}");
        }
        let ten: Vec<String> = (0..10).map(|i| format!("F{i}")).collect();
        assert_eq!(duplicate_check_fields(Some(&ten)).unwrap().len(), 10);
        let eleven: Vec<String> = (0..11).map(|i| format!("F{i}")).collect();
        assert!(duplicate_check_fields(Some(&eleven)).unwrap_err().message.contains("at most 10"));
    }
}
