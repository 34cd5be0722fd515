//! Impersonation for support: an operator's short-lived token to act as a
//! member, read-only unless asked, every request of which the tenant's
//! owners find in their audit log with the operator as actor.

use crate::helpers::{Backend, assert_code, bad_fields, spawn_with};
use domain::operator::Operators as _;
use serde_json::json;

const SECRET: &str = "impersonation-fixtures-secret-0123456";
const IMPERSONATE: &str = "mutation($t: ID!, $u: ID!, $w: Boolean!, $r: String!) { impersonate(tenantId: $t, userId: $u, writes: $w, reason: $r) { accessToken expiresIn writes } }";
const CREATE: &str = "mutation { createProject(input: { name: \"By support\" }) { id } }";

async fn an_operator_acts_as_a_member_and_the_owners_see_it(backend: Backend) {
    let app = spawn_with(backend, |s| {
        s.fixtures.secret = Some(SECRET.to_owned().into())
    })
    .await;
    let op = app.operator().await;
    let f = app
        .fixture(
            SECRET,
            json!({ "users": [{ "role": "owner" }, { "role": "member" }], "projects": 1 }),
        )
        .await;
    let (tenant, owner) = (
        f["tenant"]["id"].as_str().unwrap(),
        f["users"][0]["accessToken"].as_str().unwrap(),
    );
    let member = f["users"][1]["id"].as_str().unwrap();
    let vars =
        |writes: bool, reason: &str| json!({ "t": tenant, "u": member, "w": writes, "r": reason });

    // A reason is required; a member of the tenant only; operators only.
    assert_eq!(
        bad_fields(
            &app.admin(Some(&op.token), IMPERSONATE, vars(false, " "))
                .await
        ),
        ["reason"]
    );
    let stranger = app.sign_up().await;
    assert_code(
        &app.admin(
            Some(&op.token),
            IMPERSONATE,
            json!({ "t": tenant, "u": stranger.user_id, "w": false, "r": "ticket 1" }),
        )
        .await,
        "NOT_FOUND",
    );
    assert_code(
        &app.admin(Some(owner), IMPERSONATE, vars(false, "ticket 1"))
            .await,
        "FORBIDDEN",
    );
    // An operator is never impersonated, even in a tenant they belong to.
    assert_code(
        &app.admin(
            Some(&op.token),
            IMPERSONATE,
            json!({ "t": op.tenant_id, "u": op.user_id, "w": false, "r": "ticket 1" }),
        )
        .await,
        "FORBIDDEN",
    );

    // Read-only: reads as the member, writes refused.
    let d = app
        .admin_data(&op.token, IMPERSONATE, vars(false, "ticket 42"))
        .await;
    assert_eq!(d["impersonate"]["writes"], false);
    assert!(
        d["impersonate"]["expiresIn"].as_i64().unwrap() <= 900,
        "{d}"
    );
    let ro = d["impersonate"]["accessToken"].as_str().unwrap().to_owned();
    let me = app
        .data(
            Some(&ro),
            "query Support { me { id } projects { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        (
            me["me"]["id"].as_str(),
            me["projects"]["totalCount"].as_u64()
        ),
        (Some(member), Some(1))
    );
    let refused = app.gql(Some(&ro), CREATE, json!({})).await;
    assert_code(&refused, "FORBIDDEN");
    let n = app
        .data(Some(owner), "{ projects { totalCount } }", json!({}))
        .await;
    assert_eq!(n["projects"]["totalCount"], 1, "nothing was written");

    // Writes when asked for.
    let d = app
        .admin_data(&op.token, IMPERSONATE, vars(true, "ticket 43"))
        .await;
    let rw = d["impersonate"]["accessToken"].as_str().unwrap().to_owned();
    app.data(Some(&rw), CREATE, json!({})).await;
    // Never a session of its own, nor the member's account, nor elsewhere.
    for escape in [
        format!(
            "mutation {{ switchTenant(tenantId: \"{tenant}\") {{ accessToken refreshToken }} }}"
        ),
        "mutation { changePassword(currentPassword: \"x\", newPassword: \"y-long-enough-1\") }"
            .to_owned(),
    ] {
        assert_code(&app.gql(Some(&rw), &escape, json!({})).await, "FORBIDDEN");
    }
    assert_code(
        &app.admin(Some(&rw), "{ plans { name } }", json!({})).await,
        "UNAUTHENTICATED",
    );

    // The owners see both starts and every request, with the operator as actor.
    let by_op = app.audit_by(owner, &op.user_id).await;
    let log = format!("{by_op:#?}");
    let started: Vec<_> = by_op
        .iter()
        .filter(|n| n["action"] == "impersonation.started")
        .collect();
    assert_eq!(started.len(), 2, "{log}");
    assert!(
        started
            .iter()
            .any(|n| n["after"]["reason"] == "ticket 42" && n["after"]["writes"] == "false"),
        "{log}"
    );
    let requests: Vec<&str> = by_op
        .iter()
        .filter(|n| n["action"] == "impersonation.request")
        .map(|n| n["after"]["operation"].as_str().unwrap())
        .collect();
    assert_eq!(
        requests.len(),
        5,
        "the query, the refused mutation, the made one and the two refused escapes: {log}"
    );
    assert!(
        requests.contains(&"Support") && requests.contains(&"mutation"),
        "{requests:?}"
    );
    assert!(
        by_op
            .iter()
            .all(|n| n["target"] == format!("user:{member}")),
        "{log}"
    );

    // The token dies with its operator's role, not at its expiry.
    app.platform()
        .await
        .operators()
        .revoke(&domain::values::Email::parse(&op.email).unwrap())
        .await
        .unwrap();
    let body = app.gql(Some(&ro), "{ me { id } }", json!({})).await;
    assert_code(&body, "UNAUTHENTICATED");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("no longer"),
        "{body}"
    );
    assert_eq!(
        app.audit_by(owner, &op.user_id).await.len(),
        by_op.len(),
        "a refused request of a removed operator is not recorded as theirs"
    );
}

crate::on_every_backend!(an_operator_acts_as_a_member_and_the_owners_see_it);
