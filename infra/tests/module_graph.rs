//! The modules of `infra` form layers: no module reaches, directly or through
//! others, back into one that reaches it. A cycle is how a composition
//! module starts calling into an adapter that calls back into it; this test
//! names the modules of any cycle (read from `use crate::…` and
//! `crate::…` paths in the source, doc comments included).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level module → the top-level modules its files name.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(&src).unwrap();
            let first = rel.iter().next().unwrap().to_string_lossy();
            let module = first.trim_end_matches(".rs").to_owned();
            if module == "lib" {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let named = edges.entry(module.clone()).or_default();
            for (i, _) in text.match_indices("crate::") {
                let rest = &text[i + "crate::".len()..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                let other = &rest[..end];
                if !other.is_empty() && other != module {
                    named.insert(other.to_owned());
                }
            }
        }
    }
    edges
}

/// Every module `from` reaches, following the graph.
fn reach(edges: &BTreeMap<String, BTreeSet<String>>, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from.to_owned()];
    while let Some(m) = todo.pop() {
        for next in edges.get(&m).into_iter().flatten() {
            if seen.insert(next.clone()) {
                todo.push(next.clone());
            }
        }
    }
    seen
}

#[test]
fn infra_modules_form_layers_without_a_cycle() {
    let edges = graph();
    assert!(
        edges.contains_key("tenancy") && edges.contains_key("platform"),
        "the source was not read: {:?}",
        edges.keys()
    );
    let cycles: BTreeSet<String> = edges
        .keys()
        .filter(|m| reach(&edges, m).contains(*m))
        .cloned()
        .collect();
    assert!(
        cycles.is_empty(),
        "modules on an import cycle: {cycles:?}\n{}",
        cycles
            .iter()
            .map(|m| format!("  {m} → {:?}", edges[m]))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
