//! A member's removal or new role takes effect on their very next request:
//! no token carries the role, and the node that made the change has already
//! turned its cached lookups over (other nodes: see `membership_cache.rs`).

use crate::helpers::{Backend, assert_code, spawn_with};
use serde_json::{Value, json};

const SECRET: &str = "membership-changes-fixtures-secret-0123456789abcdef";

async fn role_changes_and_removal_apply_on_the_next_request(backend: Backend) {
    let app = spawn_with(backend, |s| {
        s.fixtures.secret = Some(SECRET.to_owned().into())
    })
    .await;
    let fixture: Value = app
        .fixture(
            SECRET,
            json!({ "users": [{ "role": "owner" }, { "role": "member" }] }),
        )
        .await;
    let owner = fixture["users"][0]["accessToken"].as_str().unwrap();
    let token = fixture["users"][1]["accessToken"].as_str().unwrap();
    let bob = fixture["users"][1]["id"].as_str().unwrap();

    const INVITES: &str = "{ invitations { email } }";
    assert_code(&app.gql(Some(token), INVITES, json!({})).await, "FORBIDDEN");

    app.data(
        Some(owner),
        "mutation($u: ID!) { updateMemberRole(userId: $u, role: \"admin\") { role } }",
        json!({ "u": bob }),
    )
    .await;
    let d = app.data(Some(token), INVITES, json!({})).await;
    assert_eq!(
        d["invitations"],
        json!([]),
        "the same token, now an admin's"
    );

    app.data(
        Some(owner),
        "mutation($u: ID!) { removeMember(userId: $u) }",
        json!({ "u": bob }),
    )
    .await;
    assert_code(
        &app.gql(Some(token), "{ me { id } }", json!({})).await,
        "UNAUTHENTICATED",
    );
    // Their refresh token died with the membership too.
    let refresh = fixture["users"][1]["refreshToken"].as_str().unwrap();
    assert_code(
        &app.gql(
            None,
            "mutation($r: String!) { refreshSession(refreshToken: $r) { accessToken } }",
            json!({ "r": refresh }),
        )
        .await,
        "UNAUTHENTICATED",
    );
}

crate::on_every_backend!(role_changes_and_removal_apply_on_the_next_request);
