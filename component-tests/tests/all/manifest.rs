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
    let readme = include_str!("../../../README.md");
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
        let plain: String = listed
            .chars()
            .filter(|c| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                depth == 0 && *c != ')'
            })
            .collect();
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

/// Every test the Guarantees table (docs/guarantees.md) names exists where it says: a renamed
/// or deleted test cannot leave a promise without its proof.
#[test]
fn every_guarantee_names_tests_that_exist() {
    let guarantees = include_str!("../../../docs/guarantees.md");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let table = guarantees.split("# Guarantees").nth(1).and_then(|rest| rest.split("\n\n").find(|block| block.starts_with("| guarantee"))).expect("the Guarantees table");
    let mut named = 0;
    for row in table.lines().skip(2) {
        let proofs = row.rsplit(" | ").next().unwrap_or("");
        for reference in proofs.split('`').skip(1).step_by(2).filter(|r| r.contains("::")) {
            let (place, test) = reference.rsplit_once("::").expect("file::test");
            let path = if place.contains('/') { root.join(place) } else { root.join("component-tests/tests/all").join(format!("{place}.rs")) };
            let source = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{reference}: cannot read {}: {e}", path.display()));
            let test = test.trim_end_matches('*').trim_end_matches('_');
            assert!(source.contains(&format!("fn {test}")), "docs/guarantees.md names {reference}, but {} has no such test", path.display());
            named += 1;
        }
        assert!(proofs.contains("::") || proofs.contains(".rs"), "a guarantee without a named test: {row}");
    }
    assert!(named > 30, "only {named} tests named");
}

/// Every action declares the OAuth scopes its requests need, and each default scope set keeps
/// its platform's published scopes and names, per scope, the actions it is meant for that need
/// more; the `complete` set covers every action.
#[test]
fn every_action_declares_its_scopes_and_each_default_set_names_what_it_lacks() {
    let manifest: serde_json::Value = serde_json::from_str(EMBEDDED).expect("json");
    let scopes_of = |key: &str| -> Vec<String> {
        let action = manifest["actions"].as_array().expect("actions").iter().find(|a| a["key"] == key).unwrap_or_else(|| panic!("no action {key}"));
        serde_json::from_value(action["scopes"].clone()).unwrap_or_else(|e| panic!("{key} has no scopes list: {e}"))
    };
    for action in manifest["actions"].as_array().expect("actions") {
        assert!(action["scopes"].is_array(), "{} declares no scopes", action["key"]);
    }
    assert_eq!(scopes_of("crm-coql-query"), ["ZohoCRM.coql.READ", "ZohoCRM.modules.READ"]);
    assert_eq!(scopes_of("crm-create-record"), ["ZohoCRM.modules.CREATE"]);
    assert_eq!(scopes_of("crm-search-records"), ["ZohoCRM.modules.READ"], "v8 search needs only the module's READ");
    assert_eq!(scopes_of("crm-find-or-create-record"), ["ZohoCRM.modules.READ", "ZohoCRM.modules.CREATE", "ZohoCRM.settings.fields.READ"]);
    assert_eq!(scopes_of("crm-remove-tags"), ["ZohoCRM.modules.WRITE"]);
    assert_eq!(scopes_of("crm-convert-lead"), ["ZohoCRM.modules.leads.CREATE"]);
    assert_eq!(scopes_of("notifications-enable"), ["ZohoCRM.notifications.CREATE"]);
    assert_eq!(scopes_of("notifications-renew"), ["ZohoCRM.notifications.READ", "ZohoCRM.notifications.UPDATE"]);
    assert_eq!(scopes_of("books-get-records"), ["ZohoBooks.fullaccess.all"]);
    assert_eq!(scopes_of("incremental-list-modified-records-by-page"), ["ZohoCRM.coql.READ", "ZohoCRM.modules.READ", "ZohoCRM.settings.fields.READ"]);
    assert_eq!(
        scopes_of("sync-read-stream-page"),
        ["ZohoCRM.coql.READ", "ZohoCRM.modules.READ", "ZohoCRM.settings.fields.READ", "ZohoCRM.settings.modules.READ", "ZohoCRM.users.READ", "ZohoCRM.org.READ"]
    );
    assert_eq!(scopes_of("crm-list-users"), ["ZohoCRM.users.READ"]);
    assert_eq!(scopes_of("crm-get-user"), ["ZohoCRM.users.READ"]);
    assert_eq!(scopes_of("crm-list-related-lists"), ["ZohoCRM.settings.related_lists.READ"]);
    assert_eq!(scopes_of("crm-list-custom-views"), ["ZohoCRM.settings.custom_views.READ"]);
    assert_eq!(scopes_of("crm-list-tags"), ["ZohoCRM.settings.tags.READ"]);
    assert_eq!(scopes_of("crm-send-email"), ["ZohoCRM.send_mail.all.CREATE"]);
    assert_eq!(scopes_of("crm-upload-file-field"), ["ZohoCRM.files.CREATE", "ZohoCRM.modules.UPDATE", "ZohoCRM.settings.fields.READ"]);
    assert_eq!(scopes_of("crm-list-from-addresses"), ["ZohoCRM.settings.emails.READ"]);
    assert_eq!(scopes_of("notifications-list-events"), ["ZohoCRM.settings.modules.READ"]);
    assert!(scopes_of("crm-raw-request").is_empty() && scopes_of("incremental-update-last-successful-run-date").is_empty());

    let sets = &manifest["connection"]["default-scopes"];
    assert_eq!(
        sets["prismatic"]["scopes"],
        "ZohoCRM.coql.READ ZohoCRM.notifications.ALL ZohoCRM.users.ALL ZohoCRM.org.ALL ZohoCRM.settings.ALL ZohoCRM.modules.ALL ZohoCRM.bulk.ALL ZohoBooks.fullaccess.all"
    );
    // Zoho's composite API needs its own scope, which neither platform's default grants; Prismatic's
    // default set has no file store or Send Mail scope either, nor Zoho Files' (a bulk write upload,
    // v8 "Upload File": scope=ZohoFiles.files.ALL).
    assert_eq!(scopes_of("crm-run-composite"), ["ZohoCRM.composite_requests.CUSTOM"]);
    assert_eq!(scopes_of("bulk-write-upload"), ["ZohoFiles.files.ALL"]);
    assert_eq!(
        sets["prismatic"]["missing"],
        serde_json::json!({ "ZohoCRM.composite_requests.CUSTOM": ["crm-run-composite"], "ZohoCRM.files.CREATE": ["crm-upload-file-field"], "ZohoCRM.send_mail.all.CREATE": ["crm-send-email"], "ZohoFiles.files.ALL": ["bulk-write-upload"] })
    );
    assert_eq!(sets["prismatic"]["missing-optional"], serde_json::json!({ "ZohoCRM.apis.READ": ["sync-read-stream-page"] }));
    assert_eq!(sets["cyclr"]["scopes"], "ZohoCRM.modules.ALL,ZohoCRM.users.ALL,ZohoCRM.org.ALL,ZohoCRM.settings.roles.ALL");
    assert_eq!(
        sets["cyclr"]["missing"],
        serde_json::json!({
            "ZohoCRM.coql.READ": ["crm-coql-query", "incremental-list-contacts-by-page", "incremental-list-modified-records-by-page"],
            "ZohoCRM.composite_requests.CUSTOM": ["crm-run-composite"],
            "ZohoCRM.files.CREATE": ["crm-upload-file-field"],
            "ZohoCRM.notifications.CREATE": ["notifications-enable"],
            "ZohoCRM.notifications.DELETE": ["notifications-disable"],
            "ZohoCRM.notifications.READ": ["notifications-renew", "notifications-list"],
            "ZohoCRM.notifications.UPDATE": ["notifications-renew"],
            "ZohoCRM.send_mail.all.CREATE": ["crm-send-email"],
            "ZohoCRM.settings.custom_views.READ": ["crm-list-custom-views"],
            "ZohoCRM.settings.emails.READ": ["crm-list-from-addresses"],
            "ZohoCRM.settings.fields.READ": ["crm-get-records", "crm-find-or-create-record", "crm-get-related-records", "crm-describe-module", "crm-upload-file-field", "incremental-list-contacts-by-page", "incremental-list-modified-records-by-page", "notifications-parse"],
            "ZohoCRM.settings.modules.READ": ["crm-list-modules", "notifications-list-events"],
            "ZohoCRM.settings.related_lists.READ": ["crm-list-related-lists"],
            "ZohoCRM.settings.tags.READ": ["crm-list-tags"],
        })
    );
    assert_eq!(
        sets["paragon-sync"]["scopes"],
        "ZohoCRM.modules.READ,ZohoCRM.users.READ,ZohoCRM.bulk.READ,ZohoCRM.settings.fields.READ,ZohoCRM.org.READ,ZohoCRM.modules.contacts.READ,ZohoCRM.modules.accounts.READ,ZohoCRM.modules.deals.READ"
    );
    assert_eq!(sets["paragon-sync"]["missing"], serde_json::json!({ "ZohoCRM.coql.READ": ["sync-read-stream-page"], "ZohoCRM.settings.modules.READ": ["sync-discover", "sync-read-stream-page"] }));
    assert_eq!(sets["complete"]["missing"], serde_json::json!({}));
    assert!(sets["complete"].get("missing-optional").is_none());
}

/// docs/key-value.md's table of the component's keys lists exactly the key families
/// `src/storage/keys.rs` builds, parses and keeps: a family added, renamed or removed there
/// fails here until the docs say it.
#[test]
fn the_key_value_docs_list_every_key_family_once() {
    use zoho_connector::storage::keys::FAMILIES;
    let docs = include_str!("../../../docs/key-value.md");
    let table = docs.split("\n\n").find(|block| block.starts_with("| key family")).expect("the key family table");
    let listed: Vec<&str> = table.lines().skip(2).map(|row| row.split('`').nth(1).expect("a key in backticks")).collect();
    let families: Vec<&str> = FAMILIES.iter().map(|f| f.pattern()).collect();
    assert_eq!(listed, families, "docs/key-value.md lists the families of src/storage/keys.rs, in its order");
}

/// What a platform needs beyond the forms: triggers marked with their kind, cursor and
/// de-duplication key; the region as a dropdown of Zoho's data centers (other Zoho URLs still
/// allowed); the OAuth servers of each data center, from the component's own table; and no
/// input a form could not render (every input has a type and help text).
#[test]
fn triggers_regions_and_oauth_servers_are_declared() {
    let manifest: serde_json::Value = serde_json::from_str(EMBEDDED).expect("json");
    let triggers: Vec<(String, String)> = manifest["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .filter(|a| a.get("trigger").is_some())
        .map(|a| (a["key"].as_str().unwrap().to_string(), a["trigger"]["kind"].as_str().unwrap().to_string()))
        .collect();
    let expected: Vec<(String, String)> = [
        ("books-list-modified-records-by-page", "polling"),
        ("incremental-list-contacts-by-page", "polling"),
        ("incremental-list-modified-records-by-page", "polling"),
        ("sync-read-stream-page", "polling"),
        ("notifications-parse", "instant"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(triggers, expected);
    for action in manifest["actions"].as_array().unwrap().iter().filter(|a| a.get("trigger").is_some()) {
        assert!(!action["trigger"]["dedup-key"].as_str().unwrap_or("").is_empty() && !action["trigger"]["cursor"].as_str().unwrap_or("").is_empty(), "{}", action["key"]);
    }
    let connection = &manifest["connection"];
    let region = connection["inputs"].as_array().unwrap().iter().find(|i| i["key"] == "region").expect("region");
    let codes: Vec<&str> = zoho_connector::connection::DATA_CENTERS.iter().map(|dc| dc.code).collect();
    let offered: Vec<&str> = region["options"].as_array().expect("options").iter().map(|o| o["value"].as_str().unwrap()).collect();
    assert_eq!(offered, codes);
    assert_eq!(region["options-open"], true, "a Zoho URL is a region too");
    assert!(connection["input-schema"]["properties"]["region"].get("enum").is_none());
    for dc in &zoho_connector::connection::DATA_CENTERS {
        let servers = &connection["oauth"]["data-centers"][dc.code];
        assert_eq!(servers["token"], format!("{}/oauth/v2/token", dc.accounts));
        assert_eq!(servers["authorize"], format!("{}/oauth/v2/auth", dc.accounts));
        assert_eq!(servers["api-domain"], dc.api);
    }
    // Books record types are a dropdown of the resources the component knows (any other path
    // still accepted); documents offer only the types Books renders as PDF.
    let input_of = |action: &str, key: &str| -> serde_json::Value {
        let action = manifest["actions"].as_array().unwrap().iter().find(|a| a["key"] == action).unwrap_or_else(|| panic!("{action}"));
        action["inputs"].as_array().unwrap().iter().find(|i| i["key"] == key).unwrap_or_else(|| panic!("{key}")).clone()
    };
    let books = input_of("books-get-records", "record-type");
    let offered: Vec<&str> = books["options"].as_array().expect("options").iter().map(|o| o["value"].as_str().unwrap()).collect();
    assert_eq!(offered, zoho_connector::books::resources::top_level());
    assert_eq!(books["options-open"], true);
    let documents = input_of("books-get-record-document", "record-type");
    assert!(documents["options"].as_array().unwrap().iter().all(|o| o["value"] != "contacts"), "Books renders no PDF of a contact");
    assert_eq!(input_of("sync-read-stream-page", "stream")["choices-from"]["action"], "sync-discover");
    for form in manifest["actions"].as_array().unwrap().iter().chain([connection, &manifest["call-options"]]) {
        for input in form["inputs"].as_array().expect("inputs") {
            assert!(!input["type"].as_str().unwrap_or("").is_empty() && !input["help"].as_str().unwrap_or("").is_empty(), "{}: {input}", form["key"]);
        }
    }
}
