//! actions.json and the component's exports agree, in both directions.

use component_tests::runtime;
use zoho_host::manifest::{check, Manifest, EMBEDDED};

#[test]
fn manifest_matches_the_component() {
    let manifest = Manifest::embedded().expect("actions.json parses");
    let problems = check(&manifest, runtime().engine(), runtime().component());
    assert!(problems.is_empty(), "actions.json and the component disagree:\n{}", problems.join("\n"));
}

/// The README's action table agrees with the manifest: every action has a row with its label,
/// and the row names every input, `?` marking the optional ones (a row may instead refer to
/// another action's inputs with "as ...").
#[test]
fn the_readme_lists_every_action() {
    let readme = include_str!("../../README.md");
    for action in Manifest::embedded().expect("manifest").actions {
        let prefix = format!("| `{}` |", action.key);
        let row = readme.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("README has no row for {}", action.key));
        let cells: Vec<&str> = row.split(" | ").map(str::trim).collect();
        assert_eq!(cells.get(1).copied(), Some(action.label.as_str()), "README label of {}", action.key);
        let listed = cells.get(2).copied().unwrap_or("");
        if listed.starts_with("as ") {
            continue;
        }
        // "record-type? (Leads), record-id, file? (text, ...)" -> ["record-type?", "record-id", "file?"]
        let mut depth = 0;
        let plain: String = listed.chars().filter(|c| {
            match c { '(' => depth += 1, ')' => depth -= 1, _ => {} }
            depth == 0 && *c != ')'
        }).collect();
        let names: Vec<&str> = plain.split(',').map(str::trim).filter(|n| !n.is_empty()).collect();
        let expected: Vec<String> = action.inputs.iter().map(|i| if i.required { i.key.clone() } else { format!("{}?", i.key) }).collect();
        assert_eq!(names, expected, "README inputs of {}", action.key);
    }
}

#[test]
fn the_check_sees_every_kind_of_drift() {
    let mut value: serde_json::Value = serde_json::from_str(EMBEDDED).expect("json");
    let actions = value["actions"].as_array_mut().expect("actions");
    // An input the WIT lacks, a WIT field the manifest lacks, a wrong type, a wrong required flag.
    actions[0]["inputs"].as_array_mut().expect("inputs").push(serde_json::json!({ "key": "bogus", "label": "B", "type": "string", "required": false, "help": "" }));
    actions[1]["inputs"].as_array_mut().expect("inputs").retain(|i| i["key"] != "fields");
    actions[2]["inputs"][3]["type"] = "boolean".into();
    actions[3]["inputs"][0]["required"] = false.into();
    // An action the component does not export, and an export without an action.
    actions[4]["wit"]["function"] = "delete-everything".into();
    let manifest = Manifest::parse(&value.to_string()).expect("still a manifest");
    let problems = check(&manifest, runtime().engine(), runtime().component()).join("\n");
    for expected in [
        "manifest input bogus is not a WIT field",
        "WIT field fields has no manifest input",
        "crm-get-records.per-page: manifest type \"boolean\"",
        "crm-update-record.record-type: manifest says required=false",
        "delete-everything, which the component does not export",
        "export zoho:connector/crm@0.1.0#remove-record has no manifest action",
    ] {
        assert!(problems.contains(expected), "missing {expected:?} in:\n{problems}");
    }
}

/// Every test the README's Guarantees table names exists where it says: a renamed or deleted
/// test cannot leave a promise without its proof.
#[test]
fn every_guarantee_names_tests_that_exist() {
    let readme = include_str!("../../README.md");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let table = readme.split("## Guarantees").nth(1).and_then(|rest| rest.split("\n\n").find(|block| block.starts_with("| guarantee"))).expect("the Guarantees table");
    let mut named = 0;
    for row in table.lines().skip(2) {
        let proofs = row.rsplit(" | ").next().unwrap_or("");
        for reference in proofs.split('`').skip(1).step_by(2).filter(|r| r.contains("::")) {
            let (place, test) = reference.rsplit_once("::").expect("file::test");
            let path = if place.contains('/') { root.join(place) } else { root.join("component-tests/tests").join(format!("{place}.rs")) };
            let source = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{reference}: cannot read {}: {e}", path.display()));
            let test = test.trim_end_matches('*').trim_end_matches('_');
            assert!(source.contains(&format!("fn {test}")), "README names {reference}, but {} has no such test", path.display());
            named += 1;
        }
        assert!(proofs.contains("::") || proofs.contains(".rs"), "a guarantee without a named test: {row}");
    }
    assert!(named > 30, "only {named} tests named");
}
