//! The layering test: in each crate's shipped code (the component's `src/`, `host/src`,
//! `sandbox/src`), no module reaches through `crate::` paths a module that reaches it back.
//! A parent and its submodules are one unit; tests may reach anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// `src/crm/records.rs` is `crm::records`, `src/crm/mod.rs` is `crm`, `src/lib.rs` is ``.
fn module_of(relative: &Path) -> String {
    let text = relative.with_extension("").to_string_lossy().replace(['/', '\\'], "::");
    let text = text.trim_end_matches("::mod").trim_end_matches("mod");
    if text == "lib" {
        String::new()
    } else {
        text.to_string()
    }
}

fn sources(dir: &Path, root: &Path, out: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display())).flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            // Only the code that ships is layered.
            let shipped = text.split("#[cfg(test)]").next().unwrap_or("");
            // Comments may name any module; only code makes an edge.
            let shipped = shipped.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
            out.insert(module_of(path.strip_prefix(root).unwrap()), shipped);
        }
    }
}

/// The modules each module's `crate::a::b` paths name (the longest known module prefix),
/// leaving out its own ancestors and descendants.
fn graph(crate_dir: &str) -> BTreeMap<String, BTreeSet<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(crate_dir).join("src");
    let mut files = BTreeMap::new();
    sources(&root, &root, &mut files);
    edges(&files)
}

fn edges(files: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let modules: BTreeSet<String> = files.keys().cloned().collect();
    let related = |a: &str, b: &str| a == b || a.is_empty() || b.is_empty() || a.starts_with(&format!("{b}::")) || b.starts_with(&format!("{a}::"));
    let mut edges = BTreeMap::new();
    for (module, text) in files {
        let mut targets = BTreeSet::new();
        for (at, _) in text.match_indices("crate::") {
            let path: String = text[at + 7..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':').collect();
            let parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
            let target = (1..=parts.len()).rev().map(|n| parts[..n].join("::")).find(|m| modules.contains(m));
            if let Some(target) = target.filter(|t| !related(module, t)) {
                targets.insert(target);
            }
        }
        edges.insert(module.clone(), targets);
    }
    edges
}

fn cycle_from(graph: &BTreeMap<String, BTreeSet<String>>, at: &str, path: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
    if let Some(start) = path.iter().position(|m| m == at) {
        let mut cycle = path[start..].to_vec();
        cycle.push(at.to_string());
        return Some(cycle);
    }
    if done.contains(at) {
        return None;
    }
    path.push(at.to_string());
    for next in graph.get(at).into_iter().flatten() {
        if let Some(cycle) = cycle_from(graph, next, path, done) {
            return Some(cycle);
        }
    }
    path.pop();
    done.insert(at.to_string());
    None
}

fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut done = BTreeSet::new();
    let mut found = Vec::new();
    for module in graph.keys() {
        if let Some(cycle) = cycle_from(graph, module, &mut Vec::new(), &mut done) {
            found.push(cycle.join(" -> "));
            // Leave the cycle's modules out so the next search reports another one.
            done.extend(cycle);
        }
    }
    found
}

fn assert_layered(crate_dir: &str, sample: (&str, &str)) {
    let graph = graph(crate_dir);
    assert!(graph.get(sample.0).is_some_and(|t| t.contains(sample.1)), "the scan sees {crate_dir}'s imports: {graph:?}");
    let found = cycles(&graph);
    assert!(found.is_empty(), "import cycles in {crate_dir}/src:\n{}", found.join("\n"));
}

#[test]
fn the_check_finds_a_cycle_and_ignores_comments_and_tests() {
    let files: BTreeMap<String, String> = [
        ("a".to_string(), "use crate::b::thing;".to_string()),
        ("b".to_string(), "fn f() { crate::c::g() }".to_string()),
        ("c".to_string(), "pub fn g() {}".to_string()),
        ("d".to_string(), "pub fn h() { crate::a::x() }".to_string()),
    ]
    .into();
    assert!(cycles(&edges(&files)).is_empty());
    let mut looped = files.clone();
    looped.insert("c".into(), "pub fn g() { crate::a::x() }".into());
    assert_eq!(cycles(&edges(&looped)), vec!["a -> b -> c -> a".to_string()]);
    let dir = std::env::temp_dir().join(format!("layers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a.rs"), "// crate::b::x\nfn f() {}\n#[cfg(test)]\nmod tests { use crate::b::y; }").unwrap();
    let mut read = BTreeMap::new();
    sources(&dir, &dir, &mut read);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(edges(&read)["a"].is_empty(), "{read:?}");
}

#[test]
fn the_components_modules_import_each_other_without_a_cycle() {
    assert_layered(".", ("crm::records", "crm::response"));
}

#[test]
fn the_hosts_modules_import_each_other_without_a_cycle() {
    assert_layered("host", ("sync", "sweep"));
}

#[test]
fn the_sandboxs_modules_import_each_other_without_a_cycle() {
    assert_layered("sandbox", ("routes", "state"));
}
