//! A Books document's line items and totals, as Books computes them ("Create an invoice",
//! Zoho Books API v3: each line's `rate` × `quantity` less its `discount` is its `item_total`;
//! a line's tax is its `tax_id`'s percentage of that; `sub_total` sums the lines, `tax_total`
//! their taxes, `total` adds `shipping_charge` and `adjustment`). A line names an item
//! (`item_id`, whose name and rate it takes unless given) or carries its own `name`; a
//! `discount` is an amount or a percentage ("10%"). Amounts are rounded to cents, as Books
//! shows them.

use serde_json::{json, Map, Value};

/// Books' refusal: its code and message (Books' general code 4, "invalid value", as for the
/// request's JSONString; its pages name no code per field).
pub type Refusal = (i64, String);

fn invalid(field: &str) -> Refusal {
    (4, format!("Invalid value passed for {field}"))
}

pub fn cents(amount: f64) -> f64 {
    (amount * 100.0).round() / 100.0
}

/// A number given as a JSON number or a numeric string; absent is `None`.
fn amount(line: &Map<String, Value>, field: &str) -> Result<Option<f64>, Refusal> {
    match line.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_f64().filter(|v| v.is_finite() && *v >= 0.0).map(Some).ok_or_else(|| invalid(field)),
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0).map(Some).ok_or_else(|| invalid(field)),
        Some(_) => Err(invalid(field)),
    }
}

/// What a document's lines come to.
#[derive(Debug)]
pub struct Totals {
    pub line_items: Vec<Value>,
    pub sub_total: f64,
    pub tax_total: f64,
    pub total: f64,
}

/// The lines as Books stores them (ids, names, rates, taxes, item totals) and their totals.
/// `items` and `taxes` are the organization's; `next_id` gives each line its `line_item_id`.
pub fn compute(document: &Map<String, Value>, items: &[Value], taxes: &[Value], next_id: &mut u64) -> Result<Totals, Refusal> {
    let Some(Value::Array(lines)) = document.get("line_items") else { return Err(invalid("line_items")) };
    let mut line_items = Vec::with_capacity(lines.len());
    let (mut sub_total, mut tax_total) = (0.0, 0.0);
    for (n, line) in lines.iter().enumerate() {
        let Value::Object(line) = line else { return Err(invalid("line_items")) };
        let item = match line.get("item_id") {
            None | Some(Value::Null) => None,
            Some(id) => Some(items.iter().find(|i| i["item_id"] == *id || i["item_id"].as_str() == id.as_str()).ok_or_else(|| invalid("item_id"))?),
        };
        let name = line.get("name").and_then(Value::as_str).filter(|s| !s.trim().is_empty()).map(str::to_string).or_else(|| item.and_then(|i| i["name"].as_str().map(str::to_string)));
        let Some(name) = name else { return Err((4, "Please enter item_id or name for each line item".into())) };
        let rate = match amount(line, "rate")? {
            Some(rate) => rate,
            None => item.and_then(|i| i["rate"].as_f64()).unwrap_or(0.0),
        };
        let quantity = amount(line, "quantity")?.unwrap_or(1.0);
        let gross = cents(rate * quantity);
        let discount = match line.get("discount") {
            Some(Value::String(s)) if s.trim().ends_with('%') => {
                let percent: f64 = s.trim().trim_end_matches('%').trim().parse().ok().filter(|p: &f64| (0.0..=100.0).contains(p)).ok_or_else(|| invalid("discount"))?;
                cents(gross * percent / 100.0)
            }
            _ => amount(line, "discount")?.unwrap_or(0.0),
        };
        if discount > gross {
            return Err(invalid("discount"));
        }
        let item_total = cents(gross - discount);
        let mut stored = line.clone();
        stored.insert("line_item_id".into(), json!(next_id.to_string()));
        *next_id = next_id.saturating_add(1);
        if let Some(item) = item {
            stored.insert("item_id".into(), item["item_id"].clone());
        }
        stored.insert("name".into(), json!(name));
        stored.insert("item_order".into(), json!(n + 1));
        stored.insert("rate".into(), json!(rate));
        stored.insert("quantity".into(), json!(quantity));
        stored.insert("discount".into(), line.get("discount").cloned().unwrap_or(json!(0.0)));
        stored.insert("discount_amount".into(), json!(discount));
        match line.get("tax_id").filter(|t| !t.is_null() && t.as_str() != Some("")) {
            Some(id) => {
                let tax = taxes.iter().find(|t| t["tax_id"] == *id).ok_or_else(|| invalid("tax_id"))?;
                let percentage = tax["tax_percentage"].as_f64().unwrap_or(0.0);
                stored.insert("tax_id".into(), tax["tax_id"].clone());
                stored.insert("tax_name".into(), tax["tax_name"].clone());
                stored.insert("tax_percentage".into(), json!(percentage));
                tax_total += cents(item_total * percentage / 100.0);
            }
            None => {
                stored.insert("tax_id".into(), json!(""));
                stored.insert("tax_percentage".into(), json!(0.0));
            }
        }
        stored.insert("item_total".into(), json!(item_total));
        sub_total += item_total;
        line_items.push(Value::Object(stored));
    }
    let extra = amount(document, "shipping_charge")?.unwrap_or(0.0);
    // An adjustment may lower the total (a rounding off): any finite number.
    let adjustment = match document.get("adjustment") {
        None | Some(Value::Null) => 0.0,
        Some(v) => v.as_f64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())).filter(|a: &f64| a.is_finite()).ok_or_else(|| invalid("adjustment"))?,
    };
    let (sub_total, tax_total) = (cents(sub_total), cents(tax_total));
    Ok(Totals { line_items, sub_total, tax_total, total: cents(sub_total + tax_total + extra + adjustment) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(lines: Value) -> Map<String, Value> {
        json!({ "line_items": lines }).as_object().cloned().unwrap()
    }

    #[test]
    fn lines_take_the_items_rate_discounts_and_taxes() {
        let items = [json!({ "item_id": "1", "name": "Consulting hour", "rate": 120.0 })];
        let taxes = [json!({ "tax_id": "9", "tax_name": "Sales Tax", "tax_percentage": 8.25 })];
        let mut next = 100;
        let lines = json!([{ "item_id": "1", "quantity": 3, "discount": "10%", "tax_id": "9" }, { "name": "Travel", "rate": "45.5", "discount": 5 }]);
        let totals = compute(&doc(lines), &items, &taxes, &mut next).unwrap();
        assert_eq!(totals.line_items[0]["item_total"], 324.0);
        assert_eq!(totals.line_items[0]["line_item_id"], "100");
        assert_eq!(totals.line_items[0]["tax_name"], "Sales Tax");
        assert_eq!(totals.line_items[1]["item_total"], 40.5);
        assert_eq!((totals.sub_total, totals.tax_total, totals.total), (364.5, 26.73, 391.23));
        assert_eq!(next, 102);
    }

    #[test]
    fn bad_lines_are_refused_with_the_field() {
        let mut next = 1;
        for (lines, field) in [
            (json!([{ "item_id": "404" }]), "Invalid value passed for item_id"),
            (json!([{ "name": "x", "rate": -1 }]), "Invalid value passed for rate"),
            (json!([{ "name": "x", "rate": 1, "quantity": "two" }]), "Invalid value passed for quantity"),
            (json!([{ "name": "x", "rate": 1, "discount": 2 }]), "Invalid value passed for discount"),
            (json!([{ "name": "x", "rate": 1, "tax_id": "7" }]), "Invalid value passed for tax_id"),
            (json!([{ "rate": 1 }]), "Please enter item_id or name for each line item"),
            (json!("lines"), "Invalid value passed for line_items"),
        ] {
            assert_eq!(compute(&doc(lines), &[], &[], &mut next).unwrap_err(), (4, field.to_string()));
        }
    }
}
