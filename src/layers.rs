//! A test that keeps the component's modules layered: no module reaches, through `crate::`
//! paths in its non-test code, a module that reaches it back.

#[cfg(test)]
mod tests {
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
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                sources(&path, root, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                // Tests may reach anywhere; only the code that ships is layered.
                let shipped = text.split("#[cfg(test)]").next().unwrap_or("");
                // Comments may name any module; only code makes an edge.
                let shipped = shipped.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
                out.insert(module_of(path.strip_prefix(root).unwrap()), shipped);
            }
        }
    }

    /// Modules each module's `crate::a::b` paths name (the longest known module prefix),
    /// leaving out its own ancestors and descendants (a parent and its submodules are one unit).
    fn graph() -> BTreeMap<String, BTreeSet<String>> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = BTreeMap::new();
        sources(&root, &root, &mut files);
        let modules: BTreeSet<String> = files.keys().cloned().collect();
        let related = |a: &str, b: &str| a == b || a.is_empty() || b.is_empty() || a.starts_with(&format!("{b}::")) || b.starts_with(&format!("{a}::"));
        let mut edges = BTreeMap::new();
        for (module, text) in &files {
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

    #[test]
    fn the_modules_import_each_other_without_a_cycle() {
        let graph = graph();
        assert!(graph.get("crm::records").is_some_and(|t| t.contains("crm::response")), "the scan sees imports: {graph:?}");
        let mut done = BTreeSet::new();
        for module in graph.keys() {
            if let Some(cycle) = cycle_from(&graph, module, &mut Vec::new(), &mut done) {
                panic!("import cycle: {}", cycle.join(" -> "));
            }
        }
    }
}
