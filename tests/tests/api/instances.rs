//! Several servers on one PostgreSQL database (contract section 4.11): what
//! one server wrote, issued or revoked holds on the others. On SQLite, one
//! server owns its file, so these tests run on PostgreSQL only.

use serde_json::json;
use tests::{assert_problem, TestApp, ADMIN_PASSWORD};
use uuid::Uuid;

#[tokio::test]
async fn a_change_pushed_to_one_server_is_pulled_from_another_with_the_same_token() {
    if !tests::on_postgres() {
        return;
    }
    let one = TestApp::spawn().await;
    let two = one.another_server().await;
    let mut somchai = one.user("volunteer", Some("C0001")).await;
    let boss = one.user("manager", Some("C0001")).await;
    let record = Uuid::now_v7();
    let batch = vec![somchai.new_session(record)];
    one.push_ok(&somchai, batch.clone()).await;
    // The other server knows the signing key and the login, and the
    // device's sequence: the same batch is a duplicate there.
    let again = two.push_ok(&somchai, batch).await;
    assert_eq!(again["results"][0]["status"], "duplicate");
    let (changes, cursor) = two.pull_all(&boss, "").await;
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0]["record_id"], record.to_string());
    // A cursor from one server is valid on the other.
    let more = vec![somchai.new_session(Uuid::now_v7())];
    two.push_ok(&somchai, more).await;
    let page: serde_json::Value = one
        .pull(&boss, &format!("cursor={cursor}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        page["changes"].as_array().map(Vec::len),
        Some(1),
        "only the change after the cursor: {page}"
    );
}

#[tokio::test]
async fn a_user_disabled_on_one_server_is_refused_at_once_by_another() {
    if !tests::on_postgres() {
        return;
    }
    let one = TestApp::spawn().await;
    let two = one.another_server().await;
    let manager = one.user("manager", Some("C0001")).await;
    let volunteer = one.user("volunteer", Some("C0001")).await;
    assert_eq!(two.pull(&volunteer, "").await.status(), 200);
    let path = format!("/v1/admin/users/{}", volunteer.user_id);
    let changed = one
        .patch_json(&path, &manager.access, &json!({"disabled": true}))
        .await;
    assert_eq!(changed.status(), 200);
    assert_problem(two.pull(&volunteer, "").await, 401, "token_revoked").await;
    assert_problem(
        two.refresh(&volunteer.refresh).await,
        401,
        "refresh_token_revoked",
    )
    .await;
}

#[tokio::test]
async fn wrong_passwords_spread_over_servers_are_counted_together() {
    if !tests::on_postgres() {
        return;
    }
    let one = TestApp::spawn().await;
    let two = one.another_server().await;
    for i in 0..5 {
        let server = if i % 2 == 0 { &one } else { &two };
        assert_problem(
            server
                .login("admin", "wrong password", Uuid::new_v4())
                .await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    for server in [&one, &two] {
        assert_problem(
            server.login("admin", ADMIN_PASSWORD, Uuid::new_v4()).await,
            429,
            "too_many_requests",
        )
        .await;
    }
}
