//! `domain` stays pure: no database, web, cache or runtime crate may become a
//! dependency (DESIGN.md, dependency rule). Adding one fails this test.

#[test]
fn domain_depends_on_no_framework_crate() {
    let manifest =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
    let mut in_deps = false;
    let mut deps = Vec::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
            continue;
        }
        if in_deps && !line.is_empty() && !line.starts_with('#') {
            deps.push(line.split(['.', '=', ' ']).next().unwrap().to_owned());
        }
    }
    // `url` only parses (WHATWG URLs, for webhook targets): no I/O.
    let allowed = ["async-trait", "chrono", "thiserror", "url", "uuid"];
    let extra: Vec<_> = deps
        .iter()
        .filter(|d| !allowed.contains(&d.as_str()))
        .collect();
    assert!(
        extra.is_empty(),
        "domain must stay free of I/O crates; unexpected dependencies: {extra:?}. \
         Put adapters in infra behind a port."
    );
    assert!(
        !deps.is_empty(),
        "the manifest parser found no dependencies at all: {manifest}"
    );
}
