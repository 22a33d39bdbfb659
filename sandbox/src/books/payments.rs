//! Zoho Books customer payments as the sandbox serves them: a payment names an existing
//! customer, an `amount`, and the `invoices` it pays (`invoice_id`, `amount_applied`); each
//! invoice's `balance` drops by what is applied, and it becomes `paid` at zero, else
//! `partially_paid` (Zoho Books API v3 "Customer Payments", "Create a payment"; "Invoices":
//! statuses sent, draft, overdue, paid, void, unpaid, partially_paid, viewed). A void or draft
//! invoice takes no payment, nor more than its balance, nor more in all than the amount. Books
//! names no code for these refusals: its general code 4, as for the JSONString.

use crate::books::organizations::{currency_of, next_number, records_of};
use crate::books::totals::cents;
use crate::response::json_response;
use crate::state::Data;
use axum::response::Response;
use serde_json::{json, Map, Value};

fn refused(message: &str) -> Response {
    json_response(400, &json!({ "code": 4, "message": message }))
}

/// The records route's description of the collection: singular key, plural key, id field, the
/// field a create must give, and its label.
pub fn resource(parent: Option<&str>, name: &str) -> Option<(&'static str, &'static str, &'static str, &'static str, &'static str)> {
    (parent.is_none() && name == "customerpayments").then_some(("payment", "customerpayments", "payment_id", "customer_id", "Customer payment"))
}

fn positive(value: Option<&Value>) -> Option<f64> {
    value.and_then(|v| v.as_f64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))).filter(|a: &f64| a.is_finite() && *a > 0.0).map(cents)
}

/// Completes a new payment in organization `org` and applies it to its invoices, or Books' refusal.
pub fn apply(data: &mut Data, org: &str, values: &mut Map<String, Value>, today: &str, now: &str) -> Result<(), Response> {
    let currency = currency_of(&data.books, org);
    let records = records_of(&mut data.books, org);
    let customer_id = values.get("customer_id").and_then(Value::as_str).unwrap_or_default().to_string();
    let customer = records
        .get(&("contacts".to_string(), None))
        .and_then(|c| c.iter().find(|c| c["contact_id"] == customer_id.as_str() && c["contact_type"] != "vendor"))
        .cloned()
        .ok_or_else(|| refused("Invalid value passed for customer_id"))?;
    let amount = positive(values.get("amount")).ok_or_else(|| refused("Invalid value passed for amount"))?;
    let Some(Value::Array(applied)) = values.get("invoices").cloned() else { return Err(refused("Please enter invoices")) };
    let invoices = records.entry(("invoices".to_string(), None)).or_default();
    let mut plan = Vec::with_capacity(applied.len());
    for line in &applied {
        let index = invoices.iter().position(|i| i["invoice_id"] == line["invoice_id"] && i["customer_id"] == customer_id.as_str()).ok_or_else(|| refused("Invalid value passed for invoice_id"))?;
        let share = positive(line.get("amount_applied")).ok_or_else(|| refused("Invalid value passed for amount_applied"))?;
        let invoice = &invoices[index];
        if matches!(invoice["status"].as_str(), Some("void" | "draft")) {
            return Err(refused(&format!("Payments cannot be recorded for a {} invoice.", invoice["status"].as_str().unwrap_or("void"))));
        }
        if share > invoice["balance"].as_f64().unwrap_or(0.0) {
            return Err(refused("The amount applied exceeds the invoice's balance."));
        }
        plan.push((index, share));
    }
    let total_applied = cents(plan.iter().map(|(_, share)| share).sum());
    if total_applied > amount {
        return Err(refused("The amount applied to invoices exceeds the payment amount."));
    }
    for (index, share) in plan {
        let invoice = &mut invoices[index];
        let balance = cents(invoice["balance"].as_f64().unwrap_or(0.0) - share);
        invoice["balance"] = json!(balance);
        invoice["status"] = json!(if balance <= 0.0 { "paid" } else { "partially_paid" });
        invoice["last_modified_time"] = json!(now);
    }
    let number = next_number(&mut data.books, org, "customerpayments");
    values.insert("payment_number".into(), json!(number.to_string()));
    values.insert("customer_name".into(), customer["contact_name"].clone());
    values.insert("amount".into(), json!(amount));
    values.insert("unused_amount".into(), json!(cents(amount - total_applied)));
    values.insert("currency_code".into(), json!(currency));
    values.entry("date").or_insert_with(|| json!(today));
    Ok(())
}
