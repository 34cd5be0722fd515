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
