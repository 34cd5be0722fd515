//! The committed `schema.graphql` is what clients generate code from: it must
//! be the live schema. Regenerate with `cargo run -- schema > schema.graphql`.

#[test]
fn committed_schema_is_the_live_schema() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql");
    let committed = std::fs::read_to_string(path).expect("schema.graphql at the workspace root");
    let live = api::graphql::sdl();
    assert!(
        committed == live,
        "schema.graphql is out of date: run `cargo run -- schema > schema.graphql` and commit it"
    );
}

/// The operator schema is committed beside it, apart: tenant clients never
/// see operator fields.
#[test]
fn committed_admin_schema_is_the_live_one_and_apart() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../admin.graphql");
    let committed = std::fs::read_to_string(path).expect("admin.graphql at the workspace root");
    assert!(
        committed == api::graphql::admin::sdl(),
        "admin.graphql is out of date: run `cargo run -- schema --admin > admin.graphql` and commit it"
    );
    let tenant_side = api::graphql::sdl();
    for operator_only in ["suspendTenant", "resumeTenant", "TenantStanding"] {
        assert!(committed.contains(operator_only));
        assert!(
            !tenant_side.contains(operator_only),
            "{operator_only} leaked into schema.graphql"
        );
    }
}

/// Every root operation declares who may run it, and the table names nothing
/// that is not an operation (or a guarded nested field).
#[test]
fn every_operation_declares_its_access() {
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
    let doc = async_graphql::parser::parse_schema(api::graphql::sdl()).unwrap();
    let mut operations = Vec::new();
    for def in &doc.definitions {
        if let TypeSystemDefinition::Type(t) = def {
            let name = t.node.name.node.as_str();
            if let ("Query" | "Mutation" | "Subscription", TypeKind::Object(o)) =
                (name, &t.node.kind)
            {
                operations.extend(o.fields.iter().map(|f| f.node.name.node.to_string()));
            }
        }
    }
    assert!(operations.len() > 20, "found only {operations:?}");
    let undeclared: Vec<_> = operations
        .iter()
        .filter(|op| api::graphql::guard::access_of(op).is_none())
        .collect();
    assert!(
        undeclared.is_empty(),
        "operations without a declared access in graphql/guard.rs: {undeclared:?}"
    );
    let stale: Vec<_> = api::graphql::guard::ACCESS
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| !name.contains('.') && !operations.iter().any(|op| op == name))
        .collect();
    assert!(
        stale.is_empty(),
        "access entries for operations that do not exist: {stale:?}"
    );
}
