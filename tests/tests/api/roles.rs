//! Custom roles, member management, the audit log and the rules against
//! escalation, on every backend; and that none of it reaches another tenant.

use crate::helpers::{Backend, TestApp, assert_code, bad_fields, spawn_with};
use serde_json::{Value, json};

const SECRET: &str = "roles-fixtures-secret-0123456789abcdef";

async fn app(backend: Backend) -> TestApp {
    spawn_with(backend, |s| {
        s.fixtures.secret = Some(SECRET.to_owned().into())
    })
    .await
}

async fn fixture(app: &TestApp, body: Value) -> Value {
    app.fixture(SECRET, body).await
}

fn user(f: &Value, i: usize) -> (String, String) {
    (
        f["users"][i]["accessToken"].as_str().unwrap().to_owned(),
        f["users"][i]["id"].as_str().unwrap().to_owned(),
    )
}

const SET_ROLE: &str = "mutation($u: ID!, $r: String!) { updateMemberRole(userId: $u, role: $r) { role user { id } } }";
const REMOVE: &str = "mutation($u: ID!) { removeMember(userId: $u) }";
const AUDIT: &str =
    "{ auditLog(first: 10) { edges { node { actorId action target before after } } } }";

async fn custom_roles_grant_exactly_their_permissions(backend: Backend) {
    let app = app(backend).await;
    let f = fixture(
        &app,
        json!({ "users": [{ "role": "owner" }, { "role": "member" }] }),
    )
    .await;
    let ((owner, owner_id), (member, member_id)) = (user(&f, 0), user(&f, 1));

    let d = app
        .data(
            Some(&owner),
            "mutation { createRole(input: {name: \"auditor\", permissions: [\"task:read\", \"audit:read\", \"task:read\"]}) { name permissions builtin } }",
            json!({}),
        )
        .await;
    assert_eq!(
        d["createRole"],
        json!({ "name": "auditor", "permissions": ["task:read", "audit:read"], "builtin": false })
    );
    let d = app
        .data(Some(&owner), "{ roles { name builtin } }", json!({}))
        .await;
    let names: Vec<_> = d["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["owner", "admin", "member", "viewer", "auditor"]);

    let d = app
        .data(
            Some(&owner),
            SET_ROLE,
            json!({ "u": member_id, "r": "auditor" }),
        )
        .await;
    assert_eq!(
        d["updateMemberRole"],
        json!({ "role": "auditor", "user": { "id": member_id } })
    );
    // The same token now carries the custom role's permissions, and only those.
    app.data(Some(&member), AUDIT, json!({})).await;
    assert_code(
        &app.gql(Some(&member), "{ projects { totalCount } }", json!({}))
            .await,
        "FORBIDDEN",
    );

    app.data(
        Some(&owner),
        "mutation { updateRole(name: \"auditor\", input: {permissions: [\"project:read\"]}) { name } }",
        json!({}),
    )
    .await;
    assert_code(&app.gql(Some(&member), AUDIT, json!({})).await, "FORBIDDEN");
    app.data(Some(&member), "{ projects { totalCount } }", json!({}))
        .await;

    // Held roles cannot go; once nobody holds it, it can.
    let body = app
        .gql(
            Some(&owner),
            "mutation { deleteRole(name: \"auditor\") }",
            json!({}),
        )
        .await;
    assert_code(&body, "CONFLICT");
    app.data(
        Some(&owner),
        SET_ROLE,
        json!({ "u": member_id, "r": "viewer" }),
    )
    .await;
    let d = app
        .data(
            Some(&owner),
            "mutation { deleteRole(name: \"auditor\") }",
            json!({}),
        )
        .await;
    assert_eq!(d["deleteRole"], true);

    // Every change is in the audit log, newest first, with who, before and after.
    let d = app.data(Some(&owner), AUDIT, json!({})).await;
    let entries: Vec<&Value> = d["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .collect();
    let actions: Vec<_> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        &actions[..5],
        [
            "role.deleted",
            "member.role_changed",
            "role.updated",
            "member.role_changed",
            "role.created"
        ]
    );
    assert!(
        entries[..5]
            .iter()
            .all(|e| e["actorId"] == owner_id.as_str())
    );
    assert_eq!(
        entries[2]["before"],
        json!({ "permissions": ["task:read", "audit:read"] })
    );
    assert_eq!(
        entries[2]["after"],
        json!({ "permissions": ["project:read"] })
    );
    assert_eq!(entries[1]["target"], format!("user:{member_id}"));
    assert_eq!(entries[1]["before"], json!({ "role": "auditor" }));
    assert_eq!(entries[1]["after"], json!({ "role": "viewer" }));
    assert_eq!(entries[0]["after"], Value::Null);
}

async fn escalation_is_refused(backend: Backend) {
    let app = app(backend).await;
    let f = fixture(
        &app,
        json!({ "users": [{ "role": "owner" }, { "role": "admin" }, { "role": "member" }] }),
    )
    .await;
    let ((owner, owner_id), (admin, admin_id), (member, member_id)) =
        (user(&f, 0), user(&f, 1), user(&f, 2));

    // A member granting themselves admin.
    let body = app
        .gql(
            Some(&member),
            SET_ROLE,
            json!({ "u": member_id, "r": "admin" }),
        )
        .await;
    assert_code(&body, "FORBIDDEN");
    // An admin making themselves, or anyone, owner; or demoting the owner.
    for (u, r) in [
        (&admin_id, "owner"),
        (&member_id, "owner"),
        (&owner_id, "viewer"),
    ] {
        let body = app
            .gql(Some(&admin), SET_ROLE, json!({ "u": u, "r": r }))
            .await;
        assert_code(&body, "FORBIDDEN");
    }
    // An admin creating an owner-equivalent role.
    let all = json!([
        "project:read",
        "project:write",
        "task:read",
        "task:write",
        "member:read",
        "member:manage",
        "role:manage",
        "webhook:manage",
        "audit:read",
        "tenant:manage"
    ]);
    let body = app
        .gql(
            Some(&admin),
            "mutation($p: [String!]!) { createRole(input: {name: \"superadmin\", permissions: $p}) { name } }",
            json!({ "p": all }),
        )
        .await;
    assert_code(&body, "FORBIDDEN");
    // An admin may make a role within their own permissions, but not then widen it.
    app.data(
        Some(&admin),
        "mutation { createRole(input: {name: \"lead\", permissions: [\"task:write\"]}) { name } }",
        json!({}),
    )
    .await;
    let body = app
        .gql(
            Some(&admin),
            "mutation { updateRole(name: \"lead\", input: {permissions: [\"tenant:manage\"]}) { name } }",
            json!({}),
        )
        .await;
    assert_code(&body, "FORBIDDEN");
    // The owner made an owner-equivalent role: an admin cannot grant it, edit it or remove its holder.
    app.data(
        Some(&owner),
        "mutation($p: [String!]!) { createRole(input: {name: \"deputy\", permissions: $p}) { name } }",
        json!({ "p": all }),
    )
    .await;
    assert_code(
        &app.gql(
            Some(&admin),
            SET_ROLE,
            json!({ "u": member_id, "r": "deputy" }),
        )
        .await,
        "FORBIDDEN",
    );
    assert_code(
        &app.gql(
            Some(&admin),
            "mutation { deleteRole(name: \"deputy\") }",
            json!({}),
        )
        .await,
        "FORBIDDEN",
    );
    assert_code(
        &app.gql(Some(&admin), REMOVE, json!({ "u": owner_id }))
            .await,
        "FORBIDDEN",
    );

    // A role of another tenant is no role here.
    let other = fixture(
        &app,
        json!({ "roles": [{ "name": "special", "permissions": ["task:read"] }], "users": [{ "role": "owner" }] }),
    )
    .await;
    let body = app
        .gql(
            Some(&owner),
            SET_ROLE,
            json!({ "u": member_id, "r": "special" }),
        )
        .await;
    assert_eq!(bad_fields(&body), ["role"], "{body}");
    let (other_owner, _) = user(&other, 0);
    assert_eq!(
        app.data(Some(&other_owner), "{ roles { name } }", json!({}))
            .await["roles"]
            .as_array()
            .unwrap()
            .len(),
        5
    );

    // The last owner can neither be demoted nor removed, even by themselves.
    let body = app
        .gql(
            Some(&owner),
            SET_ROLE,
            json!({ "u": owner_id, "r": "admin" }),
        )
        .await;
    assert_code(&body, "CONFLICT");
    let body = app
        .gql(Some(&owner), REMOVE, json!({ "u": owner_id }))
        .await;
    assert_code(&body, "CONFLICT");
    // With a second owner, the first may step down.
    app.data(
        Some(&owner),
        SET_ROLE,
        json!({ "u": admin_id, "r": "owner" }),
    )
    .await;
    app.data(
        Some(&owner),
        SET_ROLE,
        json!({ "u": owner_id, "r": "admin" }),
    )
    .await;

    // The defaults are fixed, and their names taken.
    for q in [
        "mutation { deleteRole(name: \"viewer\") }",
        "mutation { updateRole(name: \"member\", input: {permissions: [\"task:read\"]}) { name } }",
    ] {
        assert_eq!(
            bad_fields(&app.gql(Some(&admin), q, json!({})).await),
            ["name"]
        );
    }
    let body = app
        .gql(
            Some(&admin),
            "mutation { createRole(input: {name: \"owner\", permissions: [\"task:bogus\"]}) { name } }",
            json!({}),
        )
        .await;
    assert_eq!(bad_fields(&body), ["name", "permissions"], "{body}");
}

async fn another_tenants_members_and_log_are_unreachable(backend: Backend) {
    let app = app(backend).await;
    let a = fixture(
        &app,
        json!({ "users": [{ "role": "owner" }, { "role": "member" }] }),
    )
    .await;
    let b = fixture(
        &app,
        json!({ "roles": [{ "name": "b-only", "permissions": ["task:read"] }], "users": [{ "role": "owner" }, { "role": "viewer" }] }),
    )
    .await;
    let ((a_owner, _), (_, a_member)) = (user(&a, 0), user(&a, 1));
    let ((b_owner, _), (_, b_viewer)) = (user(&b, 0), user(&b, 1));

    // B's owner cannot touch A's member: not found, as if absent.
    assert_code(
        &app.gql(
            Some(&b_owner),
            SET_ROLE,
            json!({ "u": a_member, "r": "viewer" }),
        )
        .await,
        "NOT_FOUND",
    );
    assert_code(
        &app.gql(Some(&b_owner), REMOVE, json!({ "u": a_member }))
            .await,
        "NOT_FOUND",
    );

    // Lists show only the caller's tenant.
    let d = app
        .data(
            Some(&a_owner),
            "{ members { edges { node { user { id } } } } }",
            json!({}),
        )
        .await;
    let ids: Vec<_> = d["members"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["user"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(!ids.contains(&b_viewer.as_str()));
    let d = app
        .data(Some(&a_owner), "{ roles { name } }", json!({}))
        .await;
    assert!(!d["roles"].to_string().contains("b-only"));
    let d = app.data(Some(&a_owner), AUDIT, json!({})).await;
    assert!(!d.to_string().contains(&b_viewer), "{d}");
    assert!(!d.to_string().contains("b-only"), "{d}");
    let d = app.data(Some(&b_owner), AUDIT, json!({})).await;
    assert!(!d.to_string().contains(&a_member), "{d}");
}

async fn members_page_forward(backend: Backend) {
    let app = app(backend).await;
    let users: Vec<_> = ["owner", "admin", "member", "viewer", "viewer"]
        .iter()
        .map(|r| json!({ "role": r }))
        .collect();
    let f = fixture(&app, json!({ "users": users })).await;
    let (owner, _) = user(&f, 0);
    let q = "query($a: String) { members(first: 2, after: $a) { pageInfo { hasNextPage endCursor } edges { node { user { id } } } } }";
    let (mut after, mut seen) = (Value::Null, Vec::new());
    loop {
        let d = app.data(Some(&owner), q, json!({ "a": after })).await;
        let page = &d["members"];
        seen.extend(
            page["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"]["user"]["id"].as_str().unwrap().to_owned()),
        );
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    let mut expected: Vec<_> = (0..5).map(|i| user(&f, i).1).collect();
    expected.sort();
    assert_eq!(seen, expected);
    assert_eq!(
        bad_fields(
            &app.gql(Some(&owner), q, json!({ "a": "bm90LWEtY3Vyc29y" }))
                .await
        ),
        ["after"]
    );
}

crate::on_every_backend!(
    custom_roles_grant_exactly_their_permissions,
    escalation_is_refused,
    another_tenants_members_and_log_are_unreachable,
    members_page_forward,
);
